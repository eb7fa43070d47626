//! Command-line arguments.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use collapse_chain::{ConfigError, Setting};
use collapse_kernels::ConvImpl;

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
    /// Decode a sample grid from a saved generation, on any backend.
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
}

/// Subcommands of `collapse evaluator`.
#[derive(Subcommand, Debug)]
pub enum EvaluatorCommand {
    /// Train the dataset's frozen classifier into its cache (or load it) and print its accuracy.
    Train(EvaluatorTrainArgs),
}

/// The classifier's training recipe, as flags.
#[derive(Args, Debug, Clone, Default)]
pub struct ClassifierFlags {
    /// Epochs of the frozen classifier's training [default: 6].
    #[arg(long)]
    pub evaluator_epochs: Option<usize>,
    /// Real training images the frozen classifier uses [default: all].
    #[arg(long)]
    pub evaluator_images: Option<usize>,
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
    /// The recipe.
    #[command(flatten)]
    pub classifier: ClassifierFlags,
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

/// A compute backend.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Backend {
    /// Burn's own CPU backend (the default).
    Flex,
    /// Burn's ndarray CPU backend (deprecated in Burn 0.22); its convolutions
    /// are slow, so the conv VAE uses the project's own (unfold and matrix
    /// multiply) there.
    Ndarray,
    /// GPU through wgpu (Vulkan, Metal, DX12); a software Vulkan driver such as lavapipe also works.
    Wgpu,
    /// GPU through wgpu pinned to Vulkan, SPIR-V kernels (a build with `--features vulkan`).
    Vulkan,
    /// NVIDIA GPU through Burn's CUDA backend (a build with `--features cuda`).
    Cuda,
}

/// A VAE architecture.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Model {
    /// Fully connected 784-400-20 (pytorch/examples).
    Mlp,
    /// The authors' convolutional VAE (647,081 parameters).
    Conv,
}

/// How images are drawn from a decoder.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Sample {
    /// Decoder means, grey values (the paper's choice).
    Mean,
    /// One Bernoulli draw per pixel.
    Bernoulli,
}

/// How a generation's training set relates to earlier ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Mode {
    /// Only the newest synthetic set.
    Replace,
    /// Real data plus every earlier synthetic set.
    Accumulate,
}

