//! The generation loop and the run folder it writes.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use burn::prelude::*;
use collapse_data::{Dataset, IdxArray, IdxData, read_idx, write_idx};
use collapse_eval::prdc::K;
use collapse_eval::{CacheEvent, Classifier, Evaluator, Evidence, PER_SAMPLE, load_or_train};
use collapse_profile::Profiler;
use collapse_records::profile::Profile;
use collapse_records::{
    ClassifierInfo, EvalRecord, FolderError, Grids, RecordError, Render, RunFolder, RunView,
};
use collapse_records::{
    DatasetFileRecord, DatasetRecord, DeviceRecord, GenerationTiming, LatentStats, Manifest,
    MetricsRow, ModelFit, ProbeStats, RetryRecord, generation_dir, read_json, write_json,
    write_metrics_csv,
};
use collapse_vae::batches::permutation;
use collapse_vae::{
    BatchSource, Divergence, EvalStats, HostImages, SampleMode, ShuffledImages, StreamedImages,
    TrainEvent, Vae, decode_means, encode_all, evaluate, per_image_parts, to_host,
};

use crate::config::{ChainConfig, ConfigError, LoopMode, OnDivergence, Setting};
use crate::cut::{self, TailCutRecord};
use crate::error::ChainError;
use crate::external::ExternalFamily;
use crate::latents::{latent_stats, probe_stats};
use crate::model::{Attempt, ModelFamily, TrainError, VaeFamily};
use crate::reference::{self, ReferenceEvent};
use crate::seeds::{Purpose, stream_seed};

/// File name of a generated training set of decoder means (float32 IDX).
pub const TRAINING_SET_FLOAT: &str = "train-images-idx3-float.gz";
/// File name of a generated training set of Bernoulli draws (unsigned-byte IDX).
pub const TRAINING_SET_BYTES: &str = "train-images-idx3-ubyte.gz";

/// Rows and columns of the sample grid.
const GRID_SIDE: usize = 10;

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
    /// A generation moved on to one of its stages after training.
    Stage {
        /// The generation.
        generation: usize,
        /// The stage begun.
        stage: Stage,
    },
    /// The frozen classifier is being trained or was loaded from its cache.
    Evaluator(CacheEvent<'a>),
    /// The reference VAE of a model without an encoder is being trained or
    /// was loaded from its cache.
    Reference(ReferenceEvent<'a>),
    /// A generation's files are all written.
    GenerationDone(&'a MetricsRow),
}

/// A stage of a generation other than its training.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// Drawing its training set from the previous generation.
    Drawing,
    /// Scoring its model: the test set's likelihood, the probe, the evaluators.
    Scoring,
    /// Writing its grids, records and checkpoint, and the run's report.
    Writing,
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
    let values = collapse_data::idx::unit_f32(bytes);
    Tensor::from_data(
        TensorData::new(values, [bytes.len() / pixels, pixels]),
        device,
    )
}

fn create_dir(path: &Path) -> Result<(), ChainError> {
    std::fs::create_dir_all(path).map_err(|source| {
        ChainError::from(FolderError::Io {
            path: path.to_path_buf(),
            source,
        })
    })
}

/// The file name of a generated training set drawn in `mode`.
pub fn training_set_name(mode: SampleMode) -> &'static str {
    match mode {
        SampleMode::Bernoulli => TRAINING_SET_BYTES,
        SampleMode::Mean => TRAINING_SET_FLOAT,
    }
}

/// Writes a generated training set as IDX to `path`: unsigned bytes for
/// Bernoulli draws (exactly 0 or 255), float32 grey values for decoder means.
pub fn write_training_set(
    path: &Path,
    images: &Tensor<2>,
    mode: SampleMode,
    dims: [usize; 2],
) -> Result<(), ChainError> {
    let values = to_host(images.clone());
    let count = values.len() / (dims[0] * dims[1]);
    let data = match mode {
        SampleMode::Bernoulli => {
            IdxData::U8(values.iter().map(|&v| (v * 255.0).round() as u8).collect())
        }
        SampleMode::Mean => IdxData::F32(values),
    };
    let array = IdxArray {
        dims: vec![count, dims[0], dims[1]],
        data,
    };
    Ok(write_idx(path, &array)?)
}

