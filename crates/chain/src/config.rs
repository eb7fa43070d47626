//! A chain's resolved configuration: a preset, overridden by flags, checked
//! before any work, and saved in the manifest.

use std::path::PathBuf;

use collapse_eval::ClassifierConfig;
use collapse_vae::{Architecture, SampleMode, TrainConfig, VaeConfig};
use serde::{Deserialize, Serialize};

/// How each generation's training set relates to earlier generations.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum LoopMode {
    /// Train only on the newest synthetic set (plus `real_fraction` real images).
    Replace,
    /// Train on the real data plus every earlier synthetic set (Gerstgrasser et al. 2024).
    Accumulate,
}

impl std::fmt::Display for LoopMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            LoopMode::Replace => "replace",
            LoopMode::Accumulate => "accumulate",
        })
    }
}

/// What a chain does when a generation's loss diverges.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum OnDivergence {
    /// Stop with an error, keeping every completed generation.
    #[default]
    Stop,
    /// Restart the generation once with a new seed stream and half the learning rate.
    Retry,
}

/// Which generated training sets a chain keeps in its run folder. A set not
/// kept is drawn again, bit for bit, by `collapse sample --training-set`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum KeepSets {
    /// Every synthetic generation's set, to inspect or score again later.
    All,
    /// Only the sets a resume needs: all of an accumulating chain's (it trains on
    /// every one), none of a chain that replaces its set (a resumed generation
    /// samples its set again).
    Needed,
}

impl KeepSets {
    /// Whether a chain in `mode` writes each synthetic set it trains on.
    pub fn writes(self, mode: LoopMode) -> bool {
        self == KeepSets::All || mode == LoopMode::Accumulate
    }
}

/// Named starting points for a chain's configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum Preset {
    /// MLP VAE, 20,000 images, 10 epochs, batch 128, 10 synthetic generations: a
    /// useful chain on 2 CPU cores in a few minutes.
    Quick,
    /// The authors' setup: conv VAE, latent 20, batch 256, Adam 1e-3 with weight
    /// decay 1e-5, 30 epochs, 60,000 freshly streamed samples per epoch.
    Paper,
}

impl Preset {
    /// The preset's name.
    pub fn name(self) -> &'static str {
        match self {
            Preset::Quick => "quick",
            Preset::Paper => "paper",
        }
    }
}

/// Everything that defines a chain.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChainConfig {
    /// The preset the values started from.
    pub preset: Preset,
    /// Catalogue name of the dataset.
    pub dataset: String,
    /// Folder holding the dataset's IDX files.
    pub data: PathBuf,
    /// The run folder.
    pub out: PathBuf,
    /// The VAE.
    pub model: VaeConfig,
    /// How each generation's VAE is trained (β included).
    pub train: TrainConfig,
    /// Synthetic generations after generation 0.
    pub generations: usize,
    /// Real training images used (the first N); `None` means all.
    pub train_size: Option<usize>,
    /// Images per synthetic training set; `None` means generation 0's size.
    pub synthetic_size: Option<usize>,
    /// Real test images (the first N) that the evaluators, the test-set
    /// likelihood and the latent statistics score; `None` means all.
    pub test_size: Option<usize>,
    /// How images are drawn from the decoder.
    pub sample: SampleMode,
    /// Draw every training batch fresh from the previous decoder instead of one regenerated set.
    pub stream: bool,
    /// Replace or accumulate.
    pub mode: LoopMode,
    /// Fraction of each synthetic generation's training set that is real images.
    pub real_fraction: f64,
    /// Share of the real training images left out of every training set: those
    /// the reference VAE finds least likely (the collapse profile's positive
    /// control, a tail cut on purpose).
    #[serde(default)]
    pub cut_tail: f64,
    /// Standard deviation of the prior the samples are drawn from.
    pub prior_scale: f64,
    /// Seed of every random stream.
    pub seed: u64,
    /// Backend name (`flex`, `ndarray`, `wgpu`).
    pub device: String,
    /// Samples encoded by the probe per generation.
    pub probe_samples: usize,
    /// Batch size for sampling and evaluation.
    pub eval_batch: usize,
    /// What to do when a generation's loss diverges.
    pub on_divergence: OnDivergence,
    /// Score every generation's samples with the frozen evaluators (classifier,
    /// generation-0 likelihood, style statistics).
    pub evaluate: bool,
    /// Keep each scored set's per-sample evidence and update the collapse
    /// profile as each generation completes (where the chain evaluates).
    #[serde(default = "profiled")]
    pub profile: bool,
    /// The frozen classifier's recipe (part of its cache key).
    pub classifier: ClassifierConfig,
    /// Which generated training sets the run folder keeps.
    pub keep_sets: KeepSets,
    /// A model outside this tool, in place of the VAE; none for the VAE.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external: Option<ExternalModel>,
}

