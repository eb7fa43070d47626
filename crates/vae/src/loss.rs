//! The VAE loss: binary cross-entropy summed over pixels plus β·KL.
//!
//! Targets are grey values in `[0, 1]` (not binarised), as in the authors'
//! notebook. The cross-entropy is computed from logits in its stable form
//! `max(l, 0) − x·l + log(1 + e^{−|l|})`, which equals
//! `−x·log σ(l) − (1 − x)·log(1 − σ(l))` without overflow.

use burn::prelude::*;
use collapse_kernels::bce_with_logits_rows;

/// Per-image parts of the negative ELBO.
#[derive(Clone, Debug)]
pub struct LossParts {
    /// Reconstruction term: BCE summed over pixels, `[batch]`.
    pub recon: Tensor<1>,
    /// KL(q(z|x) ‖ N(0, I)), `[batch]`.
    pub kl: Tensor<1>,
}

/// KL(N(μ, σ²) ‖ N(0, I)) per row, in nats.
///
/// # Shapes
/// - `mu`, `logvar`: `[batch, latent]`
/// - returns `[batch, latent]` (not yet summed, so callers can keep per-dimension values)
pub fn kl_per_dim(mu: Tensor<2>, logvar: Tensor<2>) -> Tensor<2> {
    (mu.square() + logvar.clone().exp() - logvar - 1.0) * 0.5
}

/// The two parts of the negative ELBO for each image of a batch.
///
/// # Shapes
/// - `logits`, `x`: `[batch, pixels]`; `mu`, `logvar`: `[batch, latent]`
pub fn loss_parts(logits: Tensor<2>, mu: Tensor<2>, logvar: Tensor<2>, x: Tensor<2>) -> LossParts {
    LossParts {
        recon: bce_with_logits_rows(logits, x),
        kl: kl_per_dim(mu, logvar).sum_dim(1).squeeze_dim(1),
    }
}
