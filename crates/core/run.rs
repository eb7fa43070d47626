//! `collapse run`, `collapse fetch`, `collapse report` and `collapse sample`.

use std::cell::Cell;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow};
use clap::ValueEnum;
use collapse_chain::{
    ChainConfig, ChainError, ChainEvent, LoopMode, OnDivergence, Preset, RunContext, resume_chain,
    run_chain,
};
use collapse_data::catalogue::DatasetSpec;
use collapse_data::fetch::default_mirrors;
use collapse_data::{Catalogue, Dataset, DatasetError, fetch_dataset};
use collapse_report::{Manifest, MetricsRow, read_json};
use collapse_vae::{Architecture, CheckpointError, SampleMode, TrainEvent};

use crate::Failure;
use crate::args::{
    Backend, FetchArgs, Mode, Model, OnDivergenceArg, ReportArgs, RunArgs, Sample, SampleArgs,
    flag_error,
};
use crate::backend;

/// The catalogue entry named `name`, or a usage error listing the known ones.
pub fn dataset_spec(name: &str) -> Result<DatasetSpec, Failure> {
    Catalogue::get(name).ok_or_else(|| {
        Failure::input(anyhow!(
            "--dataset: unknown dataset {name:?}; known: {}",
            Catalogue::names().join(", ")
        ))
    })
}

/// `datasets/NAME`.
pub fn default_data_dir(spec: &DatasetSpec) -> PathBuf {
    Path::new("datasets").join(spec.name)
}

/// Applies the preset, then every flag given, then checks the result.
fn resolve(args: &RunArgs, spec: &DatasetSpec, data: PathBuf) -> Result<ChainConfig, Failure> {
    let name = args.preset.as_deref().unwrap_or("quick");
    let preset = Preset::from_name(name).ok_or_else(|| {
        Failure::input(anyhow!(
            "--preset: unknown preset {name:?}; known: {}",
            Preset::NAMES.join(", ")
        ))
    })?;
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| Path::new("outputs").join(format!("{name}-{}", timestamp())));
    let mut c = ChainConfig::preset(preset, spec.name, data, out);
    if let Some(m) = args.model {
        c.model.architecture = match m {
            Model::Mlp => Architecture::Mlp,
            Model::Conv => Architecture::Conv,
        };
    }
    c.model.image_dims = spec.image_dims;
    c.classifier.image_dims = spec.image_dims;
    c.classifier.classes = spec.classes;
    c.model.conv_impl = device_of(args)
        .conv_impl_or(args.conv_impl)
        .map_err(Failure::input)?;
    set(&mut c.model.latent_dim, args.latent_dim);
    set(&mut c.model.hidden, args.hidden.clone());
    set(&mut c.train.beta, args.beta);
    set(&mut c.train.epochs, args.epochs);
    set(&mut c.train.batch_size, args.batch_size);
    set(&mut c.train.lr, args.lr);
    set(&mut c.train.weight_decay, args.weight_decay);
    set(&mut c.generations, args.generations);
    if args.train_size.is_some() {
        c.train_size = args.train_size;
    }
    if args.synthetic_size.is_some() {
        c.synthetic_size = args.synthetic_size;
    }
    if let Some(s) = args.sample {
        c.sample = match s {
            Sample::Mean => SampleMode::Mean,
            Sample::Bernoulli => SampleMode::Bernoulli,
        };
    }
    if args.stream || args.no_stream {
        c.stream = args.stream;
    }
    if let Some(m) = args.mode {
        c.mode = match m {
            Mode::Replace => LoopMode::Replace,
            Mode::Accumulate => LoopMode::Accumulate,
        };
    }
    set(&mut c.real_fraction, args.real_fraction);
    set(&mut c.prior_scale, args.prior_scale);
    set(&mut c.seed, args.seed);
    set(&mut c.probe_samples, args.probe_samples);
    set(&mut c.eval_batch, args.eval_batch);
    c.evaluate = !args.no_eval;
    args.classifier.apply(&mut c.classifier);
    if let Some(d) = args.on_divergence {
        c.on_divergence = match d {
            OnDivergenceArg::Stop => OnDivergence::Stop,
            OnDivergenceArg::Retry => OnDivergence::Retry,
        };
    }
    c.device = device_of(args).name().to_string();
    c.validate().map_err(|e| Failure::input(flag_error(e)))?;
    Ok(c)
}

