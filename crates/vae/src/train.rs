//! The hand-written training loop: Adam on the summed loss of each batch.
//!
//! Following the authors' notebook (and pytorch/examples), the loss of a batch
//! is the *sum* over its images of BCE + β·KL; reported losses are per image.
//! The epoch's loss is accumulated on the device and read once per epoch, so
//! the loop makes no host round trip per batch.

use std::time::Instant;

use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::prelude::*;

use crate::batches::BatchSource;
use crate::config::TrainConfig;
use crate::loss::loss_parts;
use crate::model::Vae;
use collapse_kernels::FusedAdam;

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
/// added to the gradient ([`FusedAdam`]: one pass per parameter on flex).
pub fn optimizer(config: &TrainConfig) -> ModuleOptimizer {
    FusedAdam::new(1e-8, config.weight_decay as f32).init()
}

/// Trains `model` (on an autodiff device) on `source` for `config.epochs`
/// epochs, calling `on_event` after each batch and each epoch. Returns the
/// trained model and the last epoch's mean loss per image, or the
/// [`Divergence`] that stopped it: the batch loss is read every
/// [`CHECK_EVERY`] steps and at the end of each epoch (the only reads from the
/// device inside the loop).
pub fn train(
    mut model: Vae,
    source: &mut dyn BatchSource,
    config: &TrainConfig,
    on_event: &mut dyn FnMut(TrainEvent),
) -> Result<(Vae, f64), Divergence> {
    let mut watch = Watch::default();
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
            let step = start / bs + 1;
            if step.is_multiple_of(CHECK_EVERY) || start + bs >= n {
                let per_image =
                    f64::from(value.clone().into_scalar::<f32>()) / bs.min(n - start) as f64;
                watch.check(per_image, epoch, step)?;
            }
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
    Ok((model, last))
}

/// Steps between two reads of the batch loss for the divergence check.
pub const CHECK_EVERY: usize = 25;
/// A per-image loss this many times the lowest seen so far counts as an explosion.
pub const EXPLOSION_FACTOR: f64 = 100.0;

/// Training stopped because the loss became non-finite or exploded.
#[derive(Clone, Copy, Debug, PartialEq, thiserror::Error)]
#[error("the loss diverged at epoch {epoch}, step {step}: {loss} per image (last finite: {})", last_finite.map_or("none".to_string(), |l| format!("{l:.3}")))]
pub struct Divergence {
    /// 1-based epoch.
    pub epoch: usize,
    /// 1-based step within the epoch.
    pub step: usize,
    /// The loss per image that was refused.
    pub loss: f64,
    /// The last finite loss per image read before it.
    pub last_finite: Option<f64>,
}

/// Follows the batch losses read during training.
#[derive(Default)]
struct Watch {
    lowest: Option<f64>,
    last_finite: Option<f64>,
}

impl Watch {
    fn check(&mut self, loss: f64, epoch: usize, step: usize) -> Result<(), Divergence> {
        let exploded = self
            .lowest
            .is_some_and(|low| loss > EXPLOSION_FACTOR * low.max(1e-3));
        if !loss.is_finite() || exploded {
            return Err(Divergence {
                epoch,
                step,
                loss,
                last_finite: self.last_finite,
            });
        }
        self.lowest = Some(self.lowest.map_or(loss, |low| low.min(loss)));
        self.last_finite = Some(loss);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `losses` to a fresh watch, one read per step of epoch 1.
    fn watch(losses: &[f64]) -> Result<(), Divergence> {
        let mut watch = Watch::default();
        for (i, &loss) in losses.iter().enumerate() {
            watch.check(loss, 1, i + 1)?;
        }
        Ok(())
    }

    /// A falling loss, with small rises as training has them, is not a divergence.
    #[test]
    fn a_normal_loss_passes() {
        assert_eq!(
            watch(&[550.0, 300.0, 180.0, 150.0, 149.0, 160.0, 140.0]),
            Ok(())
        );
    }

    /// NaN and ±∞ stop training, on the first read or later, and the
    /// divergence names where it happened and the last finite loss.
    #[test]
    fn a_non_finite_loss_is_a_divergence() {
        for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            let first = watch(&[bad]).expect_err("non-finite first read");
            assert_eq!((first.step, first.last_finite), (1, None), "{bad}");
            let later = watch(&[300.0, 200.0, bad]).expect_err("non-finite later read");
            assert_eq!((later.epoch, later.step), (1, 3), "{bad}");
            assert_eq!(later.last_finite, Some(200.0), "{bad}");
            assert_eq!(later.loss.to_bits(), bad.to_bits(), "the refused loss");
        }
    }

    /// Exactly `EXPLOSION_FACTOR` times the lowest loss is allowed; anything
    /// above it is an explosion.
    #[test]
    fn an_explosion_starts_just_above_the_factor() {
        let limit = EXPLOSION_FACTOR * 2.0;
        assert_eq!(watch(&[2.0, limit]), Ok(()));
        let err = watch(&[2.0, limit, limit.next_up()]).expect_err("above the limit");
        assert_eq!(
            err,
            Divergence {
                epoch: 1,
                step: 3,
                loss: limit.next_up(),
                last_finite: Some(limit),
            }
        );
    }

    /// The explosion is measured against the lowest loss seen, not the last.
    #[test]
    fn an_explosion_is_measured_from_the_lowest_loss() {
        let lowest = 1.0;
        let loss = EXPLOSION_FACTOR * lowest * 1.5;
        assert_eq!(watch(&[100.0, lowest, 50.0]), Ok(()));
        let err = watch(&[100.0, lowest, 50.0, loss]).expect_err("far above the lowest");
        assert_eq!((err.step, err.loss), (4, loss));
    }

    /// A lowest loss near zero is floored at 1e-3, so that tiny losses do
    /// not make every later read an explosion.
    #[test]
    fn a_near_zero_lowest_loss_is_floored() {
        let limit = EXPLOSION_FACTOR * 1e-3;
        assert_eq!(watch(&[0.0, limit / 2.0, limit]), Ok(()));
        assert!(watch(&[0.0, limit.next_up()]).is_err());
    }
}
