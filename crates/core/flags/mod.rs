//! Command-line arguments.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use collapse_kernels::ConvImpl;
use collapse_vae::Architecture;

use crate::backend::Backend;

mod model;
mod run;
mod sweep;
mod theory;

pub use model::{ModelCommand, ModelSampleArgs, ModelTrainArgs};
pub use run::{GivenSettings, RunArgs, flag_error, science_flags};
pub use sweep::{Executor, SweepCommand, SweepDirArgs, SweepPlanArgs, SweepRunArgs, SweepTaskArgs};
pub use theory::{GaussianArgs, GmmArgs, OutputFlags, TheoryCommand};

/// Study model collapse: a VAE trained on MNIST regenerates its own training
/// set, generation after generation (Shumailov et al., "The Curse of Recursion").
#[derive(Parser, Debug)]
#[command(name = "collapse", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
    /// Threads of the CPU backends (flex, ndarray), the command's own included
    /// [default: one per core]
    #[arg(long, global = true)]
    pub threads: Option<usize>,
}

/// Subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run a generation chain and write its run folder.
    Run(Box<RunArgs>),
    /// Download a dataset into datasets/NAME/ and verify its checksums.
    Fetch(FetchArgs),
    /// Redraw the plots and the GIF of a run folder from the files on disk.
    Report(ReportArgs),
    /// Measure training and sampling throughput of each architecture.
    Bench(BenchArgs),
    /// Decode a sample grid from a saved generation on any backend, or draw a generation's
    /// training set again.
    Sample(SampleArgs),
    /// List the backends compiled in and the adapters each can see.
    Devices,
    /// Run one training step on every backend with identical weights and compare each tensor.
    Parity(ParityArgs),
    /// The frozen evaluators: train (or show) the digit classifier of a dataset.
    Evaluator {
        /// What to do.
        #[command(subcommand)]
        action: EvaluatorCommand,
    },
    /// Compare the headline metrics of several runs, generation by generation.
    Compare(CompareArgs),
    /// The collapse profile of runs: intervals, tests, onset, rate and tail survival; writes
    /// profile.json, profile.csv and metrics.csv's intervals into each run folder (its evidence
    /// drawn again from the checkpoints where the run kept none), redraws its report and prints
    /// its table.
    Profile(ProfileArgs),
    /// Studies of many chains from one spec file: plan, run here or on Slurm, status, report.
    Sweep {
        /// What to do.
        #[command(subcommand)]
        command: SweepCommand,
    },
    /// The chain's VAE on its own: train one on an .npy image set, or draw an .npy set from one.
    Model {
        /// What to do.
        #[command(subcommand)]
        command: ModelCommand,
    },
    /// The paper's closed-form experiments: a Gaussian or a Gaussian mixture refitted to its own samples.
    Theory {
        /// Which experiment.
        #[command(subcommand)]
        experiment: TheoryCommand,
    },
}

/// Subcommands of `collapse evaluator`.
#[derive(Subcommand, Debug)]
pub enum EvaluatorCommand {
    /// Train the dataset's frozen classifier into its cache (or load it) and print its accuracy.
    Train(EvaluatorTrainArgs),
}

/// Arguments of `collapse evaluator train`.
#[derive(Args, Debug)]
pub struct EvaluatorTrainArgs {
    /// Dataset name: mnist or fashion-mnist.
    #[arg(long, default_value = "mnist")]
    pub dataset: String,
    /// Folder of the dataset's IDX files [default: datasets/DATASET]; the classifier is
    /// cached in its evaluators/ subfolder.
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Compute backend.
    #[arg(long, value_enum, default_value = "flex")]
    pub device: Backend,
    /// Epochs of the classifier's training [default: 6].
    #[arg(long)]
    pub evaluator_epochs: Option<usize>,
    /// Real training images the classifier uses [default: all].
    #[arg(long)]
    pub evaluator_images: Option<usize>,
}

/// Arguments of `collapse compare`.
#[derive(Args, Debug)]
pub struct CompareArgs {
    /// Run folders (outputs/NAME), two or more; the first is the baseline of the differences.
    #[arg(required = true, num_args = 2..)]
    pub runs: Vec<PathBuf>,
    /// Folder to write the comparison into [default: outputs/compare-YYYYMMDD-HHMMSS].
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// Arguments of `collapse profile`.
#[derive(Args, Debug)]
pub struct ProfileArgs {
    /// Run folders (outputs/NAME).
    #[arg(required = true, num_args = 1..)]
    pub runs: Vec<PathBuf>,
    /// Compute backend of the MMD tests and the moments, and of the evidence drawn again for a
    /// run that did not keep it (on a CPU backend, the very samples the chain scored).
    #[arg(long, value_enum, default_value = "flex")]
    pub device: Backend,
    /// Folder of the dataset's IDX files, where a run's evidence is drawn again [default: the
    /// folder the run recorded].
    #[arg(long)]
    pub data: Option<PathBuf>,
}

/// Arguments of `collapse fetch`.
#[derive(Args, Debug)]
pub struct FetchArgs {
    /// Dataset name: mnist or fashion-mnist.
    pub dataset: String,
    /// Destination folder [default: datasets/DATASET].
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Base URL to download from instead of the catalogue's mirrors (repeatable, tried in order).
    #[arg(long)]
    pub mirror: Vec<String>,
}

/// Arguments of `collapse report`.
#[derive(Args, Debug)]
pub struct ReportArgs {
    /// The run folder (outputs/NAME).
    pub run: PathBuf,
}

/// The reference models of the benchmark.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Reference {
    /// MLP VAE 784-400-20 (pytorch/examples; the `quick` preset).
    Mlp,
    /// MLP VAE 784-512-256-16.
    MlpDeep,
    /// The authors' conv VAE, channels 64/128, latent 20 (the `paper` preset).
    Conv,
}

