//! One training step captured tensor by tensor, so that backends can be
//! compared on identical weights, inputs and noise (`collapse parity`).
//!
//! A [`StepSnapshot`] holds, in a fixed order: the encoder's μ and log σ², the
//! decoder's logits, the loss and its two parts, every parameter's gradient
//! after one backward pass, and every parameter after one Adam step.

use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::prelude::*;
use burn::store::{ModuleRecord, RecordError};
use burn::tensor::{Bytes, Gradients};

use crate::config::{TrainConfig, VaeConfig};
use crate::infer::to_host;
use crate::loss::loss_parts;
use crate::model::Vae;
use crate::train::optimizer;

/// Name prefix of the weights after one Adam step. Adam's first step is
/// lr·g/(|g| + ε) per element, so where a gradient is comparable to ε (1e-8)
/// float32 rounding differences between backends are amplified up to lr; these
/// tensors get a tolerance of their own.
pub const STEP_PREFIX: &str = "adam_step.";

/// The inputs shared by every backend: weights, images and noise, all on the host.
#[derive(Clone)]
pub struct StepInputs {
    /// The model's shape.
    pub config: VaeConfig,
    /// The optimiser and β.
    pub train: TrainConfig,
    /// The weights as a burnpack record.
    pub weights: Bytes,
    /// `batch × pixels` images in `[0, 1]`.
    pub images: Vec<f32>,
    /// `batch × latent` standard-normal noise of the reparameterisation.
    pub noise: Vec<f32>,
    /// Batch size.
    pub batch: usize,
}

/// Named tensors of one step, flattened to the host, in a fixed order.
#[derive(Clone, Debug)]
pub struct StepSnapshot {
    /// `(name, values)` pairs.
    pub tensors: Vec<(String, Vec<f32>)>,
}

/// Collects every float parameter (or its gradient) with its module path.
struct Collect<'a> {
    prefix: &'a str,
    grads: Option<&'a Gradients>,
    path: Vec<String>,
    out: &'a mut Vec<(String, Vec<f32>)>,
}

impl<'a> Collect<'a> {
    fn new(
        prefix: &'a str,
        grads: Option<&'a Gradients>,
        out: &'a mut Vec<(String, Vec<f32>)>,
    ) -> Self {
        Collect {
            prefix,
            grads,
            path: Vec::new(),
            out,
        }
    }
}

impl ModuleVisitor for Collect<'_> {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.push(name.to_string());
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }

    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let tensor = param.val();
        let values = match self.grads {
            Some(grads) => tensor.grad(grads).map(to_host),
            None => Some(to_host(tensor)),
        };
        if let Some(values) = values {
            let name = format!("{}.{}", self.prefix, self.path.join("."));
            self.out.push((name, values));
        }
    }
}

impl StepInputs {
    /// Draws images and noise on `device` (seeded by `seed`) and takes the weights of `model`.
    pub fn new(
        model: &Vae,
        config: VaeConfig,
        train: TrainConfig,
        batch: usize,
        seed: u64,
        device: &Device,
    ) -> Result<Self, RecordError> {
        device.seed(seed);
        let images = to_host(Tensor::<2>::random(
            [batch, config.pixels()],
            burn::tensor::Distribution::Default,
            device,
        ));
        let noise = to_host(Tensor::<2>::random(
            [batch, config.latent_dim],
            burn::tensor::Distribution::Normal(0.0, 1.0),
            device,
        ));
        let weights = model.clone().into_record().into_bytes()?;
        Ok(StepInputs {
            config,
            train,
            weights,
            images,
            noise,
            batch,
        })
    }

