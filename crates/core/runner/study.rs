//! A study's runs run here: the plan checked and written, each run started
//! or continued in this process (`--seeds`) or as `collapse sweep task`, and
//! the study's report.

use std::path::Path;
use std::time::Instant;

use anyhow::{Context, anyhow};
use collapse_chain::ChainSettings;
use collapse_records::{Experiment, lock};
use collapse_study::folder::SPEC;
use collapse_study::slurm;
use collapse_study::{
    Executed, Executor as _, InProcess, LocalEvent, Plan, RunSettings, RunState, StudyFolder,
    StudySpec,
};
use collapse_theory::GmmStart;

use crate::backend::{self, Backend};
use crate::flags::{GivenSettings, RunArgs};
use crate::runner::{chain, theory};
use crate::usage;

/// The threads of each of `jobs` runs sharing `threads` (else every core).
pub fn threads_per_run(threads: Option<usize>, jobs: usize) -> usize {
    let total =
        threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    (total / jobs.max(1)).max(1)
}

/// Every run of `spec` checked and resolved (study folder `dir`, `threads` a run).
pub fn check_study(
    spec: &StudySpec,
    dir: &Path,
    threads: usize,
) -> anyhow::Result<Vec<collapse_study::CheckedRun>> {
    let device = backend::select(Backend::Flex)?.device;
    Ok(collapse_study::check(spec, dir, &device, threads)?)
}

/// `n` of `thing`, in the plural where it is not one.
pub fn counted(n: usize, thing: &str) -> String {
    match n {
        1 => format!("1 {thing}"),
        n => format!("{n} {thing}s"),
    }
}

/// A run that ran on this machine ended, in words.
pub fn say_ended(event: LocalEvent<'_>) {
    match event {
        LocalEvent::Complete(name) => eprintln!("  {name}: complete"),
        LocalEvent::Failed(name, line) => eprintln!("  {name}: failed: {line}"),
    }
}

/// `--seeds`: the settings `base` of `experiment` under each of `seeds`, a
/// study of one seed axis in `out` (its runs under `runs/seed-N/`, its page
/// under `report/`), run in this process one seed after another, quiet as
/// `args` says. A folder that holds the same study continues it; `--force`
/// empties it first (never while it or one of its runs is held).
pub fn seeds_study(
    out: &Path,
    experiment: Experiment,
    mut base: toml::Table,
    seeds: &[u64],
    args: &RunArgs,
) -> anyhow::Result<()> {
    if let Some(i) = (1..seeds.len()).find(|&i| seeds[..i].contains(&seeds[i])) {
        return Err(usage(anyhow!("--seeds: {} is given twice", seeds[i])));
    }
    // The seed is the axis, and the folders are the study's.
    base.remove("seed");
    base.remove("out");
    let dir = std::path::absolute(out).map_err(|e| usage(anyhow!("--out: {e}")))?;
    let folder = StudyFolder::new(&dir);
    if args.force {
        let mut held = std::iter::once(dir.clone()).chain(folder.run_dirs());
        if let Some((holder, f)) = held.find_map(|f| Some((lock::holder(&f)?, f))) {
            return Err(usage(anyhow!(
                "--out: {} is in use by {holder}",
                f.display()
            )));
        }
        if dir.exists() {
            std::fs::remove_dir_all(&dir)
                .with_context(|| format!("--force: removing {}", dir.display()))?;
        }
    }
    let name = dir
        .file_name()
        .map_or("seeds".to_string(), |n| n.to_string_lossy().into_owned());
    let spec = StudySpec::of_seeds(&dir.join(SPEC), &name, experiment, &base, seeds)
        .map_err(|e| usage(anyhow!("--seeds: {e}")))?;
    let checked = check_study(&spec, &dir, threads_per_run(None, 1))?;
    let _held = folder.hold().map_err(usage)?;
    let workdir = std::env::current_dir()?;
    let runs = checked.into_iter().map(|c| c.into_record()).collect();
    let plan = folder.write_plan(&spec, runs, &workdir).map_err(usage)?;
    let todo = collapse_study::pending(&folder, &plan);
    eprintln!(
        "study {}: {} of {} runs to do, here, one after another",
        plan.study,
        todo.len(),
        plan.runs.len()
    );
    let task = |i: usize| run_task(&dir, i, args).map_err(|e| crate::one_line(&e));
    let executor = InProcess {
        task: &task,
        on_event: &say_ended,
    };
    let started = Instant::now();
    let executed = executor.execute(&folder, &plan, &todo)?;
    say_executed(executed, &folder, &plan, todo.len(), started, None)
}