/// Runs recorded before the profile existed read as profiled: their resume
/// keeps the evidence of the generations it adds.
fn profiled() -> bool {
    true
}

/// A generation's model as two commands of a program outside this tool
/// (docs/models.md): one trains a model on a written training set, the other
/// draws images from it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExternalModel {
    /// The command that trains a generation's model.
    pub train: String,
    /// The command that draws images from it.
    pub sample: String,
    /// Seconds each command may run; none for no limit.
    pub timeout: Option<f64>,
    /// Its short name, which a study's folder names carry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The folder its commands run in, where the run was started (so a
    /// relative path in a command means what it meant there, on a resume
    /// too); none: each generation's folder (a run folder written before
    /// the folder was recorded).
    #[serde(default)]
    pub workdir: Option<PathBuf>,
}

/// The placeholders of an external model's `train` command.
pub const TRAIN_PLACEHOLDERS: [&str; 6] = [
    "train",
    "model_dir",
    "seed",
    "init_seed",
    "epochs",
    "generation",
];
/// The placeholders of an external model's `sample` command.
pub const SAMPLE_PLACEHOLDERS: [&str; 5] = ["model_dir", "count", "samples", "seed", "generation"];

/// A setting of a chain's configuration, as an error names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Setting {
    /// The dataset's name.
    Dataset,
    /// Passes over the training set per generation.
    Epochs,
    /// Images per optimisation step.
    BatchSize,
    /// Latent dimensions.
    LatentDim,
    /// Hidden widths of the MLP.
    Hidden,
    /// Adam's learning rate.
    Lr,
    /// Adam's L2 penalty.
    WeightDecay,
    /// Weight of the KL term.
    Beta,
    /// Real training images used by generation 0.
    TrainSize,
    /// Images per synthetic training set.
    SyntheticSize,
    /// Real test images scored.
    TestSize,
    /// Fraction of real images in a synthetic generation's training set.
    RealFraction,
    /// Share of the real training images cut from the tail.
    CutTail,
    /// Drawing every training batch fresh from the previous decoder.
    Stream,
    /// Standard deviation of the prior samples are drawn from.
    PriorScale,
    /// Samples encoded by the probe.
    ProbeSamples,
    /// Batch size of sampling and evaluation.
    EvalBatch,
    /// Epochs of the frozen classifier's training.
    EvaluatorEpochs,
    /// The command that trains an external model.
    ExternalTrain,
    /// The command that samples an external model.
    ExternalSample,
    /// The time limit of an external model's commands.
    ExternalTimeout,
    /// The short name of an external model.
    ExternalName,
}

