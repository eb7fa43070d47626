//! The records of a run folder (`outputs/NAME/`), as written to disk.
//!
//! ```text
//! outputs/NAME/
//!   manifest.json        Manifest: provenance, resolved config, timings
//!   metrics.csv          one MetricsRow per generation
//!   samples.gif          the sample grids of all generations
//!   plots/*.png          plots redrawn by `collapse report`
//!   gen-NNN/             one folder per generation:
//!     samples.png, reconstructions.png, latents.json (LatentStats),
//!     probe.json (ProbeStats), metrics.json (its MetricsRow), model.bpk,
//!     vae.json, train-images-idx3-*.gz, and COMPLETE, written last
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize, de::DeserializeOwned};

use crate::error::RecordError;
use crate::evaluation::EvalSummary;
use crate::profile::Interval;
use crate::stats::{Histogram, Quantile};

/// `probe.json`: a generation's samples encoded by the generation-0 encoder
/// (the tails-vanishing evidence of Shumailov et al.).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProbeStats {
    /// The generation whose samples were encoded.
    pub generation: usize,
    /// Number of samples encoded.
    pub samples: usize,
    /// Mean of μ pooled over samples and latent dimensions.
    pub mu_mean: f64,
    /// Standard deviation of μ pooled over samples and latent dimensions.
    pub mu_std: f64,
    /// Standard deviation of μ per latent dimension.
    pub per_dim_std: Vec<f64>,
    /// Pooled quantiles 1/5/25/50/75/95/99 %.
    pub quantiles: Vec<Quantile>,
    /// Pooled histogram, fixed bins over [-4, 4] for every generation.
    pub histogram: Histogram,
    /// Fraction of pooled μ values with |μ| > 2.
    pub tail_mass: f64,
}

/// The aggregate posterior q(z) = mean over x of N(μ(x), σ²(x)).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AggregatePosterior {
    /// Mean of q(z) per dimension.
    pub mean: Vec<f64>,
    /// Trace of its covariance (Cov[μ] + diag(mean σ²)).
    pub cov_trace: f64,
    /// Natural log-determinant of its covariance.
    pub cov_logdet: f64,
}

/// `latents.json`: this generation's encoder over the real test set.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LatentStats {
    /// The generation.
    pub generation: usize,
    /// Number of test images encoded.
    pub images: usize,
    /// Mean of μ per dimension.
    pub mu_mean: Vec<f64>,
    /// Variance of μ per dimension (the activity of Burda et al. 2015).
    pub mu_var: Vec<f64>,
    /// Mean σ² per dimension.
    pub mean_sigma2: Vec<f64>,
    /// Mean KL(q(z|x) ‖ N(0, I)) per dimension, nats.
    pub kl_per_dim: Vec<f64>,
    /// Threshold on `mu_var` for a unit to count as active.
    pub active_threshold: f64,
    /// Number of dimensions whose `mu_var` exceeds the threshold.
    pub active_units: usize,
    /// The aggregate posterior.
    pub aggregate: AggregatePosterior,
}

/// A generation's VAE measured on the real test set: its likelihood and its
/// active latent units. A model without an encoder has none.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ModelFit {
    /// Negative ELBO per image on the real test set (nats).
    pub test_nelbo: f64,
    /// Its reconstruction part (summed binary cross-entropy).
    pub test_recon: f64,
    /// Its KL part.
    pub test_kl: f64,
    /// Active latent units on the real test set.
    pub active_units: usize,
}

/// One row of `metrics.csv`: its columns are [`crate::columns::COLUMNS`],
/// written and read by [`crate::columns::write_metrics_csv`] and [`crate::columns::read_metrics_csv`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MetricsRow {
    /// Generation number (0 = trained on real data).
    pub generation: usize,
    /// Images per training epoch.
    pub train_size: usize,
    /// Fraction of those that are real images.
    pub real_fraction: f64,
    /// Mean training loss per image over the last epoch (nats); none for a
    /// model that does not report one.
    pub train_loss: Option<f64>,
    /// The model's own fit of the real test set, where the model is a VAE.
    #[serde(flatten)]
    pub fit: Option<ModelFit>,
    /// Probe: pooled mean of the generation-0 encoder's μ on this generation's samples.
    pub probe_mu_mean: f64,
    /// Probe: pooled standard deviation of that μ.
    pub probe_mu_std: f64,
    /// Probe: fraction of |μ| > 2.
    pub probe_tail_mass: f64,
    /// Wall time of the generation, seconds.
    pub seconds: f64,
    /// The frozen evaluators' headline figures for this generation's samples.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eval: Option<EvalSummary>,
    /// The collapse profile's bootstrap interval of each headline figure, by
    /// its column (a profiled chain's).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub intervals: BTreeMap<String, Interval>,
}

/// The device a run used, as recorded in the manifest.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DeviceRecord {
    /// Backend name as given to `--device` (`flex`, `ndarray`, `wgpu`, `vulkan`, `cuda`).
    pub backend: String,
    /// The adapter's name where the backend reports one (wgpu), else a description.
    pub adapter: String,
    /// `cpu`, `gpu` or `software` (a software rasterizer such as lavapipe).
    pub kind: String,
    /// What compiles and runs the kernels: `flex`, `ndarray`, `cuda`, `wgpu<wgsl>` or
    /// `wgpu<spirv>`.
    pub runtime: String,
    /// `f32`, or `tf32` where matrix multiplies and convolutions on tensor cores round
    /// their f32 inputs to TF32 (10-bit mantissa; accumulation and storage stay f32).
    pub precision: String,
    /// Kernel features of the build on this backend: `fusion`, `autotune`.
    pub kernels: Vec<String>,
    /// Folder of the autotuner's measured kernel choices, relative to the run
    /// folder (`tuning`, or `../tuning` for a seed of a study); reused on resume.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tuning_cache: Option<String>,
}

