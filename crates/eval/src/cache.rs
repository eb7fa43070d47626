//! The classifier's cache next to the dataset: trained once per dataset and
//! config, then loaded by every run.
//!
//! ```text
//! <dataset folder>/evaluators/classifier-<key>/
//!   model.bpk          the weights (burnpack)
//!   classifier.json    ClassifierRecord, written last: its presence marks a complete entry
//!   training.lock      held (an OS file lock) by the process training the entry
//! ```
//!
//! Runs that start together (the chains of a study) need the same entry: the
//! first takes the training lock and trains, the others wait on it and then
//! load what it stored.
//!
//! The key is the SHA-256 of the dataset's file checksums and the config's
//! JSON, so another dataset or recipe never picks up a stale network.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::module::Module;
use burn::prelude::*;
use collapse_data::Dataset;
use collapse_records::ClassifierInfo;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::classifier::{Classifier, ClassifierConfig, ClassifierEpoch, train_classifier};
use crate::error::EvalError;

/// Folder of the cache inside the dataset's folder.
pub const CACHE_DIR: &str = "evaluators";
/// The weights' file name.
const WEIGHTS: &str = "model.bpk";
/// The record's file name, written last.
const RECORD: &str = "classifier.json";
/// The file whose OS lock the training process holds.
const TRAINING_LOCK: &str = "training.lock";

/// `classifier.json`: what was trained, on what, and how well it does.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClassifierRecord {
    /// Cache key.
    pub key: String,
    /// The dataset's catalogue name.
    pub dataset: String,
    /// The config, as JSON.
    pub config: serde_json::Value,
    /// Accuracy on the real test set.
    pub test_accuracy: f64,
    /// Training images used.
    pub train_images: usize,
    /// The backend it was trained on.
    pub trained_on: String,
    /// Training wall time, seconds.
    pub seconds: f64,
}

impl ClassifierRecord {
    /// The part of the record that goes into every evaluation.
    pub fn info(&self) -> ClassifierInfo {
        ClassifierInfo {
            key: self.key.clone(),
            test_accuracy: self.test_accuracy,
        }
    }
}