impl Setting {
    /// The setting in words.
    pub fn name(self) -> &'static str {
        match self {
            Setting::Dataset => "dataset",
            Setting::Epochs => "epochs",
            Setting::BatchSize => "batch size",
            Setting::LatentDim => "latent dimensions",
            Setting::Hidden => "hidden widths",
            Setting::Lr => "learning rate",
            Setting::WeightDecay => "weight decay",
            Setting::Beta => "KL weight",
            Setting::TrainSize => "real training images",
            Setting::SyntheticSize => "synthetic set size",
            Setting::TestSize => "test images",
            Setting::RealFraction => "real fraction",
            Setting::CutTail => "tail cut",
            Setting::Stream => "streaming",
            Setting::PriorScale => "prior scale",
            Setting::ProbeSamples => "probe samples",
            Setting::EvalBatch => "evaluation batch",
            Setting::EvaluatorEpochs => "classifier epochs",
            Setting::ExternalTrain => "external model's train command",
            Setting::ExternalSample => "external model's sample command",
            Setting::ExternalTimeout => "external model's time limit",
            Setting::ExternalName => "external model's name",
        }
    }

    /// The key of [`ChainSettings`](crate::ChainSettings) that sets it.
    pub fn key(self) -> &'static str {
        match self {
            Setting::Dataset => "dataset",
            Setting::Epochs => "epochs",
            Setting::BatchSize => "batch_size",
            Setting::LatentDim => "latent_dim",
            Setting::Hidden => "hidden",
            Setting::Lr => "lr",
            Setting::WeightDecay => "weight_decay",
            Setting::Beta => "beta",
            Setting::TrainSize => "train_size",
            Setting::SyntheticSize => "synthetic_size",
            Setting::TestSize => "test_size",
            Setting::RealFraction => "real_fraction",
            Setting::CutTail => "cut_tail",
            Setting::Stream => "stream",
            Setting::PriorScale => "prior_scale",
            Setting::ProbeSamples => "probe_samples",
            Setting::EvalBatch => "eval_batch",
            Setting::EvaluatorEpochs => "evaluator_epochs",
            Setting::ExternalTrain => "external_train",
            Setting::ExternalSample => "external_sample",
            Setting::ExternalTimeout => "external_timeout",
            Setting::ExternalName => "external_name",
        }
    }
}

/// A configuration value refused before any work.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{}: {message}", setting.name())]
pub struct ConfigError {
    /// The setting at fault.
    pub setting: Setting,
    /// Why.
    pub message: String,
}

fn refuse(setting: Setting, message: impl Into<String>) -> ConfigError {
    ConfigError {
        setting,
        message: message.into(),
    }
}

/// Whether `name` can name an external model in a folder name.
fn is_short_name(name: &str) -> bool {
    (1..=40).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
}

impl ExternalModel {
    /// Both commands parse with their placeholders, the limit is positive, and
    /// the chain does not stream (a model outside this process is sampled
    /// into a written set).
    fn validate(&self, stream: bool) -> Result<(), ConfigError> {
        let commands = [
            (Setting::ExternalTrain, &self.train, &TRAIN_PLACEHOLDERS[..]),
            (
                Setting::ExternalSample,
                &self.sample,
                &SAMPLE_PLACEHOLDERS[..],
            ),
        ];
        for (setting, text, holes) in commands {
            collapse_external::CommandLine::parse(text, holes)
                .map_err(|e| refuse(setting, e.to_string()))?;
        }
        if let Some(t) = self.timeout.filter(|t| !(t.is_finite() && *t > 0.0)) {
            return Err(refuse(
                Setting::ExternalTimeout,
                format!("must be a positive number of seconds, got {t}"),
            ));
        }
        if let Some(name) = self.name.as_deref().filter(|n| !is_short_name(n)) {
            return Err(refuse(
                Setting::ExternalName,
                format!("{name:?} is not a short name: 1 to 40 letters, digits, `.`, `-` or `_`"),
            ));
        }
        if stream {
            return Err(refuse(
                Setting::Stream,
                "an external model is sampled into a written training set; leave stream off",
            ));
        }
        Ok(())
    }
}

