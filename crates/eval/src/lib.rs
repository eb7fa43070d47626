//! Frozen evaluators of a chain's samples (Shumailov et al.'s tails, measured
//! in image space): a LeNet-like classifier trained once on the real data and
//! cached next to the dataset, its class statistics, the Fréchet distance and
//! precision/recall/density/coverage in its feature space, the negative ELBO
//! under the frozen generation-0 VAE, and image-moment style statistics.
//!
//! Everything per image or per pair runs on the device in large batches; the
//! host sees per-image rows (the evidence the collapse profile reads) and
//! small matrices only. This crate returns `collapse_records` records and
//! [`Evidence`], which it writes as `.npy` arrays where the caller asks.

#![deny(missing_docs)]

pub mod cache;
pub mod classifier;
pub mod error;
pub mod evaluator;
pub mod evidence;
pub mod linalg;
pub mod prdc;
pub mod style;

pub use cache::{CacheEvent, ClassifierRecord, load_or_train};
pub use classifier::{Classifier, ClassifierConfig, ClassifierEpoch};
pub use error::EvalError;
pub use evaluator::Evaluator;
pub use evidence::{Evidence, PER_SAMPLE, Scalar};

use burn::prelude::*;
use collapse_data::dataset::Split;

/// The images (`[count, pixels]` in `[0, 1]`) and labels of a split on
/// `device`; `limit` > 0 keeps only the first `limit`.
pub fn split_tensors(
    split: &Split,
    pixels: usize,
    limit: usize,
    device: &Device,
) -> (Tensor<2>, Tensor<1, Int>) {
    let count = if limit > 0 {
        limit.min(split.len())
    } else {
        split.len()
    };
    let images = collapse_data::idx::unit_f32(&split.images[..count * pixels]);
    let labels: Vec<i64> = split.labels[..count]
        .iter()
        .map(|&l| i64::from(l))
        .collect();
    (
        Tensor::from_data(TensorData::new(images, [count, pixels]), device),
        Tensor::from_data(TensorData::new(labels, [count]), device),
    )
}
