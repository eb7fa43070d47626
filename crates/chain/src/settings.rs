//! A chain's settings as a person gives them: each value optional, over a
//! preset. The one type is the flags of `collapse run`, the keys of a run's
//! config file, and a study's `[base]`, axes and conditions; merged field by
//! field, it resolves into a [`ChainConfig`].

use std::path::PathBuf;

use collapse_data::catalogue::{Catalogue, DatasetSpec};
use collapse_vae::{Architecture, SampleMode};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::backend::Backend;
use crate::config::{
    ChainConfig, ConfigError, ExternalModel, KeepSets, LoopMode, OnDivergence, Preset, Setting,
};

/// A chain's settings, each one optional: where one is not given, the
/// preset's value holds.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
#[serde(deny_unknown_fields)]
pub struct ChainSettings {
    /// Starting configuration [default: quick].
    #[cfg_attr(feature = "clap", arg(long, value_enum))]
    pub preset: Option<Preset>,
    /// Dataset name: mnist or fashion-mnist [default: mnist].
    #[cfg_attr(feature = "clap", arg(long))]
    pub dataset: Option<String>,
    /// Folder of the dataset's IDX files [default: datasets/DATASET, fetched on first use].
    #[cfg_attr(feature = "clap", arg(long))]
    pub data: Option<PathBuf>,
    /// Run folder to write [default: outputs/PRESET-YYYYMMDD-HHMMSS].
    #[cfg_attr(feature = "clap", arg(long))]
    pub out: Option<PathBuf>,
    /// VAE architecture.
    #[cfg_attr(feature = "clap", arg(long, value_enum))]
    pub model: Option<Architecture>,
    /// Latent dimensions.
    #[cfg_attr(feature = "clap", arg(long))]
    pub latent_dim: Option<usize>,
    /// Hidden widths of the MLP, comma-separated (e.g. 512,256).
    #[cfg_attr(feature = "clap", arg(long, value_delimiter = ','))]
    pub hidden: Option<Vec<usize>>,
    /// Weight of the KL term (1 = plain ELBO).
    #[cfg_attr(feature = "clap", arg(long))]
    pub beta: Option<f64>,
    /// Epochs per generation.
    #[cfg_attr(feature = "clap", arg(long))]
    pub epochs: Option<usize>,
    /// Images per optimisation step.
    #[cfg_attr(feature = "clap", arg(long))]
    pub batch_size: Option<usize>,
    /// Adam learning rate.
    #[cfg_attr(feature = "clap", arg(long))]
    pub lr: Option<f64>,
    /// Adam weight decay (L2 added to the gradient, as PyTorch's Adam).
    #[cfg_attr(feature = "clap", arg(long))]
    pub weight_decay: Option<f64>,
    /// Synthetic generations after generation 0.
    #[cfg_attr(feature = "clap", arg(long))]
    pub generations: Option<usize>,
    /// Use only the first N real training images.
    #[cfg_attr(feature = "clap", arg(long))]
    pub train_size: Option<usize>,
    /// Images per synthetic training set [default: generation 0's training size].
    #[cfg_attr(feature = "clap", arg(long))]
    pub synthetic_size: Option<usize>,
    /// Score only the first N real test images (evaluators, test likelihood, latent
    /// statistics) [default: all].
    #[cfg_attr(feature = "clap", arg(long))]
    pub test_size: Option<usize>,
    /// How synthetic images are drawn from the decoder.
    #[cfg_attr(feature = "clap", arg(long, value_enum))]
    pub sample: Option<SampleMode>,
    /// Draw every training batch fresh from the previous decoder (the authors' notebook);
    /// `--stream` alone means true, and `--stream=false` regenerates one training set per
    /// generation instead.
    #[cfg_attr(
        feature = "clap",
        arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL")
    )]
    pub stream: Option<bool>,
    /// Replace (train on the newest synthetic set) or accumulate (real + all synthetic sets).
    #[cfg_attr(feature = "clap", arg(long, value_enum))]
    pub mode: Option<LoopMode>,
    /// Fraction of real images kept in each synthetic generation's training set, in [0, 1].
    #[cfg_attr(feature = "clap", arg(long))]
    pub real_fraction: Option<f64>,
    /// Leave out of the real training set this share of its images, those the reference VAE
    /// finds least likely (the collapse profile's positive control) [default: 0].
    #[cfg_attr(feature = "clap", arg(long, value_name = "SHARE"))]
    pub cut_tail: Option<f64>,
    /// Sample z ~ N(0, s^2 I) with this s (below 1 biases sampling towards the mode).
    #[cfg_attr(feature = "clap", arg(long))]
    pub prior_scale: Option<f64>,
    /// Seed of every random stream; the same seed on a CPU backend gives the same run.
    #[cfg_attr(feature = "clap", arg(long))]
    pub seed: Option<u64>,
    /// Compute backend [default: flex].
    #[cfg_attr(feature = "clap", arg(long, value_enum))]
    pub device: Option<Backend>,
    /// Samples encoded by the generation-0 encoder (the probe) per generation.
    #[cfg_attr(feature = "clap", arg(long))]
    pub probe_samples: Option<usize>,
    /// Images per batch when sampling and evaluating (memory against speed).
    #[cfg_attr(feature = "clap", arg(long))]
    pub eval_batch: Option<usize>,
    /// Which generated training sets the run folder keeps: all, or only those a resume
    /// needs (an accumulating chain's) [default: needed]; `collapse sample --training-set`
    /// draws any other again.
    #[cfg_attr(feature = "clap", arg(long, value_enum))]
    pub keep_sets: Option<KeepSets>,
    /// Skip the frozen evaluators (classifier metrics, generation-0 likelihood, style
    /// statistics); `--no-eval` alone means true.
    #[cfg_attr(
        feature = "clap",
        arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL")
    )]
    pub no_eval: Option<bool>,
    /// Skip the collapse profile: no per-sample evidence kept, no profile.json (`collapse
    /// profile` draws the evidence again from the checkpoints); `--no-profile` alone means true.
    #[cfg_attr(
        feature = "clap",
        arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL")
    )]
    pub no_profile: Option<bool>,
    /// Epochs of the frozen classifier's training [default: 6].
    #[cfg_attr(feature = "clap", arg(long))]
    pub evaluator_epochs: Option<usize>,
    /// Real training images the frozen classifier uses [default: all].
    #[cfg_attr(feature = "clap", arg(long))]
    pub evaluator_images: Option<usize>,
    /// When a generation's loss becomes non-finite or explodes: stop (keeping completed
    /// generations), or retry it once with a new seed stream and half the learning rate.
    #[cfg_attr(feature = "clap", arg(long, value_enum))]
    pub on_divergence: Option<OnDivergence>,
    /// The command that trains a generation's model outside this tool, with --external-sample in
    /// place of the chain's VAE (docs/models.md).
    #[cfg_attr(feature = "clap", arg(long, value_name = "COMMAND"))]
    pub external_train: Option<String>,
    /// The command that draws images from such a model.
    #[cfg_attr(feature = "clap", arg(long, value_name = "COMMAND"))]
    pub external_sample: Option<String>,
    /// Seconds each command of an external model may run [default: no limit].
    #[cfg_attr(feature = "clap", arg(long, value_name = "SECONDS"))]
    pub external_timeout: Option<f64>,
    /// A short name of the external model (letters, digits, `.`, `-`, `_`): a study's folder
    /// names carry it in place of the commands.
    #[cfg_attr(feature = "clap", arg(long, value_name = "NAME"))]
    pub external_name: Option<String>,
}