impl ChainConfig {
    /// The preset's configuration for `dataset`, reading from `data` and writing to `out`.
    pub fn preset(preset: Preset, dataset: &str, data: PathBuf, out: PathBuf) -> Self {
        let (model, train, generations, train_size, stream) = match preset {
            Preset::Quick => (
                VaeConfig::new(Architecture::Mlp),
                TrainConfig::new().with_epochs(10).with_batch_size(128),
                10,
                Some(20_000),
                false,
            ),
            Preset::Paper => (
                VaeConfig::new(Architecture::Conv),
                TrainConfig::new(),
                10,
                None,
                true,
            ),
        };
        ChainConfig {
            preset,
            dataset: dataset.to_string(),
            data,
            out,
            model,
            train,
            generations,
            train_size,
            synthetic_size: None,
            test_size: None,
            sample: SampleMode::Mean,
            stream,
            mode: LoopMode::Replace,
            real_fraction: 0.0,
            cut_tail: 0.0,
            prior_scale: 1.0,
            seed: 0,
            device: "flex".to_string(),
            probe_samples: 10_000,
            eval_batch: 1_000,
            on_divergence: OnDivergence::Stop,
            evaluate: true,
            profile: true,
            classifier: ClassifierConfig::new(),
            keep_sets: KeepSets::Needed,
            external: None,
        }
    }

