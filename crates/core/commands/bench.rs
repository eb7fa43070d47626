//! `collapse bench`: throughput of the three reference models on one device.
//!
//! For each model and batch size (a *row*), on uniform random images held as
//! one tensor on the device:
//! - training runs the chain's own loop ([`collapse_vae::train`]): one warm-up
//!   epoch, then `repeats` timed epochs of `steps` batches (median);
//! - sampling decodes `samples` images from N(0, I) in batches of 1,000;
//! - the probe encodes `samples` images with the VAE's encoder in batches of 1,000;
//!
//! each of the last two one warm-up pass, then the median of `repeats`. The
//! frozen classifier's scoring of `samples` images (random weights: the same
//! work as the trained one) is measured once. Peak memory is the process's
//! VmHWM after the row, and the CPU time over wall time of training says how
//! many cores the backend kept busy. `--json FILE` keeps it all with the
//! machine's description; `bench/compare.sh` runs PyTorch on the same rows.

use collapse_kernels::conv_path;
use std::path::Path;
use std::time::Instant;

use anyhow::{Context, anyhow};
use burn::module::Module;
use burn::prelude::*;
use burn::tensor::Distribution;
use collapse_eval::ClassifierConfig;
use collapse_records::DeviceRecord;
use collapse_vae::{
    Architecture, SampleMode, ShuffledImages, TrainConfig, TrainEvent, Vae, VaeConfig, encode_all,
    sample_images, train,
};
use serde::Serialize;

use crate::backend;
use crate::build_info;
use crate::flags::{BenchArgs, Reference};
use crate::usage;

/// Images per batch of sampling, of the probe and of the classifier.
const EVAL_BATCH: usize = 1_000;
/// Clock ticks per second of /proc/self/stat (Linux's USER_HZ).
const USER_HZ: f64 = 100.0;

impl Reference {
    fn name(self) -> &'static str {
        match self {
            Reference::Mlp => "mlp",
            Reference::MlpDeep => "mlp-deep",
            Reference::Conv => "conv",
        }
    }

    fn config(self) -> VaeConfig {
        match self {
            Reference::Mlp => VaeConfig::new(Architecture::Mlp),
            Reference::MlpDeep => VaeConfig::new(Architecture::Mlp)
                .with_hidden(vec![512, 256])
                .with_latent_dim(16),
            Reference::Conv => VaeConfig::new(Architecture::Conv),
        }
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Images per second of `pass`, which handles `count` images: one warm-up
/// pass, then the median of `repeats`, each waiting for the device.
fn rate<T>(
    device: &Device,
    count: usize,
    repeats: usize,
    mut pass: impl FnMut() -> T,
) -> anyhow::Result<f64> {
    let mut timed = || -> anyhow::Result<f64> {
        let started = Instant::now();
        let out = pass();
        device.sync().context("device sync")?;
        drop(out);
        Ok(count as f64 / started.elapsed().as_secs_f64())
    };
    timed()?;
    let rates = (0..repeats).map(|_| timed()).collect::<Result<_, _>>()?;
    Ok(median(rates))
}

/// A field of /proc/self/status, in kB (`VmHWM`: peak resident memory).
fn proc_status_kb(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// User + system CPU seconds of this process, all threads (/proc/self/stat).
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name in parentheses; utime and stime are fields 14 and 15.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / USER_HZ)
}

/// Uniform random images, `count` rows of `pixels`, on the device.
fn random_images(count: usize, pixels: usize, device: &Device) -> Tensor<2> {
    Tensor::<2>::random([count, pixels], Distribution::Default, device)
}

/// One model at one batch size, as `--json` records it.
#[derive(Serialize)]
struct Row {
    /// The reference model's name.
    model: &'static str,
    /// Images per training step.
    batch: usize,
    /// The VAE's parameter count.
    params: usize,
    /// How the conv VAE computes its convolutions; null for the MLPs.
    conv_impl: Option<String>,
    /// Median of the timed epochs.
    train_images_per_sec: f64,
    /// Each timed epoch, in order.
    train_runs_images_per_sec: Vec<f64>,
    /// CPU time over wall time of the training; null without /proc.
    train_cores_busy: Option<f64>,
    /// Sampling's median rate.
    sample_images_per_sec: f64,
    /// The probe's median rate.
    probe_images_per_sec: f64,
    /// The process's peak resident memory after the row (VmHWM), MiB; null without /proc.
    peak_rss_mib: Option<f64>,
}

impl Row {
    /// The row's line of the table that [`print_header`] opens.
    fn print(&self) {
        println!(
            "{:<9} {:>5} {:>9} {:>10.0} {:>11.2} {:>9.0} {:>11.0} {:>9.0}",
            self.model,
            self.batch,
            self.params,
            self.train_images_per_sec,
            self.train_cores_busy.unwrap_or(f64::NAN),
            self.sample_images_per_sec,
            self.probe_images_per_sec,
            self.peak_rss_mib.unwrap_or(f64::NAN),
        );
    }
}