/// A setting refused as written, before it is resolved.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{key}: {message}")]
pub struct SettingsError {
    /// The key as written.
    pub key: String,
    /// Why.
    pub message: String,
}

impl ChainSettings {
    /// Every key these settings have, as a table or a config file spells it.
    pub fn keys() -> Vec<String> {
        ChainSettings::default()
            .table()
            .into_iter()
            .map(|(k, _)| k)
            .collect()
    }

    /// The keys given (not left to the preset).
    pub fn given(&self) -> Vec<String> {
        self.table()
            .into_iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, _)| k)
            .collect()
    }

    /// Whether `key` is given.
    pub fn is_given(&self, key: &str) -> bool {
        self.table().get(key).is_some_and(|v| !v.is_null())
    }

    /// These settings over `base`: each value given here replaces base's.
    pub fn over(&self, base: &ChainSettings) -> ChainSettings {
        overlay(self, base)
    }

    /// Each field by its key, `null` where not given.
    fn table(&self) -> serde_json::Map<String, serde_json::Value> {
        match serde_json::to_value(self).expect("settings serialise") {
            serde_json::Value::Object(map) => map,
            _ => unreachable!("a struct serialises to an object"),
        }
    }

    /// The settings in a TOML table (a config file, a study's run), keyed by
    /// the fields' names, with `-` or `_` between words. An unknown key or a
    /// value of the wrong kind is an error naming the key.
    pub fn from_table(table: &toml::Table) -> Result<ChainSettings, SettingsError> {
        from_table(table, "chain")
    }

    /// The external model these settings give: both commands or neither.
    fn external(&self) -> Result<Option<ExternalModel>, ConfigError> {
        let needs = |setting, other: &str| ConfigError {
            setting,
            message: format!("is needed with {other}"),
        };
        match (&self.external_train, &self.external_sample) {
            (Some(train), Some(sample)) => Ok(Some(ExternalModel {
                train: train.clone(),
                sample: sample.clone(),
                timeout: self.external_timeout,
                name: self.external_name.clone(),
                workdir: Some(std::env::current_dir().map_err(|e| ConfigError {
                    setting: Setting::ExternalTrain,
                    message: format!("the folder its commands run in: {e}"),
                })?),
            })),
            (Some(_), None) => Err(needs(Setting::ExternalSample, "a train command")),
            (None, Some(_)) => Err(needs(Setting::ExternalTrain, "a sample command")),
            (None, None) if self.external_timeout.is_some() => Err(needs(
                Setting::ExternalTrain,
                "a time limit (it limits an external model's commands)",
            )),
            (None, None) if self.external_name.is_some() => Err(needs(
                Setting::ExternalTrain,
                "a name (it names an external model)",
            )),
            (None, None) => Ok(None),
        }
    }

    /// The dataset these settings name, from the catalogue.
    pub fn dataset_spec(&self) -> Result<DatasetSpec, ConfigError> {
        let name = self.dataset.as_deref().unwrap_or("mnist");
        Catalogue::get(name).ok_or_else(|| ConfigError {
            setting: Setting::Dataset,
            message: format!(
                "unknown dataset {name:?}; known: {}",
                Catalogue::names().join(", ")
            ),
        })
    }

    /// The preset these settings start from.
    pub fn preset(&self) -> Preset {
        self.preset.unwrap_or(Preset::Quick)
    }

    /// The backend these settings run on.
    pub fn backend(&self) -> Backend {
        self.device.unwrap_or(Backend::Flex)
    }

    /// The chain these settings describe: the preset's configuration with
    /// every given value over it, checked. Without `data` or `out`, the
    /// dataset's folder is `default_data(dataset)` and the run folder
    /// `default_out(preset)`.
    pub fn resolve(
        &self,
        default_data: impl FnOnce(&DatasetSpec) -> PathBuf,
        default_out: impl FnOnce(Preset) -> PathBuf,
    ) -> Result<ChainConfig, ConfigError> {
        let spec = self.dataset_spec()?;
        let data = self.data.clone().unwrap_or_else(|| default_data(&spec));
        let out = self
            .out
            .clone()
            .unwrap_or_else(|| default_out(self.preset()));
        let mut c = ChainConfig::preset(self.preset(), spec.name, data, out);
        c.model.image_dims = spec.image_dims;
        c.classifier.image_dims = spec.image_dims;
        c.classifier.classes = spec.classes;
        c.device = self.backend().name().to_string();
        set(&mut c.model.architecture, self.model);
        set(&mut c.model.latent_dim, self.latent_dim);
        set(&mut c.model.hidden, self.hidden.clone());
        set(&mut c.train.beta, self.beta);
        set(&mut c.train.epochs, self.epochs);
        set(&mut c.train.batch_size, self.batch_size);
        set(&mut c.train.lr, self.lr);
        set(&mut c.train.weight_decay, self.weight_decay);
        set(&mut c.generations, self.generations);
        set(&mut c.train_size, self.train_size.map(Some));
        set(&mut c.synthetic_size, self.synthetic_size.map(Some));
        set(&mut c.test_size, self.test_size.map(Some));
        set(&mut c.sample, self.sample);
        set(&mut c.stream, self.stream);
        set(&mut c.mode, self.mode);
        set(&mut c.real_fraction, self.real_fraction);
        set(&mut c.cut_tail, self.cut_tail);
        set(&mut c.prior_scale, self.prior_scale);
        set(&mut c.seed, self.seed);
        set(&mut c.probe_samples, self.probe_samples);
        set(&mut c.eval_batch, self.eval_batch);
        set(&mut c.keep_sets, self.keep_sets);
        set(&mut c.evaluate, self.no_eval.map(|skip| !skip));
        set(&mut c.profile, self.no_profile.map(|skip| !skip));
        set(&mut c.classifier.epochs, self.evaluator_epochs);
        set(&mut c.classifier.train_images, self.evaluator_images);
        set(&mut c.on_divergence, self.on_divergence);
        c.external = self.external()?;
        c.validate()?;
        Ok(c)
    }
}