/// Arguments of `collapse bench`.
#[derive(Args, Debug)]
pub struct BenchArgs {
    /// Compute backend.
    #[arg(long, value_enum, default_value = "flex")]
    pub device: Backend,
    /// Reference models to measure: mlp (784-400-20), mlp-deep (784-512-256-16), conv
    /// (the paper's, channels 64/128, latent 20).
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "mlp,mlp-deep,conv"
    )]
    pub model: Vec<Reference>,
    /// Images per training step; each model is measured at each of them.
    #[arg(long, value_delimiter = ',', default_value = "128,256")]
    pub batch_size: Vec<usize>,
    /// Training steps per timed epoch.
    #[arg(long, default_value_t = 20)]
    pub steps: usize,
    /// Timed passes of each measurement (the median is reported), after one warm-up pass.
    #[arg(long, default_value_t = 3)]
    pub repeats: usize,
    /// Images decoded (sampling) and encoded (the probe, and the classifier) per pass, in
    /// batches of 1,000.
    #[arg(long, default_value_t = 10_000)]
    pub samples: usize,
    /// How the conv VAE computes convolutions [default: matmul on flex and ndarray, burn
    /// on the GPU backends]; the classifier's row always uses the device's default.
    #[arg(long, value_enum)]
    pub conv_impl: Option<ConvImpl>,
    /// Skip the frozen classifier's scoring rate.
    #[arg(long)]
    pub no_classifier: bool,
    /// Also write the measurements and the machine's description as JSON to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

/// Arguments of `collapse sample`.
#[derive(Args, Debug)]
pub struct SampleArgs {
    /// A generation folder (outputs/NAME/gen-NNN): the checkpoint to decode a grid from, or
    /// with --training-set the generation whose training set to draw again.
    pub generation: PathBuf,
    /// Draw again the synthetic training set the generation trained on, from the previous
    /// generation's checkpoint on the run's seed stream: bit for bit the set the chain drew
    /// (on the run's backend), in the file the chain writes with --keep-sets all.
    #[arg(long, conflicts_with_all = ["count", "seed"])]
    pub training_set: bool,
    /// Compute backend to load the weights on [default: flex; with --training-set the run's].
    #[arg(long, value_enum)]
    pub device: Option<Backend>,
    /// File to write: the PNG grid, or with --training-set the IDX file [default there: the
    /// generation folder's train-images-idx3-*.gz].
    #[arg(long, required_unless_present = "training_set")]
    pub out: Option<PathBuf>,
    /// Images in the grid (10 per row).
    #[arg(long, default_value_t = 100)]
    pub count: usize,
    /// Seed of the grid's latent noise.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

/// Arguments of `collapse parity`.
#[derive(Args, Debug)]
pub struct ParityArgs {
    /// A generation folder to take the weights from [default: a fresh model seeded by --seed].
    #[arg(long)]
    pub checkpoint: Option<PathBuf>,
    /// Architecture of the fresh model (ignored with --checkpoint).
    #[arg(long, value_enum, default_value = "mlp")]
    pub model: Architecture,
    /// Backends to compare with the reference [default: every backend this build has; a GPU
    /// backend that cannot start on this machine is then skipped, with a line saying why].
    #[arg(long, value_enum, value_delimiter = ',')]
    pub backends: Option<Vec<Backend>>,
    /// The backend every other one is compared with.
    #[arg(long, value_enum, default_value = "flex")]
    pub reference: Backend,
    /// Images in the batch.
    #[arg(long, default_value_t = 32)]
    pub batch: usize,
    /// Largest relative difference accepted for the forward pass, the loss and the gradients
    /// (max |a-b| over max |reference|, per tensor).
    #[arg(long, default_value_t = 1e-4)]
    pub tolerance: f64,
    /// Largest relative difference accepted for the weights after one Adam step, whose
    /// first update lr*g/(|g|+eps) amplifies rounding where a gradient is near eps.
    #[arg(long, default_value_t = 5e-3)]
    pub step_tolerance: f64,
    /// The tolerance of backends whose matrix products round their inputs to TF32 (tensor
    /// cores), for the forward pass, the loss, the gradients and the Adam step alike.
    #[arg(long, default_value_t = 1e-2)]
    pub tf32_tolerance: f64,
    /// Seed of the weights, images and noise.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Also write the comparison as JSON to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

/// The current UTC time as `YYYYMMDD-HHMMSS`, for default folder names.
pub fn timestamp() -> String {
    collapse_records::time::now_rfc3339()
        .replace(['-', ':'], "")
        .replace('T', "-")
        .trim_end_matches('Z')
        .to_string()
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::Cli;

    /// The file docs/cli.md is clap's own reference of every command and flag;
    /// `UPDATE_CLI_REFERENCE=1` writes it anew instead of comparing.
    #[test]
    fn the_cli_reference_is_current() {
        let generated = clap_markdown::help_markdown::<Cli>();
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/cli.md");
        if std::env::var_os("UPDATE_CLI_REFERENCE").is_some() {
            std::fs::write(&path, &generated).expect("docs/cli.md is writable");
            return;
        }
        let current = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            current == generated,
            "{} is not clap's current reference of the flags; write it anew with \
             UPDATE_CLI_REFERENCE=1 cargo test --release --bin collapse the_cli_reference",
            path.display()
        );
    }
}
