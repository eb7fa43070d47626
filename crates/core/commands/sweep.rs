//! `collapse sweep`: a study of many runs from one spec. `plan` checks
//! every run's settings as its experiment's command would and prints the
//! disk and time the study needs; `run` writes the study folder and runs what
//! is not complete, here (`--executor local`) or as one Slurm job array;
//! `task` is one run, started by either executor; `status` and `report` read
//! the study folder back. The study crate decides; this file prints.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use anyhow::anyhow;
use collapse_study::{Local, RunState, Slurm, StudyFolder, StudySpec};

use crate::flags::{
    Executor, RunArgs, SweepCommand, SweepDirArgs, SweepPlanArgs, SweepRunArgs, SweepTaskArgs,
};
use crate::runner::study::{
    self, check_study, counted, say_ended, say_executed, threads_per_run, write_report,
};
use crate::usage;

/// `collapse sweep`, with the global `--threads` (the threads all runs share).
pub fn sweep(command: SweepCommand, threads: Option<usize>) -> anyhow::Result<()> {
    match command {
        SweepCommand::Plan(args) => plan(args, threads),
        SweepCommand::Run(args) => run(args, threads),
        SweepCommand::Status(args) => status(args),
        SweepCommand::Report(args) => report(args),
        SweepCommand::Task(args) => task(args),
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
fn plan(args: SweepPlanArgs, threads: Option<usize>) -> anyhow::Result<()> {
    let spec = StudySpec::read(&args.spec).map_err(usage)?;
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
            c.generations + 1,
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
fn run(args: SweepRunArgs, threads: Option<usize>) -> anyhow::Result<()> {
    if args.jobs == 0 {
        return Err(usage(anyhow!("--jobs must be at least 1")));
    }
    let spec = StudySpec::read(&args.spec).map_err(usage)?;
    let dir = std::path::absolute(&args.out).map_err(|e| usage(anyhow!("--out: {e}")))?;
    let resources = args.slurm.over(&spec.slurm);
    let per_run = match args.executor {
        Executor::Local => threads_per_run(threads, args.jobs),
        Executor::Slurm => resources.cpus.map_or(1, |n| n as usize),
    };
    let checked = check_study(&spec, &dir, per_run)?;
    if args.executor == Executor::Slurm {
        collapse_study::executor::check_slurm(&dir, args.dry_run).map_err(usage)?;
    }
    let folder = StudyFolder::new(&dir);
    let _held = folder.hold().map_err(usage)?;
    let workdir = std::env::current_dir()?;
    let runs = checked.into_iter().map(|c| c.into_record()).collect();
    let plan = folder.write_plan(&spec, runs, &workdir).map_err(usage)?;
    let todo = collapse_study::pending(&folder, &plan);
    let binary = std::env::current_exe()?;
    let executor: Box<dyn collapse_study::Executor> = match args.executor {
        Executor::Local => {
            eprintln!(
                "study {}: {} of {} runs to do, {} at a time, {} each",
                plan.study,
                todo.len(),
                plan.runs.len(),
                args.jobs,
                counted(per_run, "thread")
            );
            Box::new(Local {
                binary,
                jobs: args.jobs,
                threads: per_run,
                on_event: &say_ended,
            })
        }
        Executor::Slurm => Box::new(Slurm {
            binary,
            resources: resources.clone(),
            dry_run: args.dry_run,
        }),
    };
    let started = Instant::now();
    let executed = executor.execute(&folder, &plan, &todo)?;
    say_executed(
        executed,
        &folder,
        &plan,
        todo.len(),
        started,
        resources.throttle,
    )
}

/// `collapse sweep status`.
fn status(args: SweepDirArgs) -> anyhow::Result<()> {
    let folder = StudyFolder::new(&args.dir);
    let plan = folder.plan().map_err(usage)?;
    let status = collapse_study::status(&folder, &plan);
    let width = plan.runs.iter().map(|r| r.name.len()).max().unwrap_or(0);
    let mut counts: BTreeMap<&'static str, usize> = BTreeMap::new();
    for line in &status.runs {
        *counts.entry(state_word(&line.status.state)).or_default() += 1;
        let scheduler = line
            .scheduler
            .as_ref()
            .map_or(String::new(), |(id, state)| {
                format!("  slurm {id}: {state}")
            });
        println!(
            "{:width$}  {:>3}/{:<3}  {}{scheduler}",
            line.name, line.status.done, line.status.total, line.status.state
        );
    }
    let summary: Vec<String> = counts.iter().map(|(w, n)| format!("{n} {w}")).collect();
    println!(
        "study {}: {}: {}",
        plan.study,
        counted(plan.runs.len(), "run"),
        summary.join(", ")
    );
    if let Some(note) = status.queue_unread {
        println!("(the queue could not be read: {note})");
    } else if status.no_accounting {
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
fn report(args: SweepDirArgs) -> anyhow::Result<()> {
    let folder = StudyFolder::new(&args.dir);
    let plan = folder.plan().map_err(usage)?;
    write_report(&folder, &plan)
}

/// `collapse sweep task`: runs, or continues, run `index` of the study.
fn task(args: SweepTaskArgs) -> anyhow::Result<()> {
    let dir = std::path::absolute(&args.dir)
        .map_err(|e| usage(anyhow!("{}: {e}", args.dir.display())))?;
    study::run_task(&dir, args.index, &RunArgs::default())
}