/// The current UTC time as `YYYYMMDD-HHMMSS`, for default folder names.
pub fn timestamp() -> String {
    collapse_report::time::now_rfc3339()
        .replace(['-', ':'], "")
        .replace('T', "-")
        .trim_end_matches('Z')
        .to_string()
}

fn set<T>(field: &mut T, value: Option<T>) {
    if let Some(v) = value {
        *field = v;
    }
}

/// Refuses a dataset whose files are not the catalogue's, unless `accept`.
pub fn verified(dataset: Dataset, accept: bool) -> Result<Dataset, Failure> {
    match dataset.provenance.iter().find(|p| !p.matches_catalogue) {
        Some(p) if !accept => Err(Failure::input(anyhow!(
            "{}: contents have SHA-256 {}, not the catalogue's for {}; pass --no-verify to use it anyway",
            p.path.display(),
            p.sha256,
            dataset.spec.name
        ))),
        _ => Ok(dataset),
    }
}

/// A dataset that cannot be loaded, with the commands that provide one.
fn dataset_failure(e: DatasetError) -> Failure {
    match e {
        DatasetError::Missing { dataset, .. } => Failure::input(anyhow!(
            "{e}: run `collapse fetch {dataset}`, or pass --data DIR with the IDX files"
        )),
        e => Failure::input(e),
    }
}

/// Loads the dataset; without `--data`, fetches it on first use.
pub fn load_dataset(
    spec: DatasetSpec,
    data: &Path,
    explicit: bool,
    quiet: bool,
) -> Result<Dataset, Failure> {
    match Dataset::load(spec, data) {
        Err(DatasetError::Missing { .. }) if !explicit => {
            if !quiet {
                eprintln!(
                    "{} is not in {}/ yet: fetching it",
                    spec.name,
                    data.display()
                );
            }
            fetch_dataset(&spec, data, &default_mirrors(&spec), &mut |line| {
                if !quiet {
                    eprintln!("{line}")
                }
            })
            .map_err(|e| {
                Failure::input(anyhow!(
                    "no {} data in {}/ and the download failed ({e}); run `collapse fetch {}` when online, or pass --data DIR",
                    spec.name,
                    data.display(),
                    spec.name
                ))
            })?;
            Dataset::load(spec, data).map_err(dataset_failure)
        }
        other => other.map_err(dataset_failure),
    }
}

/// Writes progress to stderr: one line per epoch, and on a terminal a line
/// redrawn within each epoch with the images done so far.
struct Progress {
    quiet: bool,
    tty: bool,
    generations: usize,
    last_batch_line: Cell<Instant>,
}

/// How often the in-epoch progress line is redrawn on a terminal.
const BATCH_LINE_EVERY: Duration = Duration::from_millis(200);

impl Progress {
    fn event(&self, event: ChainEvent<'_>) {
        if self.quiet {
            return;
        }
        let mut err = std::io::stderr().lock();
        let _ = match event {
            ChainEvent::GenerationStart {
                generation,
                train_size,
            } => writeln!(
                err,
                "generation {generation}/{}: training on {train_size} images",
                self.generations
            ),
            ChainEvent::Training {
                generation,
                event: TrainEvent::Batch { epoch, done, total },
            } => {
                if !self.tty || self.last_batch_line.get().elapsed() < BATCH_LINE_EVERY {
                    return;
                }
                self.last_batch_line.set(Instant::now());
                write!(
                    err,
                    "\r  gen {generation} epoch {epoch}: {done}/{total} images\x1b[K"
                )
            }
            ChainEvent::Training {
                generation,
                event: TrainEvent::Epoch(report),
            } => {
                let line = format!(
                    "  gen {generation} epoch {}/{} loss {:.2} ({:.0} images/s)",
                    report.epoch, report.epochs, report.mean_loss, report.images_per_sec
                );
                if self.tty {
                    writeln!(err, "\r{line}\x1b[K")
                } else {
                    writeln!(err, "{line}")
                }
            }
            ChainEvent::Evaluator(e) => writeln!(err, "{}", crate::evaluate::describe(&e)),
            ChainEvent::GenerationDone(row) => {
                let eval = row.eval.as_ref().map_or(String::new(), |e| {
                    format!(
                        ", recall {:.3}, precision {:.3}, class entropy {:.3}, FD {:.1}",
                        e.recall, e.precision, e.class_entropy_norm, e.fd
                    )
                });
                writeln!(
                    err,
                    "  gen {}: test NELBO {:.2}, probe mu std {:.4}, tail mass {:.4}, active units {}{eval}, {:.1} s",
                    row.generation,
                    row.test_nelbo,
                    row.probe_mu_std,
                    row.probe_tail_mass,
                    row.active_units,
                    row.seconds
                )
            }
        };
    }
}

