//! The chain on a tiny synthetic dataset, on flex: what each step leaves in
//! the run folder, without the binary or MNIST.

use std::path::Path;
use std::sync::Mutex;

use burn::prelude::Device;
use collapse_data::{Catalogue, Dataset, DatasetSpec, Split};
use collapse_records::{
    DeviceRecord, LatentStats, Manifest, MetricsRow, ProbeStats, generation_dir, read_json,
    read_metrics_csv,
};

use collapse_records::{COMPLETE, FolderError};
use collapse_report::Report;

use crate::generations::TRAINING_SET_FLOAT;
use crate::generations::{resume_chain_with, run_chain_with};
use crate::reference;
use crate::{
    Attempt, ChainConfig, ChainError, ChainEvent, LoopMode, ModelFamily, Preset, RunContext,
    VaeFamily,
};

/// Held by each test while it runs a chain: the chains seed flex's one random
/// generator, which two chains running at once in this process would share.
static ONE_CHAIN_AT_A_TIME: Mutex<()> = Mutex::new(());

/// Image side of the synthetic dataset (the catalogue's MNIST shape).
const SIDE: usize = 28;

/// `count` images of a bar per class: class `c` inks rows `2c..2c + 3` between
/// columns that shift with the image's index, so no two images are alike.
fn split(count: usize) -> Split {
    let mut images = vec![0u8; count * SIDE * SIDE];
    let labels: Vec<u8> = (0..count).map(|i| (i % 10) as u8).collect();
    for (i, image) in images.chunks_mut(SIDE * SIDE).enumerate() {
        let row = 2 * labels[i] as usize + 4;
        let left = 3 + i % 7;
        for r in row..row + 3 {
            image[r * SIDE + left..r * SIDE + left + 14].fill(255);
        }
    }
    Split { images, labels }
}

fn dataset() -> Dataset {
    let spec: DatasetSpec = Catalogue::get("mnist").expect("mnist is catalogued");
    Dataset {
        spec,
        train: split(120),
        test: split(60),
        provenance: Vec::new(),
    }
}

/// A chain small enough for a unit test: an MLP of one small hidden layer,
/// one epoch, two synthetic generations, no frozen evaluators.
fn config(out: &Path) -> ChainConfig {
    let mut c = ChainConfig::preset(Preset::Quick, "mnist", "unused".into(), out.into());
    c.model = c.model.with_hidden(vec![16]).with_latent_dim(4);
    c.train = c.train.with_epochs(1).with_batch_size(32);
    c.generations = 2;
    c.train_size = None;
    c.probe_samples = 50;
    c.eval_batch = 40;
    c.evaluate = false;
    c.resolve_sizes(120).expect("120 images suffice");
    c.validate().expect("a valid chain");
    c
}

fn context() -> RunContext {
    RunContext {
        command_line: vec!["test".into()],
        device: DeviceRecord {
            backend: "flex".into(),
            adapter: "cpu".into(),
            kind: "cpu".into(),
            runtime: "flex".into(),
            precision: "f32".into(),
            kernels: Vec::new(),
            tuning_cache: None,
        },
    }
}

fn without_seconds(rows: &[MetricsRow]) -> Vec<MetricsRow> {
    rows.iter()
        .cloned()
        .map(|row| MetricsRow {
            seconds: 0.0,
            ..row
        })
        .collect()
}

/// What generation `g` of a run of [`config`] left in `out`, against its row.
fn check_generation(out: &Path, g: usize, row: &MetricsRow) {
    let dir = generation_dir(out, g);
    assert!(dir.join(COMPLETE).is_file(), "gen {g} complete");
    assert_eq!(
        &read_json::<MetricsRow>(&dir.join("metrics.json")).unwrap(),
        row
    );
    let probe: ProbeStats = read_json(&dir.join("probe.json")).unwrap();
    assert_eq!((probe.generation, probe.samples), (g, 50));
    assert_eq!(probe.per_dim_std.len(), 4);
    assert!(probe.mu_std > 0.0 && probe.mu_std.is_finite());
    assert_eq!(probe.mu_std, row.probe_mu_std);
    let latents: LatentStats = read_json(&dir.join("latents.json")).unwrap();
    assert_eq!((latents.generation, latents.images), (g, 60));
    let fit = row.fit.expect("a VAE's fit of the test set");
    assert_eq!(latents.active_units, fit.active_units);
    for file in [
        "samples.png",
        "reconstructions.png",
        "model.bpk",
        "vae.json",
    ] {
        assert!(dir.join(file).is_file(), "gen {g}: {file}");
    }
    // Generation 0 trains on the real images; the others on a drawn set, which
    // a replacing chain does not keep (a resume draws it again).
    assert_eq!(row.real_fraction, if g == 0 { 1.0 } else { 0.0 });
    assert!(!dir.join(TRAINING_SET_FLOAT).exists());
    assert_eq!(row.train_size, 120);
    assert!(fit.test_nelbo.is_finite() && fit.test_nelbo > 0.0);
    assert!((fit.test_recon + fit.test_kl - fit.test_nelbo).abs() < 1e-3 * fit.test_nelbo);
}

