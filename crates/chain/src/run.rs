//! The generation loop and the run folder it writes.

use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::module::Module;
use burn::prelude::*;
use collapse_data::{Dataset, IdxArray, IdxData, IdxError, write_idx};
use collapse_report::grid::{grid_image, save_png};
use collapse_report::{
    DatasetFileRecord, DatasetRecord, DeviceRecord, GenerationTiming, Manifest, MetricsRow,
    ReportError, generation_dir, redraw_run, write_json, write_metrics_csv,
};
use collapse_vae::data::permutation;
use collapse_vae::{
    BatchSource, CheckpointError, SampleMode, ShuffledImages, StreamedImages, TrainEvent, Vae,
    decode_means, encode_all, evaluate, sample_images, save_checkpoint, to_host, train,
};

use crate::config::{ChainConfig, LoopMode};
use crate::latents::{latent_stats, probe_stats};
use crate::seeds::{Purpose, stream_seed};

/// Rows and columns of the sample grid.
const GRID_SIDE: usize = 10;
/// Pixel enlargement of saved grids.
const GRID_SCALE: u32 = 2;

/// Something worth telling the user while a chain runs.
#[derive(Debug)]
pub enum ChainEvent<'a> {
    /// A generation begins, training on `train_size` images per epoch.
    GenerationStart {
        /// The generation.
        generation: usize,
        /// Images per epoch.
        train_size: usize,
    },
    /// Training progressed (a batch was submitted or an epoch ended).
    Training {
        /// The generation.
        generation: usize,
        /// What happened.
        event: TrainEvent,
    },
    /// A generation's files are all written.
    GenerationDone(&'a MetricsRow),
}

