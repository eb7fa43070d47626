//! Evaluation of a VAE over a whole image set, in large batches on the device.

use burn::prelude::*;

use crate::loss::{LossParts, loss_parts};
use crate::model::Vae;

/// Reads a tensor back to the host as `f32`, whatever its stored float type.
pub fn to_host<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data()
        .try_into_vec_as::<f32>()
        .expect("a float tensor converts to f32")
}

/// Mean negative ELBO per image and its two parts, in nats.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EvalStats {
    /// Reconstruction + KL.
    pub nelbo: f64,
    /// Summed binary cross-entropy.
    pub recon: f64,
    /// KL(q(z|x) ‖ N(0, I)).
    pub kl: f64,
}

/// Single-sample negative ELBO parts of every image of `images`
/// (`[count, pixels]`) under `model` (without autodiff), computed in batches
/// of `batch` and kept on the device.
pub fn per_image_parts(model: &Vae, images: &Tensor<2>, batch: usize) -> LossParts {
    let count = images.dims()[0];
    let (recon, kl): (Vec<_>, Vec<_>) = (0..count)
        .step_by(batch.max(1))
        .map(|start| {
            let x = images.clone().slice(start..(start + batch).min(count));
            let (logits, mu, logvar) = model.forward(x.clone());
            let parts = loss_parts(logits, mu, logvar, x);
            (parts.recon, parts.kl)
        })
        .unzip();
    LossParts {
        recon: Tensor::cat(recon, 0),
        kl: Tensor::cat(kl, 0),
    }
}

/// Single-sample negative ELBO of `images` (`[count, pixels]`) under `model`
/// (without autodiff), averaged per image; one read from the device at the end.
pub fn evaluate(model: &Vae, images: &Tensor<2>, batch: usize) -> EvalStats {
    let count = images.dims()[0];
    if count == 0 {
        return EvalStats {
            nelbo: f64::NAN,
            recon: f64::NAN,
            kl: f64::NAN,
        };
    }
    let parts = per_image_parts(model, images, batch);
    let values = to_host(Tensor::cat(vec![parts.recon.sum(), parts.kl.sum()], 0));
    let n = count as f64;
    let (recon, kl) = (f64::from(values[0]) / n, f64::from(values[1]) / n);
    EvalStats {
        nelbo: recon + kl,
        recon,
        kl,
    }
}

/// The encoder's outputs over a whole image set.
#[derive(Clone, Debug)]
pub struct Posterior {
    /// `[count, latent]`.
    pub mu: Tensor<2>,
    /// `[count, latent]`.
    pub logvar: Tensor<2>,
}

/// Encodes `images` in batches of `batch`, keeping the results on the device.
pub fn encode_all(model: &Vae, images: &Tensor<2>, batch: usize) -> Posterior {
    let count = images.dims()[0];
    let (mus, logvars): (Vec<_>, Vec<_>) = (0..count)
        .step_by(batch.max(1))
        .map(|start| model.encode(images.clone().slice(start..(start + batch).min(count))))
        .unzip();
    Posterior {
        mu: Tensor::cat(mus, 0),
        logvar: Tensor::cat(logvars, 0),
    }
}
