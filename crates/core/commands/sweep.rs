//! `collapse sweep`: a study of many chains from one spec. `plan` checks
//! every run's settings as `collapse run` would and prints the disk and time
//! the study needs; `run` writes the study folder and runs what is not
//! complete, here (`--executor local`) or as one Slurm job array; `task` is
//! one run, started by either executor; `status` and `report` read the
//! study folder back.

use std::collections::{BTreeMap, HashMap};
use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::process::Command as Process;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use anyhow::anyhow;
use collapse_chain::{ChainConfig, ChainSettings, Footprint, estimate};
use collapse_data::catalogue::FileRole;
use collapse_data::read_idx;
use collapse_report::study::{Condition, report_study};
use collapse_study::slurm::{self, ArrayJob};
use collapse_study::{
    Plan, PlannedRun, RunRecord, RunState, SlurmResources, StudyError, StudyFolder, StudySpec,
};

use crate::Failure;
use crate::backend::{self, Backend};
use crate::flags::{
    Executor, GivenSettings, RunArgs, SlurmFlags, SweepCommand, SweepDirArgs, SweepPlanArgs,
    SweepRunArgs, SweepTaskArgs,
};

/// `collapse sweep`, with the global `--threads` (the threads all runs share).
pub fn sweep(command: SweepCommand, threads: Option<usize>) -> Result<(), Failure> {
    match command {
        SweepCommand::Plan(args) => plan(args, threads),
        SweepCommand::Run(args) => run(args, threads),
        SweepCommand::Status(args) => status(args),
        SweepCommand::Report(args) => report(args),
        SweepCommand::Task(args) => task(args),
    }
}

/// The threads of each of `jobs` runs sharing `threads` (else every core).
fn threads_per_run(threads: Option<usize>, jobs: usize) -> usize {
    let total =
        threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    (total / jobs.max(1)).max(1)
}

/// A run of the spec, checked and resolved.
struct Checked {
    run: PlannedRun,
    config: ChainConfig,
    estimate: Footprint,
}

/// Every run of the spec with its settings resolved as `collapse run`
/// resolves them, before anything is written; the first refused value ends it.
fn check_study(spec: &StudySpec, dir: &Path, threads: usize) -> Result<Vec<Checked>, Failure> {
    let runs = spec.runs().map_err(Failure::input)?;
    let device = backend::select(Backend::Flex).map_err(Failure::run)?.device;
    let mut train_images = HashMap::new();
    runs.into_iter()
        .map(|run| {
            let origin = format!("{}: run {}", spec.file.display(), run.name);
            let out = StudyFolder::new(dir).run_dir(&run.name);
            let config = resolve_settings(&origin, &run.settings, &out, &mut train_images)?;
            let estimate = estimate(&config, &device, threads);
            Ok(Checked {
                run,
                config,
                estimate,
            })
        })
        .collect()
}

/// Resolves one run's settings into its chain's configuration, each refusal
/// named by `origin` and the key; `train_images` keeps the training images
/// of each data folder read so far.
fn resolve_settings(
    origin: &str,
    settings: &toml::Table,
    out: &Path,
    train_images: &mut HashMap<PathBuf, usize>,
) -> Result<ChainConfig, Failure> {
    let given = run_settings(origin, settings, out)?;
    let mut config = given.resolve(None)?;
    let spec = given
        .settings
        .dataset_spec()
        .map_err(|e| given.config_error(e))?;
    // The training images the data folder holds, else the catalogue's count.
    let images = *train_images.entry(config.data.clone()).or_insert_with(|| {
        let labels = config.data.join(spec.file(FileRole::TrainLabels).name);
        read_idx(&labels).map_or(spec.train_images, |a| a.dims[0])
    });
    config
        .resolve_sizes(images)
        .map_err(|e| given.config_error(e))?;
    Ok(config)
}

/// A study run's settings (named by `origin` in refusals), writing `out`.
fn run_settings(
    origin: &str,
    settings: &toml::Table,
    out: &Path,
) -> Result<GivenSettings, Failure> {
    let file = ChainSettings::from_table(settings)
        .map_err(|e| Failure::input(anyhow!("{origin}: {e}")))?;
    let line = ChainSettings {
        out: Some(out.to_path_buf()),
        ..ChainSettings::default()
    };
    Ok(GivenSettings::file(origin.to_string(), file, line))
}

