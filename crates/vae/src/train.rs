//! The hand-written training loop: Adam on the summed loss of each batch.
//!
//! Following the authors' notebook (and pytorch/examples), the loss of a batch
//! is the *sum* over its images of BCE + β·KL; reported losses are per image.
//! The epoch's loss is accumulated on the device and read once per epoch, so
//! the loop makes no host round trip per batch.

use std::time::Instant;

use burn::optim::decay::WeightDecayConfig;
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::prelude::*;

use crate::config::TrainConfig;
use crate::data::BatchSource;
use crate::loss::loss_parts;
use crate::model::Vae;

/// What the training loop reports while it runs.
#[derive(Clone, Copy, Debug)]
pub enum TrainEvent {
    /// A batch was submitted: `done` of `total` images of epoch `epoch` (no device read).
    Batch {
        /// 1-based epoch number.
        epoch: usize,
        /// Images of this epoch submitted so far.
        done: usize,
        /// Images per epoch.
        total: usize,
    },
    /// An epoch ended.
    Epoch(EpochReport),
}

/// Progress after one epoch.
#[derive(Clone, Copy, Debug)]
pub struct EpochReport {
    /// 1-based epoch number.
    pub epoch: usize,
    /// Epochs in all.
    pub epochs: usize,
    /// Mean loss per image over the epoch (BCE + β·KL), nats.
    pub mean_loss: f64,
    /// Training throughput over the epoch.
    pub images_per_sec: f64,
}

/// Adam as the authors use it: PyTorch's epsilon (1e-8) and L2 weight decay
/// added to the gradient.
pub fn optimizer(config: &TrainConfig) -> ModuleOptimizer {
    AdamConfig::new()
        .with_epsilon(1e-8)
        .with_weight_decay(
            (config.weight_decay > 0.0).then(|| WeightDecayConfig::new(config.weight_decay as f32)),
        )
        .init()
}

/// Trains `model` (on an autodiff device) on `source` for `config.epochs`
/// epochs, calling `on_event` after each batch and each epoch. Returns the
/// trained model and the last epoch's mean loss per image.
pub fn train(
    mut model: Vae,
    source: &mut dyn BatchSource,
    config: &TrainConfig,
    on_event: &mut dyn FnMut(TrainEvent),
) -> (Vae, f64) {
    let mut optim = optimizer(config);
    let n = source.epoch_len();
    let bs = config.batch_size.max(1);
    let mut last = f64::NAN;
    for epoch in 1..=config.epochs {
        let started = Instant::now();
        source.begin_epoch();
        let mut total: Option<Tensor<1>> = None;
        for start in (0..n).step_by(bs) {
            let x = source.batch(start, bs.min(n - start));
            let (logits, mu, logvar) = model.forward(x.clone());
            let parts = loss_parts(logits, mu, logvar, x);
            let loss = (parts.recon + parts.kl * config.beta).sum();
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            let value = loss.without_autodiff();
            total = Some(match total {
                Some(t) => t + value,
                None => value,
            });
            model = optim.step(config.lr, model, grads);
            on_event(TrainEvent::Batch {
                epoch,
                done: (start + bs).min(n),
                total: n,
            });
        }
        let sum: f32 = total.map(|t| t.into_scalar()).unwrap_or(f32::NAN);
        last = f64::from(sum) / n as f64;
        on_event(TrainEvent::Epoch(EpochReport {
            epoch,
            epochs: config.epochs,
            mean_loss: last,
            images_per_sec: n as f64 / started.elapsed().as_secs_f64(),
        }));
    }
    (model, last)
}
