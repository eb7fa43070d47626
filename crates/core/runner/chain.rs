//! One chain run here: a new one or an interrupted one resumed, with its
//! description, its progress on stderr and its summary on stdout.

use std::cell::RefCell;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, anyhow};
use collapse_chain::{
    ChainConfig, ChainError, ChainEvent, ReferenceEvent, RunContext, Stage, resume_chain, run_chain,
};
use collapse_eval::CacheEvent;
use collapse_records::{DeviceRecord, FolderError, Manifest, MetricsRow};
use collapse_report::Report;
use collapse_vae::{Architecture, TrainEvent, VaeConfig};
use indicatif::{ProgressBar, ProgressStyle};

use crate::backend::{self, Backend};
use crate::datasets::{dataset_spec, load_dataset, verified};
use crate::flags::{GivenSettings, RunArgs, flag_error, science_flags};
use crate::usage;

/// Progress on stderr. On a terminal: a bar over each generation's training
/// and a spinner over its other stages and the frozen classifier's training,
/// with each epoch's line kept above them. Elsewhere (a log file, a pipe): the
/// same lines, one per epoch, without bars.
struct Progress {
    quiet: bool,
    tty: bool,
    generations: usize,
    epochs: usize,
    bar: RefCell<Option<ProgressBar>>,
}

/// How often a spinner turns.
const SPINNER_TICK: Duration = Duration::from_millis(120);

impl Progress {
    fn new(config: &ChainConfig, quiet: bool) -> Self {
        Progress {
            quiet,
            tty: std::io::stderr().is_terminal(),
            generations: config.generations,
            epochs: config.train.epochs,
            bar: RefCell::new(None),
        }
    }

    /// A line that stays: above the bar where one is drawn.
    fn line(&self, text: &str) {
        match self.bar.borrow().as_ref() {
            Some(bar) => bar.println(text),
            None => eprintln!("{text}"),
        }
    }

    /// Clears the bar drawn, if any.
    fn clear(&self) {
        if let Some(old) = self.bar.take() {
            old.finish_and_clear();
        }
    }

    /// Clears the bar drawn and, on a terminal, draws the one `make` makes.
    fn show(&self, make: impl FnOnce() -> ProgressBar) {
        self.clear();
        if self.tty {
            *self.bar.borrow_mut() = Some(make());
        }
    }

    fn spinner(message: String) -> ProgressBar {
        let bar = ProgressBar::new_spinner().with_message(message);
        bar.set_style(
            ProgressStyle::with_template("{spinner} {msg} ({elapsed})").expect("a valid template"),
        );
        bar.enable_steady_tick(SPINNER_TICK);
        bar
    }

    fn training_bar(&self, generation: usize, train_size: usize) -> ProgressBar {
        let bar = ProgressBar::new((train_size * self.epochs) as u64)
            .with_prefix(format!("gen {generation}/{}", self.generations));
        bar.set_style(
            ProgressStyle::with_template(
                "{prefix} [{bar:30}] {human_pos}/{human_len} images, {eta} left",
            )
            .expect("a valid template")
            .progress_chars("=> "),
        );
        bar
    }

    fn event(&self, event: ChainEvent<'_>) {
        if self.quiet {
            return;
        }
        match event {
            ChainEvent::GenerationStart {
                generation,
                train_size,
            } => {
                self.clear();
                self.line(&format!(
                    "generation {generation}/{}: training on {train_size} images",
                    self.generations
                ));
                self.show(|| self.training_bar(generation, train_size));
            }
            ChainEvent::Training {
                event: TrainEvent::Batch { epoch, done, total },
                ..
            } => {
                if let Some(bar) = self.bar.borrow().as_ref() {
                    bar.set_position(((epoch - 1) * total + done) as u64);
                }
            }
            ChainEvent::Training {
                generation,
                event: TrainEvent::Epoch(report),
            } => self.line(&format!(
                "  gen {generation} epoch {}/{} loss {:.2} ({:.0} images/s)",
                report.epoch, report.epochs, report.mean_loss, report.images_per_sec
            )),
            ChainEvent::Stage { generation, stage } => {
                let what = match stage {
                    Stage::Drawing => "drawing its training set",
                    Stage::Scoring => "scoring its samples and the test set",
                    Stage::Writing => "writing its files and the report",
                };
                self.show(|| Self::spinner(format!("gen {generation}: {what}")));
            }
            ChainEvent::Evaluator(e) => {
                self.line(&crate::commands::evaluator::describe(&e));
                match e {
                    CacheEvent::Training(_) => {
                        self.show(|| Self::spinner("training the frozen classifier".into()))
                    }
                    CacheEvent::Loaded(_) => self.clear(),
                    CacheEvent::Waiting(_) | CacheEvent::Epoch(_) => {}
                }
            }
            ChainEvent::Reference(e) => match e {
                ReferenceEvent::Waiting(dir) => self.line(&format!(
                    "waiting for the reference VAE another process is training into {}",
                    dir.display()
                )),
                ReferenceEvent::Training(dir) => {
                    self.line(&format!(
                        "training the reference VAE (once per recipe) into {}",
                        dir.display()
                    ));
                    self.show(|| Self::spinner("training the reference VAE".into()))
                }
                ReferenceEvent::Loaded(dir) => {
                    self.clear();
                    self.line(&format!("reference VAE: {}", dir.display()))
                }
            },
            ChainEvent::GenerationDone(row) => {
                self.clear();
                eprintln!("{}", generation_line(row));
            }
        }
    }
}

