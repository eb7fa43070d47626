//! Binary cross-entropy with logits, summed over each row: the VAE's
//! reconstruction term, in its stable form
//! `max(l, 0) − x·l + log(1 + e^{−|l|})`.
//!
//! On flex it is one fused pass per image with its own backward pass (Burn's
//! operations make it many whole-tensor passes, each allocating, with `exp`
//! and `log1p` on one thread); elsewhere it is that expression in Burn's
//! operations.

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::ops::FloatTensorOps;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, Backend, Dispatch, Flex, TensorMetadata, backend_extension};
use burn::prelude::*;
use burn::tensor::Shape;
use burn::tensor::activation::relu;
use burn_flex::FlexTensor;
use rayon::prelude::*;

use crate::elementary::{exp_neg_abs, ln_1p_unit, sigmoid_from};
use crate::flex::{contiguous_f32, flex_tensor, is_flex};

/// BCE-with-logits summed over pixels, per row.
///
/// # Shapes
/// - `logits`, `x`: `[batch, pixels]`
/// - returns `[batch]`
pub fn bce_with_logits_rows(logits: Tensor<2>, x: Tensor<2>) -> Tensor<1> {
    if is_flex(&logits.device()) {
        return Tensor::from_dispatch(<Dispatch as BceOps>::bce_rows(
            logits.into_dispatch(),
            x.into_dispatch(),
        ));
    }
    let stable = (logits.clone().abs().neg().exp()).log1p();
    (relu(logits.clone()) - x * logits + stable)
        .sum_dim(1)
        .squeeze_dim(1)
}

/// BCE-with-logits of one image: `Σ max(l, 0) − x·l + log(1 + e^{−|l|})`,
/// keeping each `e^{−|l|}` in `saved` (the backward pass needs it). Two
/// simple passes, the second summed in eight lanes, so that the compiler
/// vectorises both.
fn bce_row(logits: &[f32], x: &[f32], saved: &mut [f32]) -> f32 {
    const LANES: usize = 8;
    for (e, &l) in saved.iter_mut().zip(logits) {
        *e = exp_neg_abs(l);
    }
    let term = |l: f32, x: f32, e: f32| l.max(0.0) - x * l + ln_1p_unit(e);
    let mut lanes = [0.0f32; LANES];
    let (l8, x8, e8) = (
        logits.chunks_exact(LANES),
        x.chunks_exact(LANES),
        saved.chunks_exact(LANES),
    );
    let tail: f32 = (l8
        .remainder()
        .iter()
        .zip(x8.remainder())
        .zip(e8.remainder()))
    .map(|((&l, &x), &e)| term(l, x, e))
    .sum();
    for ((l, x), e) in l8.zip(x8).zip(e8) {
        let terms: [f32; LANES] = std::array::from_fn(|i| term(l[i], x[i], e[i]));
        for (lane, t) in lanes.iter_mut().zip(terms) {
            *lane += t;
        }
    }
    lanes.iter().sum::<f32>() + tail
}

/// [`bce_row`] of every image of a flex batch, one image per task: the
/// `[batch]` sums and the `e^{−|l|}` of every logit (`[batch, pixels]`).
fn flex_bce(logits: FlexTensor, x: FlexTensor) -> (FlexTensor, FlexTensor) {
    let (logits, x) = (contiguous_f32(logits), contiguous_f32(x));
    let shape = logits.shape();
    let [batch, pixels] = shape.dims();
    let (l, x) = (
        logits.as_slice::<f32>().expect("contiguous f32"),
        x.as_slice::<f32>().expect("contiguous f32"),
    );
    let mut out = vec![0.0f32; batch];
    let mut saved = vec![0.0f32; batch * pixels];
    out.par_iter_mut()
        .zip(l.par_chunks(pixels))
        .zip(x.par_chunks(pixels))
        .zip(saved.par_chunks_mut(pixels))
        .for_each(|(((out, l), x), e)| *out = bce_row(l, x, e));
    (
        flex_tensor(out, Shape::new([batch])),
        flex_tensor(saved, shape),
    )
}

/// The gradient of `Σᵢ gradᵢ · bce_row(logits, x)ᵢ` with respect to the
/// logits, `gradᵢ · (σ(l) − x)`, from the `e^{−|l|}` the forward pass saved
/// (written over them where the saved tensor is held alone).
fn flex_bce_backward(
    logits: FlexTensor,
    x: FlexTensor,
    saved: FlexTensor,
    grad: FlexTensor,
) -> FlexTensor {
    let [logits, x, mut out, grad] = [logits, x, saved, grad].map(contiguous_f32);
    let [_, pixels] = logits.shape().dims();
    let [l, x, g] = [&logits, &x, &grad].map(|t| t.as_slice::<f32>().expect("contiguous f32"));
    out.storage_mut::<f32>()
        .par_chunks_mut(pixels)
        .zip(l.par_chunks(pixels))
        .zip(x.par_chunks(pixels))
        .zip(g.par_iter())
        .for_each(|(((out, l), x), &g)| {
            for ((out, &l), &x) in out.iter_mut().zip(l).zip(x) {
                *out = g * (sigmoid_from(l, *out) - x);
            }
        });
    out
}