    /// Checks every value that does not need the data.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.validate_counts()?;
        self.validate_rates()?;
        self.validate_loop()
    }

    /// Sizes and counts: each at least 1, and enough probe samples for the evaluators.
    fn validate_counts(&self) -> Result<(), ConfigError> {
        let positive = |setting, v: usize| {
            if v == 0 {
                Err(refuse(setting, "must be at least 1"))
            } else {
                Ok(())
            }
        };
        positive(Setting::Epochs, self.train.epochs)?;
        positive(Setting::BatchSize, self.train.batch_size)?;
        positive(Setting::LatentDim, self.model.latent_dim)?;
        positive(Setting::TrainSize, self.train_size.unwrap_or(1))?;
        positive(Setting::SyntheticSize, self.synthetic_size.unwrap_or(1))?;
        positive(Setting::TestSize, self.test_size.unwrap_or(1))?;
        positive(Setting::ProbeSamples, self.probe_samples)?;
        positive(Setting::EvalBatch, self.eval_batch)?;
        positive(Setting::EvaluatorEpochs, self.classifier.epochs)?;
        // The evaluators' nearest-neighbour balls need enough points on both sides.
        let balls = |setting, what: &str, n: usize| {
            let least = 2 * collapse_eval::prdc::K;
            match self.evaluate && n < least {
                true => Err(refuse(
                    setting,
                    format!(
                        "the evaluators need at least {least} {what} for their {}-nearest-neighbour balls",
                        collapse_eval::prdc::K
                    ),
                )),
                false => Ok(()),
            }
        };
        balls(Setting::ProbeSamples, "samples", self.probe_samples)?;
        // Without --test-size, `test_count` checks the dataset's whole test set.
        balls(
            Setting::TestSize,
            "test images",
            self.test_size.unwrap_or(usize::MAX),
        )?;
        if self.model.hidden.contains(&0) {
            return Err(refuse(Setting::Hidden, "every width must be at least 1"));
        }
        Ok(())
    }

    /// Rates, weights and scales: finite, and positive where zero means nothing.
    fn validate_rates(&self) -> Result<(), ConfigError> {
        let finite_positive = |setting, v: f64| {
            if v.is_finite() && v > 0.0 {
                Ok(())
            } else {
                Err(refuse(
                    setting,
                    format!("must be a finite number above 0, got {v}"),
                ))
            }
        };
        finite_positive(Setting::Lr, self.train.lr)?;
        finite_positive(Setting::PriorScale, self.prior_scale)?;
        if !(self.train.weight_decay.is_finite() && self.train.weight_decay >= 0.0) {
            return Err(refuse(Setting::WeightDecay, "must be 0 or more"));
        }
        if !(self.train.beta.is_finite() && self.train.beta >= 0.0) {
            return Err(refuse(Setting::Beta, "must be 0 or more"));
        }
        Ok(())
    }

    /// The loop's variant and the real data it keeps.
    fn validate_loop(&self) -> Result<(), ConfigError> {
        if !(0.0..=1.0).contains(&self.real_fraction) {
            return Err(refuse(
                Setting::RealFraction,
                format!("must be within [0, 1], got {}", self.real_fraction),
            ));
        }
        if !(0.0..1.0).contains(&self.cut_tail) {
            return Err(refuse(
                Setting::CutTail,
                format!("must be within [0, 1), got {}", self.cut_tail),
            ));
        }
        if self.mode == LoopMode::Accumulate && self.real_fraction > 0.0 {
            return Err(refuse(
                Setting::RealFraction,
                "applies to a chain that replaces its training set; an accumulating chain already keeps all real data",
            ));
        }
        if self.mode == LoopMode::Accumulate && self.stream {
            return Err(refuse(
                Setting::Stream,
                "draws fresh samples for each batch, so there are no earlier sets to accumulate",
            ));
        }
        if let Some(external) = &self.external {
            external.validate(self.stream)?;
        }
        Ok(())
    }

    /// Checks the values that depend on the dataset's size, and resolves the sizes.
    pub fn resolve_sizes(&mut self, available: usize) -> Result<(), ConfigError> {
        let train = self.train_size.unwrap_or(available);
        if train > available {
            return Err(refuse(
                Setting::TrainSize,
                format!(
                    "{train} is more than the {available} training images of {}",
                    self.dataset
                ),
            ));
        }
        self.train_size = Some(train);
        let kept = train - self.tail_cut_count();
        if kept == 0 {
            return Err(refuse(
                Setting::CutTail,
                format!("{} of {train} images leaves none", self.cut_tail),
            ));
        }
        self.synthetic_size = Some(self.synthetic_size.unwrap_or(kept));
        Ok(())
    }

    /// Test images scored out of the dataset's `available`; refuses more than it has.
    pub fn test_count(&self, available: usize) -> Result<usize, ConfigError> {
        match self.test_size {
            Some(n) if n > available => Err(refuse(
                Setting::TestSize,
                format!(
                    "{n} is more than the {available} test images of {}",
                    self.dataset
                ),
            )),
            Some(n) => Ok(n),
            None if self.evaluate && available < 2 * collapse_eval::prdc::K => Err(refuse(
                Setting::TestSize,
                format!(
                    "the evaluators need at least {} test images, and {} has {available}",
                    2 * collapse_eval::prdc::K,
                    self.dataset
                ),
            )),
            None => Ok(available),
        }
    }

    /// Real images the chain starts from, the first N, before its tail cut
    /// (after [`resolve_sizes`](Self::resolve_sizes)).
    pub fn real_size(&self) -> usize {
        self.train_size.unwrap_or(0)
    }

    /// Real images the tail cut leaves out (`round(cut × size)`).
    pub fn tail_cut_count(&self) -> usize {
        ((self.real_size() as f64) * self.cut_tail).round() as usize
    }

    /// Images per synthetic training set (after [`resolve_sizes`](Self::resolve_sizes)).
    pub fn synthetic_count(&self) -> usize {
        self.synthetic_size.unwrap_or(self.real_size())
    }

    /// How many real images a synthetic generation keeps (`round(f × size)`).
    pub fn kept_real(&self) -> usize {
        ((self.synthetic_count() as f64) * self.real_fraction).round() as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quick() -> ChainConfig {
        ChainConfig::preset(Preset::Quick, "mnist", "d".into(), "o".into())
    }

    #[test]
    fn presets_validate() {
        quick().validate().unwrap();
        ChainConfig::preset(Preset::Paper, "mnist", "d".into(), "o".into())
            .validate()
            .unwrap();
    }

    #[test]
    fn refuses_bad_values_naming_the_setting() {
        let mut c = quick();
        c.real_fraction = 1.5;
        assert_eq!(c.validate().unwrap_err().setting, Setting::RealFraction);
        let mut c = quick();
        c.train.epochs = 0;
        assert_eq!(c.validate().unwrap_err().setting, Setting::Epochs);
        let mut c = quick();
        c.train_size = Some(70_000);
        assert_eq!(
            c.resolve_sizes(60_000).unwrap_err().setting,
            Setting::TrainSize
        );
    }

    #[test]
    fn the_test_size_is_checked_against_the_evaluators_and_the_dataset() {
        let mut c = quick();
        assert_eq!(c.test_count(10_000), Ok(10_000), "all by default");
        assert_eq!(c.test_count(5).unwrap_err().setting, Setting::TestSize);
        c.test_size = Some(5);
        assert_eq!(c.validate().unwrap_err().setting, Setting::TestSize);
        c.evaluate = false;
        c.validate().unwrap();
        c.test_size = Some(2_000);
        assert_eq!(c.test_count(10_000), Ok(2_000));
        assert_eq!(c.test_count(1_000).unwrap_err().setting, Setting::TestSize);
    }

    #[test]
    fn sizes_default_to_generation_zero() {
        let mut c = quick();
        c.resolve_sizes(60_000).unwrap();
        assert_eq!((c.real_size(), c.synthetic_count()), (20_000, 20_000));
        c.real_fraction = 0.1;
        assert_eq!(c.kept_real(), 2_000);
    }

    #[test]
    fn a_tail_cut_shrinks_generation_zero_and_the_synthetic_sets() {
        let mut c = quick();
        c.cut_tail = 0.1;
        c.validate().unwrap();
        c.resolve_sizes(60_000).unwrap();
        assert_eq!(
            (c.real_size(), c.tail_cut_count(), c.synthetic_count()),
            (20_000, 2_000, 18_000)
        );
        c.cut_tail = 1.0;
        assert_eq!(c.validate().unwrap_err().setting, Setting::CutTail);
        let mut c = quick();
        c.cut_tail = 0.9;
        c.train_size = Some(1);
        assert_eq!(
            c.resolve_sizes(60_000).unwrap_err().to_string(),
            "tail cut: 0.9 of 1 images leaves none"
        );
    }
}

