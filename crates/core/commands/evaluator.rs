//! `collapse evaluator train`, and the words for the classifier cache's progress.

use anyhow::anyhow;
use collapse_eval::{CacheEvent, ClassifierConfig, load_or_train};

use crate::backend;
use crate::datasets::{dataset_spec, load_dataset, verified};
use crate::flags::EvaluatorTrainArgs;
use crate::usage;

/// One line on the classifier cache's progress.
pub fn describe(event: &CacheEvent<'_>) -> String {
    match event {
        CacheEvent::Waiting(dir) => format!(
            "waiting for the frozen classifier another process is training into {}",
            dir.display()
        ),
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
pub fn evaluator_train(args: EvaluatorTrainArgs) -> anyhow::Result<()> {
    let spec = dataset_spec(&args.dataset)?;
    let explicit = args.data.is_some();
    let data = args.data.unwrap_or_else(|| spec.default_dir());
    let mut config = ClassifierConfig::new();
    config.image_dims = spec.image_dims;
    config.classes = spec.classes;
    if let Some(epochs) = args.evaluator_epochs {
        config.epochs = epochs;
    }
    if let Some(images) = args.evaluator_images {
        config.train_images = images;
    }
    if config.epochs == 0 {
        return Err(usage(anyhow!("--evaluator-epochs: must be at least 1")));
    }
    let dataset = verified(load_dataset(spec, &data, explicit, false)?, false)?;
    let selected = backend::select(args.device).map_err(usage)?;
    let (_, record) = load_or_train(
        &data,
        &dataset,
        &config,
        &selected.device,
        &selected.record.backend,
        &mut |e| eprintln!("{}", describe(&e)),
    )?;
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