/// The folder of a run (for `--seeds`, of the study) that keeps the autotuner's
/// kernel choices in builds with autotune.
const TUNING_DIR: &str = "tuning";

/// `collapse run`.
pub fn run(args: RunArgs) -> Result<(), Failure> {
    if let Some(run) = args.resume.clone() {
        return resume(args, run);
    }
    let spec = dataset_spec(args.dataset.as_deref().unwrap_or("mnist"))?;
    let explicit = args.data.is_some();
    let data = args.data.clone().unwrap_or_else(|| default_data_dir(&spec));
    let mut config = resolve(&args, &spec, data.clone())?;
    let seeds = args.seeds.clone().unwrap_or_default();
    if let Some(s) = seeds
        .iter()
        .enumerate()
        .find(|(i, s)| seeds[..*i].contains(s))
    {
        return Err(Failure::input(anyhow!("--seeds: {} is given twice", s.1)));
    }
    clear_out(&config.out, args.force)?;
    let dataset = verified(
        load_dataset(spec, &data, explicit, args.quiet)?,
        args.no_verify,
    )?;
    config
        .resolve_sizes(dataset.train.len())
        .map_err(|e| Failure::input(flag_error(e)))?;
    let backend = device_of(&args);
    backend::keep_tuning(backend, &config.out.join(TUNING_DIR)).map_err(Failure::run)?;
    let selected = backend::select(backend).map_err(Failure::input)?;
    // The cache is the study's (--out), so each seed's folder records it relative to itself.
    let tuning = |one: &ChainConfig| {
        let up = if one.out == config.out { "" } else { "../" };
        backend::tunes(backend).then(|| format!("{up}{TUNING_DIR}"))
    };
    let chain = |config: &ChainConfig| {
        execute(config, args.quiet, |on_event| {
            let mut device = selected.record.clone();
            device.tuning_cache = tuning(config);
            let context = RunContext {
                command_line: std::env::args().collect(),
                device,
            };
            run_chain(config, &dataset, &selected.device, context, on_event)
        })
    };
    if seeds.is_empty() {
        return chain(&config);
    }
    let runs = crate::evaluate::seed_dirs(&config.out, &seeds);
    for (seed, out) in &runs {
        let mut one = config.clone();
        one.seed = *seed;
        one.out = out.clone();
        chain(&one)?;
    }
    collapse_report::aggregate_seeds(&config.out, &runs).map_err(Failure::run)?;
    println!(
        "{} seeds aggregated: {}",
        runs.len(),
        config.out.join("aggregate.csv").display()
    );
    Ok(())
}

/// Refuses a non-empty `--out` folder, or with `--force` empties it (unless a
/// live process writes it).
fn clear_out(out: &Path, force: bool) -> Result<(), Failure> {
    if out.exists() && !out.is_dir() {
        return Err(Failure::input(anyhow!(
            "--out: {} is a file, not a run folder",
            out.display()
        )));
    }
    let Ok(mut entries) = std::fs::read_dir(out) else {
        return Ok(());
    };
    if entries.next().is_none() {
        return Ok(());
    }
    if let Some(holder) = collapse_chain::lock::holder(out) {
        return Err(Failure::input(anyhow!(
            "--out: {} is in use by {holder}",
            out.display()
        )));
    }
    if !force {
        return Err(Failure::input(anyhow!(
            "--out: {} already holds a run; continue it with --resume {}, or replace it with --force",
            out.display(),
            out.display()
        )));
    }
    std::fs::remove_dir_all(out)
        .with_context(|| format!("--force: removing {}", out.display()))
        .map_err(Failure::run)
}