#[cfg(test)]
mod external_tests {
    use super::*;
    use crate::ChainSettings;

    fn resolved(toml: &str) -> Result<ChainConfig, ConfigError> {
        let settings = ChainSettings::from_table(&toml.parse().unwrap()).unwrap();
        settings.resolve(|_| "d".into(), |_| "o".into())
    }

    #[test]
    fn an_external_model_is_two_commands_checked_before_any_run() {
        let both = "external_train = \"fit {train} {model_dir} {seed}\"\nexternal_sample = \"draw {model_dir} {count} {samples}\"";
        let c = resolved(both).unwrap();
        let external = c.external.expect("an external model");
        assert_eq!(external.train, "fit {train} {model_dir} {seed}");
        assert_eq!(external.timeout, None);
        let err = |toml: &str| {
            let e = resolved(toml).unwrap_err();
            format!("{}: {}", e.setting.key(), e.message)
        };
        assert_eq!(
            err("external_train = \"fit {train}\""),
            "external_sample: is needed with a train command"
        );
        assert_eq!(
            err("external_timeout = 5.0"),
            "external_train: is needed with a time limit (it limits an external model's commands)"
        );
        assert!(
            err(&format!("{both}\nexternal_timeout = 0.0"))
                .starts_with("external_timeout: must be a positive number of seconds")
        );
        assert!(
            err("external_train = \"fit {data}\"\nexternal_sample = \"draw\"")
                .starts_with("external_train: {data} is not a placeholder of this command")
        );
        assert_eq!(
            err("external_train = \"fit 'open\"\nexternal_sample = \"draw\""),
            "external_train: an unclosed quote or a trailing backslash"
        );
        assert!(
            err(&format!("{both}\npreset = \"paper\""))
                .starts_with("stream: an external model is sampled into a written training set")
        );
        assert_eq!(
            resolved(&format!("{both}\nexternal_name = \"ppca-20\""))
                .unwrap()
                .external
                .and_then(|e| e.name)
                .as_deref(),
            Some("ppca-20")
        );
        assert_eq!(
            err(&format!("{both}\nexternal_name = \"my model\"")),
            "external_name: \"my model\" is not a short name: 1 to 40 letters, digits, `.`, `-` or `_`"
        );
        assert_eq!(
            err("external_name = \"ppca\""),
            "external_train: is needed with a name (it names an external model)"
        );
    }
}