/// `n` of `thing`, in the plural where it is not one.
fn counted(n: usize, thing: &str) -> String {
    match n {
        1 => format!("1 {thing}"),
        n => format!("{n} {thing}s"),
    }
}

/// Megabytes or gigabytes, for a person.
fn bytes_words(bytes: u64) -> String {
    let mb = bytes as f64 / 1e6;
    if mb >= 1000.0 {
        format!("{:.1} GB", mb / 1000.0)
    } else {
        format!("{mb:.0} MB")
    }
}

/// Seconds as minutes or hours, for a person.
fn time_words(seconds: f64) -> String {
    match seconds {
        s if s < 120.0 => format!("{s:.0} s"),
        s if s < 7200.0 => format!("{:.0} min", s / 60.0),
        s => format!("{:.1} h", s / 3600.0),
    }
}

/// `collapse sweep plan`.
fn plan(args: SweepPlanArgs, threads: Option<usize>) -> Result<(), Failure> {
    let spec = StudySpec::read(&args.spec).map_err(Failure::input)?;
    let per_run = threads_per_run(threads, args.jobs);
    let checked = check_study(&spec, Path::new("DIR"), per_run)?;
    let width = checked.iter().map(|c| c.run.name.len()).max().unwrap_or(0);
    println!("study {}: {}", spec.name, counted(checked.len(), "run"));
    let base = toml::to_string(&spec.base).expect("a TOML table serialises");
    println!("every run's base settings ({}):", spec.file.display());
    for line in base.lines() {
        println!("    {line}");
    }
    println!("each run: its folder under DIR/runs/, what it sets over the base, its estimate:");
    for c in &checked {
        println!(
            "  {:width$}  {}; {} generations, about {}, {}",
            c.run.name,
            collapse_study::spec::words(&c.run.varied),
            c.config.generations + 1,
            bytes_words(c.estimate.bytes),
            time_words(c.estimate.seconds),
        );
    }
    let bytes: u64 = checked.iter().map(|c| c.estimate.bytes).sum();
    let seconds: f64 = checked.iter().map(|c| c.estimate.seconds).sum();
    let at_once = args.jobs.clamp(1, checked.len().max(1));
    println!(
        "study {}: about {} of disk, and {} of run time on the CPU at {} a run ({} with {at_once} at a time)",
        spec.name,
        bytes_words(bytes),
        time_words(seconds),
        counted(per_run, "thread"),
        time_words(seconds / at_once as f64),
    );
    Ok(())
}

/// `collapse sweep run`.
fn run(args: SweepRunArgs, threads: Option<usize>) -> Result<(), Failure> {
    if args.jobs == 0 {
        return Err(Failure::input(anyhow!("--jobs must be at least 1")));
    }
    let spec = StudySpec::read(&args.spec).map_err(Failure::input)?;
    let dir = std::path::absolute(&args.out).map_err(|e| Failure::input(anyhow!("--out: {e}")))?;
    let resources = resources(&spec.slurm, &args.slurm);
    let per_run = match args.executor {
        Executor::Local => threads_per_run(threads, args.jobs),
        Executor::Slurm => resources.cpus.map_or(1, |n| n as usize),
    };
    let checked = check_study(&spec, &dir, per_run)?;
    if args.executor == Executor::Slurm {
        slurm::check_path(&dir).map_err(Failure::input)?;
        if !args.dry_run {
            slurm::require("sbatch").map_err(Failure::input)?;
        }
    }
    let folder = StudyFolder::new(&dir);
    let workdir = std::env::current_dir().map_err(Failure::run)?;
    let runs = checked.into_iter().map(Checked::into_record).collect();
    let plan = folder
        .write_plan(&spec, runs, &workdir)
        .map_err(Failure::input)?;
    let todo = to_do(&folder, &plan);
    match args.executor {
        Executor::Local => run_local(&folder, &plan, &todo, args.jobs, per_run),
        Executor::Slurm => run_slurm(&folder, &plan, &todo, &resources, args.dry_run),
    }
}

