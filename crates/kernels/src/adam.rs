//! Adam with L2 weight decay, updated in one pass over each parameter on flex.
//!
//! Burn's `Adam` updates a parameter in about fifteen element-wise tensor
//! operations, each a pass over the parameter that allocates its result.
//! [`FusedAdam`] computes the same update: on flex in one loop that
//! reads the gradient and rewrites the weights and both moments in place
//! (through a Burn backend extension, [`AdamOps`]); on every other backend
//! Burn's `Adam` itself. The tests check the flex path against Burn's `Adam`
//! over several steps.

use burn::backend::tensor::FloatTensor;
use burn::backend::{Backend, Dispatch, Flex, backend_extension};
use burn::optim::decay::WeightDecayConfig;
use burn::optim::{
    Adam, AdamConfig, AdamState, AdaptiveMomentumState, LearningRate, ModuleOptimizer, Optimizer,
};
use burn::prelude::*;
use burn_flex::FlexTensor;
use rayon::prelude::*;

use crate::flex::{contiguous_f32, is_flex};

/// Adam's constants for one step: decays, ε, the L2 penalty, and the
/// learning rate and bias corrections of step `t`.
#[derive(Clone, Copy, Debug)]
struct StepConstants {
    beta_1: f32,
    beta_2: f32,
    weight_decay: f32,
    /// `lr · √(1 − β₂ᵗ) / (1 − β₁ᵗ)`.
    step_size: f32,
    /// `ε · √(1 − β₂ᵗ)`.
    epsilon: f32,
}

impl StepConstants {
    /// Updates one parameter value and its moments.
    #[inline(always)]
    fn update(&self, p: &mut f32, g: f32, m: &mut f32, v: &mut f32) {
        let g = g + self.weight_decay * *p;
        *m = self.beta_1 * *m + (1.0 - self.beta_1) * g;
        *v = self.beta_2 * *v + (1.0 - self.beta_2) * g * g;
        *p -= self.step_size * *m / (v.sqrt() + self.epsilon);
    }
}

/// The fused update as a backend operation (flex only; see [`FusedAdam::step`]).
#[backend_extension(Flex)]
pub trait AdamOps: Backend {
    /// One Adam step of `param` with `grad`: returns the parameter and its
    /// first and second moments after the step. `constants` holds β₁, β₂,
    /// the L2 penalty, the step size and ε of this step (see `StepConstants`).
    fn adam_step(
        param: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        moment_1: FloatTensor<Self>,
        moment_2: FloatTensor<Self>,
        constants: [f32; 5],
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>);
}

/// Elements per task of the thread pool: small parameters stay on one thread.
const PER_TASK: usize = 1 << 16;

impl AdamOps for Flex {
    fn adam_step(
        param: FlexTensor,
        grad: FlexTensor,
        moment_1: FlexTensor,
        moment_2: FlexTensor,
        constants: [f32; 5],
    ) -> (FlexTensor, FlexTensor, FlexTensor) {
        let [beta_1, beta_2, weight_decay, step_size, epsilon] = constants;
        let c = StepConstants {
            beta_1,
            beta_2,
            weight_decay,
            step_size,
            epsilon,
        };
        let (mut param, grad) = (contiguous_f32(param), contiguous_f32(grad));
        let (mut m, mut v) = (contiguous_f32(moment_1), contiguous_f32(moment_2));
        {
            // Copy-on-write: the buffers are rewritten in place where this step
            // holds them alone, which is the case in the training loop.
            let g = grad.as_slice::<f32>().expect("made contiguous f32 above");
            let (p, m, v) = (
                param.storage_mut::<f32>(),
                m.storage_mut::<f32>(),
                v.storage_mut::<f32>(),
            );
            p.par_chunks_mut(PER_TASK)
                .zip(g.par_chunks(PER_TASK))
                .zip(m.par_chunks_mut(PER_TASK))
                .zip(v.par_chunks_mut(PER_TASK))
                .for_each(|(((p, g), m), v)| {
                    for (((p, g), m), v) in p.iter_mut().zip(g).zip(m).zip(v) {
                        c.update(p, *g, m, v);
                    }
                });
        }
        (param, m, v)
    }
}

/// Adam as PyTorch's `torch.optim.Adam` computes it (L2 penalty added to the
/// gradient): one pass per parameter on flex, Burn's `Adam` elsewhere. The
/// state is Burn's `AdamState` either way.
#[derive(Clone)]
pub struct FusedAdam {
    /// Burn's Adam with the same settings: the update off flex, and the constants.
    burn: Adam,
    beta_1: f32,
    beta_2: f32,
    epsilon: f32,
    weight_decay: f32,
}