/// Arguments of `collapse run`.
#[derive(Args, Debug)]
#[command(allow_negative_numbers = true)]
pub struct RunArgs {
    /// Starting configuration: quick (MLP, 20,000 images, 10 epochs, 10 generations; a few
    /// minutes on 2 CPU cores) or paper (the authors' conv VAE, 30 epochs, streamed samples)
    /// [default: quick].
    #[arg(long)]
    pub preset: Option<String>,
    /// Dataset name: mnist or fashion-mnist [default: mnist].
    #[arg(long)]
    pub dataset: Option<String>,
    /// Folder of the dataset's IDX files [default: datasets/DATASET, fetched on first use].
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Run folder to write [default: outputs/PRESET-YYYYMMDD-HHMMSS].
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// VAE architecture.
    #[arg(long, value_enum)]
    pub model: Option<Model>,
    /// Latent dimensions.
    #[arg(long)]
    pub latent_dim: Option<usize>,
    /// Hidden widths of the MLP, comma-separated (e.g. 512,256).
    #[arg(long, value_delimiter = ',')]
    pub hidden: Option<Vec<usize>>,
    /// Weight of the KL term (1 = plain ELBO).
    #[arg(long)]
    pub beta: Option<f64>,
    /// Epochs per generation.
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Images per optimisation step.
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// Adam learning rate.
    #[arg(long)]
    pub lr: Option<f64>,
    /// Adam weight decay (L2 added to the gradient, as PyTorch's Adam).
    #[arg(long)]
    pub weight_decay: Option<f64>,
    /// Synthetic generations after generation 0.
    #[arg(long)]
    pub generations: Option<usize>,
    /// Use only the first N real training images.
    #[arg(long)]
    pub train_size: Option<usize>,
    /// Images per synthetic training set [default: generation 0's training size].
    #[arg(long)]
    pub synthetic_size: Option<usize>,
    /// How synthetic images are drawn from the decoder.
    #[arg(long, value_enum)]
    pub sample: Option<Sample>,
    /// Draw every training batch fresh from the previous decoder (the authors' notebook).
    #[arg(long, conflicts_with = "no_stream")]
    pub stream: bool,
    /// Regenerate one training set per generation (turns off the paper preset's streaming).
    #[arg(long)]
    pub no_stream: bool,
    /// Replace (train on the newest synthetic set) or accumulate (real + all synthetic sets).
    #[arg(long, value_enum)]
    pub mode: Option<Mode>,
    /// Fraction of real images kept in each synthetic generation's training set, in [0, 1].
    #[arg(long)]
    pub real_fraction: Option<f64>,
    /// Sample z ~ N(0, s^2 I) with this s (below 1 biases sampling towards the mode).
    #[arg(long)]
    pub prior_scale: Option<f64>,
    /// Seed of every random stream; the same seed on a CPU backend gives the same run.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Compute backend [default: flex].
    #[arg(long, value_enum)]
    pub device: Option<Backend>,
    /// How the conv VAE and the frozen classifier compute convolutions [default: matmul on
    /// flex and ndarray, burn on the GPU backends]; the weights are the same either way.
    #[arg(long, value_enum)]
    pub conv_impl: Option<ConvImpl>,
    /// Samples encoded by the generation-0 encoder (the probe) per generation.
    #[arg(long)]
    pub probe_samples: Option<usize>,
    /// Images per batch when sampling and evaluating (memory against speed).
    #[arg(long)]
    pub eval_batch: Option<usize>,
    /// Skip the frozen evaluators (classifier metrics, generation-0 likelihood, style statistics).
    #[arg(long)]
    pub no_eval: bool,
    /// The frozen classifier's recipe.
    #[command(flatten)]
    pub classifier: ClassifierFlags,
    /// Run one chain per seed into --out/seed-N/ and aggregate them (mean and std per generation).
    #[arg(long, value_delimiter = ',', conflicts_with_all = ["seed", "resume"])]
    pub seeds: Option<Vec<u64>>,
    /// No progress output on stderr.
    #[arg(long, short)]
    pub quiet: bool,
    /// When a generation's loss becomes non-finite or explodes: stop (keeping completed
    /// generations), or retry it once with a new seed stream and half the learning rate.
    #[arg(long, value_enum)]
    pub on_divergence: Option<OnDivergenceArg>,
    /// Use dataset files whose checksums differ from the catalogue's (recorded in the manifest).
    #[arg(long)]
    pub no_verify: bool,
    /// Replace what --out holds (refused while another process writes it).
    #[arg(long, conflicts_with = "resume")]
    pub force: bool,
    /// Continue the interrupted run in this folder from its last complete generation, with
    /// its recorded config (only --generations, to extend it, and --data may be given).
    #[arg(long, value_name = "RUN")]
    pub resume: Option<PathBuf>,
}

/// What a chain does when a generation's loss diverges.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum OnDivergenceArg {
    /// Stop with an error.
    Stop,
    /// Retry the generation once at half the learning rate.
    Retry,
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
    pub model: Vec<crate::bench::Reference>,
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
    /// A generation folder holding model.bpk and vae.json (outputs/NAME/gen-NNN).
    pub checkpoint: PathBuf,
    /// Compute backend to load the weights on.
    #[arg(long, value_enum, default_value = "flex")]
    pub device: Backend,
    /// PNG file to write.
    #[arg(long)]
    pub out: PathBuf,
    /// Images in the grid (10 per row).
    #[arg(long, default_value_t = 100)]
    pub count: usize,
    /// Seed of the latent noise.
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
    pub model: Model,
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

/// The flag that sets a chain's `setting`.
pub fn flag_of(setting: Setting) -> &'static str {
    match setting {
        Setting::Epochs => "--epochs",
        Setting::BatchSize => "--batch-size",
        Setting::LatentDim => "--latent-dim",
        Setting::Hidden => "--hidden",
        Setting::Lr => "--lr",
        Setting::WeightDecay => "--weight-decay",
        Setting::Beta => "--beta",
        Setting::TrainSize => "--train-size",
        Setting::SyntheticSize => "--synthetic-size",
        Setting::RealFraction => "--real-fraction",
        Setting::Stream => "--stream",
        Setting::PriorScale => "--prior-scale",
        Setting::ProbeSamples => "--probe-samples",
        Setting::EvalBatch => "--eval-batch",
        Setting::EvaluatorEpochs => "--evaluator-epochs",
    }
}

/// A refused configuration value, worded by the flag that sets it.
pub fn flag_error(e: ConfigError) -> anyhow::Error {
    anyhow::anyhow!("{}: {}", flag_of(e.setting), e.message)
}