#[test]
fn each_generation_leaves_its_records_and_resuming_redoes_the_same() {
    let _one = ONE_CHAIN_AT_A_TIME
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    let tmp = tempfile::tempdir().expect("temporary folder");
    let out = tmp.path().join("run");
    let (c, data, device) = (config(&out), dataset(), Device::flex());
    let rows = run_chain_with(
        &c,
        VaeFamily::new(&c, &device),
        &data,
        &device,
        context(),
        &mut Report,
        &mut |_| {},
    )
    .expect("the chain runs");
    assert_eq!(rows.len(), 3);
    for (g, row) in rows.iter().enumerate() {
        check_generation(&out, g, row);
    }
    // metrics.csv rounds the wall time; every other value reads back exactly.
    let csv = read_metrics_csv(&out.join("metrics.csv")).unwrap();
    assert_eq!(without_seconds(&csv), without_seconds(&rows));
    let manifest: Manifest = read_json(&out.join("manifest.json")).unwrap();
    assert_eq!(manifest.generations.len(), 3);
    assert!(manifest.finished.is_some() && manifest.resumed.is_empty());

    // Generation 2 interrupted before its marker: resuming redoes it alone.
    std::fs::remove_file(generation_dir(&out, 2).join(COMPLETE)).unwrap();
    let first_gen = std::fs::read(generation_dir(&out, 1).join("model.bpk")).unwrap();
    let resumed = resume_chain_with(
        &c,
        VaeFamily::new(&c, &device),
        manifest,
        &data,
        &device,
        &mut Report,
        &mut |_| {},
    )
    .expect("resumes");
    assert_eq!(without_seconds(&resumed), without_seconds(&rows));
    assert_eq!(
        std::fs::read(generation_dir(&out, 1).join("model.bpk")).unwrap(),
        first_gen,
        "complete generations are kept"
    );
    let manifest: Manifest = read_json(&out.join("manifest.json")).unwrap();
    assert_eq!((manifest.generations.len(), manifest.resumed.len()), (3, 1));

    // The folder now holds a run: a second run into it is refused, changing nothing.
    let again = run_chain_with(
        &c,
        VaeFamily::new(&c, &device),
        &data,
        &device,
        context(),
        &mut Report,
        &mut |_| {},
    );
    assert!(matches!(again, Err(ChainError::Folder(FolderError::Exists(path))) if path == out));
    assert_eq!(
        read_json::<Manifest>(&out.join("manifest.json")).unwrap(),
        manifest
    );
}

#[test]
fn an_accumulating_chain_trains_on_every_earlier_set() {
    let _one = ONE_CHAIN_AT_A_TIME
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    let tmp = tempfile::tempdir().expect("temporary folder");
    let mut c = config(&tmp.path().join("run"));
    c.mode = LoopMode::Accumulate;
    let device = Device::flex();
    let rows = run_chain_with(
        &c,
        VaeFamily::new(&c, &device),
        &dataset(),
        &device,
        context(),
        &mut Report,
        &mut |_| {},
    )
    .expect("the chain runs");
    let sizes: Vec<usize> = rows.iter().map(|r| r.train_size).collect();
    assert_eq!(sizes, [120, 240, 360]);
    let fractions: Vec<f64> = rows.iter().map(|r| r.real_fraction).collect();
    assert_eq!(fractions, [1.0, 0.5, 1.0 / 3.0]);
    // It keeps every drawn set: a resume trains on them all again.
    for g in 0..3 {
        let set = generation_dir(&c.out, g).join(TRAINING_SET_FLOAT);
        assert_eq!(set.is_file(), g > 0, "{}", set.display());
    }
}

/// Every size setting whose synthetic share can round to zero images: the
/// chain samples nothing and trains on the real share alone.
#[test]
fn a_chain_whose_synthetic_share_rounds_to_nothing_trains_on_real_images() {
    let _one = ONE_CHAIN_AT_A_TIME
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    let tmp = tempfile::tempdir().expect("temporary folder");
    // 120 images: a fraction of 0.999 keeps round(119.88) = 120 of them.
    for (name, fraction, stream) in [
        ("all-real", 1.0, false),
        ("rounds-up", 0.999, false),
        ("streamed", 1.0, true),
        ("streamed-rounds-up", 0.999, true),
    ] {
        let mut c = config(&tmp.path().join(name));
        c.real_fraction = fraction;
        c.stream = stream;
        c.validate().expect("a valid chain");
        let device = Device::flex();
        let rows = run_chain_with(
            &c,
            VaeFamily::new(&c, &device),
            &dataset(),
            &device,
            context(),
            &mut Report,
            &mut |_| {},
        )
        .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(rows.len(), 3, "{name}");
        for row in &rows[1..] {
            assert_eq!(row.train_size, 120, "{name}");
            assert!(row.fit.is_some_and(|f| f.test_nelbo.is_finite()), "{name}");
        }
        if !stream {
            assert_eq!(rows[1].real_fraction, 1.0, "{name}");
        }
    }
}

