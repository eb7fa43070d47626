//! The flags of `collapse run`: a chain's settings (the chain crate's
//! [`ChainSettings`], the same type a config file and a study read), a
//! config file under them, and how this invocation runs; and the words of a
//! refused value, by the flag or the file's key that set it.

use std::path::{Path, PathBuf};

use anyhow::anyhow;
use clap::Args;
use collapse_chain::{ChainConfig, ChainSettings, ConfigError};
use collapse_data::DatasetSpec;

use super::timestamp;
use crate::usage;

/// Arguments of `collapse run`.
#[derive(Args, Debug, Default)]
#[command(allow_negative_numbers = true)]
pub struct RunArgs {
    /// Settings from a TOML file keyed by these flags' names (`epochs = 3`, `real_fraction = 0.1`,
    /// `stream = true`); flags given on the command line replace the file's.
    #[arg(long, value_name = "FILE.toml", conflicts_with = "resume")]
    pub config: Option<PathBuf>,
    /// The chain's settings.
    #[command(flatten)]
    pub settings: ChainSettings,
    /// Run one chain per seed: a study of one seed axis in --out (runs/seed-N/, report/), run
    /// here one seed after another; the same command again continues it.
    #[arg(long, value_delimiter = ',', conflicts_with_all = ["seed", "resume"])]
    pub seeds: Option<Vec<u64>>,
    /// No progress output on stderr.
    #[arg(long, short)]
    pub quiet: bool,
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

/// A run's settings, merged, and where each came from: the command line, or
/// a file (a config file, a study's run) under it.
#[derive(Clone, Debug)]
pub struct GivenSettings {
    /// The file's settings with the command line's over them.
    pub settings: ChainSettings,
    /// The command line's own.
    line: ChainSettings,
    /// The file the others came from, as a message names it.
    origin: Option<String>,
}

impl GivenSettings {
    /// Settings from the command line alone.
    pub fn line(line: ChainSettings) -> Self {
        GivenSettings {
            settings: line.clone(),
            line,
            origin: None,
        }
    }

    /// The settings of a file that `origin` names, with the command line's over them.
    pub fn file(origin: String, file: ChainSettings, line: ChainSettings) -> Self {
        GivenSettings {
            settings: line.over(&file),
            line,
            origin: Some(origin),
        }
    }

    /// The settings of `args`: its config file's, if it names one, under its flags.
    pub fn of(args: &RunArgs) -> anyhow::Result<Self> {
        match &args.config {
            None => Ok(GivenSettings::line(args.settings.clone())),
            Some(path) => {
                let file = read_settings(path).map_err(usage)?;
                let origin = path.display().to_string();
                Ok(GivenSettings::file(origin, file, args.settings.clone()))
            }
        }
    }

    /// A refusal of setting `key`'s value, named by the file and key where the
    /// value came from the file, else by the flag.
    pub fn refused(&self, key: &str, message: impl std::fmt::Display) -> anyhow::Error {
        match &self.origin {
            Some(origin) if !self.line.is_given(key) && self.settings.is_given(key) => {
                anyhow!("{origin}: {key}: {message}")
            }
            _ => anyhow!("{}: {message}", flag(key)),
        }
    }

    /// A refused configuration value, worded by where it was set.
    pub fn config_error(&self, e: ConfigError) -> anyhow::Error {
        usage(self.refused(e.setting.key(), e.message))
    }

    /// The chain these settings describe: the preset, every setting over
    /// it, checked before any work.
    pub fn resolve(&self) -> anyhow::Result<ChainConfig> {
        self.settings
            .resolve(DatasetSpec::default_dir, |preset| {
                Path::new("outputs").join(format!("{}-{}", preset.name(), timestamp()))
            })
            .map_err(|e| self.config_error(e))
    }
}

/// A refused configuration value, worded by the flag that sets it.
pub fn flag_error(e: ConfigError) -> anyhow::Error {
    usage(anyhow!("{}: {}", flag(e.setting.key()), e.message))
}

/// The flag that sets `key` (`real_fraction` → `--real-fraction`).
pub fn flag(key: &str) -> String {
    format!("--{}", key.replace('_', "-"))
}

/// A chain's settings from the TOML file `path`; a bad file or key is one
/// line naming the file (and the key).
pub fn read_settings(path: &Path) -> anyhow::Result<ChainSettings> {
    let text = std::fs::read_to_string(path).map_err(|e| anyhow!("{}: {e}", path.display()))?;
    let table: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| anyhow!("{}: {}", path.display(), e.message().trim()))?;
    ChainSettings::from_table(&table).map_err(|e| anyhow!("{}: {e}", path.display()))
}