impl Checked {
    /// The run and its record in the plan.
    fn into_record(self) -> (PlannedRun, RunRecord) {
        let record = RunRecord {
            name: self.run.name.clone(),
            group: self.run.group.clone(),
            varied: serde_json::to_value(&self.run.varied).expect("a TOML table serialises"),
            generations: self.config.generations,
            estimate: self.estimate,
        };
        (self.run, record)
    }
}

/// The runs of `plan` still to do: complete runs are done, and a run another
/// process writes is left to it.
fn to_do(folder: &StudyFolder, plan: &Plan) -> Vec<usize> {
    (0..plan.runs.len())
        .filter(|&i| {
            !matches!(
                folder.status(&plan.runs[i]).state,
                RunState::Complete | RunState::Running(_)
            )
        })
        .collect()
}

/// The spec's Slurm resources with the flags given over them.
fn resources(spec: &SlurmResources, flags: &SlurmFlags) -> SlurmResources {
    let pick = |flag: &Option<String>, spec: &Option<String>| flag.clone().or_else(|| spec.clone());
    SlurmResources {
        partition: pick(&flags.partition, &spec.partition),
        account: pick(&flags.account, &spec.account),
        qos: pick(&flags.qos, &spec.qos),
        time: pick(&flags.time, &spec.time),
        cpus: flags.cpus.or(spec.cpus),
        gpus: flags.gpus.or(spec.gpus),
        mem: pick(&flags.mem, &spec.mem),
        throttle: flags.throttle.or(spec.throttle),
        options: spec.options.clone(),
    }
}

/// Runs `todo` on this machine, `jobs` at a time, each a `collapse sweep task`
/// process on `threads` threads with its output in its log; then the report.
fn run_local(
    folder: &StudyFolder,
    plan: &Plan,
    todo: &[usize],
    jobs: usize,
    threads: usize,
) -> Result<(), Failure> {
    let exe = std::env::current_exe().map_err(Failure::run)?;
    let started = Instant::now();
    let next = AtomicUsize::new(0);
    let failed = Mutex::new(Vec::new());
    eprintln!(
        "study {}: {} of {} runs to do, {jobs} at a time, {} each",
        plan.study,
        todo.len(),
        plan.runs.len(),
        counted(threads, "thread")
    );
    std::thread::scope(|scope| {
        for _ in 0..jobs.min(todo.len()) {
            scope.spawn(|| {
                while let Some(&i) = todo.get(next.fetch_add(1, Ordering::SeqCst)) {
                    let name = &plan.runs[i].name;
                    let result = run_task_process(&exe, folder, i, name, threads);
                    match result {
                        Ok(()) => eprintln!("  {name}: complete"),
                        Err(line) => {
                            eprintln!("  {name}: failed: {line}");
                            failed.lock().expect("no panics hold it").push(name.clone());
                        }
                    }
                }
            });
        }
    });
    let failed = failed.into_inner().expect("no panics hold it");
    eprintln!(
        "study {}: {:.0} s",
        plan.study,
        started.elapsed().as_secs_f64()
    );
    if plan
        .runs
        .iter()
        .any(|r| folder.run_dir(&r.name).join("metrics.csv").is_file())
    {
        write_report(folder, plan)?;
    }
    if !failed.is_empty() {
        return Err(Failure::run(anyhow!(
            "{} of {} runs failed ({}); their logs are in {}",
            failed.len(),
            todo.len(),
            failed.join(", "),
            folder.dir.join("logs").display()
        )));
    }
    Ok(())
}

/// One `collapse sweep task` process; its error line where it fails.
fn run_task_process(
    exe: &Path,
    folder: &StudyFolder,
    index: usize,
    name: &str,
    threads: usize,
) -> Result<(), String> {
    let log_path = folder.log_file(name);
    let log = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .map_err(|e| format!("{}: {e}", log_path.display()))?;
    let err_log = log.try_clone().map_err(|e| e.to_string())?;
    let status = Process::new(exe)
        .arg("--threads")
        .arg(threads.to_string())
        .args(["sweep", "task"])
        .arg(&folder.dir)
        .arg(index.to_string())
        .stdout(log)
        .stderr(err_log)
        .status()
        .map_err(|e| format!("{}: {e}", exe.display()))?;
    if status.success() {
        return Ok(());
    }
    Err(folder
        .failure(name)
        .unwrap_or_else(|| format!("exited with {status}; see {}", log_path.display())))
}