/// The chain's VAE presented as a model without an encoder, as a model run
/// outside this process is: the chain must measure it through its reference
/// VAE alone.
struct WithoutEncoder<'a>(VaeFamily<'a>);

impl ModelFamily for WithoutEncoder<'_> {
    type Model = collapse_vae::Vae;

    fn train(
        &self,
        source: &mut dyn collapse_vae::BatchSource,
        attempt: Attempt,
        on_event: &mut dyn FnMut(collapse_vae::TrainEvent),
    ) -> Result<(Self::Model, Option<f64>), crate::TrainError> {
        self.0.train(source, attempt, on_event)
    }

    fn sample(
        &self,
        model: &Self::Model,
        count: usize,
        seed: u64,
    ) -> Result<burn::prelude::Tensor<2>, ChainError> {
        self.0.sample(model, count, seed)
    }

    fn save(&self, model: &Self::Model, dir: &Path) -> Result<(), ChainError> {
        self.0.save(model, dir)
    }

    fn load(&self, dir: &Path) -> Result<Self::Model, ChainError> {
        self.0.load(dir)
    }

    fn vae<'m>(&self, _: &'m Self::Model) -> Option<&'m collapse_vae::Vae> {
        None
    }

    fn parameters(&self) -> usize {
        self.0.parameters()
    }
}

#[test]
fn a_model_without_an_encoder_is_probed_by_the_reference_vae_and_resumes() {
    let _one = ONE_CHAIN_AT_A_TIME
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    let tmp = tempfile::tempdir().expect("temporary folder");
    let (encoded, bare) = (tmp.path().join("vae"), tmp.path().join("bare"));
    let (data, device) = (dataset(), Device::flex());
    // The reference VAE's cache goes next to the dataset.
    let config = |out: &Path| ChainConfig {
        data: tmp.path().join("data"),
        ..config(out)
    };
    let run = |out: &Path, encoder: bool| {
        let c = config(out);
        let family = VaeFamily::new(&c, &device);
        let ctx = context();
        match encoder {
            true => run_chain_with(&c, family, &data, &device, ctx, &mut Report, &mut |_| {}),
            false => {
                let family = WithoutEncoder(family);
                run_chain_with(&c, family, &data, &device, ctx, &mut Report, &mut |_| {})
            }
        }
        .expect("the chain runs")
    };
    let with = run(&encoded, true);
    let without = run(&bare, false);
    for (a, b) in with.iter().zip(&without) {
        assert!(a.fit.is_some() && b.fit.is_none(), "gen {}", a.generation);
        assert_eq!(a.train_loss, b.train_loss);
        // The reference is the VAE chain's own generation 0, so the probes agree.
        assert_eq!(
            (a.probe_mu_mean, a.probe_mu_std),
            (b.probe_mu_mean, b.probe_mu_std),
            "gen {}",
            a.generation
        );
    }
    let entry = reference::entry_dir(&config(&bare), &data);
    assert!(entry.join("model.bpk").is_file() && entry.join("reference.json").is_file());
    assert!(entry.starts_with(tmp.path().join("data/evaluators")));
    for g in 0..3 {
        let dir = generation_dir(&bare, g);
        assert!(dir.join("samples.png").is_file() && dir.join("probe.json").is_file());
        assert!(!dir.join("latents.json").exists() && !dir.join("reconstructions.png").exists());
    }
    let csv = std::fs::read_to_string(bare.join("metrics.csv")).unwrap();
    let second = csv.lines().nth(1).unwrap();
    assert!(
        second.contains(",,,,"),
        "its fit cells stay empty: {second}"
    );

    // Interrupted in generation 2: the resume loads the reference and redoes the same.
    std::fs::remove_file(generation_dir(&bare, 2).join(COMPLETE)).unwrap();
    let c = config(&bare);
    let manifest: Manifest = read_json(&bare.join("manifest.json")).unwrap();
    let family = WithoutEncoder(VaeFamily::new(&c, &device));
    let resumed = resume_chain_with(
        &c,
        family,
        manifest,
        &data,
        &device,
        &mut Report,
        &mut |_| {},
    )
    .expect("resumes");
    assert_eq!(without_seconds(&resumed), without_seconds(&without));

    // Another chain of the same recipe loads the cached reference, untrained.
    let mut told = Vec::new();
    let c = config(&tmp.path().join("again"));
    let family = WithoutEncoder(VaeFamily::new(&c, &device));
    let again = run_chain_with(
        &c,
        family,
        &data,
        &device,
        context(),
        &mut Report,
        &mut |e| {
            if let ChainEvent::Reference(e) = e {
                told.push(format!("{e:?}"));
            }
        },
    )
    .expect("the chain runs");
    assert_eq!(without_seconds(&again), without_seconds(&without));
    assert_eq!(told.len(), 1, "{told:?}");
    assert!(told[0].starts_with("Loaded"), "{told:?}");
}