/// [`bce_with_logits_rows`] as one backend operation on flex: each image is
/// one task of the thread pool, forward and backward.
#[backend_extension(Flex, Autodiff)]
pub trait BceOps: Backend {
    /// Per-image BCE-with-logits summed over pixels: `[batch, pixels]` → `[batch]`.
    fn bce_rows(logits: FloatTensor<Self>, x: FloatTensor<Self>) -> FloatTensor<Self>;
}

impl BceOps for Flex {
    fn bce_rows(logits: FlexTensor, x: FlexTensor) -> FlexTensor {
        flex_bce(logits, x).0
    }
}

/// Backward of [`BceOps::bce_rows`] on flex: `gradᵢ · (σ(l) − x)` for the
/// logits and `−gradᵢ · l` for the targets (when they are tracked).
#[derive(Debug)]
struct BceBackward;

impl Backward<Flex, 2> for BceBackward {
    /// The logits, the targets and `e^{−|l|}`.
    type State = (FlexTensor, FlexTensor, FlexTensor);

    fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [logits_node, x_node] = ops.parents;
        let grad = grads.consume::<Flex>(&ops.node);
        let (logits, x, saved) = ops.state;
        if let Some(node) = x_node {
            let shape = logits.shape();
            let [batch, _] = shape.dims();
            let g = Flex::float_reshape(grad.clone(), Shape::new([batch, 1]));
            let g = Flex::float_expand(g, shape);
            let dx = Flex::float_neg(Flex::float_mul(logits.clone(), g));
            grads.register::<Flex>(node.id, dx);
        }
        if let Some(node) = logits_node {
            grads.register::<Flex>(node.id, flex_bce_backward(logits, x, saved, grad));
        }
    }
}

impl<C: CheckpointStrategy> BceOps for Autodiff<Flex, C> {
    fn bce_rows(logits: FloatTensor<Self>, x: FloatTensor<Self>) -> FloatTensor<Self> {
        let (logits, logits_node) = logits.into_parts();
        let (x, x_node) = x.into_parts();
        match BceBackward
            .prepare::<C>([logits_node, x_node])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let (out, saved) = flex_bce(logits.clone(), x.clone());
                prep.finish((logits, x, saved), out)
            }
            OpsKind::UnTracked(prep) => prep.finish(flex_bce(logits, x).0),
        }
    }
}

#[cfg(test)]
mod tests {
    use burn::prelude::*;
    use burn::tensor::Distribution;

    /// The fused flex path against the expression in Burn's operations, values and gradients.
    #[test]
    fn fused_reconstruction_matches_burn_operations() {
        let device = Device::flex().autodiff();
        let logits = Tensor::<2>::random([5, 37], Distribution::Normal(0.0, 4.0), &device);
        let x = Tensor::<2>::random([5, 37], Distribution::Default, &device);
        let weights = Tensor::<1>::random([5], Distribution::Normal(0.0, 1.0), &device);
        let run = |fused: bool| {
            let (l, x) = (logits.clone().require_grad(), x.clone().require_grad());
            let value = if fused {
                super::bce_with_logits_rows(l.clone(), x.clone())
            } else {
                let stable = (l.clone().abs().neg().exp()).log1p();
                (super::relu(l.clone()) - x.clone() * l.clone() + stable)
                    .sum_dim(1)
                    .squeeze_dim(1)
            };
            let grads = (value.clone() * weights.clone()).sum().backward();
            let gl = l.grad(&grads).expect("logits grad");
            let gx = x.grad(&grads).expect("targets grad");
            (value.inner(), gl, gx)
        };
        let (v1, l1, x1) = run(true);
        let (v2, l2, x2) = run(false);
        let close1 = |a: Tensor<1>, b: Tensor<1>| {
            let scale: f32 = b.clone().abs().max().into_scalar();
            let diff: f32 = (a - b).abs().max().into_scalar();
            assert!(diff <= 1e-5 * scale, "values: {diff} of {scale}");
        };
        let close2 = |a: Tensor<2>, b: Tensor<2>, what: &str| {
            let diff: f32 = (a - b).abs().max().into_scalar();
            assert!(diff < 1e-5, "{what}: {diff}");
        };
        close1(v1, v2);
        close2(l1, l2, "logits grad");
        close2(x1, x2, "targets grad");
    }
}
