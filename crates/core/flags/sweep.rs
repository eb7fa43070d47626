//! Flags of `collapse sweep`: a study of many chains from one spec file, run
//! on this machine or as a Slurm job array.

use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};
use collapse_study::SlurmResources;

/// Subcommands of `collapse sweep`.
#[derive(Subcommand, Debug)]
pub enum SweepCommand {
    /// Print every run of a study spec with its folder name, its settings, and the disk
    /// and time the study needs.
    Plan(SweepPlanArgs),
    /// Run what is not complete of a study, on this machine or as a Slurm job array.
    Run(SweepRunArgs),
    /// Each run's state and generations done, joined with Slurm's queue.
    Status(SweepDirArgs),
    /// Mean and spread over seeds of every headline metric per condition: summary.csv,
    /// band plots and an index.html under DIR/report.
    Report(SweepDirArgs),
    /// Run (or continue) one run of a study: what each executor starts, one per run.
    Task(SweepTaskArgs),
}

/// Arguments of `collapse sweep plan`.
#[derive(Args, Debug)]
pub struct SweepPlanArgs {
    /// The study spec (TOML: [base], [axes], [[conditions]], [slurm]).
    pub spec: PathBuf,
    /// Runs at a time the time estimate assumes (as `sweep run --jobs`).
    #[arg(long, default_value_t = 1)]
    pub jobs: usize,
}

/// Where a study's runs run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Executor {
    /// On this machine, --jobs runs at a time.
    Local,
    /// One Slurm job array, one array task per run.
    Slurm,
}

/// Arguments of `collapse sweep run`.
#[derive(Args, Debug)]
pub struct SweepRunArgs {
    /// The study spec.
    pub spec: PathBuf,
    /// The study folder.
    #[arg(long)]
    pub out: PathBuf,
    /// Where the runs run.
    #[arg(long, value_enum, default_value = "local")]
    pub executor: Executor,
    /// Runs at a time (local executor); the CPU threads are divided between them.
    #[arg(long, default_value_t = 1)]
    pub jobs: usize,
    /// Write DIR/sweep.sbatch without submitting it (slurm executor).
    #[arg(long)]
    pub dry_run: bool,
    /// The Slurm resources of each array task, over the spec's [slurm] table.
    #[command(flatten)]
    pub slurm: SlurmResources,
}

/// A study folder.
#[derive(Args, Debug)]
pub struct SweepDirArgs {
    /// The study folder (sweep run's --out).
    pub dir: PathBuf,
}

/// Arguments of `collapse sweep task`.
#[derive(Args, Debug)]
pub struct SweepTaskArgs {
    /// The study folder.
    pub dir: PathBuf,
    /// The run's index in the plan (Slurm's array task id).
    pub index: usize,
}