/// The cache key of `config` for `dataset`.
pub fn cache_key(dataset: &Dataset, config: &ClassifierConfig) -> String {
    let mut hash = Sha256::new();
    for file in &dataset.provenance {
        hash.update(file.sha256.as_bytes());
    }
    hash.update(config.to_string().as_bytes());
    let digest = hash.finalize();
    digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// The cache entry's folder for `config` on the dataset in `data_dir`.
pub fn entry_dir(data_dir: &Path, dataset: &Dataset, config: &ClassifierConfig) -> PathBuf {
    data_dir
        .join(CACHE_DIR)
        .join(format!("classifier-{}", cache_key(dataset, config)))
}

/// What `load_or_train` reports.
#[derive(Clone, Copy, Debug)]
pub enum CacheEvent<'a> {
    /// Another process is training this folder's classifier: waiting for it.
    Waiting(&'a Path),
    /// No cached classifier: training one into this folder.
    Training(&'a Path),
    /// An epoch of that training ended.
    Epoch(ClassifierEpoch),
    /// A cached classifier was loaded.
    Loaded(&'a Path),
}

/// Loads the classifier for `dataset` and `config` from the cache in
/// `data_dir`, or trains it on `device` (seeded from `config.seed`), measures
/// its test accuracy and stores it there.
pub fn load_or_train(
    data_dir: &Path,
    dataset: &Dataset,
    config: &ClassifierConfig,
    device: &Device,
    backend: &str,
    on_event: &mut dyn FnMut(CacheEvent<'_>),
) -> Result<(Classifier, ClassifierRecord), EvalError> {
    let dir = entry_dir(data_dir, dataset, config);
    let load_cached = |on_event: &mut dyn FnMut(CacheEvent<'_>)| -> Result<_, EvalError> {
        let loaded = load(&dir, config, device)?;
        on_event(CacheEvent::Loaded(&dir));
        Ok(loaded)
    };
    if dir.join(RECORD).is_file() {
        return load_cached(on_event);
    }
    std::fs::create_dir_all(&dir).map_err(|e| EvalError::unwritable_cache(&dir, e))?;
    let _training = training_lock(&dir, &mut || on_event(CacheEvent::Waiting(&dir)))?;
    if dir.join(RECORD).is_file() {
        return load_cached(on_event);
    }
    on_event(CacheEvent::Training(&dir));
    let (model, record) = train_and_test(dataset, config, device, backend, &mut |epoch| {
        on_event(CacheEvent::Epoch(epoch))
    });
    store(&dir, &model, &record)?;
    Ok((model, record))
}

/// Holds the training lock of the cache entry in `dir`, calling `on_wait`
/// and waiting while another process holds it. Where the file system has no
/// OS locks there is nothing to hold: runs that meet there each train the
/// same seeded network, and the atomic writes keep the entry whole.
pub fn training_lock(dir: &Path, on_wait: &mut dyn FnMut()) -> Result<Option<File>, EvalError> {
    let path = dir.join(TRAINING_LOCK);
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| EvalError::unwritable_cache(&path, e))?;
    let locked = match file.try_lock() {
        Err(TryLockError::WouldBlock) => {
            on_wait();
            file.lock()
        }
        Err(TryLockError::Error(e)) => Err(e),
        Ok(()) => Ok(()),
    };
    match locked {
        Ok(()) => Ok(Some(file)),
        Err(e) if collapse_records::lock::no_os_locks(&e) => Ok(None),
        Err(e) => Err(EvalError::io(&path, e)),
    }
}

/// The complete cache entry in `dir`: its record, then its weights.
fn load(
    dir: &Path,
    config: &ClassifierConfig,
    device: &Device,
) -> Result<(Classifier, ClassifierRecord), EvalError> {
    let record_path = dir.join(RECORD);
    let text = std::fs::read_to_string(&record_path).map_err(|e| EvalError::io(&record_path, e))?;
    let record: ClassifierRecord =
        serde_json::from_str(&text).map_err(|e| EvalError::cache(&record_path, e.to_string()))?;
    let weights = dir.join(WEIGHTS);
    let model = config
        .init(device)
        .try_load_file(&weights)
        .map_err(|e| EvalError::cache(&weights, e.to_string()))?;
    Ok((model, record))
}

/// Trains the classifier on `dataset`'s training split, seeded from
/// `config.seed`, and measures its accuracy on the test split.
fn train_and_test(
    dataset: &Dataset,
    config: &ClassifierConfig,
    device: &Device,
    backend: &str,
    on_epoch: &mut dyn FnMut(ClassifierEpoch),
) -> (Classifier, ClassifierRecord) {
    let started = Instant::now();
    let pixels = dataset.pixels();
    let (images, labels) =
        crate::split_tensors(&dataset.train, pixels, config.train_images, device);
    let train_images = images.dims()[0];
    let autodiff = device.clone().autodiff();
    device.seed(config.seed);
    let model = train_classifier(config, &autodiff, &images, &labels, on_epoch);
    let (test_images, test_labels) = crate::split_tensors(&dataset.test, pixels, 0, device);
    let test_accuracy = model.accuracy(&test_images, &test_labels, 1000);
    let record = ClassifierRecord {
        key: cache_key(dataset, config),
        dataset: dataset.spec.name.to_string(),
        config: serde_json::from_str(&config.to_string()).unwrap_or(serde_json::Value::Null),
        test_accuracy,
        train_images,
        trained_on: backend.to_string(),
        seconds: started.elapsed().as_secs_f64(),
    };
    (model, record)
}

/// Writes the weights, then the record that marks the entry in `dir` complete.
fn store(dir: &Path, model: &Classifier, record: &ClassifierRecord) -> Result<(), EvalError> {
    let weights = dir.join(WEIGHTS);
    let bytes = model
        .clone()
        .into_record()
        .into_bytes()
        .map_err(|e| EvalError::cache(&weights, e.to_string()))?;
    collapse_records::atomic::write(&weights, &bytes).map_err(|e| EvalError::io(&weights, e))?;
    let record_path = dir.join(RECORD);
    let mut text = serde_json::to_string_pretty(record)
        .map_err(|e| EvalError::cache(&record_path, e.to_string()))?;
    text.push('\n');
    collapse_records::atomic::write(&record_path, text.as_bytes())
        .map_err(|e| EvalError::io(&record_path, e))
}