/// Why a chain stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ChainError {
    /// The run folder already holds a run.
    #[error("{}: already holds a run (manifest.json); choose another --out", .0.display())]
    Exists(PathBuf),
    /// A folder could not be created.
    #[error("{}: {source}", path.display())]
    Io {
        /// The folder.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// Writing a record, grid or plot failed.
    #[error(transparent)]
    Report(#[from] ReportError),
    /// Writing a checkpoint failed.
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    /// Writing a generated training set failed.
    #[error(transparent)]
    Idx(#[from] IdxError),
}

/// Facts about the invocation that the chain records but does not decide.
#[derive(Clone, Debug)]
pub struct RunContext {
    /// The command line as given.
    pub command_line: Vec<String>,
    /// The device actually used.
    pub device: DeviceRecord,
}

/// Uploads `count` images of unsigned bytes as a `[count, pixels]` tensor in `[0, 1]`.
pub fn images_tensor(bytes: &[u8], pixels: usize, device: &Device) -> Tensor<2> {
    let values: Vec<f32> = bytes.iter().map(|&b| f32::from(b) / 255.0).collect();
    Tensor::from_data(
        TensorData::new(values, [bytes.len() / pixels, pixels]),
        device,
    )
}

fn create_dir(path: &Path) -> Result<(), ChainError> {
    std::fs::create_dir_all(path).map_err(|source| ChainError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Writes a generated training set as IDX: unsigned bytes for Bernoulli draws
/// (exactly 0 or 255), float32 grey values for decoder means.
fn write_training_set(
    dir: &Path,
    images: &Tensor<2>,
    mode: SampleMode,
    dims: [usize; 2],
) -> Result<(), ChainError> {
    let values = to_host(images.clone());
    let count = values.len() / (dims[0] * dims[1]);
    let (name, data) = match mode {
        SampleMode::Bernoulli => (
            "train-images-idx3-ubyte.gz",
            IdxData::U8(values.iter().map(|&v| (v * 255.0).round() as u8).collect()),
        ),
        SampleMode::Mean => ("train-images-idx3-float.gz", IdxData::F32(values)),
    };
    let array = IdxArray {
        dims: vec![count, dims[0], dims[1]],
        data,
    };
    Ok(write_idx(&dir.join(name), &array)?)
}

/// Everything fixed for the whole chain.
struct Fixed<'a> {
    config: &'a ChainConfig,
    device: Device,
    real_train: Tensor<2>,
    test: Tensor<2>,
    grid_z: Tensor<2>,
    recon_originals: Tensor<2>,
}

impl Fixed<'_> {
    fn seed(&self, generation: usize, purpose: Purpose) {
        self.device
            .seed(stream_seed(self.config.seed, generation, purpose));
    }

    /// Draws the synthetic part of generation `g`'s training set from `previous`.
    fn sample_set(&self, g: usize, previous: &Vae, count: usize) -> Tensor<2> {
        self.seed(g, Purpose::Sample);
        let c = self.config;
        sample_images(
            previous,
            c.model.latent_dim,
            count,
            c.eval_batch,
            c.prior_scale,
            c.sample,
            &self.device,
        )
    }

    /// `kept` real training images chosen at random for generation `g`.
    fn real_subset(&self, g: usize, kept: usize) -> Tensor<2> {
        self.seed(g, Purpose::RealSubset);
        let n = self.real_train.dims()[0];
        let idx = permutation(n, &self.device).slice(0..kept.min(n));
        self.real_train.clone().select(0, idx)
    }

    /// Writes `samples.png` and `reconstructions.png` of `model` into `dir`.
    fn write_grids(&self, dir: &Path, model: &Vae) -> Result<(), ChainError> {
        let dims = self.config.model.image_dims;
        let samples = to_host(decode_means(model, self.grid_z.clone()));
        save_png(
            &dir.join("samples.png"),
            &grid_image(&samples, dims, GRID_SIDE, GRID_SCALE),
        )?;
        let (mu, _) = model.encode(self.recon_originals.clone());
        let both = Tensor::cat(
            vec![self.recon_originals.clone(), decode_means(model, mu)],
            0,
        );
        let pixels = to_host(both);
        save_png(
            &dir.join("reconstructions.png"),
            &grid_image(&pixels, dims, GRID_SIDE, GRID_SCALE),
        )?;
        Ok(())
    }
}

/// Indices of the first test image of each class, in class order.
fn first_of_each_class(labels: &[u8], classes: usize) -> Vec<i64> {
    (0..classes as u8)
        .filter_map(|c| labels.iter().position(|&l| l == c).map(|i| i as i64))
        .collect()
}

/// The synthetic sets drawn so far, for `--mode accumulate`.
type History = Vec<Tensor<2>>;

/// Runs the chain described by `config` on `dataset` and `device`, writing the
/// run folder `config.out`. Returns the metrics of every generation.
pub fn run_chain(
    config: &ChainConfig,
    dataset: &Dataset,
    device: &Device,
    context: RunContext,
    on_event: &mut dyn FnMut(ChainEvent<'_>),
) -> Result<Vec<MetricsRow>, ChainError> {
    let out = &config.out;
    if out.join("manifest.json").exists() {
        return Err(ChainError::Exists(out.clone()));
    }
    create_dir(out)?;
    let pixels = dataset.pixels();
    let real_count = config.real_size();
    let latent = config.model.latent_dim;
    device.seed(stream_seed(config.seed, 0, Purpose::Grid));
    let grid_z = Tensor::<2>::random(
        [GRID_SIDE * GRID_SIDE, latent],
        burn::tensor::Distribution::Normal(0.0, 1.0),
        device,
    );
    let test = images_tensor(&dataset.test.images, pixels, device);
    let recon_idx = first_of_each_class(&dataset.test.labels, dataset.spec.classes);
    let recon_originals = test.clone().select(
        0,
        Tensor::<1, Int>::from_data(
            TensorData::new(recon_idx.clone(), [recon_idx.len()]),
            device,
        ),
    );
    let fixed = Fixed {
        config,
        device: device.clone(),
        real_train: images_tensor(&dataset.train.images[..real_count * pixels], pixels, device),
        test,
        grid_z,
        recon_originals,
    };
    let autodiff = device.clone().autodiff();
    let mut manifest = Manifest {
        tool: format!("collapse {}", env!("CARGO_PKG_VERSION")),
        started: collapse_report::time::now_rfc3339(),
        finished: None,
        command_line: context.command_line,
        config: serde_json::to_value(config).expect("config serialises"),
        seed: config.seed,
        device: context.device,
        parameters: config.model.init(device).num_params(),
        dataset: DatasetRecord {
            name: dataset.spec.name.to_string(),
            dir: config.data.clone(),
            files: dataset
                .provenance
                .iter()
                .map(|p| DatasetFileRecord {
                    path: p.path.clone(),
                    sha256: p.sha256.clone(),
                    matches_catalogue: p.matches_catalogue,
                })
                .collect(),
        },
        generations: Vec::new(),
    };
    write_json(&out.join("manifest.json"), &manifest)?;

    let mut rows: Vec<MetricsRow> = Vec::new();
    let mut history: History = Vec::new();
    let mut previous: Option<Vae> = None;
    let mut gen0: Option<Vae> = None;
    for g in 0..=config.generations {
        let started = Instant::now();
        let dir = generation_dir(out, g);
        create_dir(&dir)?;
        let (mut source, real_fraction) =
            training_source(&fixed, g, previous.as_ref(), &mut history, &dir)?;
        let train_size = source.epoch_len();
        on_event(ChainEvent::GenerationStart {
            generation: g,
            train_size,
        });
        fixed.seed(g, Purpose::Init);
        let model = config.model.init(&autodiff);
        fixed.seed(g, Purpose::Train);
        let (model, train_loss) = train(model, source.as_mut(), &config.train, &mut |event| {
            on_event(ChainEvent::Training {
                generation: g,
                event,
            })
        });
        drop(source);
        let model = model.valid();
        fixed.seed(g, Purpose::Eval);
        let eval = evaluate(&model, &fixed.test, config.eval_batch);
        let latents = latent_stats(g, &encode_all(&model, &fixed.test, config.eval_batch));
        let reference = gen0.get_or_insert_with(|| model.clone());
        fixed.seed(g, Purpose::Probe);
        let probe_images = sample_images(
            &model,
            latent,
            config.probe_samples,
            config.eval_batch,
            config.prior_scale,
            config.sample,
            device,
        );
        let probe = probe_stats(
            g,
            encode_all(reference, &probe_images, config.eval_batch).mu,
        );
        fixed.write_grids(&dir, &model)?;
        write_json(&dir.join("latents.json"), &latents)?;
        write_json(&dir.join("probe.json"), &probe)?;
        save_checkpoint(&dir, &model, &config.model)?;
        let row = MetricsRow {
            generation: g,
            train_size,
            real_fraction,
            train_loss,
            test_nelbo: eval.nelbo,
            test_recon: eval.recon,
            test_kl: eval.kl,
            active_units: latents.active_units,
            probe_mu_mean: probe.mu_mean,
            probe_mu_std: probe.mu_std,
            probe_tail_mass: probe.tail_mass,
            seconds: started.elapsed().as_secs_f64(),
        };
        rows.push(row.clone());
        write_metrics_csv(&out.join("metrics.csv"), &rows)?;
        manifest.generations.push(GenerationTiming {
            generation: g,
            seconds: row.seconds,
        });
        write_json(&out.join("manifest.json"), &manifest)?;
        redraw_run(out)?;
        on_event(ChainEvent::GenerationDone(&row));
        previous = Some(model);
    }
    manifest.finished = Some(collapse_report::time::now_rfc3339());
    write_json(&out.join("manifest.json"), &manifest)?;
    Ok(rows)
}

/// Generation `g`'s source of training batches and its real fraction.
fn training_source(
    fixed: &Fixed<'_>,
    g: usize,
    previous: Option<&Vae>,
    history: &mut History,
    dir: &Path,
) -> Result<(Box<dyn BatchSource>, f64), ChainError> {
    let c = fixed.config;
    let Some(previous) = previous else {
        return Ok((Box::new(ShuffledImages::new(fixed.real_train.clone())), 1.0));
    };
    let size = c.synthetic_count();
    let kept = c.kept_real();
    if c.stream {
        let real = (kept > 0).then(|| (fixed.real_train.clone(), c.real_fraction));
        let source = StreamedImages::new(
            previous.clone(),
            c.model.latent_dim,
            size,
            c.prior_scale,
            c.sample,
            real,
            &fixed.device,
        );
        return Ok((Box::new(source), c.real_fraction));
    }
    let synthetic = fixed.sample_set(g, previous, size - kept);
    write_training_set(dir, &synthetic, c.sample, c.model.image_dims)?;
    let (set, real_fraction) = match c.mode {
        LoopMode::Replace if kept > 0 => (
            Tensor::cat(vec![fixed.real_subset(g, kept), synthetic], 0),
            kept as f64 / size as f64,
        ),
        LoopMode::Replace => (synthetic, 0.0),
        LoopMode::Accumulate => {
            history.push(synthetic);
            let mut parts = vec![fixed.real_train.clone()];
            parts.extend(history.iter().cloned());
            let set = Tensor::cat(parts, 0);
            let fraction = fixed.real_train.dims()[0] as f64 / set.dims()[0] as f64;
            (set, fraction)
        }
    };
    Ok((Box::new(ShuffledImages::new(set)), real_fraction))
}