/// The synthetic part of generation `g`'s training set (`g` ≥ 1), drawn from
/// `previous`, generation g−1's model, on the stream the chain draws it from:
/// the same call gives the same set, bit for bit, on the same backend. `None`
/// where the real share takes the whole set.
pub fn synthetic_set<F: ModelFamily>(
    family: &F,
    config: &ChainConfig,
    g: usize,
    previous: &F::Model,
) -> Result<Option<Tensor<2>>, ChainError> {
    let count = config.synthetic_count() - config.kept_real();
    if count == 0 {
        return Ok(None);
    }
    let seed = stream_seed(config.seed, g, Purpose::Sample);
    family.sample(previous, count, seed).map(Some)
}

/// Everything fixed for the whole chain.
struct Fixed<'a, F> {
    config: &'a ChainConfig,
    family: F,
    device: Device,
    /// The real training images every training set draws from (after the
    /// tail cut, where the chain has one).
    real_train: Tensor<2>,
    /// The real training set in host memory, for `--mode accumulate`.
    real_host: Option<Arc<[f32]>>,
    /// The real training images before the tail cut: the reference VAE's.
    reference_train: Tensor<2>,
    test: Tensor<2>,
    grid_z: Tensor<2>,
    recon_originals: Tensor<2>,
    /// The dataset's catalogue name.
    dataset: String,
    /// The cache entry of the reference VAE, for a model without an encoder.
    reference_dir: PathBuf,
}

impl<F: ModelFamily> Fixed<'_, F> {
    fn seed(&self, generation: usize, purpose: Purpose) {
        self.device
            .seed(stream_seed(self.config.seed, generation, purpose));
    }

    /// `kept` real training images chosen at random for generation `g`.
    fn real_subset(&self, g: usize, kept: usize) -> Tensor<2> {
        self.seed(g, Purpose::RealSubset);
        let n = self.real_train.dims()[0];
        let idx = permutation(n, &self.device).slice(0..kept.min(n));
        self.real_train.clone().select(0, idx)
    }

    /// The sample grid of a model without an encoder: its first probe samples.
    fn sample_grid(&self, probe_images: Tensor<2>) -> Grids {
        let shown = probe_images.dims()[0].min(GRID_SIDE * GRID_SIDE);
        Grids {
            dims: self.config.model.image_dims,
            columns: GRID_SIDE,
            samples: to_host(probe_images.slice(0..shown)),
            reconstructions: None,
        }
    }

    /// The sample grid of `model` from the fixed latents, and its
    /// reconstructions of one test image per class.
    fn grids(&self, model: &Vae) -> Grids {
        let samples = to_host(decode_means(model, self.grid_z.clone()));
        let (mu, _) = model.encode(self.recon_originals.clone());
        let both = Tensor::cat(
            vec![self.recon_originals.clone(), decode_means(model, mu)],
            0,
        );
        Grids {
            dims: self.config.model.image_dims,
            columns: GRID_SIDE,
            samples,
            reconstructions: Some(to_host(both)),
        }
    }
}

/// Indices of the first test image of each class, in class order.
fn first_of_each_class(labels: &[u8], classes: usize) -> Vec<i64> {
    (0..classes as u8)
        .filter_map(|c| labels.iter().position(|&l| l == c).map(|i| i as i64))
        .collect()
}

/// The synthetic sets drawn so far, for `--mode accumulate`, in host memory
/// (each also on disk in its generation's folder).
type History = Vec<Arc<[f32]>>;

/// What the loop carries from one generation to the next.
struct ChainState<M> {
    /// The run folder, held for the chain's writes.
    folder: RunFolder,
    /// The run's records so far, as its report draws them.
    view: RunView,
    history: History,
    previous: Option<M>,
    /// Generation 0's VAE: the probe's encoder and the evaluators' likelihood.
    gen0: Option<Vae>,
    scorer: Scorer,
    /// The collapse profile, once the evaluators are ready; `None` where
    /// the chain does not evaluate or an earlier build left generations
    /// without their evidence.
    profiler: Option<Profiler>,
}

impl<M> ChainState<M> {
    fn new(folder: RunFolder, view: RunView, scorer: Scorer) -> Self {
        ChainState {
            folder,
            view,
            history: History::new(),
            previous: None,
            gen0: None,
            scorer,
            profiler: None,
        }
    }
}