/// What the training of one row measured.
struct Training {
    /// The trained model.
    vae: Vae,
    /// Images per second of each timed epoch (the warm-up left out).
    rates: Vec<f64>,
    /// CPU time over wall time of the whole training, warm-up included.
    cores_busy: Option<f64>,
}

/// Trains `vae` on `images` with the chain's own loop: one warm-up epoch,
/// then `repeats` timed ones.
fn measure_training(
    vae: Vae,
    images: Tensor<2>,
    batch: usize,
    repeats: usize,
) -> anyhow::Result<Training> {
    let config = TrainConfig::new()
        .with_epochs(repeats + 1)
        .with_batch_size(batch);
    let mut rates = Vec::new();
    let (cpu_before, started) = (cpu_seconds(), Instant::now());
    let (vae, _) = train(vae, &mut ShuffledImages::new(images), &config, &mut |e| {
        if let TrainEvent::Epoch(r) = e
            && r.epoch > 1
        {
            rates.push(r.images_per_sec)
        }
    })?;
    let wall = started.elapsed().as_secs_f64();
    let cores_busy = cpu_seconds()
        .zip(cpu_before)
        .map(|(after, before)| (after - before) / wall);
    Ok(Training {
        vae,
        rates,
        cores_busy,
    })
}

/// One model at one batch size: training, then sampling, then the probe, all
/// from the device's seed 0.
fn measure_row(
    reference: Reference,
    batch: usize,
    args: &BenchArgs,
    device: &Device,
) -> anyhow::Result<Row> {
    let config = reference.config();
    let conv_impl = conv_path(device);
    device.seed(0);
    let images = random_images(batch * args.steps, config.pixels(), device);
    let vae = config.init(&device.clone().autodiff());
    let params = vae.num_params();
    let training = measure_training(vae, images, batch, args.repeats)?;
    let vae = training.vae.valid();
    let sampling = rate(device, args.samples, args.repeats, || {
        sample_images(
            &vae,
            config.latent_dim,
            args.samples,
            EVAL_BATCH,
            1.0,
            SampleMode::Mean,
            device,
        )
    })?;
    let probe_images = random_images(args.samples, config.pixels(), device);
    let probe = rate(device, args.samples, args.repeats, || {
        encode_all(&vae, &probe_images, EVAL_BATCH)
    })?;
    Ok(Row {
        model: reference.name(),
        batch,
        params,
        conv_impl: (config.architecture == Architecture::Conv).then(|| conv_impl.to_string()),
        train_images_per_sec: median(training.rates.clone()),
        train_runs_images_per_sec: training.rates,
        train_cores_busy: training.cores_busy,
        sample_images_per_sec: sampling,
        probe_images_per_sec: probe,
        peak_rss_mib: proc_status_kb("VmHWM:").map(|kb| kb as f64 / 1024.0),
    })
}

/// Every model at every batch size, each row printed once measured.
fn measure_rows(args: &BenchArgs, device: &Device) -> anyhow::Result<Vec<Row>> {
    let mut rows = Vec::new();
    for &reference in &args.model {
        for &batch in &args.batch_size {
            let row = measure_row(reference, batch, args, device)?;
            row.print();
            rows.push(row);
        }
    }
    Ok(rows)
}

/// The frozen classifier's scoring rate (`Classifier::score`, batches of 1,000).
fn measure_classifier(args: &BenchArgs, device: &Device) -> anyhow::Result<f64> {
    let config = ClassifierConfig::new();
    let classifier = config.init(device);
    let [h, w] = config.image_dims;
    let images = random_images(args.samples, h * w, device);
    rate(device, args.samples, args.repeats, || {
        classifier.score(&images, EVAL_BATCH)
    })
}

/// `git rev-parse HEAD` and whether the tree differs from it, when run inside a checkout.
fn git_commit() -> Option<(String, bool)> {
    let git = |args: &[&str]| std::process::Command::new("git").args(args).output().ok();
    let head = git(&["rev-parse", "HEAD"]).filter(|o| o.status.success())?;
    let dirty = git(&["status", "--porcelain", "--untracked-files=no"])
        .is_some_and(|o| !o.stdout.is_empty());
    Some((
        String::from_utf8_lossy(&head.stdout).trim().to_string(),
        dirty,
    ))
}

/// The CPU the benchmark ran on.
#[derive(Serialize)]
struct Cpu {
    /// `model name` of /proc/cpuinfo.
    model: Option<String>,
    /// The threads the OS lets this process run at once.
    logical_cores: usize,
    /// Whether /proc/cpuinfo lists the `avx2` flag.
    avx2: bool,
    /// Whether /proc/cpuinfo lists the `avx512f` flag.
    avx512f: bool,
    /// The architecture this binary was built for.
    arch: &'static str,
    /// The OS this binary was built for.
    os: &'static str,
}