/// The flags of `args` that would change a recorded run's science, as given.
pub fn science_flags(args: &RunArgs) -> Vec<String> {
    args.settings
        .given()
        .iter()
        .filter(|key| !["generations", "data"].contains(&key.as_str()))
        .map(|key| flag(key))
        .collect()
}

#[cfg(test)]
mod tests {
    use clap::Parser;
    use collapse_chain::{Backend, Setting};

    use super::*;
    use crate::flags::{Cli, Command};

    /// One value for each setting, unlike every preset's, as TOML and as a
    /// command line gives it.
    const SAMPLES: &[(&str, &str, &[&str])] = &[
        ("preset", "\"paper\"", &["--preset", "paper"]),
        (
            "dataset",
            "\"fashion-mnist\"",
            &["--dataset", "fashion-mnist"],
        ),
        ("data", "\"elsewhere\"", &["--data", "elsewhere"]),
        ("out", "\"runs/x\"", &["--out", "runs/x"]),
        ("model", "\"conv\"", &["--model", "conv"]),
        ("latent_dim", "7", &["--latent-dim", "7"]),
        ("hidden", "[512, 256]", &["--hidden", "512,256"]),
        ("beta", "0.5", &["--beta", "0.5"]),
        ("epochs", "3", &["--epochs", "3"]),
        ("batch_size", "64", &["--batch-size", "64"]),
        ("lr", "0.002", &["--lr", "0.002"]),
        ("weight_decay", "0.001", &["--weight-decay", "0.001"]),
        ("generations", "4", &["--generations", "4"]),
        ("train_size", "500", &["--train-size", "500"]),
        ("synthetic_size", "300", &["--synthetic-size", "300"]),
        ("test_size", "2000", &["--test-size", "2000"]),
        ("sample", "\"bernoulli\"", &["--sample", "bernoulli"]),
        ("stream", "true", &["--stream"]),
        ("mode", "\"accumulate\"", &["--mode", "accumulate"]),
        ("real_fraction", "0.1", &["--real-fraction", "0.1"]),
        ("cut_tail", "0.1", &["--cut-tail", "0.1"]),
        ("prior_scale", "0.8", &["--prior-scale", "0.8"]),
        ("seed", "9", &["--seed", "9"]),
        ("device", "\"ndarray\"", &["--device", "ndarray"]),
        ("probe_samples", "500", &["--probe-samples", "500"]),
        ("eval_batch", "250", &["--eval-batch", "250"]),
        ("keep_sets", "\"all\"", &["--keep-sets", "all"]),
        ("no_eval", "true", &["--no-eval"]),
        ("no_profile", "true", &["--no-profile"]),
        ("evaluator_epochs", "2", &["--evaluator-epochs", "2"]),
        ("evaluator_images", "1000", &["--evaluator-images", "1000"]),
        ("on_divergence", "\"retry\"", &["--on-divergence", "retry"]),
        (
            "external_train",
            "\"fit {train} {model_dir}\"",
            &["--external-train", "fit {train} {model_dir}"],
        ),
        (
            "external_sample",
            "\"draw {model_dir} {samples}\"",
            &["--external-sample", "draw {model_dir} {samples}"],
        ),
        ("external_timeout", "60.0", &["--external-timeout", "60"]),
        ("external_name", "\"ppca\"", &["--external-name", "ppca"]),
    ];

    /// An external model, over which each of its settings changes the chain.
    const EXTERNAL: &str =
        "external_train = \"train {train}\"\nexternal_sample = \"sample {samples}\"";

    fn from_flags(words: &[&str]) -> ChainSettings {
        let argv = ["collapse", "run"].iter().chain(words);
        let Command::Run(args) = Cli::try_parse_from(argv).unwrap().command else {
            unreachable!("the words start with run")
        };
        args.settings
    }

    fn from_toml(text: &str) -> ChainSettings {
        ChainSettings::from_table(&text.parse().unwrap()).unwrap()
    }

    fn resolved(settings: &ChainSettings) -> Option<ChainConfig> {
        settings.resolve(|_| "d".into(), |_| "o".into()).ok()
    }

