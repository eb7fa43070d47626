//! The two VAE networks behind one enum.

use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig, ConvTranspose2d, ConvTranspose2dConfig};
use burn::nn::{Linear, LinearConfig, PaddingConfig2d};
use burn::prelude::*;

use collapse_kernels::{conv_transpose2d_nhwc, conv2d_nhwc, dense as dense_layer};

use crate::config::{Architecture, VaeConfig};

/// Stride of every convolution of the conv VAE.
const STRIDE: usize = 2;
/// Padding of every convolution of the conv VAE.
const PADDING: usize = 1;

/// Fully connected VAE: `pixels → hidden… → (μ, log σ²)`, `latent → …hidden → pixels`.
#[derive(Module, Debug)]
pub struct MlpVae {
    encoder: Vec<Linear>,
    mu: Linear,
    logvar: Linear,
    decoder: Vec<Linear>,
    output: Linear,
}

/// The authors' convolutional VAE.
///
/// Encoder: Conv2d(1→64, k4, s2, p1) → ReLU → Conv2d(64→128, k4, s2, p1) → ReLU →
/// flatten → two Linear heads. Decoder: Linear → 128×7×7 → ConvTranspose2d(128→64,
/// k4, s2, p1) → ReLU → ConvTranspose2d(64→1, k4, s2, p1). 647,081 parameters for
/// 28×28 images and 20 latent dimensions.
#[derive(Module, Debug)]
pub struct ConvVae {
    conv1: Conv2d,
    conv2: Conv2d,
    mu: Linear,
    logvar: Linear,
    expand: Linear,
    deconv1: ConvTranspose2d,
    deconv2: ConvTranspose2d,
    /// `[channels of conv2, height / 4, width / 4]`.
    feature_shape: [usize; 3],
}

/// A VAE of either architecture.
#[derive(Module, Debug)]
#[allow(clippy::large_enum_variant)]
pub enum Vae {
    /// See [`MlpVae`].
    Mlp(MlpVae),
    /// See [`ConvVae`].
    Conv(ConvVae),
}

fn linear_chain(widths: &[usize], device: &Device) -> Vec<Linear> {
    widths
        .windows(2)
        .map(|w| LinearConfig::new(w[0], w[1]).init(device))
        .collect()
}

impl VaeConfig {
    /// Builds a freshly initialised VAE on `device`.
    pub fn init(&self, device: &Device) -> Vae {
        let d = self.latent_dim;
        match self.architecture {
            Architecture::Mlp => {
                let mut widths = vec![self.pixels()];
                widths.extend(&self.hidden);
                let last = *widths.last().expect("non-empty");
                let mut back: Vec<usize> = vec![d];
                back.extend(self.hidden.iter().rev());
                Vae::Mlp(MlpVae {
                    encoder: linear_chain(&widths, device),
                    mu: LinearConfig::new(last, d).init(device),
                    logvar: LinearConfig::new(last, d).init(device),
                    decoder: linear_chain(&back, device),
                    output: LinearConfig::new(*back.last().expect("non-empty"), self.pixels())
                        .init(device),
                })
            }
            Architecture::Conv => {
                let [c1, c2] = self.channels;
                let [h, w] = self.image_dims;
                let flat = c2 * (h / 4) * (w / 4);
                let conv = |i, o| {
                    Conv2dConfig::new([i, o], [4, 4])
                        .with_stride([STRIDE, STRIDE])
                        .with_padding(PaddingConfig2d::Explicit(
                            PADDING, PADDING, PADDING, PADDING,
                        ))
                        .init(device)
                };
                let deconv = |i, o| {
                    ConvTranspose2dConfig::new([i, o], [4, 4])
                        .with_stride([STRIDE, STRIDE])
                        .with_padding([PADDING, PADDING])
                        .init(device)
                };
                Vae::Conv(ConvVae {
                    conv1: conv(1, c1),
                    conv2: conv(c1, c2),
                    mu: LinearConfig::new(flat, d).init(device),
                    logvar: LinearConfig::new(flat, d).init(device),
                    expand: LinearConfig::new(d, flat).init(device),
                    deconv1: deconv(c2, c1),
                    deconv2: deconv(c1, 1),
                    feature_shape: [c2, h / 4, w / 4],
                })
            }
        }
    }
}

/// `layer` on `x`, through a ReLU if `relu`.
fn dense(layer: &Linear, x: Tensor<2>, relu: bool) -> Tensor<2> {
    let bias = layer.bias.as_ref().map(|b| b.val());
    dense_layer(x, layer.weight.val(), bias, relu)
}

impl MlpVae {
    fn encode(&self, x: Tensor<2>) -> (Tensor<2>, Tensor<2>) {
        let h = self
            .encoder
            .iter()
            .fold(x, |h, layer| dense(layer, h, true));
        (
            dense(&self.mu, h.clone(), false),
            dense(&self.logvar, h, false),
        )
    }

    fn decode(&self, z: Tensor<2>) -> Tensor<2> {
        let h = self
            .decoder
            .iter()
            .fold(z, |h, layer| dense(layer, h, true));
        dense(&self.output, h, false)
    }
}

