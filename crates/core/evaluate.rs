//! `collapse evaluator train` and `collapse compare`, and the words for the
//! classifier cache's progress.

use std::path::{Path, PathBuf};

use anyhow::anyhow;
use collapse_eval::{CacheEvent, ClassifierConfig, load_or_train};

use crate::Failure;
use crate::args::{ClassifierFlags, CompareArgs, EvaluatorTrainArgs};
use crate::backend;
use crate::run::{dataset_spec, default_data_dir, load_dataset, timestamp, verified};

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

/// One line on the classifier cache's progress.
pub fn describe(event: &CacheEvent<'_>) -> String {
    match event {
        CacheEvent::Training(dir) => format!(
            "training the frozen classifier (once per dataset) into {}",
            dir.display()
        ),
        CacheEvent::Epoch(e) => format!(
            "  classifier epoch {}/{}: cross-entropy {:.4}",
            e.epoch, e.epochs, e.loss
        ),
        CacheEvent::Loaded(dir) => format!("frozen classifier: {}", dir.display()),
    }
}

/// `collapse evaluator train`.
pub fn evaluator_train(args: EvaluatorTrainArgs) -> Result<(), Failure> {
    let spec = dataset_spec(&args.dataset)?;
    let explicit = args.data.is_some();
    let data = args.data.unwrap_or_else(|| default_data_dir(&spec));
    let mut config = ClassifierConfig::new();
    config.image_dims = spec.image_dims;
    config.classes = spec.classes;
    args.classifier.apply(&mut config);
    if config.epochs == 0 {
        return Err(Failure::input(anyhow!(
            "--evaluator-epochs: must be at least 1"
        )));
    }
    let dataset = verified(load_dataset(spec, &data, explicit, false)?, false)?;
    let selected = backend::select(args.device).map_err(Failure::input)?;
    let (_, record) = load_or_train(
        &data,
        &dataset,
        &config,
        &selected.device,
        &selected.record.backend,
        args.device.conv_impl(),
        &mut |e| eprintln!("{}", describe(&e)),
    )
    .map_err(Failure::run)?;
    println!(
        "{} classifier {}: test accuracy {:.2} % ({} training images, trained on {} in {:.0} s)",
        record.dataset,
        record.key,
        record.test_accuracy * 100.0,
        record.train_images,
        record.trained_on,
        record.seconds
    );
    Ok(())
}

/// `collapse compare`.
pub fn compare(args: CompareArgs) -> Result<(), Failure> {
    for run in &args.runs {
        if !run.join("metrics.csv").is_file() {
            return Err(Failure::input(anyhow!(
                "{}: not a run folder (no metrics.csv)",
                run.display()
            )));
        }
    }
    let out = args
        .out
        .unwrap_or_else(|| Path::new("outputs").join(format!("compare-{}", timestamp())));
    let compared = collapse_report::compare_runs(&args.runs, &out).map_err(Failure::run)?;
    for label in &compared.labels {
        println!("run: {label}");
    }
    for f in &compared.files {
        println!("{}", out.join(f).display());
    }
    Ok(())
}

/// The folders of a `--seeds` run, one per seed.
pub fn seed_dirs(parent: &Path, seeds: &[u64]) -> Vec<(u64, PathBuf)> {
    seeds
        .iter()
        .map(|&s| (s, parent.join(format!("seed-{s}"))))
        .collect()
}