/// What an executor did, in words; with runs that ran here, the study's
/// report, and an error naming the runs that failed.
pub fn say_executed(
    executed: Executed,
    folder: &StudyFolder,
    plan: &Plan,
    todo: usize,
    started: Instant,
    throttle: Option<u32>,
) -> anyhow::Result<()> {
    match executed {
        Executed::Ran { failed } => {
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
                return Err(anyhow!(
                    "{} of {} runs failed ({}); see {}",
                    failed.len(),
                    todo,
                    failed.join(", "),
                    folder.dir.join("logs").display()
                ));
            }
        }
        Executed::Nothing => println!(
            "study {}: nothing to submit: every run is complete, running or queued",
            plan.study
        ),
        Executed::Written { script, tasks } => println!(
            "{}: {} array tasks, not submitted (--dry-run)",
            script.display(),
            tasks.len()
        ),
        Executed::Submitted { job_id, tasks } => println!(
            "study {}: submitted job {job_id}, {} array tasks ({}); collapse sweep status {}",
            plan.study,
            tasks.len(),
            slurm::array_spec(&tasks, throttle),
            folder.dir.display()
        ),
    }
    Ok(())
}

/// The study's report into `DIR/report`: one condition per group of runs that differ only in seed.
pub fn write_report(folder: &StudyFolder, plan: &Plan) -> anyhow::Result<()> {
    let conditions = collapse_study::conditions(folder, plan);
    let out = folder.dir.join("report");
    let title = format!("model collapse study: {}", plan.study);
    let reported = collapse_report::report_groups(&out, &title, &conditions).map_err(usage)?;
    println!(
        "study {}: {} reported: {}",
        plan.study,
        counted(reported.labels.len(), "condition"),
        out.join(collapse_report::html::INDEX).display()
    );
    Ok(())
}

/// Runs, or continues, run `index` of the study in `dir`, quiet and verified
/// as `args` says; a failure is recorded in the study folder.
pub fn run_task(dir: &Path, index: usize, args: &RunArgs) -> anyhow::Result<()> {
    let folder = StudyFolder::new(dir);
    let plan = folder.plan().map_err(usage)?;
    let Some(run) = plan.runs.get(index) else {
        return Err(usage(anyhow!(
            "{}: the study has {} runs; there is no run {index}",
            dir.display(),
            plan.runs.len(),
        )));
    };
    // Relative paths in its settings start where the study was first run from, whoever starts the task.
    std::env::set_current_dir(&plan.workdir).map_err(|e| {
        anyhow!(
            "{}: the study's working folder: {e}",
            plan.workdir.display()
        )
    })?;
    let status = folder.status(run);
    if status.state == RunState::Complete {
        println!("{}: complete", run.name);
        return Ok(());
    }
    folder.clear_failure(&run.name);
    let result = start_or_continue(&folder, &run.name, args);
    if let Err(e) = &result {
        folder.record_failure(&run.name, &crate::one_line(e))?;
    }
    result
}

/// Starts run `name` of the study in `folder` with the settings of its
/// config file, or continues it where its folder holds a run, quiet and
/// verified as `args` says. A folder without a manifest holds no generation,
/// so a new run clears it (never while locked).
fn start_or_continue(folder: &StudyFolder, name: &str, args: &RunArgs) -> anyhow::Result<()> {
    let experiment = StudySpec::read(&folder.dir.join(SPEC))
        .map_err(usage)?
        .experiment;
    let file = folder.config_file(name);
    let origin = file.display().to_string();
    let text = std::fs::read_to_string(&file).map_err(|e| usage(anyhow!("{origin}: {e}")))?;
    let table: toml::Table = text.parse().map_err(|e| usage(anyhow!("{origin}: {e}")))?;
    let dir = folder.run_dir(name);
    let settings = collapse_study::run_settings(experiment, &table, &dir)
        .map_err(|message| usage(anyhow!("{origin}: {message}")))?;
    let started = dir.join("manifest.json").is_file();
    match settings {
        RunSettings::Chain(_) if started => {
            let args = RunArgs {
                quiet: args.quiet,
                no_verify: args.no_verify,
                ..RunArgs::default()
            };
            chain::resume(args, dir)
        }
        RunSettings::Chain(settings) => {
            let given = GivenSettings::file(origin, *settings, ChainSettings::default());
            let args = RunArgs {
                force: true,
                quiet: args.quiet,
                no_verify: args.no_verify,
                ..RunArgs::default()
            };
            chain::start(&given, &args)
        }
        // Seconds long, so an interrupted one runs again from the start.
        RunSettings::Gaussian(config) => theory::gaussian_run(&config, &dir, true, args.quiet),
        RunSettings::Gmm(_) if collapse_theory::gmm::resumable(&dir) => {
            theory::gmm_run(GmmStart::Resume { generations: None }, &dir, args.quiet)
        }
        RunSettings::Gmm(config) => {
            let start = GmmStart::New {
                config,
                force: true,
            };
            theory::gmm_run(start, &dir, args.quiet)
        }
    }
}