    /// Runs the step on `device` (autodiff is enabled here) and captures it.
    pub fn run(&self, device: &Device) -> Result<StepSnapshot, RecordError> {
        let ad = device.clone().autodiff();
        let record = ModuleRecord::from_bytes(self.weights.clone())?;
        let model = self.config.clone().init(&ad).try_load_record(record)?;
        let x = Tensor::<2>::from_data(
            TensorData::new(self.images.clone(), [self.batch, self.config.pixels()]),
            &ad,
        );
        let eps = Tensor::<2>::from_data(
            TensorData::new(self.noise.clone(), [self.batch, self.config.latent_dim]),
            &ad,
        );
        let (logits, mu, logvar) = model.forward_with_noise(x.clone(), |_| eps);
        let parts = loss_parts(logits.clone(), mu.clone(), logvar.clone(), x);
        let recon = parts.recon.sum();
        let kl = parts.kl.sum();
        let loss = recon.clone() + kl.clone() * self.train.beta;
        let mut tensors = vec![
            ("mu".to_string(), to_host(mu)),
            ("logvar".to_string(), to_host(logvar)),
            ("logits".to_string(), to_host(logits)),
            ("loss.recon".to_string(), to_host(recon)),
            ("loss.kl".to_string(), to_host(kl)),
            ("loss".to_string(), to_host(loss.clone())),
        ];
        let grads = loss.backward();
        model.visit(&mut Collect::new("grad", Some(&grads), &mut tensors));
        let grads = GradientsParams::from_grads(grads, &model);
        let model = optimizer(&self.train).step(self.train.lr, model, grads);
        let prefix = STEP_PREFIX.trim_end_matches('.');
        model.visit(&mut Collect::new(prefix, None, &mut tensors));
        Ok(StepSnapshot { tensors })
    }
}

/// How far one tensor of a backend is from the reference.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct TensorDiff {
    /// The tensor's name.
    pub name: String,
    /// Largest |a − b| over its elements.
    pub max_abs: f64,
    /// `max_abs` divided by the largest |reference| element (0 when both are 0).
    pub max_rel: f64,
}

/// Compares `other` with `reference`, tensor by tensor. A tensor missing from
/// `other`, of another length, or with a NaN where the values differ counts as
/// an infinite difference.
pub fn compare(reference: &StepSnapshot, other: &StepSnapshot) -> Vec<TensorDiff> {
    reference
        .tensors
        .iter()
        .map(|(name, a)| {
            let b = other
                .tensors
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, b)| b);
            let max_abs = match b {
                Some(b) if b.len() == a.len() => a
                    .iter()
                    .zip(b)
                    .map(|(x, y)| {
                        let d = f64::from((x - y).abs());
                        if d.is_nan() { f64::INFINITY } else { d }
                    })
                    .fold(0.0, f64::max),
                _ => f64::INFINITY,
            };
            let scale = a.iter().map(|x| f64::from(x.abs())).fold(0.0, f64::max);
            let max_rel = if max_abs == 0.0 {
                0.0
            } else {
                max_abs / scale.max(f64::MIN_POSITIVE)
            };
            TensorDiff {
                name: name.clone(),
                max_abs,
                max_rel,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(t: &[(&str, &[f32])]) -> StepSnapshot {
        StepSnapshot {
            tensors: t.iter().map(|(n, v)| (n.to_string(), v.to_vec())).collect(),
        }
    }

    #[test]
    fn compare_measures_absolute_and_scaled_differences() {
        let a = snap(&[("x", &[1.0, -4.0]), ("y", &[0.0, 0.0]), ("z", &[1.0])]);
        let b = snap(&[("x", &[1.5, -4.0]), ("y", &[0.0, 0.0]), ("z", &[f32::NAN])]);
        let d = compare(&a, &b);
        assert_eq!((d[0].max_abs, d[0].max_rel), (0.5, 0.125));
        assert_eq!((d[1].max_abs, d[1].max_rel), (0.0, 0.0));
        assert_eq!(d[2].max_abs, f64::INFINITY);
        let missing = compare(&a, &snap(&[("x", &[1.0, -4.0])]));
        assert_eq!(missing[1].max_abs, f64::INFINITY);
    }
}
