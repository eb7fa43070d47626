//! Sampling images from a VAE's decoder, in large batches on the device.

use burn::prelude::*;
use burn::tensor::Distribution;
use collapse_kernels::{sigmoid, sigmoid_of_batches};
use serde::{Deserialize, Serialize};

use crate::model::Vae;

/// How a generated image is made from the decoder's Bernoulli means.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum SampleMode {
    /// Decoder means, grey values (the paper's choice).
    Mean,
    /// One Bernoulli draw per pixel (binary images).
    Bernoulli,
}

impl std::fmt::Display for SampleMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SampleMode::Mean => "mean",
            SampleMode::Bernoulli => "bernoulli",
        })
    }
}

/// The decoder's means σ(logits) for the given latents.
///
/// # Shapes
/// - `z`: `[batch, latent]`; returns `[batch, pixels]`
pub fn decode_means(model: &Vae, z: Tensor<2>) -> Tensor<2> {
    sigmoid(model.decode(z))
}

/// Draws `count` images: z ~ N(0, s²I) with s = `prior_scale`, decoded in
/// batches of `batch`, as means or Bernoulli draws.
///
/// The model should be on a device without autodiff (use `Module::valid`).
///
/// # Shapes
/// - returns `[count, pixels]` on `device`
pub fn sample_images(
    model: &Vae,
    latent_dim: usize,
    count: usize,
    batch: usize,
    prior_scale: f64,
    mode: SampleMode,
    device: &Device,
) -> Tensor<2> {
    let draw = |start: usize| {
        let n = batch.min(count - start);
        Tensor::<2>::random(
            [n, latent_dim],
            Distribution::Normal(0.0, prior_scale),
            device,
        )
    };
    match mode {
        SampleMode::Mean => sigmoid_of_batches(count, batch, device, draw, |z| model.decode(z)),
        SampleMode::Bernoulli => {
            let images = (0..count).step_by(batch.max(1)).map(|start| {
                let means = decode_means(model, draw(start));
                means
                    .clone()
                    .greater(means.random_like(Distribution::Default))
                    .float()
            });
            Tensor::cat(images.collect(), 0)
        }
    }
}