/// The frozen classifier of `config`'s recipe, from its cache next to the
/// dataset, or trained into it.
pub(crate) fn frozen_classifier(
    config: &ChainConfig,
    dataset: &Dataset,
    device: &Device,
    on_event: &mut dyn FnMut(CacheEvent<'_>),
) -> Result<(Classifier, ClassifierInfo), ChainError> {
    let (classifier, record) = load_or_train(
        &config.data,
        dataset,
        &config.classifier,
        device,
        &config.device,
        on_event,
    )?;
    Ok((classifier, record.info()))
}

/// The frozen evaluators, built once generation 0 exists.
#[derive(Default)]
enum Scorer {
    /// `--no-eval`.
    #[default]
    Off,
    /// The classifier is ready; the generation-0 VAE is not yet.
    Waiting(Box<(Classifier, ClassifierInfo)>),
    /// Both are ready, with the real test set's reference.
    Ready(Box<Evaluator>),
}

impl Scorer {
    /// Loads the classifier from its cache next to the dataset, or trains it,
    /// when the chain evaluates.
    fn new(
        config: &ChainConfig,
        dataset: &Dataset,
        device: &Device,
        on_event: &mut dyn FnMut(ChainEvent<'_>),
    ) -> Result<Self, ChainError> {
        if !config.evaluate {
            return Ok(Scorer::Off);
        }
        let (classifier, info) = frozen_classifier(config, dataset, device, &mut |e| {
            on_event(ChainEvent::Evaluator(e))
        })?;
        Ok(Scorer::Waiting(Box::new((classifier, info))))
    }

    /// Scores generation `g`'s samples (`images`, with generation-0 encoder
    /// means `gen0_mu`); builds the evaluator, writes `reference.json` and
    /// the real test set's evidence, and starts the `profiler`, first if
    /// needed. `None` when the chain does not evaluate.
    #[allow(clippy::too_many_arguments)]
    fn score<F: ModelFamily>(
        &mut self,
        fixed: &Fixed<'_, F>,
        gen0: &Vae,
        g: usize,
        images: &Tensor<2>,
        gen0_mu: &Tensor<2>,
        view: &mut RunView,
        profiler: &mut Option<Profiler>,
    ) -> Result<Option<(EvalRecord, Evidence)>, ChainError> {
        let c = fixed.config;
        *self = match std::mem::take(self) {
            Scorer::Waiting(waiting) => {
                let (classifier, info) = *waiting;
                fixed.seed(0, Purpose::Reference);
                let (evaluator, reference, evidence) = Evaluator::new(
                    classifier,
                    info,
                    gen0,
                    &fixed.test,
                    c.model.image_dims,
                    c.eval_batch,
                );
                write_json(&c.out.join("reference.json"), &reference)?;
                view.reference = Some(reference);
                if c.profile {
                    evidence
                        .write(&c.out.join(PER_SAMPLE))
                        .map_err(ChainError::Npy)?;
                    *profiler = start_profiler(fixed, g, &evidence)?;
                }
                Scorer::Ready(Box::new(evaluator))
            }
            other => other,
        };
        let Scorer::Ready(evaluator) = self else {
            return Ok(None);
        };
        fixed.seed(g, Purpose::Score);
        Ok(Some(evaluator.evaluate(gen0, images, gen0_mu, g)))
    }
}

/// The profile of a chain scored against the real test set's `real`
/// evidence, with the generations before `g` (a resumed chain's) added from
/// their folders; `None` where one of them has no evidence (a run folder of
/// an earlier build, which `collapse profile` scores again).
fn start_profiler<F>(
    fixed: &Fixed<'_, F>,
    g: usize,
    real: &Evidence,
) -> Result<Option<Profiler>, ChainError> {
    let c = fixed.config;
    let dirs: Vec<PathBuf> = (0..g)
        .map(|h| generation_dir(&c.out, h).join(PER_SAMPLE))
        .collect();
    if dirs.iter().any(|d| !d.is_dir()) {
        return Ok(None);
    }
    // A VAE chain's probe encoder is its own generation 0; an external
    // model's is the reference VAE.
    let own_encoder = c.external.is_none();
    let mut profiler = Profiler::new(
        real,
        c.classifier.classes,
        K,
        c.seed,
        own_encoder,
        &fixed.device,
    );
    for dir in dirs {
        profiler.add(&Evidence::read(&dir, true).map_err(ChainError::Npy)?);
    }
    Ok(Some(profiler))
}

/// Everything fixed for the whole chain, built from the config and the data.
fn fixed_inputs<'a, F>(
    config: &'a ChainConfig,
    family: F,
    dataset: &Dataset,
    device: &Device,
) -> Result<Fixed<'a, F>, ConfigError> {
    let pixels = dataset.pixels();
    device.seed(stream_seed(config.seed, 0, Purpose::Grid));
    let grid_z = Tensor::<2>::random(
        [GRID_SIDE * GRID_SIDE, config.model.latent_dim],
        burn::tensor::Distribution::Normal(0.0, 1.0),
        device,
    );
    let tests = config.test_count(dataset.test.len())?;
    let test = images_tensor(&dataset.test.images[..tests * pixels], pixels, device);
    let recon_idx = first_of_each_class(&dataset.test.labels[..tests], dataset.spec.classes);
    let recon_idx = Tensor::<1, Int>::from_data(
        TensorData::new(recon_idx.clone(), [recon_idx.len()]),
        device,
    );
    let real_bytes = &dataset.train.images[..config.real_size() * pixels];
    let real_train = images_tensor(real_bytes, pixels, device);
    Ok(Fixed {
        config,
        family,
        device: device.clone(),
        real_train: real_train.clone(),
        real_host: (config.mode == LoopMode::Accumulate)
            .then(|| collapse_data::idx::unit_f32(real_bytes).into()),
        reference_train: real_train,
        recon_originals: test.clone().select(0, recon_idx),
        test,
        grid_z,
        dataset: dataset.spec.name.to_string(),
        reference_dir: reference::entry_dir(config, dataset),
    })
}

