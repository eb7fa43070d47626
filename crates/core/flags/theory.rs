//! Flags of `collapse theory`: the closed-form experiments. Each flag is a
//! setting of the experiment's config, by the same name.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use collapse_theory::{GaussianConfig, GmmSettings};

/// Subcommands of `collapse theory`.
#[derive(Subcommand, Debug)]
pub enum TheoryCommand {
    /// A Gaussian refitted to its own samples, in many trials at once, beside its closed forms.
    Gaussian(GaussianArgs),
    /// A 2-component Gaussian mixture refitted by EM to its own samples (resumable).
    Gmm(GmmArgs),
}

/// Where a theory run goes and how it reports.
#[derive(Args, Debug)]
pub struct OutputFlags {
    /// Run folder [default: outputs/EXPERIMENT-YYYYMMDD-HHMMSS].
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Replace what --out holds.
    #[arg(long)]
    pub force: bool,
    /// Run once per seed: a study of one seed axis in --out (runs/seed-N/, report/), run here
    /// one seed after another; the same command again continues it.
    #[arg(long, value_delimiter = ',', conflicts_with = "seed")]
    pub seeds: Option<Vec<u64>>,
    /// No progress output on stderr.
    #[arg(long, short)]
    pub quiet: bool,
}

/// Arguments of `collapse theory gaussian`: the experiment's config, and
/// where it goes.
#[derive(Args, Debug)]
pub struct GaussianArgs {
    /// The experiment.
    #[command(flatten)]
    pub config: GaussianConfig,
    /// Output.
    #[command(flatten)]
    pub output: OutputFlags,
}

/// Arguments of `collapse theory gmm`: the experiment's settings, and
/// where it goes.
#[derive(Args, Debug)]
pub struct GmmArgs {
    /// The experiment.
    #[command(flatten)]
    pub settings: GmmSettings,
    /// Continue the interrupted run in this folder from its last checkpoint, with its
    /// recorded config (only --generations, to extend it, may be given).
    #[arg(long, value_name = "RUN", conflicts_with_all = ["out", "force", "seeds"])]
    pub resume: Option<PathBuf>,
    /// Output.
    #[command(flatten)]
    pub output: OutputFlags,
}
