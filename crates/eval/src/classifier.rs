//! The frozen digit classifier: a small LeNet-like CNN trained once on the
//! real training set and cached next to the dataset.
//!
//! Two 5×5 convolutions (16 and 32 channels, ReLU, 2×2 max pooling), a hidden
//! layer whose ReLU activations are the feature space of the Fréchet distance
//! and of precision/recall, and a linear read-out to the classes.

use burn::config::Config;
use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::loss::CrossEntropyLossConfig;
use burn::nn::{Linear, LinearConfig, PaddingConfig2d};
use burn::optim::{AdamConfig, GradientsParams};
use burn::prelude::*;
use burn::tensor::activation::{relu, softmax};
use collapse_kernels::{apply_conv2d, relu_max_pool2};
use collapse_vae::batches::permutation;
use collapse_vae::to_host;

/// Kernel size of both convolutions.
const KERNEL: usize = 5;

/// The classifier's shape and training recipe. Part of its cache key.
#[derive(Config, Debug, PartialEq)]
pub struct ClassifierConfig {
    /// Image height and width.
    #[config(default = "[28, 28]")]
    pub image_dims: [usize; 2],
    /// Classes.
    #[config(default = 10)]
    pub classes: usize,
    /// Channels of the two convolutions.
    #[config(default = "[16, 32]")]
    pub channels: [usize; 2],
    /// Width of the hidden (feature) layer.
    #[config(default = 128)]
    pub features: usize,
    /// Training epochs over the real training set.
    #[config(default = 6)]
    pub epochs: usize,
    /// Images per batch.
    #[config(default = 128)]
    pub batch_size: usize,
    /// Adam's learning rate (decayed by half each epoch after the third).
    #[config(default = 2e-3)]
    pub lr: f64,
    /// Real training images used (`0` = all of them).
    #[config(default = 0)]
    pub train_images: usize,
    /// Seed of the initialisation and the batch order.
    #[config(default = 0)]
    pub seed: u64,
}

/// The classifier network.
#[derive(Module, Debug)]
pub struct Classifier {
    conv1: Conv2d,
    conv2: Conv2d,
    hidden: Linear,
    output: Linear,
    /// `[height, width]` of the images.
    image_dims: [usize; 2],
}

impl ClassifierConfig {
    /// Height and width after the two convolution + pooling stages.
    fn pooled_dims(&self) -> [usize; 2] {
        // conv1 keeps the size (padding 2), pool halves; conv2 shrinks by 4, pool halves.
        self.image_dims.map(|d| (d / 2 - (KERNEL - 1)) / 2)
    }

    /// Builds a freshly initialised classifier on `device`.
    pub fn init(&self, device: &Device) -> Classifier {
        let [c1, c2] = self.channels;
        let [h, w] = self.pooled_dims();
        Classifier {
            conv1: Conv2dConfig::new([1, c1], [KERNEL, KERNEL])
                .with_padding(PaddingConfig2d::Explicit(2, 2, 2, 2))
                .init(device),
            conv2: Conv2dConfig::new([c1, c2], [KERNEL, KERNEL]).init(device),
            hidden: LinearConfig::new(c2 * h * w, self.features).init(device),
            output: LinearConfig::new(self.features, self.classes).init(device),
            image_dims: self.image_dims,
        }
    }
}

impl Classifier {
    fn conv(&self, layer: &Conv2d, x: Tensor<4>, padding: usize) -> Tensor<4> {
        apply_conv2d(layer, x, 1, padding)
    }

    /// The hidden-layer features and the class logits.
    ///
    /// # Shapes
    /// - `images`: `[batch, pixels]` in `[0, 1]`
    /// - returns `([batch, features], [batch, classes])`
    pub fn forward(&self, images: Tensor<2>) -> (Tensor<2>, Tensor<2>) {
        let [batch, _] = images.dims();
        let [h, w] = self.image_dims;
        let x = images.reshape([batch, 1, h, w]);
        let x = relu_max_pool2(self.conv(&self.conv1, x, 2));
        let x = relu_max_pool2(self.conv(&self.conv2, x, 0));
        let features = relu(self.hidden.forward(x.flatten(1, 3)));
        let logits = self.output.forward(features.clone());
        (features, logits)
    }

    /// Features and class probabilities of `images`, in batches of `batch`,
    /// kept on the device.
    ///
    /// # Shapes
    /// - returns `([count, features], [count, classes])`
    pub fn score(&self, images: &Tensor<2>, batch: usize) -> (Tensor<2>, Tensor<2>) {
        let count = images.dims()[0];
        let (features, probs): (Vec<_>, Vec<_>) = (0..count)
            .step_by(batch.max(1))
            .map(|start| {
                let (f, logits) =
                    self.forward(images.clone().slice(start..(start + batch).min(count)));
                (f, softmax(logits, 1))
            })
            .unzip();
        (Tensor::cat(features, 0), Tensor::cat(probs, 0))
    }

    /// Share of `images` whose predicted class equals `labels`.
    pub fn accuracy(&self, images: &Tensor<2>, labels: &Tensor<1, Int>, batch: usize) -> f64 {
        let (_, probs) = self.score(images, batch);
        let correct = probs
            .argmax(1)
            .squeeze_dim::<1>(1)
            .equal(labels.clone())
            .float()
            .mean();
        f64::from(to_host(correct)[0])
    }
}

/// Progress of the classifier's training.
#[derive(Clone, Copy, Debug)]
pub struct ClassifierEpoch {
    /// 1-based epoch.
    pub epoch: usize,
    /// Epochs in all.
    pub epochs: usize,
    /// Mean cross-entropy over the epoch.
    pub loss: f64,
}

/// Trains a classifier on the autodiff `device` from `images`
/// (`[count, pixels]`) and their `labels`; the device must have been seeded
/// by the caller.
pub fn train_classifier(
    config: &ClassifierConfig,
    device: &Device,
    images: &Tensor<2>,
    labels: &Tensor<1, Int>,
    on_epoch: &mut dyn FnMut(ClassifierEpoch),
) -> Classifier {
    let mut model = config.init(device);
    let mut optim = AdamConfig::new().init();
    let loss_fn = CrossEntropyLossConfig::new().init(device);
    let n = images.dims()[0];
    let bs = config.batch_size.max(1);
    for epoch in 1..=config.epochs {
        let order = permutation(n, device);
        let lr = config.lr * 0.5f64.powi(epoch.saturating_sub(3) as i32);
        let mut total: Option<Tensor<1>> = None;
        for start in (0..n).step_by(bs) {
            let idx = order.clone().slice(start..(start + bs).min(n));
            let x = images.clone().select(0, idx.clone());
            let y = labels.clone().select(0, idx);
            let (_, logits) = model.forward(x);
            let len = logits.dims()[0] as f64;
            let loss = loss_fn.forward(logits, y);
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            let value = loss.without_autodiff() * len;
            total = Some(match total {
                Some(t) => t + value,
                None => value,
            });
            model = optim.step(lr, model, grads);
        }
        let sum = total.map_or(f32::NAN, |t| to_host(t)[0]);
        on_epoch(ClassifierEpoch {
            epoch,
            epochs: config.epochs,
            loss: f64::from(sum) / n as f64,
        });
    }
    model.valid()
}
