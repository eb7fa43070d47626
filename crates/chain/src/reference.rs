//! The reference VAE of a chain whose models have no encoder: the VAE the
//! built-in chain of the same settings trains as its generation 0 (the real
//! training set, generation 0's random streams). It encodes every
//! generation's probe and gives the evaluators their likelihood under
//! generation 0, so every model's chain gets the probe and the likelihood
//! view. Like the frozen classifier it is trained once and cached next to
//! the dataset:
//!
//! ```text
//! <dataset folder>/evaluators/reference-vae-<key>/
//!   model.bpk, vae.json   the VAE's checkpoint
//!   reference.json        ReferenceRecord, written last: its presence marks a complete entry
//!   training.lock         held (an OS file lock) by the process training the entry
//! ```
//!
//! The key is the SHA-256 of the dataset's file checksums and of the recipe
//! (the VAE, its training, the real images it sees, the seed), so the chains
//! of a study with one recipe share one entry and another recipe never
//! picks up a stale network.

use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::prelude::*;
use collapse_data::Dataset;
use collapse_eval::cache::{CACHE_DIR, training_lock};
use collapse_records::{RecordError, write_json};
use collapse_vae::{ShuffledImages, Vae};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::config::ChainConfig;
use crate::error::ChainError;
use crate::model::{Attempt, ModelFamily, VaeFamily};
use crate::seeds::{Purpose, stream_seed};

/// The record's file name, written last.
const RECORD: &str = "reference.json";

/// `reference.json`: the recipe of a cached reference VAE and how it was made.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReferenceRecord {
    /// Cache key.
    pub key: String,
    /// The dataset's catalogue name.
    pub dataset: String,
    /// The recipe, as JSON: the VAE, its training, real images, seed.
    pub recipe: serde_json::Value,
    /// The backend it was trained on.
    pub trained_on: String,
    /// Training wall time, seconds.
    pub seconds: f64,
}

/// What [`load_or_train`] reports.
#[derive(Clone, Copy, Debug)]
pub enum ReferenceEvent<'a> {
    /// Another process is training this entry: waiting for it.
    Waiting(&'a Path),
    /// No cached reference VAE: training one into this folder.
    Training(&'a Path),
    /// The cached reference VAE in this folder was loaded.
    Loaded(&'a Path),
}

/// The recipe of `config`'s reference VAE, as JSON.
fn recipe(config: &ChainConfig) -> serde_json::Value {
    serde_json::json!({
        "model": config.model,
        "train": config.train,
        "train_images": config.real_size(),
        "seed": config.seed,
    })
}

/// The cache entry's folder of `config`'s reference VAE on `dataset`.
pub fn entry_dir(config: &ChainConfig, dataset: &Dataset) -> PathBuf {
    let mut hash = Sha256::new();
    for file in &dataset.provenance {
        hash.update(file.sha256.as_bytes());
    }
    hash.update(recipe(config).to_string().as_bytes());
    let key: String = hash.finalize()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    config
        .data
        .join(CACHE_DIR)
        .join(format!("reference-vae-{key}"))
}

/// Loads `config`'s reference VAE from its cache entry `dir`, or trains it on
/// `real_train` on `device` and stores it there.
pub fn load_or_train(
    config: &ChainConfig,
    dir: &Path,
    dataset: &str,
    real_train: &Tensor<2>,
    device: &Device,
    on_event: &mut dyn FnMut(ReferenceEvent<'_>),
) -> Result<Vae, ChainError> {
    let family = VaeFamily::new(config, device);
    let load = |on_event: &mut dyn FnMut(ReferenceEvent<'_>)| {
        let vae = family.load(dir)?;
        on_event(ReferenceEvent::Loaded(dir));
        Ok(vae)
    };
    if dir.join(RECORD).is_file() {
        return load(on_event);
    }
    std::fs::create_dir_all(dir).map_err(|e| RecordError::io(dir, e))?;
    let _training = training_lock(dir, &mut || on_event(ReferenceEvent::Waiting(dir)))?;
    if dir.join(RECORD).is_file() {
        return load(on_event);
    }
    on_event(ReferenceEvent::Training(dir));
    let started = Instant::now();
    let attempt = Attempt {
        generation: 0,
        lr: config.train.lr,
        init_seed: stream_seed(config.seed, 0, Purpose::Init),
        train_seed: stream_seed(config.seed, 0, Purpose::Train),
    };
    let mut source = ShuffledImages::new(real_train.clone());
    let (vae, _) = family
        .train(&mut source, attempt, &mut |_| {})
        .map_err(|e| e.in_generation(0, false))?;
    // The checkpoint's files are written atomically, the record that marks
    // the entry complete last.
    family.save(&vae, dir)?;
    let key = dir
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.strip_prefix("reference-vae-"))
        .unwrap_or_default();
    let record = ReferenceRecord {
        key: key.to_string(),
        dataset: dataset.to_string(),
        recipe: recipe(config),
        trained_on: config.device.clone(),
        seconds: started.elapsed().as_secs_f64(),
    };
    write_json(&dir.join(RECORD), &record)?;
    Ok(vae)
}