impl FusedAdam {
    /// β₁ = 0.9, β₂ = 0.999 and the given ε and L2 penalty.
    pub fn new(epsilon: f32, weight_decay: f32) -> Self {
        let (beta_1, beta_2) = (0.9, 0.999);
        let burn = AdamConfig::new()
            .with_beta_1(beta_1)
            .with_beta_2(beta_2)
            .with_epsilon(epsilon)
            .with_weight_decay((weight_decay > 0.0).then(|| WeightDecayConfig::new(weight_decay)))
            .build();
        FusedAdam {
            burn,
            beta_1,
            beta_2,
            epsilon,
            weight_decay,
        }
    }

    /// As a module optimizer.
    pub fn init(self) -> ModuleOptimizer {
        ModuleOptimizer::from(self)
    }

    fn constants(&self, lr: LearningRate, time: usize) -> StepConstants {
        let t = time as i32;
        let correction_2 = (1.0 - self.beta_2.powi(t)).sqrt();
        StepConstants {
            beta_1: self.beta_1,
            beta_2: self.beta_2,
            weight_decay: self.weight_decay,
            step_size: lr as f32 * correction_2 / (1.0 - self.beta_1.powi(t)),
            epsilon: self.epsilon * correction_2,
        }
    }
}

impl Optimizer for FusedAdam {
    type State<const D: usize> = AdamState<D>;

    fn step<const D: usize>(
        &self,
        lr: LearningRate,
        tensor: Tensor<D>,
        grad: Tensor<D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<D>, Option<Self::State<D>>) {
        if !is_flex(&tensor.device()) {
            return self.burn.step(lr, tensor, grad, state);
        }
        let (time, moment_1, moment_2) = match state {
            Some(s) => (
                s.momentum.time + 1,
                s.momentum.moment_1,
                s.momentum.moment_2,
            ),
            None => (1, tensor.zeros_like(), tensor.zeros_like()),
        };
        let c = self.constants(lr, time);
        let constants = [c.beta_1, c.beta_2, c.weight_decay, c.step_size, c.epsilon];
        let (p, m, v) = <Dispatch as AdamOps>::adam_step(
            tensor.into_dispatch(),
            grad.into_dispatch(),
            moment_1.into_dispatch(),
            moment_2.into_dispatch(),
            constants,
        );
        let momentum =
            AdaptiveMomentumState::new(time, Tensor::from_dispatch(m), Tensor::from_dispatch(v));
        (Tensor::from_dispatch(p), Some(AdamState::new(momentum)))
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &Device) -> Self::State<D> {
        Adam::to_device(state, device)
    }
}

#[cfg(test)]
mod tests {
    use burn::module::Param;
    use burn::nn::{Linear, LinearConfig};
    use burn::optim::decay::WeightDecayConfig;
    use burn::optim::{AdamConfig, GradientsParams};
    use burn::prelude::*;
    use burn::tensor::Distribution;

    /// Three layers' weights after five steps, against Burn's `Adam` with the same settings.
    #[test]
    #[allow(deprecated)] // Device::ndarray: deprecated in Burn 0.22, still one of the project's backends.
    fn matches_burn_adam_over_several_steps() {
        for device in [Device::flex().autodiff(), Device::ndarray().autodiff()] {
            let model: Vec<Linear> = [(6, 5), (5, 4), (4, 3)]
                .iter()
                .map(|&(i, o)| LinearConfig::new(i, o).init(&device))
                .collect();
            let x = Tensor::<2>::random([8, 6], Distribution::Normal(0.0, 1.0), &device);
            let mut ours = super::FusedAdam::new(1e-8, 1e-2).init();
            let mut theirs = AdamConfig::new()
                .with_epsilon(1e-8)
                .with_weight_decay(Some(WeightDecayConfig::new(1e-2)))
                .init();
            let forward = |m: &Vec<Linear>| {
                m.iter()
                    .fold(x.clone(), |h, l| l.forward(h).tanh())
                    .powf_scalar(2.0)
                    .sum()
            };
            let (mut a, mut b) = (model.clone(), model.clone());
            for _ in 0..5 {
                let grads = GradientsParams::from_grads(forward(&a).backward(), &a);
                a = ours.step(1e-2, a, grads);
                let grads = GradientsParams::from_grads(forward(&b).backward(), &b);
                b = theirs.step(1e-2, b, grads);
            }
            let weights = |l: &Linear| {
                let w: &Param<Tensor<2>> = &l.weight;
                w.val()
            };
            for ((la, lb), l0) in a.iter().zip(&b).zip(&model) {
                let diff: f32 = (weights(la) - weights(lb)).abs().max().into_scalar();
                assert!(diff < 1e-6, "fused against Burn's Adam: {diff}");
                let moved: f32 = (weights(la) - weights(l0)).abs().max().into_scalar();
                assert!(
                    moved > 1e-3,
                    "five steps of lr 1e-2 moved the weights {moved}"
                );
            }
        }
    }
}
