//! Configurations of the model and of its training, saved as JSON with each run.

use burn::config::Config;
use burn::prelude::Device;
use serde::{Deserialize, Serialize};

/// Which network the VAE uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Architecture {
    /// Fully connected encoder and decoder (784-400-20 by default, as the
    /// classic pytorch/examples VAE).
    Mlp,
    /// The authors' convolutional VAE (Shumailov et al., `VAE_experiments.ipynb`):
    /// two stride-2 convolutions, linear heads, two stride-2 transposed convolutions.
    Conv,
}

impl std::fmt::Display for Architecture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Architecture::Mlp => "mlp",
            Architecture::Conv => "conv",
        })
    }
}

/// How the conv VAE computes its convolutions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConvImpl {
    /// Burn's `conv2d` / `conv_transpose2d`.
    Burn,
    /// The project's lowering to unfold (im2col) and matrix multiplies
    /// ([`crate::lowered`]); the faster path on both CPU backends.
    Matmul,
    /// The lowering while training (on an autodiff device), Burn's
    /// convolutions for sampling and encoding: flex's default while Burn's
    /// convolutions sampled faster there, kept so that runs recorded with it
    /// resume on the same paths.
    Hybrid,
}

impl std::fmt::Display for ConvImpl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ConvImpl::Burn => "burn",
            ConvImpl::Matmul => "matmul",
            ConvImpl::Hybrid => "hybrid",
        })
    }
}

impl ConvImpl {
    /// Whether the lowering computes the convolutions on `device`.
    pub fn lowers_on(self, device: &Device) -> bool {
        match self {
            ConvImpl::Burn => false,
            ConvImpl::Matmul => true,
            ConvImpl::Hybrid => device.is_autodiff(),
        }
    }
}

/// The VAE's shape.
#[derive(Config, Debug, PartialEq)]
pub struct VaeConfig {
    /// The network family.
    pub architecture: Architecture,
    /// Latent dimensions.
    #[config(default = 20)]
    pub latent_dim: usize,
    /// Hidden widths of the MLP encoder (the decoder mirrors them).
    #[config(default = "vec![400]")]
    pub hidden: Vec<usize>,
    /// Channels of the two convolutions of the conv encoder (the decoder mirrors them).
    #[config(default = "[64, 128]")]
    pub channels: [usize; 2],
    /// Image height and width (the conv net needs both divisible by 4).
    #[config(default = "[28, 28]")]
    pub image_dims: [usize; 2],
    /// How the conv net computes its convolutions (same weights either way).
    #[config(default = "ConvImpl::Burn")]
    pub conv_impl: ConvImpl,
}

impl VaeConfig {
    /// Pixels per image.
    pub fn pixels(&self) -> usize {
        self.image_dims[0] * self.image_dims[1]
    }
}

/// How a VAE is trained.
#[derive(Config, Debug, PartialEq)]
pub struct TrainConfig {
    /// Passes over the training set.
    #[config(default = 30)]
    pub epochs: usize,
    /// Images per optimisation step.
    #[config(default = 256)]
    pub batch_size: usize,
    /// Adam's learning rate.
    #[config(default = 1e-3)]
    pub lr: f64,
    /// L2 penalty added to the gradient (PyTorch Adam's `weight_decay`).
    #[config(default = 1e-5)]
    pub weight_decay: f64,
    /// Weight of the KL term (β-VAE; 1 is the plain ELBO).
    #[config(default = 1.0)]
    pub beta: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hybrid lowers exactly where gradients are tracked (training).
    #[test]
    fn hybrid_lowers_only_on_autodiff_devices() {
        let (plain, tracked) = (Device::flex(), Device::flex().autodiff());
        assert!(ConvImpl::Hybrid.lowers_on(&tracked));
        assert!(!ConvImpl::Hybrid.lowers_on(&plain));
        for device in [&plain, &tracked] {
            assert!(ConvImpl::Matmul.lowers_on(device));
            assert!(!ConvImpl::Burn.lowers_on(device));
        }
    }
}
