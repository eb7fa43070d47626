//! Configurations of the model and of its training, saved as JSON with each run.

use burn::config::Config;
use serde::{Deserialize, Serialize};

/// Which network the VAE uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum Architecture {
    /// Fully connected 784-400-20 (pytorch/examples).
    Mlp,
    /// The authors' convolutional VAE (Shumailov et al., `VAE_experiments.ipynb`;
    /// 647,081 parameters).
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