    /// Every setting is a key of the TOML table and a flag of `run`, both
    /// give the same value, and the value reaches the chain's configuration.
    #[test]
    fn every_setting_is_a_flag_and_a_key_and_reaches_the_config() {
        let mut keys: Vec<&str> = SAMPLES.iter().map(|(k, _, _)| *k).collect();
        keys.sort();
        let mut fields = ChainSettings::keys();
        fields.sort();
        assert_eq!(keys, fields, "one sample per field of ChainSettings");
        for (key, value, words) in SAMPLES {
            let file = from_toml(&format!("{key} = {value}"));
            let line = from_flags(words);
            assert_eq!(file, line, "{key}: the file and the flag differ");
            assert_eq!(file.given(), [key.to_string()], "{key}");
            // Over the quick preset, the paper one (which streams already) or an
            // external model (whose commands go together), the value changes the
            // chain's configuration.
            let bases = [
                ChainSettings::default(),
                from_toml("preset = \"paper\""),
                from_toml(EXTERNAL),
            ];
            let reaches = bases.iter().any(|base| {
                let set = resolved(&file.over(base));
                set.is_some() && set != resolved(base)
            });
            assert!(reaches, "{key} does not reach ChainConfig");
        }
        let paper = from_toml("preset = \"paper\"\nstream = false");
        assert!(
            !resolved(&paper).unwrap().stream,
            "stream = false turns streaming off"
        );
        assert!(from_flags(&["--stream=false"]).stream == Some(false));
        assert!(
            from_toml("probe-samples = 3").probe_samples == Some(3),
            "dashes or underscores"
        );
    }

    /// Each setting a refusal names is a field of the settings.
    #[test]
    fn refusals_name_settings_that_exist() {
        let fields = ChainSettings::keys();
        let all = [
            Setting::Dataset,
            Setting::Epochs,
            Setting::BatchSize,
            Setting::LatentDim,
            Setting::Hidden,
            Setting::Lr,
            Setting::WeightDecay,
            Setting::Beta,
            Setting::TrainSize,
            Setting::SyntheticSize,
            Setting::TestSize,
            Setting::RealFraction,
            Setting::Stream,
            Setting::PriorScale,
            Setting::ProbeSamples,
            Setting::EvalBatch,
            Setting::EvaluatorEpochs,
            Setting::ExternalTrain,
            Setting::ExternalSample,
            Setting::ExternalTimeout,
            Setting::ExternalName,
        ];
        for s in all {
            assert!(fields.contains(&s.key().to_string()), "{s:?}");
        }
    }

    #[test]
    fn the_command_line_replaces_the_file_and_refusals_name_their_source() {
        let file = from_toml("epochs = 3\nreal_fraction = 0.25\nhidden = [512]");
        let given = GivenSettings::file("run.toml".into(), file, from_flags(&["--epochs", "5"]));
        assert_eq!(given.settings.epochs, Some(5));
        assert_eq!(given.settings.real_fraction, Some(0.25));
        assert_eq!(given.settings.hidden, Some(vec![512]));
        assert_eq!(
            given.refused("real_fraction", "too big").to_string(),
            "run.toml: real_fraction: too big"
        );
        assert_eq!(given.refused("epochs", "no").to_string(), "--epochs: no");
        assert_eq!(given.refused("seed", "no").to_string(), "--seed: no");
        assert_eq!(flag("probe_samples"), "--probe-samples");
        let device = GivenSettings::line(from_flags(&["--device", "wgpu"]));
        assert_eq!(device.settings.backend(), Backend::Wgpu);
    }

    #[test]
    fn bad_tables_name_the_key() {
        let err = |text: &str| {
            ChainSettings::from_table(&text.parse().unwrap())
                .unwrap_err()
                .to_string()
        };
        assert_eq!(err("epoch = 3"), "epoch: not a chain setting");
        assert!(
            err("epochs = \"ten\"").starts_with("epochs: invalid type: string"),
            "{}",
            err("epochs = \"ten\"")
        );
        assert!(
            err("stream = 1").starts_with("stream: invalid type: integer"),
            "{}",
            err("stream = 1")
        );
        assert!(
            err("preset = \"huge\"").starts_with("preset: unknown variant `huge`"),
            "{}",
            err("preset = \"huge\"")
        );
        assert!(
            err("seed = { a = 1 }").starts_with("seed: invalid type"),
            "{}",
            err("seed = { a = 1 }")
        );
    }
}