/// The summary line of a finished generation.
fn generation_line(row: &MetricsRow) -> String {
    let eval = row.eval.as_ref().map_or(String::new(), |e| {
        format!(
            ", recall {:.3}, precision {:.3}, class entropy {:.3}, FD {:.1}",
            e.recall, e.precision, e.class_entropy_norm, e.fd
        )
    });
    let fit = row.fit.map_or(String::new(), |f| {
        format!(
            ", test NELBO {:.2}, active units {}",
            f.test_nelbo, f.active_units
        )
    });
    format!(
        "  gen {}: probe mu std {:.4}, tail mass {:.4}{fit}{eval}, {:.1} s",
        row.generation, row.probe_mu_std, row.probe_tail_mass, row.seconds
    )
}

/// The folder of a run that keeps the autotuner's kernel choices in builds
/// with autotune.
const TUNING_DIR: &str = "tuning";

/// A new chain with `given` settings, run as `args` say.
pub fn start(given: &GivenSettings, args: &RunArgs) -> anyhow::Result<()> {
    let explicit = given.settings.data.is_some();
    let mut config = given.resolve()?;
    let spec = dataset_spec(&config.dataset)?;
    let data = config.data.clone();
    if args.break_lock {
        break_lock(&config.out)?;
    }
    clear_out(&config.out, args.force)?;
    let dataset = verified(
        load_dataset(spec, &data, explicit, args.quiet)?,
        args.no_verify,
    )?;
    config
        .resolve_sizes(dataset.train.len())
        .map_err(|e| given.config_error(e))?;
    let backend = given.settings.backend();
    backend::keep_tuning(backend, &config.out.join(TUNING_DIR))?;
    let selected = backend::select(backend).map_err(usage)?;
    execute(&config, &selected.record, args.quiet, |on_event| {
        let mut device = selected.record.clone();
        device.tuning_cache = backend::tunes(backend).then(|| TUNING_DIR.to_string());
        let context = RunContext {
            command_line: std::env::args().collect(),
            device,
        };
        run_chain(
            &config,
            &dataset,
            &selected.device,
            context,
            &mut Report,
            on_event,
        )
    })
}

