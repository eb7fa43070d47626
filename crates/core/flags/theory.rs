//! Flags of `collapse theory`: the closed-form experiments. Each flag is a
//! setting of the experiment's config, by the same name.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use collapse_theory::GaussianConfig;

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
    /// Run once per seed into --out/seed-N/ and summarise them (mean and std per generation).
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

/// Arguments of `collapse theory gmm`.
#[derive(Args, Debug)]
pub struct GmmArgs {
    /// Points per generation.
    #[arg(long, default_value_t = 1000)]
    pub samples: usize,
    /// Generations after generation 0 (the fit to the original samples).
    #[arg(long)]
    pub generations: Option<usize>,
    /// Standard deviation of the original 2-D normal (mean 0).
    #[arg(long, default_value_t = 1.0)]
    pub std: f64,
    /// EM stops when the mean log-likelihood per point changes by less.
    #[arg(long, default_value_t = 1e-5)]
    pub tol: f64,
    /// The most EM iterations per fit.
    #[arg(long, default_value_t = 2000)]
    pub max_iter: usize,
    /// Generations whose samples are drawn as scatters.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "0,50,100,150,200,350,2000"
    )]
    pub snapshots: Vec<usize>,
    /// Seed of every random stream.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Continue the interrupted run in this folder from its last checkpoint, with its
    /// recorded config (only --generations, to extend it, may be given).
    #[arg(long, value_name = "RUN", conflicts_with_all = ["out", "force", "seeds", "samples", "std", "tol", "max_iter", "snapshots"])]
    pub resume: Option<PathBuf>,
    /// Output.
    #[command(flatten)]
    pub output: OutputFlags,
}