/// Runs the chain described by `config` on `dataset` and `device`, its
/// models the VAE or the external model the config gives, writing the new
/// run folder `config.out` and drawing its report with `render`. Returns the
/// metrics of every generation.
pub fn run_chain(
    config: &ChainConfig,
    dataset: &Dataset,
    device: &Device,
    context: RunContext,
    render: &mut dyn Render,
    on_event: &mut dyn FnMut(ChainEvent<'_>),
) -> Result<Vec<MetricsRow>, ChainError> {
    match &config.external {
        Some(external) => {
            let family = ExternalFamily::new(config, external, device);
            run_chain_with(config, family, dataset, device, context, render, on_event)
        }
        None => {
            let family = VaeFamily::new(config, device);
            run_chain_with(config, family, dataset, device, context, render, on_event)
        }
    }
}

/// [`run_chain`] with the models of `family`.
pub(crate) fn run_chain_with<F: ModelFamily>(
    config: &ChainConfig,
    family: F,
    dataset: &Dataset,
    device: &Device,
    context: RunContext,
    render: &mut dyn Render,
    on_event: &mut dyn FnMut(ChainEvent<'_>),
) -> Result<Vec<MetricsRow>, ChainError> {
    let mut fixed = fixed_inputs(config, family, dataset, device)?;
    let out = &config.out;
    let folder = RunFolder::create(out)?;
    let manifest = Manifest {
        format_version: collapse_records::FORMAT_VERSION,
        experiment: collapse_records::Experiment::Chain,
        tool: format!("collapse {}", env!("CARGO_PKG_VERSION")),
        started: collapse_records::time::now_rfc3339(),
        finished: None,
        command_line: context.command_line,
        config: serde_json::to_value(config).expect("config serialises"),
        seed: config.seed,
        device: context.device,
        parameters: fixed.family.parameters(),
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
        resumed: Vec::new(),
        retries: Vec::new(),
    };
    write_json(&out.join("manifest.json"), &manifest)?;
    // After the manifest: a kill while the reference VAE ranks the tail leaves a run to resume.
    cut_tail(&mut fixed, on_event)?;
    let view = RunView::new(out, manifest.clone());
    let scorer = Scorer::new(config, dataset, device, on_event)?;
    let state = ChainState::new(folder, view, scorer);
    drive(&fixed, manifest, state, render, on_event)
}

/// Continues the interrupted chain in `config.out` (whose `manifest.json` is
/// `manifest`) from its last complete generation, up to `config.generations`.
/// Incomplete generation folders are removed and redone; every random stream
/// depends only on (seed, generation, purpose), so on a CPU backend the result
/// is bitwise the one an uninterrupted run gives.
pub fn resume_chain(
    config: &ChainConfig,
    manifest: Manifest,
    dataset: &Dataset,
    device: &Device,
    render: &mut dyn Render,
    on_event: &mut dyn FnMut(ChainEvent<'_>),
) -> Result<Vec<MetricsRow>, ChainError> {
    match &config.external {
        Some(external) => {
            let family = ExternalFamily::new(config, external, device);
            resume_chain_with(config, family, manifest, dataset, device, render, on_event)
        }
        None => {
            let family = VaeFamily::new(config, device);
            resume_chain_with(config, family, manifest, dataset, device, render, on_event)
        }
    }
}

/// [`resume_chain`] with the models of `family`.
pub(crate) fn resume_chain_with<F: ModelFamily>(
    config: &ChainConfig,
    family: F,
    mut manifest: Manifest,
    dataset: &Dataset,
    device: &Device,
    render: &mut dyn Render,
    on_event: &mut dyn FnMut(ChainEvent<'_>),
) -> Result<Vec<MetricsRow>, ChainError> {
    let mut fixed = fixed_inputs(config, family, dataset, device)?;
    let out = &config.out;
    let (folder, complete) = RunFolder::reopen(out)?;
    cut_tail(&mut fixed, on_event)?;
    let view = RunView::load_generations(out, complete)?;
    let scorer = Scorer::new(config, dataset, device, on_event)?;
    let mut state = ChainState::new(folder, view, scorer);
    if config.mode == LoopMode::Accumulate {
        for g in 1..complete {
            state
                .history
                .push(read_training_set(&generation_dir(out, g))?);
        }
    }
    if complete > 0 {
        let family = &fixed.family;
        let gen0 = family.load(&generation_dir(out, 0))?;
        state.gen0 = Some(match family.vae(&gen0) {
            Some(vae) => vae.clone(),
            None => reference_vae(&fixed, on_event)?,
        });
        state.previous = Some(family.load(&generation_dir(out, complete - 1))?);
    }
    manifest.config = serde_json::to_value(config).expect("config serialises");
    manifest.generations.retain(|t| t.generation < complete);
    manifest.finished = None;
    manifest.resumed.push(collapse_records::time::now_rfc3339());
    write_json(&out.join("manifest.json"), &manifest)?;
    drive(&fixed, manifest, state, render, on_event)
}

/// Reads back the synthetic training set written into a generation's folder,
/// as row-major `[count, pixels]` values in host memory.
fn read_training_set(dir: &Path) -> Result<Arc<[f32]>, ChainError> {
    let path = [TRAINING_SET_FLOAT, TRAINING_SET_BYTES]
        .iter()
        .map(|n| dir.join(n))
        .find(|p| p.is_file())
        .unwrap_or_else(|| dir.join(TRAINING_SET_FLOAT));
    Ok(read_idx(&path)?.data.to_unit_f32().into())
}

/// What training produced for one generation.
struct Trained<M> {
    model: M,
    train_size: usize,
    real_fraction: f64,
    train_loss: Option<f64>,
}

/// What was measured of one generation's model.
struct Measured {
    /// The model's own fit of the test set and its latents, where it is a VAE.
    fit: Option<(EvalStats, LatentStats)>,
    probe: ProbeStats,
    scored: Option<(EvalRecord, Evidence)>,
    grids: Grids,
}

/// The generation loop from the state's next generation to `config.generations`.
fn drive<F: ModelFamily>(
    fixed: &Fixed<'_, F>,
    mut manifest: Manifest,
    mut state: ChainState<F::Model>,
    render: &mut dyn Render,
    on_event: &mut dyn FnMut(ChainEvent<'_>),
) -> Result<Vec<MetricsRow>, ChainError> {
    let config = fixed.config;
    let first = state.view.rows.len();
    for g in first..=config.generations {
        let started = Instant::now();
        let dir = generation_dir(&config.out, g);
        create_dir(&dir)?;
        let trained = train_generation(fixed, g, &mut manifest, &mut state, &dir, on_event)?;
        let stage = |stage| ChainEvent::Stage {
            generation: g,
            stage,
        };
        on_event(stage(Stage::Scoring));
        let measured = measure_generation(fixed, g, &trained.model, &mut state, on_event)?;
        on_event(stage(Stage::Writing));
        write_generation(fixed, &dir, &trained.model, &measured, render)?;
        let profile = match (&mut state.profiler, &measured.scored) {
            (Some(profiler), Some((_, evidence))) => {
                profiler.add(evidence);
                Some(profiler.profile())
            }
            _ => None,
        };
        let mut row = metrics_row(g, &trained, &measured, started.elapsed().as_secs_f64());
        if let Some(last) = profile.as_ref().and_then(|p| p.generations.last()) {
            row.intervals = last.intervals();
        }
        record_generation(
            fixed,
            &dir,
            &row,
            measured,
            profile,
            &mut manifest,
            &mut state,
        )?;
        render.progress(&state.view).map_err(ChainError::Render)?;
        on_event(ChainEvent::GenerationDone(&row));
        state.previous = Some(trained.model);
    }
    if first > config.generations {
        // A resumed run that was already complete: only its last files are written again.
        manifest.finished = Some(collapse_records::time::now_rfc3339());
        write_json(&config.out.join("manifest.json"), &manifest)?;
        write_metrics_csv(&config.out.join("metrics.csv"), &state.view.rows)?;
        state.view.manifest = manifest;
        render.progress(&state.view).map_err(ChainError::Render)?;
    }
    render.finish(&state.view).map_err(ChainError::Render)?;
    Ok(state.view.rows)
}

/// Trains generation `g` on its training source, retrying once at half the
/// learning rate when the loss diverges and the config allows it (the retry
/// is recorded in the manifest first).
fn train_generation<F: ModelFamily>(
    fixed: &Fixed<'_, F>,
    g: usize,
    manifest: &mut Manifest,
    state: &mut ChainState<F::Model>,
    dir: &Path,
    on_event: &mut dyn FnMut(ChainEvent<'_>),
) -> Result<Trained<F::Model>, ChainError> {
    let config = fixed.config;
    if g > 0 && !config.stream {
        on_event(ChainEvent::Stage {
            generation: g,
            stage: Stage::Drawing,
        });
    }
    let (mut source, real_fraction) =
        training_source(fixed, g, state.previous.as_ref(), &mut state.history, dir)?;
    let train_size = source.epoch_len();
    on_event(ChainEvent::GenerationStart {
        generation: g,
        train_size,
    });
    let mut attempt = |purposes: (Purpose, Purpose), lr: f64| {
        let attempt = Attempt {
            generation: g,
            lr,
            init_seed: stream_seed(config.seed, g, purposes.0),
            train_seed: stream_seed(config.seed, g, purposes.1),
        };
        let on_event = &mut |event| {
            on_event(ChainEvent::Training {
                generation: g,
                event,
            })
        };
        fixed.family.train(source.as_mut(), attempt, on_event)
    };
    let failed = |e: TrainError, retried| e.in_generation(g, retried);
    let (model, train_loss) = match attempt((Purpose::Init, Purpose::Train), config.train.lr) {
        Err(TrainError::Diverged(divergence)) if config.on_divergence == OnDivergence::Retry => {
            let lr = config.train.lr / 2.0;
            record_retry(config, manifest, g, &divergence, lr)?;
            attempt((Purpose::RetryInit, Purpose::RetryTrain), lr).map_err(|e| failed(e, true))?
        }
        other => other.map_err(|e| failed(e, false))?,
    };
    Ok(Trained {
        model,
        train_size,
        real_fraction,
        train_loss,
    })
}

/// Records in the manifest that generation `g` is retried at `lr` after `divergence`.
fn record_retry(
    config: &ChainConfig,
    manifest: &mut Manifest,
    g: usize,
    divergence: &Divergence,
    lr: f64,
) -> Result<(), ChainError> {
    manifest.retries.push(RetryRecord {
        generation: g,
        reason: divergence.to_string(),
        lr,
    });
    Ok(write_json(&config.out.join("manifest.json"), manifest)?)
}

/// The test-set likelihood and latents of `model` where it is a VAE, the
/// probe (its samples encoded by generation 0's encoder, or by the reference
/// VAE for a model without one) scored by the frozen evaluators, and its grids.
fn measure_generation<F: ModelFamily>(
    fixed: &Fixed<'_, F>,
    g: usize,
    model: &F::Model,
    state: &mut ChainState<F::Model>,
    on_event: &mut dyn FnMut(ChainEvent<'_>),
) -> Result<Measured, ChainError> {
    let config = fixed.config;
    let vae = fixed.family.vae(model);
    fixed.seed(g, Purpose::Eval);
    let fit = vae.map(|vae| {
        let eval = evaluate(vae, &fixed.test, config.eval_batch);
        let latents = latent_stats(g, &encode_all(vae, &fixed.test, config.eval_batch));
        (eval, latents)
    });
    if state.gen0.is_none() {
        state.gen0 = Some(match vae {
            Some(vae) => vae.clone(),
            None => reference_vae(fixed, on_event)?,
        });
    }
    let reference = state.gen0.as_ref().expect("set above");
    let probe_seed = stream_seed(config.seed, g, Purpose::Probe);
    let probe_images = fixed
        .family
        .sample(model, config.probe_samples, probe_seed)?;
    let probe_mu = encode_all(reference, &probe_images, config.eval_batch).mu;
    let scored = state.scorer.score(
        fixed,
        reference,
        g,
        &probe_images,
        &probe_mu,
        &mut state.view,
        &mut state.profiler,
    )?;
    let grids = match vae {
        Some(vae) => fixed.grids(vae),
        None => fixed.sample_grid(probe_images),
    };
    Ok(Measured {
        fit,
        probe: probe_stats(g, probe_mu),
        scored,
        grids,
    })
}

/// The reference VAE of a chain whose models have no encoder, from its cache
/// next to the dataset or trained into it.
fn reference_vae<F>(
    fixed: &Fixed<'_, F>,
    on_event: &mut dyn FnMut(ChainEvent<'_>),
) -> Result<Vae, ChainError> {
    reference::load_or_train(
        fixed.config,
        &fixed.reference_dir,
        &fixed.dataset,
        &fixed.reference_train,
        &fixed.device,
        &mut |e| on_event(ChainEvent::Reference(e)),
    )
}

/// Leaves the config's tail cut out of the chain's real training set: the
/// images its run folder's `tail-cut.json` names, or, on a new chain, those
/// the reference VAE finds least likely, recorded there first.
fn cut_tail<F: ModelFamily>(
    fixed: &mut Fixed<'_, F>,
    on_event: &mut dyn FnMut(ChainEvent<'_>),
) -> Result<(), ChainError> {
    let c = fixed.config;
    let count = c.tail_cut_count();
    if count == 0 {
        return Ok(());
    }
    let path = c.out.join(cut::RECORD);
    let record: TailCutRecord = match path.is_file() {
        true => read_json(&path)?,
        false => {
            let reference = reference_vae(fixed, on_event)?;
            fixed.seed(0, Purpose::TailCut);
            let parts = per_image_parts(&reference, &fixed.reference_train, c.eval_batch);
            let nelbo = to_host(parts.recon + parts.kl);
            let key = fixed.reference_dir.file_name().unwrap_or_default();
            let record =
                TailCutRecord::new(c.cut_tail, key.to_string_lossy().into(), &nelbo, count);
            write_json(&path, &record)?;
            record
        }
    };
    let images = fixed.reference_train.dims()[0];
    if let Some(message) = record.misfit(images, count) {
        return Err(RecordError::Format { path, message }.into());
    }
    let kept = record.kept();
    let rows = Tensor::<1, Int>::from_data(
        TensorData::new(
            kept.iter().map(|&i| i as i64).collect::<Vec<_>>(),
            [kept.len()],
        ),
        &fixed.device,
    );
    fixed.real_train = fixed.reference_train.clone().select(0, rows);
    if let Some(host) = &fixed.real_host {
        let pixels = fixed.reference_train.dims()[1];
        let cut: Vec<f32> = kept
            .iter()
            .flat_map(|&i| &host[i * pixels..(i + 1) * pixels])
            .copied()
            .collect();
        fixed.real_host = Some(cut.into());
    }
    Ok(())
}

/// Writes a generation's grids, records and checkpoint into `dir`.
fn write_generation<F: ModelFamily>(
    fixed: &Fixed<'_, F>,
    dir: &Path,
    model: &F::Model,
    measured: &Measured,
    render: &mut dyn Render,
) -> Result<(), ChainError> {
    render
        .grids(dir, &measured.grids)
        .map_err(ChainError::Render)?;
    if let Some((_, latents)) = &measured.fit {
        write_json(&dir.join("latents.json"), latents)?;
    }
    write_json(&dir.join("probe.json"), &measured.probe)?;
    if let Some((record, evidence)) = &measured.scored {
        if fixed.config.profile {
            evidence
                .write(&dir.join(PER_SAMPLE))
                .map_err(ChainError::Npy)?;
        }
        write_json(&dir.join("eval.json"), record)?;
    }
    fixed.family.save(model, dir)
}

/// Generation `g`'s row of `metrics.csv`.
fn metrics_row<M>(g: usize, trained: &Trained<M>, measured: &Measured, seconds: f64) -> MetricsRow {
    let Measured {
        fit, probe, scored, ..
    } = measured;
    MetricsRow {
        generation: g,
        train_size: trained.train_size,
        real_fraction: trained.real_fraction,
        train_loss: trained.train_loss,
        fit: fit.as_ref().map(|(eval, latents)| ModelFit {
            test_nelbo: eval.nelbo,
            test_recon: eval.recon,
            test_kl: eval.kl,
            active_units: latents.active_units,
        }),
        probe_mu_mean: probe.mu_mean,
        probe_mu_std: probe.mu_std,
        probe_tail_mass: probe.tail_mass,
        seconds,
        eval: scored.as_ref().map(|(record, _)| record.summary()),
        intervals: Default::default(),
    }
}

/// Marks generation `row.generation` complete (its `metrics.json`, then
/// `COMPLETE`), then brings the run's `profile` (where it has one),
/// `metrics.csv`, manifest and records in memory up to date.
fn record_generation<F: ModelFamily>(
    fixed: &Fixed<'_, F>,
    dir: &Path,
    row: &MetricsRow,
    measured: Measured,
    profile: Option<Profile>,
    manifest: &mut Manifest,
    state: &mut ChainState<F::Model>,
) -> Result<(), ChainError> {
    let out = &fixed.config.out;
    write_json(&dir.join("metrics.json"), row)?;
    state.folder.mark_complete(row.generation)?;
    if let Some(profile) = profile {
        profile.write(out)?;
        state.view.profile = Some(profile);
    }
    state.view.push(
        row.clone(),
        measured.probe,
        measured.scored.map(|(record, _)| record),
    );
    write_metrics_csv(&out.join("metrics.csv"), &state.view.rows)?;
    manifest.generations.push(GenerationTiming {
        generation: row.generation,
        seconds: row.seconds,
        commands: fixed.family.take_commands(),
    });
    if row.generation == fixed.config.generations {
        // Finished before the last page is drawn, so index.html says so.
        manifest.finished = Some(collapse_records::time::now_rfc3339());
    }
    write_json(&out.join("manifest.json"), manifest)?;
    state.view.manifest = manifest.clone();
    Ok(())
}

/// Generation `g`'s source of training batches and its real fraction.
fn training_source<F: ModelFamily>(
    fixed: &Fixed<'_, F>,
    g: usize,
    previous: Option<&F::Model>,
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
        let Some(vae) = fixed.family.vae(previous) else {
            return Err(ChainError::Config(ConfigError {
                setting: Setting::Stream,
                message: "a model without an encoder cannot stream its samples; leave stream off"
                    .to_string(),
            }));
        };
        let real = (kept > 0).then(|| (fixed.real_train.clone(), c.real_fraction));
        let source = StreamedImages::new(
            vae.clone(),
            c.model.latent_dim,
            size,
            c.prior_scale,
            c.sample,
            real,
            &fixed.device,
        );
        return Ok((Box::new(source), c.real_fraction));
    }
    let Some(synthetic) = synthetic_set(&fixed.family, c, g, previous)? else {
        // Every image real (`--real-fraction 1`, or a share that rounds to the
        // whole set): the control chain, with nothing to sample.
        return Ok((
            Box::new(ShuffledImages::new(fixed.real_subset(g, kept))),
            1.0,
        ));
    };
    if c.keep_sets.writes(c.mode) {
        let path = dir.join(training_set_name(c.sample));
        write_training_set(&path, &synthetic, c.sample, c.model.image_dims)?;
    }
    let (set, real_fraction) = match c.mode {
        LoopMode::Replace if kept > 0 => (
            Tensor::cat(vec![fixed.real_subset(g, kept), synthetic], 0),
            kept as f64 / size as f64,
        ),
        LoopMode::Replace => (synthetic, 0.0),
        LoopMode::Accumulate => return Ok(accumulated(fixed, history, synthetic)),
    };
    Ok((Box::new(ShuffledImages::new(set)), real_fraction))
}

/// An accumulating chain's source: the real set and every synthetic set so far,
/// `synthetic` added to `history`, and its real fraction.
fn accumulated<F>(
    fixed: &Fixed<'_, F>,
    history: &mut History,
    synthetic: Tensor<2>,
) -> (Box<dyn BatchSource>, f64) {
    // The sets stay in host memory; the device sees one batch at a time.
    history.push(to_host(synthetic).into());
    let real = fixed
        .real_host
        .clone()
        .expect("accumulate keeps the real set on the host");
    let [real_rows, pixels] = fixed.real_train.dims();
    let mut parts = vec![real];
    parts.extend(history.iter().cloned());
    let source = HostImages::new(parts, pixels, &fixed.device);
    let fraction = real_rows as f64 / source.epoch_len() as f64;
    (Box::new(source), fraction)
}