/// Refuses a non-empty `--out` folder, or with `--force` empties it (unless a
/// live process writes it).
fn clear_out(out: &Path, force: bool) -> anyhow::Result<()> {
    if out.exists() && !out.is_dir() {
        return Err(usage(anyhow!(
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
    if let Some(holder) = collapse_records::lock::holder(out) {
        return Err(usage(anyhow!(
            "--out: {} is in use by {holder}",
            out.display()
        )));
    }
    if !force {
        return Err(usage(anyhow!(
            "--out: {} already holds a run; continue it with --resume {}, or replace it with --force",
            out.display(),
            out.display()
        )));
    }
    std::fs::remove_dir_all(out).with_context(|| format!("--force: removing {}", out.display()))
}

/// The model in a few words: `MLP VAE 784-400-20`, `conv VAE, latent 20`.
fn model_words(model: &VaeConfig) -> String {
    match model.architecture {
        Architecture::Mlp => {
            let widths: Vec<String> = std::iter::once(model.pixels())
                .chain(model.hidden.iter().copied())
                .chain([model.latent_dim])
                .map(|w| w.to_string())
                .collect();
            format!("MLP VAE {}", widths.join("-"))
        }
        Architecture::Conv => format!("conv VAE, latent {}", model.latent_dim),
    }
}

/// The lines a run starts with: what it runs, on what, and where it writes
/// (the whole configuration is in the run's manifest.json).
fn describe_run(c: &ChainConfig, device: &DeviceRecord) -> String {
    let model = match &c.external {
        Some(e) => format!(
            "the external model {}(train: {}; sample: {})",
            e.name.as_ref().map_or(String::new(), |n| format!("{n} ")),
            e.train,
            e.sample
        ),
        None => model_words(&c.model),
    };
    let (later, s) = match c.generations {
        1 => ("generation 1".to_string(), "s"),
        g => (format!("generations 1 to {g} each"), ""),
    };
    let n = c.synthetic_count();
    let synthetic = match (c.stream, c.real_fraction) {
        (true, _) => format!("{later} stream{s} {n} images an epoch"),
        (false, f) if f > 0.0 => format!("{later} draw{s} {n} images, real fraction {f}"),
        (false, _) => format!("{later} draw{s} {n} images"),
    };
    let tests = match c.test_size {
        Some(n) => format!("the first {n} real test images"),
        None => "the real test set".to_string(),
    };
    let scored = match c.evaluate {
        true => format!(
            "each generation scored on {} probe samples against {tests}",
            c.probe_samples
        ),
        false => format!(
            "each generation scored on {} probe samples, without the frozen evaluators",
            c.probe_samples
        ),
    };
    let real = match c.tail_cut_count() {
        0 => format!("{} real images", c.real_size()),
        cut => format!(
            "{} real images (of {}, the {cut} the reference VAE finds least likely cut)",
            c.real_size() - cut,
            c.real_size()
        ),
    };
    [
        format!(
            "{} preset on {} ({}): {model} on {} ({}), seed {}",
            c.preset.name(),
            c.dataset,
            c.data.display(),
            device.backend,
            device.adapter,
            c.seed
        ),
        format!(
            "generation 0 trains on {real}, {synthetic} ({} mode); {} epochs, batch {}",
            c.mode, c.train.epochs, c.train.batch_size
        ),
        scored,
        format!(
            "writing {} (its configuration: manifest.json)",
            c.out.display()
        ),
    ]
    .join("\n")
}

/// Prints what the run is, runs `chain` with progress on stderr, prints the summary.
fn execute(
    config: &ChainConfig,
    device: &DeviceRecord,
    quiet: bool,
    chain: impl FnOnce(&mut dyn FnMut(ChainEvent<'_>)) -> Result<Vec<MetricsRow>, ChainError>,
) -> anyhow::Result<()> {
    println!("{}", describe_run(config, device));
    let progress = Progress::new(config, quiet);
    let rows = chain(&mut |e| progress.event(e));
    progress.clear();
    let rows = rows.map_err(chain_failure)?;
    println!("generation,probe_mu_std,test_nelbo");
    for r in &rows {
        let nelbo = r
            .fit
            .map_or(String::new(), |f| format!("{:.2}", f.test_nelbo));
        println!("{},{:.4},{nelbo}", r.generation, r.probe_mu_std);
    }
    println!("run folder: {}", config.out.display());
    Ok(())
}

/// A chain's error as the command line's user reads it: bad input or a failed
/// run, with the flags that act on it.
fn chain_failure(e: ChainError) -> anyhow::Error {
    match e {
        ChainError::Folder(FolderError::Exists(_)) => usage(anyhow!("{e}; choose another --out")),
        ChainError::Config(e) => flag_error(e),
        ChainError::Diverged { retried, .. } => anyhow!(
            "{e}; start a new run with a lower --lr{}",
            if retried {
                ""
            } else {
                ", or use --on-divergence retry"
            }
        ),
        e => e.into(),
    }
}

/// `collapse run --resume RUN`.
pub fn resume(args: RunArgs, run: PathBuf) -> anyhow::Result<()> {
    let refused = science_flags(&args);
    if !refused.is_empty() {
        return Err(usage(anyhow!(
            "--resume continues {} with its recorded config; {} would change it (only --generations and --data may be given)",
            run.display(),
            refused.join(", ")
        )));
    }
    if args.break_lock {
        break_lock(&run)?;
    }
    let (manifest, config) = recorded(&args, &run)?;
    let backend = Backend::from_name(&config.device).ok_or_else(|| {
        usage(anyhow!(
            "--resume: the recorded device {:?} is no backend this build knows",
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
    backend::keep_tuning(backend, &tuning)?;
    let selected = backend::select(backend).map_err(usage)?;
    execute(&config, &selected.record, args.quiet, |on_event| {
        resume_chain(
            &config,
            manifest,
            &dataset,
            &selected.device,
            &mut Report,
            on_event,
        )
    })
}

/// The manifest of the run in `run` and its recorded config, with the
/// generations and data folder `args` may change.
fn recorded(args: &RunArgs, run: &Path) -> anyhow::Result<(Manifest, ChainConfig)> {
    let (manifest, mut config) = read_recorded(run).map_err(|e| usage(e.context("--resume")))?;
    if let Some(g) = args.settings.generations {
        if g < config.generations {
            return Err(usage(anyhow!(
                "--generations: the run was started with {}; resuming may only raise it",
                config.generations
            )));
        }
        config.generations = g;
    }
    if let Some(data) = args.settings.data.clone() {
        config.data = data;
    }
    config.validate().map_err(flag_error)?;
    Ok((manifest, config))
}

/// The manifest of the run in `run` and the config it records, writing `run`.
pub fn read_recorded(run: &Path) -> anyhow::Result<(Manifest, ChainConfig)> {
    let manifest: Manifest = collapse_records::read_manifest(run)
        .map_err(|e| anyhow!("cannot read the run's manifest: {e}"))?;
    let mut config: ChainConfig = serde_json::from_value(manifest.config.clone()).map_err(|e| {
        anyhow!(
            "{}: the recorded config is not valid: {e}",
            run.join("manifest.json").display()
        )
    })?;
    config.out = run.to_path_buf();
    Ok((manifest, config))
}

/// `--break-lock`: removes the lock file of `dir` where it has one.
pub fn break_lock(dir: &Path) -> anyhow::Result<()> {
    if !dir.is_dir() {
        return Ok(());
    }
    collapse_records::lock::break_lock(dir).map_err(|e| usage(anyhow!("--break-lock: {e}")))
}