/// Submits `todo`, less the tasks still queued from earlier submissions, as one job array.
fn run_slurm(
    folder: &StudyFolder,
    plan: &Plan,
    todo: &[usize],
    resources: &SlurmResources,
    dry_run: bool,
) -> Result<(), Failure> {
    let job_ids = plan.job_ids();
    let queued = match (dry_run, job_ids.is_empty()) {
        (false, false) => slurm::queued(&job_ids).map_err(Failure::input)?,
        _ => Vec::new(),
    };
    let tasks: Vec<usize> = todo
        .iter()
        .copied()
        .filter(|i| !queued.iter().any(|q| q.task == *i))
        .collect();
    if tasks.is_empty() {
        println!(
            "study {}: nothing to submit: every run is complete, running or queued",
            plan.study
        );
        return Ok(());
    }
    let binary = std::env::current_exe().map_err(Failure::run)?;
    let script = ArrayJob {
        study: &plan.study,
        dir: &folder.dir,
        binary: &binary,
        tasks: &tasks,
        resources,
    }
    .script();
    if dry_run {
        let path = folder.write_script(&script).map_err(Failure::run)?;
        println!(
            "{}: {} array tasks, not submitted (--dry-run)",
            path.display(),
            tasks.len()
        );
        return Ok(());
    }
    let job_id = folder.submit(&script, &tasks).map_err(|e| match e {
        StudyError::Slurm { .. } => Failure::input(e),
        e => Failure::run(e),
    })?;
    println!(
        "study {}: submitted job {job_id}, {} array tasks ({}); collapse sweep status {}",
        plan.study,
        tasks.len(),
        slurm::array_spec(&tasks, resources.throttle),
        folder.dir.display()
    );
    Ok(())
}

/// `collapse sweep status`.
fn status(args: SweepDirArgs) -> Result<(), Failure> {
    let folder = StudyFolder::new(&args.dir);
    let plan = folder.plan().map_err(Failure::input)?;
    let job_ids = plan.job_ids();
    let mut note = None;
    let queued = if job_ids.is_empty() {
        Vec::new()
    } else {
        slurm::queued(&job_ids).unwrap_or_else(|e| {
            note = Some(e.to_string());
            Vec::new()
        })
    };
    let accounted = slurm::accounted(&job_ids);
    let width = plan.runs.iter().map(|r| r.name.len()).max().unwrap_or(0);
    let mut counts: BTreeMap<&'static str, usize> = BTreeMap::new();
    for (i, run) in plan.runs.iter().enumerate() {
        let status = folder.status(run);
        *counts.entry(state_word(&status.state)).or_default() += 1;
        let last = plan.submissions.iter().rev().find(|s| s.tasks.contains(&i));
        let scheduler = last.map_or(String::new(), |s| {
            let id = format!("{}_{i}", s.job_id);
            let find = |tasks: &[slurm::TaskState]| {
                tasks
                    .iter()
                    .find(|t| t.job_id == s.job_id && t.task == i)
                    .map(|t| format!("{} ({})", t.state, t.detail))
            };
            let state = find(&queued)
                .or_else(|| accounted.as_deref().and_then(find))
                .unwrap_or_else(|| "not in the queue".to_string());
            format!("  slurm {id}: {state}")
        });
        println!(
            "{:width$}  {:>3}/{:<3}  {}{scheduler}",
            run.name, status.done, status.total, status.state
        );
    }
    let summary: Vec<String> = counts.iter().map(|(w, n)| format!("{n} {w}")).collect();
    println!(
        "study {}: {}: {}",
        plan.study,
        counted(plan.runs.len(), "run"),
        summary.join(", ")
    );
    if let Some(note) = note {
        println!("(the queue could not be read: {note})");
    } else if !job_ids.is_empty() && accounted.is_none() {
        println!(
            "(no Slurm accounting on this cluster: finished tasks are known from their run folders only)"
        );
    }
    Ok(())
}