impl ConvVae {
    /// Channels last all the way: the kernels choose each convolution's path
    /// for the device. One image channel makes `[b, h, w, 1]` the same values
    /// as `[b, 1, h, w]`.
    fn encode(&self, x: Tensor<2>) -> (Tensor<2>, Tensor<2>) {
        let [b, _] = x.dims();
        let [c, fh, fw] = self.feature_shape;
        let x = x.reshape([b, fh * 4, fw * 4, 1]);
        let h = nhwc_conv(&self.conv1, x);
        let h = nhwc_conv(&self.conv2, h).reshape([b, fh * fw * c]);
        // The heads' weights read channels first (as Burn's layout and the
        // checkpoints have them): their rows are put in the features' order,
        // rather than the whole batch's features in theirs.
        let head = |layer: &Linear| {
            let [_, d] = layer.weight.dims();
            let weight = layer.weight.val().reshape([c, fh, fw, d]);
            let weight = weight.permute([1, 2, 0, 3]).reshape([fh * fw * c, d]);
            let bias = layer.bias.as_ref().map(|b| b.val());
            dense_layer(h.clone(), weight, bias, false)
        };
        (head(&self.mu), head(&self.logvar))
    }

    fn decode(&self, z: Tensor<2>) -> Tensor<2> {
        let [b, _] = z.dims();
        let [c, fh, fw] = self.feature_shape;
        // `expand`'s columns (and bias) put in channels-last order, so its
        // output is already the first transposed convolution's input.
        let [d, _] = self.expand.weight.dims();
        let weight = self.expand.weight.val().reshape([d, c, fh, fw]);
        let weight = weight.permute([0, 2, 3, 1]).reshape([d, fh * fw * c]);
        let bias = self.expand.bias.as_ref().map(|b| {
            let b = b.val().reshape([c, fh, fw]);
            b.permute([1, 2, 0]).reshape([fh * fw * c])
        });
        let h = dense_layer(z, weight, bias, false).reshape([b, fh, fw, c]);
        let h = nhwc_deconv(&self.deconv1, h, true);
        // One output channel: `[b, h, w, 1]` flattens like `[b, 1, h, w]`.
        nhwc_deconv(&self.deconv2, h, false).flatten(1, 3)
    }
}

/// `layer` and its ReLU on a channels-last batch.
fn nhwc_conv(layer: &Conv2d, x: Tensor<4>) -> Tensor<4> {
    let bias = layer.bias.as_ref().map(|b| b.val());
    conv2d_nhwc(x, layer.weight.val(), bias, [STRIDE, PADDING], true)
}

/// `layer` on a channels-last batch, through a ReLU if `relu`.
fn nhwc_deconv(layer: &ConvTranspose2d, x: Tensor<4>, relu: bool) -> Tensor<4> {
    let bias = layer.bias.as_ref().map(|b| b.val());
    conv_transpose2d_nhwc(x, layer.weight.val(), bias, [STRIDE, PADDING], relu)
}

impl Vae {
    /// Encodes images into the posterior's mean and log-variance.
    ///
    /// # Shapes
    /// - `x`: `[batch, pixels]`, values in `[0, 1]`
    /// - returns `(μ, log σ²)`, each `[batch, latent]`
    pub fn encode(&self, x: Tensor<2>) -> (Tensor<2>, Tensor<2>) {
        match self {
            Vae::Mlp(m) => m.encode(x),
            Vae::Conv(m) => m.encode(x),
        }
    }

    /// Decodes latents into Bernoulli logits (the decoder's means are their sigmoid).
    ///
    /// # Shapes
    /// - `z`: `[batch, latent]`
    /// - returns `[batch, pixels]`
    pub fn decode(&self, z: Tensor<2>) -> Tensor<2> {
        match self {
            Vae::Mlp(m) => m.decode(z),
            Vae::Conv(m) => m.decode(z),
        }
    }

    /// Encodes, samples z by the reparameterisation trick, and decodes.
    ///
    /// # Shapes
    /// - `x`: `[batch, pixels]`
    /// - returns `(logits [batch, pixels], μ [batch, latent], log σ² [batch, latent])`
    pub fn forward(&self, x: Tensor<2>) -> (Tensor<2>, Tensor<2>, Tensor<2>) {
        self.forward_with_noise(x, |mu| {
            mu.random_like(burn::tensor::Distribution::Normal(0.0, 1.0))
        })
    }

    /// [`forward`](Self::forward) with the standard-normal noise ε of
    /// z = μ + ε·σ given by `noise` (called with μ, returns ε of μ's shape),
    /// so that backends can be compared on identical noise.
    pub fn forward_with_noise(
        &self,
        x: Tensor<2>,
        noise: impl FnOnce(&Tensor<2>) -> Tensor<2>,
    ) -> (Tensor<2>, Tensor<2>, Tensor<2>) {
        let (mu, logvar) = self.encode(x);
        let eps = noise(&mu);
        let z = mu.clone() + eps * (logvar.clone() * 0.5).exp();
        (self.decode(z), mu, logvar)
    }
}