fn device_of(args: &RunArgs) -> Backend {
    args.device.unwrap_or(Backend::Flex)
}

/// Prints the config, runs `chain` with progress on stderr, prints the summary.
fn execute(
    config: &ChainConfig,
    quiet: bool,
    chain: impl FnOnce(&mut dyn FnMut(ChainEvent<'_>)) -> Result<Vec<MetricsRow>, ChainError>,
) -> Result<(), Failure> {
    println!(
        "{}",
        serde_json::to_string_pretty(config).expect("config serialises")
    );
    let progress = Progress {
        quiet,
        tty: std::io::stderr().is_terminal(),
        generations: config.generations,
        last_batch_line: Cell::new(Instant::now()),
    };
    let rows = chain(&mut |e| progress.event(e)).map_err(chain_failure)?;
    println!("generation,probe_mu_std,test_nelbo");
    for r in &rows {
        println!("{},{:.4},{:.2}", r.generation, r.probe_mu_std, r.test_nelbo);
    }
    println!("run folder: {}", config.out.display());
    Ok(())
}

/// A chain's error as the command line's user reads it: bad input or a failed
/// run, with the flags that act on it.
fn chain_failure(e: ChainError) -> Failure {
    match e {
        ChainError::Exists(_) => Failure::input(anyhow!("{e}; choose another --out")),
        ChainError::Diverged { retried, .. } => Failure::run(anyhow!(
            "{e}; start a new run with a lower --lr{}",
            if retried {
                ""
            } else {
                ", or use --on-divergence retry"
            }
        )),
        ChainError::Lock(_) | ChainError::Checkpoint(CheckpointError::Read { .. }) => {
            Failure::input(e)
        }
        e => Failure::run(e),
    }
}

/// The flags that would change a recorded run's science, as given.
fn science_flags(args: &RunArgs) -> Vec<&'static str> {
    let given = [
        ("--preset", args.preset.is_some()),
        ("--dataset", args.dataset.is_some()),
        ("--out", args.out.is_some()),
        ("--model", args.model.is_some()),
        ("--latent-dim", args.latent_dim.is_some()),
        ("--hidden", args.hidden.is_some()),
        ("--beta", args.beta.is_some()),
        ("--epochs", args.epochs.is_some()),
        ("--batch-size", args.batch_size.is_some()),
        ("--lr", args.lr.is_some()),
        ("--weight-decay", args.weight_decay.is_some()),
        ("--train-size", args.train_size.is_some()),
        ("--synthetic-size", args.synthetic_size.is_some()),
        ("--sample", args.sample.is_some()),
        ("--stream", args.stream),
        ("--no-stream", args.no_stream),
        ("--mode", args.mode.is_some()),
        ("--real-fraction", args.real_fraction.is_some()),
        ("--prior-scale", args.prior_scale.is_some()),
        ("--seed", args.seed.is_some()),
        ("--device", args.device.is_some()),
        ("--conv-impl", args.conv_impl.is_some()),
        ("--probe-samples", args.probe_samples.is_some()),
        ("--eval-batch", args.eval_batch.is_some()),
        ("--on-divergence", args.on_divergence.is_some()),
        ("--no-eval", args.no_eval),
        (
            "--evaluator-epochs",
            args.classifier.evaluator_epochs.is_some(),
        ),
        (
            "--evaluator-images",
            args.classifier.evaluator_images.is_some(),
        ),
    ];
    given.iter().filter(|(_, g)| *g).map(|(f, _)| *f).collect()
}

/// `collapse run --resume RUN`.
fn resume(args: RunArgs, run: PathBuf) -> Result<(), Failure> {
    let refused = science_flags(&args);
    if !refused.is_empty() {
        return Err(Failure::input(anyhow!(
            "--resume continues {} with its recorded config; {} would change it (only --generations and --data may be given)",
            run.display(),
            refused.join(", ")
        )));
    }
    let manifest: Manifest = read_json(&run.join("manifest.json"))
        .map_err(|e| Failure::input(anyhow!("--resume: cannot read the run's manifest: {e}")))?;
    let mut config: ChainConfig = serde_json::from_value(manifest.config.clone()).map_err(|e| {
        Failure::input(anyhow!(
            "--resume: {}: the recorded config is not valid: {e}",
            run.join("manifest.json").display()
        ))
    })?;
    config.out = run.clone();
    if let Some(g) = args.generations {
        if g < config.generations {
            return Err(Failure::input(anyhow!(
                "--generations: the run was started with {}; resuming may only raise it",
                config.generations
            )));
        }
        config.generations = g;
    }
    if let Some(data) = args.data {
        config.data = data;
    }
    config
        .validate()
        .map_err(|e| Failure::input(flag_error(e)))?;
    let backend = Backend::from_str(&config.device, false).map_err(|_| {
        Failure::input(anyhow!(
            "--resume: the recorded device {:?} is not compiled into this build",
            config.device
        ))
    })?;
    let spec = dataset_spec(&config.dataset)?;
    let dataset = verified(
        load_dataset(spec, &config.data, true, args.quiet)?,
        args.no_verify,
    )?;
    // The kernel choices the run measured, in the cache it recorded (relative to
    // the run folder) where that still exists.
    let tuning = manifest
        .device
        .tuning_cache
        .as_ref()
        .map(|dir| run.join(dir))
        .filter(|dir| dir.is_dir())
        .unwrap_or_else(|| run.join(TUNING_DIR));
    backend::keep_tuning(backend, &tuning).map_err(Failure::run)?;
    let selected = backend::select(backend).map_err(Failure::input)?;
    execute(&config, args.quiet, |on_event| {
        resume_chain(&config, manifest, &dataset, &selected.device, on_event)
    })
}

/// `collapse fetch`.
pub fn fetch(args: FetchArgs) -> Result<(), Failure> {
    let spec = dataset_spec(&args.dataset)?;
    let dir = args.dir.unwrap_or_else(|| default_data_dir(&spec));
    let mirrors = if args.mirror.is_empty() {
        default_mirrors(&spec)
    } else {
        args.mirror
            .iter()
            .map(|m| {
                if m.ends_with('/') {
                    m.clone()
                } else {
                    format!("{m}/")
                }
            })
            .collect()
    };
    fetch_dataset(&spec, &dir, &mirrors, &mut |line| println!("{line}"))
        .with_context(|| format!("fetching {} into {}", spec.name, dir.display()))
        .map_err(Failure::run)?;
    Dataset::load(spec, &dir)
        .with_context(|| format!("checking the fetched files in {}", dir.display()))
        .map_err(Failure::run)?;
    println!("{} ready in {}", spec.name, dir.display());
    Ok(())
}

/// `collapse report`.
pub fn report(args: ReportArgs) -> Result<(), Failure> {
    if !args.run.join("metrics.csv").is_file() {
        return Err(Failure::input(anyhow!(
            "{}: not a run folder (no metrics.csv)",
            args.run.display()
        )));
    }
    let redrawn = collapse_report::redraw_run(&args.run).map_err(Failure::run)?;
    for f in &redrawn.files {
        println!("{}", args.run.join(f).display());
    }
    println!("redrew {} generations", redrawn.generations);
    Ok(())
}

/// `collapse sample`.
pub fn sample(args: SampleArgs) -> Result<(), Failure> {
    if args.count == 0 {
        return Err(Failure::input(anyhow!("--count: must be at least 1")));
    }
    let selected = backend::select(args.device).map_err(Failure::input)?;
    let device = &selected.device;
    let (model, config) =
        collapse_vae::load_checkpoint(&args.checkpoint, device, args.device.conv_impl())
            .map_err(Failure::input)?;
    device.seed(args.seed);
    let images = collapse_vae::sample_images(
        &model,
        config.latent_dim,
        args.count,
        1_000,
        1.0,
        SampleMode::Mean,
        device,
    );
    let pixels = collapse_vae::to_host(images);
    let grid = collapse_report::grid::grid_image(&pixels, config.image_dims, 10, 2);
    collapse_report::grid::save_png(&args.out, &grid).map_err(Failure::run)?;
    println!(
        "{} images from {} on {} ({}) -> {}",
        args.count,
        args.checkpoint.display(),
        selected.record.backend,
        selected.record.adapter,
        args.out.display()
    );
    Ok(())
}