fn state_word(state: &RunState) -> &'static str {
    match state {
        RunState::NotStarted => "not started",
        RunState::Running(_) => "running",
        RunState::Interrupted => "interrupted",
        RunState::Failed(_) => "failed",
        RunState::Complete => "complete",
    }
}

/// `collapse sweep report`.
fn report(args: SweepDirArgs) -> Result<(), Failure> {
    let folder = StudyFolder::new(&args.dir);
    let plan = folder.plan().map_err(Failure::input)?;
    write_report(&folder, &plan)
}

/// The study's report into `DIR/report`: one condition per group of runs that differ only in seed.
fn write_report(folder: &StudyFolder, plan: &Plan) -> Result<(), Failure> {
    let mut conditions: Vec<Condition> = Vec::new();
    for run in &plan.runs {
        let dir = folder.run_dir(&run.name);
        let at = match conditions.iter().position(|c| c.name == run.group) {
            Some(at) => at,
            None => {
                conditions.push(Condition {
                    name: run.group.clone(),
                    settings: group_settings(&run.varied),
                    runs: Vec::new(),
                });
                conditions.len() - 1
            }
        };
        if dir.join("metrics.csv").is_file() {
            conditions[at].runs.push((run.name.clone(), dir));
        }
    }
    let out = folder.dir.join("report");
    let reported = report_study(&out, &plan.study, &conditions).map_err(Failure::input)?;
    println!(
        "study {}: {} conditions reported: {}",
        plan.study,
        reported.conditions,
        out.join(collapse_report::html::INDEX).display()
    );
    Ok(())
}

/// A condition's settings in words, its seed left out.
fn group_settings(varied: &serde_json::Value) -> String {
    let Some(table) = varied.as_object() else {
        return String::new();
    };
    let words: Vec<String> = table
        .iter()
        .filter(|(k, _)| k.as_str() != "seed")
        .map(|(k, v)| format!("{k} = {v}"))
        .collect();
    if words.is_empty() {
        "(the base)".to_string()
    } else {
        words.join(", ")
    }
}

/// `collapse sweep task`: runs, or continues, run `index` of the study.
fn task(args: SweepTaskArgs) -> Result<(), Failure> {
    let dir = std::path::absolute(&args.dir)
        .map_err(|e| Failure::input(anyhow!("{}: {e}", args.dir.display())))?;
    let folder = StudyFolder::new(&dir);
    let plan = folder.plan().map_err(Failure::input)?;
    let Some(run) = plan.runs.get(args.index) else {
        return Err(Failure::input(anyhow!(
            "{}: the study has {} runs; there is no run {}",
            args.dir.display(),
            plan.runs.len(),
            args.index
        )));
    };
    // Relative paths in its settings start where the study was first run from, whoever starts the task.
    std::env::set_current_dir(&plan.workdir).map_err(|e| {
        Failure::run(anyhow!(
            "{}: the study's working folder: {e}",
            plan.workdir.display()
        ))
    })?;
    let status = folder.status(run);
    if status.state == RunState::Complete {
        println!("{}: complete", run.name);
        return Ok(());
    }
    folder.clear_failure(&run.name);
    let dir = folder.run_dir(&run.name);
    let result = match dir.join("manifest.json").is_file() {
        true => crate::commands::run::run(RunArgs {
            resume: Some(dir),
            ..RunArgs::default()
        }),
        // A folder without a manifest holds no generation; --force clears it (never while locked).
        false => {
            let file = folder.config_file(&run.name);
            let table = std::fs::read_to_string(&file)
                .map_err(anyhow::Error::from)
                .and_then(|text| Ok(text.parse::<toml::Table>()?))
                .map_err(|e| Failure::input(anyhow!("{}: {e}", file.display())));
            table
                .and_then(|table| run_settings(&file.display().to_string(), &table, &dir))
                .and_then(|given| {
                    let args = RunArgs {
                        force: true,
                        ..RunArgs::default()
                    };
                    crate::commands::run::start(&given, &args)
                })
        }
    };
    if let Err(Failure::Input(e) | Failure::Run(e)) = &result {
        folder
            .record_failure(&run.name, &crate::one_line(e))
            .map_err(Failure::run)?;
    }
    result
}