/// Settings of any experiment from a TOML table (a config file, a study's
/// run), keyed by the fields' names with `-` or `_` between words; fields
/// the table leaves out are `T`'s defaults. An unknown key (not a `what`
/// setting) or a value of the wrong kind is an error naming the key.
pub fn from_table<T: Serialize + DeserializeOwned + Default>(
    table: &toml::Table,
    what: &str,
) -> Result<T, SettingsError> {
    let known = match serde_json::to_value(T::default()).expect("settings serialise") {
        serde_json::Value::Object(fields) => fields,
        _ => unreachable!("settings are a struct"),
    };
    let mut normal = toml::Table::new();
    for (key, value) in table {
        let field = key.replace('-', "_");
        if !known.contains_key(&field) {
            return Err(SettingsError {
                key: key.clone(),
                message: format!("not a {what} setting"),
            });
        }
        let one = toml::Table::from_iter([(field.clone(), value.clone())]);
        toml::Value::Table(one)
            .try_into::<T>()
            .map_err(|e| SettingsError {
                key: key.clone(),
                message: e.message().trim().to_string(),
            })?;
        normal.insert(field, value.clone());
    }
    Ok(toml::Value::Table(normal)
        .try_into()
        .expect("each key was read on its own"))
}

/// The settings `top` over `base`, field by field: each field `top` gives
/// (not `None`, not an empty list) replaces base's.
pub fn overlay<T: Serialize + DeserializeOwned>(top: &T, base: &T) -> T {
    let fields = |value: &T| match serde_json::to_value(value).expect("settings serialise") {
        serde_json::Value::Object(map) => map,
        _ => unreachable!("settings are a struct"),
    };
    let mut merged = fields(base);
    for (key, value) in fields(top) {
        let given = !value.is_null() && value.as_array().is_none_or(|a| !a.is_empty());
        if given {
            merged.insert(key, value);
        }
    }
    serde_json::from_value(serde_json::Value::Object(merged))
        .expect("the merge of two valid settings is valid")
}

fn set<T>(field: &mut T, value: Option<T>) {
    if let Some(v) = value {
        *field = v;
    }
}