/// The dataset a run used.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DatasetRecord {
    /// Catalogue name.
    pub name: String,
    /// Folder read.
    pub dir: PathBuf,
    /// One entry per file read.
    pub files: Vec<DatasetFileRecord>,
}

/// One dataset file as read by a run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DatasetFileRecord {
    /// Path read.
    pub path: PathBuf,
    /// SHA-256 of the decompressed contents.
    pub sha256: String,
    /// Whether it matches the catalogue.
    pub matches_catalogue: bool,
}

/// Wall time of one generation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GenerationTiming {
    /// The generation.
    pub generation: usize,
    /// Seconds from its start to its last file.
    pub seconds: f64,
    /// The commands of an external model the generation ran, in order (its
    /// training set drawn from the previous model, its training, its probe);
    /// none for the chain's own VAE.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub commands: Vec<CommandRecord>,
}

/// One command of an external model, as the manifest records it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CommandRecord {
    /// `train` or `sample`.
    pub command: String,
    /// The generation whose model it trained or sampled.
    pub model_generation: usize,
    /// The program and its arguments, placeholders filled in.
    pub argv: Vec<String>,
    /// Its exit status.
    pub exit_code: i32,
    /// Its wall time, seconds.
    pub seconds: f64,
    /// What a `sample` command drew.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub samples: Option<SamplesRecord>,
}

/// The images a `sample` command wrote.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SamplesRecord {
    /// How many.
    pub count: usize,
    /// SHA-256 of their values as little-endian `float32`, image after image
    /// (NumPy: `hashlib.sha256(a.astype('<f4').tobytes()).hexdigest()`), so
    /// two runs' draws compare whatever file layout held them.
    pub sha256: String,
}

/// Which experiment a run folder holds, as its manifest says.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Experiment {
    /// A VAE generation chain.
    Chain,
    /// A Gaussian refitted to its own samples.
    Gaussian,
    /// A Gaussian mixture refitted to its own samples.
    Gmm,
}

impl Experiment {
    /// Its key, as a manifest and a study spec spell it.
    pub fn key(self) -> &'static str {
        match self {
            Experiment::Chain => "chain",
            Experiment::Gaussian => "gaussian",
            Experiment::Gmm => "gmm",
        }
    }

    /// Its name in words.
    pub fn words(self) -> &'static str {
        match self {
            Experiment::Chain => "VAE chain",
            Experiment::Gaussian => "recursive Gaussian fit",
            Experiment::Gmm => "recursive Gaussian-mixture fit",
        }
    }
}

/// `manifest.json`: what ran, where, on what, and how long it took.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// The run-folder format ([`FORMAT_VERSION`](crate::FORMAT_VERSION) when written).
    pub format_version: u64,
    /// The experiment: [`Experiment::Chain`].
    pub experiment: Experiment,
    /// Tool name and version (`collapse 0.1.0`).
    pub tool: String,
    /// Start time, RFC 3339 UTC.
    pub started: String,
    /// End time, RFC 3339 UTC; `None` while the run is in progress.
    pub finished: Option<String>,
    /// The command line as given.
    pub command_line: Vec<String>,
    /// The resolved configuration (preset plus flags).
    pub config: serde_json::Value,
    /// The seed.
    pub seed: u64,
    /// The device actually used.
    pub device: DeviceRecord,
    /// Trainable parameters of the VAE.
    pub parameters: usize,
    /// The dataset and its checksums.
    pub dataset: DatasetRecord,
    /// Per-generation wall time.
    pub generations: Vec<GenerationTiming>,
    /// When the run was resumed after an interruption, RFC 3339 UTC, one entry per resume.
    pub resumed: Vec<String>,
    /// Generations restarted after their loss diverged (`--on-divergence retry`).
    pub retries: Vec<RetryRecord>,
}

/// A generation restarted after its loss diverged.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RetryRecord {
    /// The generation.
    pub generation: usize,
    /// What diverged, in words.
    pub reason: String,
    /// The learning rate of the retry.
    pub lr: f64,
}

/// Writes `value` as pretty JSON, atomically.
pub fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<(), RecordError> {
    let mut text = serde_json::to_string_pretty(value).map_err(|source| RecordError::Json {
        path: path.to_path_buf(),
        source,
    })?;
    text.push('\n');
    crate::atomic::write(path, text.as_bytes()).map_err(|e| RecordError::io(path, e))
}

/// Reads a JSON record.
pub fn read_json<T: DeserializeOwned>(path: &Path) -> Result<T, RecordError> {
    let text = std::fs::read_to_string(path).map_err(|e| RecordError::io(path, e))?;
    serde_json::from_str(&text).map_err(|source| RecordError::Json {
        path: path.to_path_buf(),
        source,
    })
}

/// Reads the JSON record at `path`, or `None` when there is no such file
/// (a run made before the record existed).
pub fn read_optional<T: DeserializeOwned>(path: &Path) -> Result<Option<T>, RecordError> {
    if path.exists() {
        read_json(path).map(Some)
    } else {
        Ok(None)
    }
}

/// The folder of generation `g` inside a run folder (`gen-007`).
pub fn generation_dir(run: &Path, generation: usize) -> PathBuf {
    run.join(format!("gen-{generation:03}"))
}

/// The generation whose folder `dir` is named after (`gen-007` is 7), the
/// inverse of [`generation_dir`].
pub fn generation_of(dir: &Path) -> Option<usize> {
    dir.file_name()?
        .to_str()?
        .strip_prefix("gen-")?
        .parse()
        .ok()
}