/// The CPU as /proc/cpuinfo describes it.
fn cpu_description() -> Cpu {
    let info = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = info
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().to_string());
    let flags: Vec<&str> = info
        .lines()
        .find(|l| l.starts_with("flags"))
        .map(|l| l.split_whitespace().collect())
        .unwrap_or_default();
    Cpu {
        model,
        logical_cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        avx2: flags.contains(&"avx2"),
        avx512f: flags.contains(&"avx512f"),
        arch: std::env::consts::ARCH,
        os: std::env::consts::OS,
    }
}

/// The file `--json` writes: the measurements and what they were measured on.
#[derive(Serialize)]
struct Record<'a> {
    /// `collapse`.
    tool: &'static str,
    /// This binary's version.
    version: &'static str,
    /// Burn's version in the Cargo.lock it was built from.
    burn_version: Option<&'static str>,
    /// The compiler that built it.
    rustc: &'static str,
    /// The cargo features it was built with.
    features: Vec<&'static str>,
    /// When the measurements ended, RFC 3339 UTC.
    date: String,
    /// The command line.
    command: Vec<String>,
    /// The checkout's HEAD, where the command ran inside one.
    git_commit: Option<String>,
    /// Whether tracked files differ from HEAD.
    git_dirty: Option<bool>,
    /// The CPU.
    cpu: Cpu,
    /// The device measured.
    device: &'a DeviceRecord,
    /// `--steps`.
    steps: usize,
    /// `--repeats`.
    repeats: usize,
    /// `--samples`.
    samples: usize,
    /// One per model and batch size.
    rows: Vec<Row>,
    /// The frozen classifier's rate; null with `--no-classifier`.
    classifier_images_per_sec: Option<f64>,
}

impl<'a> Record<'a> {
    /// The record of `rows` and `classifier`, measured on `device` with `args`.
    fn new(
        args: &BenchArgs,
        device: &'a DeviceRecord,
        rows: Vec<Row>,
        classifier: Option<f64>,
    ) -> Self {
        let (git_commit, git_dirty) = git_commit().unzip();
        Record {
            tool: "collapse",
            version: env!("CARGO_PKG_VERSION"),
            burn_version: build_info::locked_version("burn"),
            rustc: build_info::rustc_version(),
            features: build_info::features(),
            date: collapse_records::time::now_rfc3339(),
            command: std::env::args().collect(),
            git_commit,
            git_dirty,
            cpu: cpu_description(),
            device,
            steps: args.steps,
            repeats: args.repeats,
            samples: args.samples,
            rows,
            classifier_images_per_sec: classifier,
        }
    }
}

fn write_record(path: &Path, record: &Record) -> anyhow::Result<()> {
    collapse_records::write_json(path, record).with_context(|| format!("--json {}", path.display()))
}

/// The device and the method on one line, then the table's header.
fn print_header(device: &DeviceRecord, args: &BenchArgs) {
    println!(
        "device: {} ({}, {}; {}, {}, kernels: {}); {} steps x {} timed epochs after 1 warm-up; {} images per sampling, probe and classifier pass, in batches of {EVAL_BATCH}",
        device.backend,
        device.adapter,
        device.kind,
        device.runtime,
        device.precision,
        if device.kernels.is_empty() {
            "the backend's own".to_string()
        } else {
            device.kernels.join(", ")
        },
        args.steps,
        args.repeats,
        args.samples
    );
    println!(
        "{:<9} {:>5} {:>9} {:>10} {:>11} {:>9} {:>11} {:>9}",
        "model",
        "batch",
        "params",
        "train im/s",
        "cores busy",
        "sample/s",
        "probe im/s",
        "peak MiB"
    );
}

/// `collapse bench`.
pub fn bench(args: BenchArgs) -> anyhow::Result<()> {
    if args.batch_size.contains(&0) || args.steps == 0 || args.repeats == 0 || args.samples == 0 {
        return Err(usage(anyhow!(
            "--batch-size, --steps, --repeats and --samples must each be at least 1"
        )));
    }
    backend::force_conv_path(args.device, args.conv_impl).map_err(usage)?;
    let selected = backend::select(args.device).map_err(usage)?;
    let device = &selected.device;
    print_header(&selected.record, &args);
    let rows = measure_rows(&args, device);
    // The classifier's row takes the device's own path, as a run does.
    collapse_kernels::force_conv_path(None);
    let rows = rows?;
    let classifier = if args.no_classifier {
        None
    } else {
        let r = measure_classifier(&args, device)?;
        println!("frozen classifier: {r:.0} images/s");
        Some(r)
    };
    if let Some(path) = &args.json {
        let record = Record::new(&args, &selected.record, rows, classifier);
        write_record(path, &record)?;
    }
    Ok(())
}
