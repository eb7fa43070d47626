//! The flags of `collapse run` and their resolution into a chain's
//! configuration: a preset, overridden by the flags given, checked before any
//! work; and the words of a refused value, by the flag that sets it.

use std::path::{Path, PathBuf};

use clap::Args;
use collapse_chain::{ChainConfig, ConfigError, KeepSets, LoopMode, OnDivergence, Preset, Setting};
use collapse_data::catalogue::Catalogue;
use collapse_data::catalogue::DatasetSpec;
use collapse_eval::ClassifierConfig;
use collapse_kernels::ConvImpl;
use collapse_vae::{Architecture, SampleMode};

use super::FileSettings;
use super::timestamp;
use crate::Failure;
use crate::backend::Backend;
use crate::dataset::{default_data_dir, unknown_dataset};

/// Arguments of `collapse run`.
#[derive(Args, Debug)]
#[command(allow_negative_numbers = true)]
pub struct RunArgs {
    /// Settings from a TOML file keyed by these flags' names (`epochs = 3`, `real_fraction = 0.1`,
    /// `stream = true`); flags given on the command line replace the file's.
    #[arg(long, value_name = "FILE.toml", conflicts_with = "resume")]
    pub config: Option<PathBuf>,
    /// Which settings came from --config (filled after parsing).
    #[arg(skip)]
    pub file: FileSettings,
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
    pub model: Option<Architecture>,
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
    /// Score only the first N real test images (evaluators, test likelihood, latent
    /// statistics) [default: all].
    #[arg(long)]
    pub test_size: Option<usize>,
    /// How synthetic images are drawn from the decoder.
    #[arg(long, value_enum)]
    pub sample: Option<SampleMode>,
    /// Draw every training batch fresh from the previous decoder (the authors' notebook).
    #[arg(long, conflicts_with = "no_stream")]
    pub stream: bool,
    /// Regenerate one training set per generation (turns off the paper preset's streaming).
    #[arg(long)]
    pub no_stream: bool,
    /// Replace (train on the newest synthetic set) or accumulate (real + all synthetic sets).
    #[arg(long, value_enum)]
    pub mode: Option<LoopMode>,
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
    /// Which generated training sets the run folder keeps: all, or only those a resume
    /// needs (an accumulating chain's) [default: needed]; `collapse sample --training-set`
    /// draws any other again.
    #[arg(long, value_enum)]
    pub keep_sets: Option<KeepSets>,
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
    pub on_divergence: Option<OnDivergence>,
    /// Use dataset files whose checksums differ from the catalogue's (recorded in the manifest).
    #[arg(long)]
    pub no_verify: bool,
    /// Replace what --out holds (refused while another process writes it).
    #[arg(long, conflicts_with = "resume")]
    pub force: bool,
    /// Remove the run folder's lock file first, on your word that the process it names
    /// (on another host, where the file system has no OS locks) is gone.
    #[arg(long)]
    pub break_lock: bool,
    /// Continue the interrupted run in this folder from its last complete generation, with
    /// its recorded config (only --generations, to extend it, and --data may be given).
    #[arg(long, value_name = "RUN")]
    pub resume: Option<PathBuf>,
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

impl ClassifierFlags {
    /// Overrides the recipe's values with the flags given.
    pub fn apply(&self, config: &mut ClassifierConfig) {
        if let Some(e) = self.evaluator_epochs {
            config.epochs = e;
        }
        if let Some(n) = self.evaluator_images {
            config.train_images = n;
        }
    }
}

/// Applies the preset, then every flag given, then checks the result.
pub fn resolve(args: &RunArgs, spec: &DatasetSpec, data: PathBuf) -> Result<ChainConfig, Failure> {
    let name = args.preset.as_deref().unwrap_or("quick");
    let preset = Preset::from_name(name).ok_or_else(|| {
        let known = Preset::NAMES.join(", ");
        Failure::input(args.file.refused(
            "--preset",
            format!("unknown preset {name:?}; known: {known}"),
        ))
    })?;
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| Path::new("outputs").join(format!("{name}-{}", timestamp())));
    let mut c = ChainConfig::preset(preset, spec.name, data, out);
    set(&mut c.model.architecture, args.model);
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
    set(&mut c.train_size, args.train_size.map(Some));
    set(&mut c.synthetic_size, args.synthetic_size.map(Some));
    set(&mut c.test_size, args.test_size.map(Some));
    set(&mut c.sample, args.sample);
    if args.stream || args.no_stream {
        c.stream = args.stream;
    }
    set(&mut c.mode, args.mode);
    set(&mut c.real_fraction, args.real_fraction);
    set(&mut c.prior_scale, args.prior_scale);
    set(&mut c.seed, args.seed);
    set(&mut c.probe_samples, args.probe_samples);
    set(&mut c.eval_batch, args.eval_batch);
    c.evaluate = !args.no_eval;
    args.classifier.apply(&mut c.classifier);
    set(&mut c.on_divergence, args.on_divergence);
    set(&mut c.keep_sets, args.keep_sets);
    c.device = device_of(args).name().to_string();
    c.validate()
        .map_err(|e| Failure::input(args.file.refused(flag_of(e.setting), e.message)))?;
    Ok(c)
}

/// The dataset a run reads and its folder (`--data`, else `datasets/NAME`).
pub fn dataset_of(args: &RunArgs) -> Result<(DatasetSpec, PathBuf), Failure> {
    let name = args.dataset.as_deref().unwrap_or("mnist");
    let spec = Catalogue::get(name)
        .ok_or_else(|| Failure::input(args.file.refused("--dataset", unknown_dataset(name))))?;
    let data = args.data.clone().unwrap_or_else(|| default_data_dir(&spec));
    Ok((spec, data))
}

fn set<T>(field: &mut T, value: Option<T>) {
    if let Some(v) = value {
        *field = v;
    }
}

pub fn device_of(args: &RunArgs) -> Backend {
    args.device.unwrap_or(Backend::Flex)
}

/// The flags that would change a recorded run's science, as given.
pub fn science_flags(args: &RunArgs) -> Vec<&'static str> {
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
        ("--test-size", args.test_size.is_some()),
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
        ("--keep-sets", args.keep_sets.is_some()),
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
        Setting::TestSize => "--test-size",
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
