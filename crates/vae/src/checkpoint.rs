//! Checkpoints: the weights in Burn's burnpack format (`model.bpk`) with the
//! model's config beside them (`vae.json`), loadable on any backend.

use std::path::{Path, PathBuf};

use burn::config::Config;
use burn::module::Module;
use burn::prelude::*;

use crate::config::VaeConfig;
use crate::model::Vae;

/// File name of the weights inside a checkpoint folder.
pub const WEIGHTS: &str = "model.bpk";
/// File name of the model config inside a checkpoint folder.
pub const CONFIG: &str = "vae.json";

/// A checkpoint could not be written or read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CheckpointError {
    /// Writing failed.
    #[error("{}: cannot write checkpoint: {message}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// Reading failed, or the weights do not fit the config.
    #[error("{}: cannot read checkpoint: {message}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        message: String,
    },
}

/// Saves `model` and its `config` into `dir` (atomically, file by file).
pub fn save_checkpoint(dir: &Path, model: &Vae, config: &VaeConfig) -> Result<(), CheckpointError> {
    let write_err = |path: &Path, e: &dyn std::fmt::Display| CheckpointError::Write {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let weights = dir.join(WEIGHTS);
    let bytes = model
        .clone()
        .into_record()
        .into_bytes()
        .map_err(|e| write_err(&weights, &e))?;
    collapse_records::atomic::write(&weights, &bytes).map_err(|e| write_err(&weights, &e))?;
    let cfg = dir.join(CONFIG);
    collapse_records::atomic::write(&cfg, config.to_string().as_bytes())
        .map_err(|e| write_err(&cfg, &e))
}

/// Loads the checkpoint in `dir` onto `device`.
pub fn load_checkpoint(dir: &Path, device: &Device) -> Result<(Vae, VaeConfig), CheckpointError> {
    let cfg_path = dir.join(CONFIG);
    let read_err = |path: &Path, e: &dyn std::fmt::Display| CheckpointError::Read {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let config = VaeConfig::load(&cfg_path).map_err(|e| read_err(&cfg_path, &e))?;
    let weights = dir.join(WEIGHTS);
    let model = config
        .init(device)
        .try_load_file(&weights)
        .map_err(|e| read_err(&weights, &e))?;
    Ok((model, config))
}
