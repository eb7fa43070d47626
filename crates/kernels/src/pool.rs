//! The classifier's ReLU and 2×2 max pooling, as one backend operation on flex.
//!
//! In Burn's operations the pooling is a reshape and two `max_dim` reductions,
//! and its backward pass one `scatter_add` into zeros per reduction, then the
//! ReLU's mask, and flex runs `scatter_add` on one thread. Here each `[h, w]`
//! plane is one task of the thread pool: forward keeps which input of each
//! window won, backward writes each gradient back to its winner.
//!
//! For finite inputs, values and gradients are exactly those of the reduction
//! in Burn's operations, ties included: like flex's `max_dim`, a later input
//! wins only if it is strictly greater, first along a row, then between the
//! rows. (A NaN is not carried the way flex's reductions carry it.)

use crate::flex::{contiguous_f32, flex_tensor, is_flex};
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind, unary};
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, Backend, Dispatch, Flex, TensorMetadata, backend_extension};
use burn::prelude::*;
use burn::tensor::activation::relu;
use burn_flex::FlexTensor;
use rayon::prelude::*;

/// The winner of a window none of whose inputs is positive: its output is 0
/// and it passes no gradient back (the ReLU's).
const NONE: u8 = 4;

/// `relu(x)` pooled by 2×2 maxima with stride 2.
///
/// # Shapes
/// - `x`: `[batch, channels, h, w]` with `h`, `w` even; returns `[batch, channels, h/2, w/2]`
pub fn relu_max_pool2(x: Tensor<4>) -> Tensor<4> {
    let [b, c, h, w] = x.dims();
    assert!(
        h % 2 == 0 && w % 2 == 0,
        "2×2 pooling needs an even height and width, not {h}×{w}"
    );
    if is_flex(&x.device()) {
        return Tensor::from_dispatch(<Dispatch as PoolOps>::relu_max_pool2(x.into_dispatch()));
    }
    // A reshape and two maxima: faster on the CPU backends than
    // Burn's pooling kernel for these sizes.
    relu(x)
        .reshape([b, c, h / 2, 2, w / 2, 2])
        .max_dim(5)
        .max_dim(3)
        .reshape([b, c, h / 2, w / 2])
}

/// [`relu_max_pool2`] as a backend operation, with its own backward pass on
/// flex under autodiff.
#[backend_extension(Flex, Autodiff)]
pub trait PoolOps: Backend {
    /// `[batch, channels, h, w]` → `[batch, channels, h/2, w/2]`.
    fn relu_max_pool2(x: FloatTensor<Self>) -> FloatTensor<Self>;
}

impl PoolOps for Flex {
    fn relu_max_pool2(x: FlexTensor) -> FlexTensor {
        pool(x).0
    }
}

/// Pools `x` (`[batch, channels, h, w]`); also returns which input of each
/// window won (0–3, row-major in the window, or [`NONE`]).
fn pool(x: FlexTensor) -> (FlexTensor, Vec<u8>) {
    let x = contiguous_f32(x);
    let [b, c, h, w] = x.shape().dims();
    let values = x.as_slice::<f32>().expect("made contiguous f32 above");
    let (plane, pooled) = (h * w, (h / 2) * (w / 2));
    let mut out = vec![0f32; b * c * pooled];
    let mut won = vec![NONE; out.len()];
    if pooled > 0 {
        out.par_chunks_mut(pooled)
            .zip(won.par_chunks_mut(pooled))
            .zip(values.par_chunks(plane))
            .for_each(|((out, won), x)| pool_plane(x, w, out, won));
    }
    (flex_tensor(out, Shape::new([b, c, h / 2, w / 2])), won)
}

/// One plane of [`pool`]: `x` is `[h, w]`, `out` and `won` are `[h/2, w/2]`.
fn pool_plane(x: &[f32], w: usize, out: &mut [f32], won: &mut [u8]) {
    let relu = |v: f32| if v <= 0.0 { 0.0 } else { v };
    for ((rows, out), won) in x
        .chunks_exact(2 * w)
        .zip(out.chunks_exact_mut(w / 2))
        .zip(won.chunks_exact_mut(w / 2))
    {
        let (top, bottom) = rows.split_at(w);
        for (j, (out, won)) in out.iter_mut().zip(won.iter_mut()).enumerate() {
            let pair = |row: &[f32], first: u8| {
                let (a, b) = (relu(row[2 * j]), relu(row[2 * j + 1]));
                if b > a { (b, first + 1) } else { (a, first) }
            };
            let (upper, lower) = (pair(top, 0), pair(bottom, 2));
            let (value, tap) = if lower.0 > upper.0 { lower } else { upper };
            *out = value;
            // The ReLU passes gradient only where its output is positive.
            *won = if value > 0.0 { tap } else { NONE };
        }
    }
}

/// The backward pass of [`pool`]: `grad` (`[batch, channels, h/2, w/2]`)
/// written to the winners of its windows in a zero `[batch, channels, h, w]`.
fn unpool(grad: FlexTensor, won: &[u8], [b, c, h, w]: [usize; 4]) -> FlexTensor {
    let grad = contiguous_f32(grad);
    let g = grad.as_slice::<f32>().expect("made contiguous f32 above");
    let (plane, pooled, ow) = (h * w, (h / 2) * (w / 2), w / 2);
    let mut dx = vec![0f32; b * c * plane];
    if pooled > 0 {
        dx.par_chunks_mut(plane)
            .zip(g.par_chunks(pooled))
            .zip(won.par_chunks(pooled))
            .for_each(|((dx, g), won)| {
                for (k, (&g, &tap)) in g.iter().zip(won).enumerate() {
                    if tap != NONE {
                        let (row, col) = (2 * (k / ow) + usize::from(tap / 2), 2 * (k % ow));
                        dx[row * w + col + usize::from(tap % 2)] = g;
                    }
                }
            });
    }
    flex_tensor(dx, Shape::new([b, c, h, w]))
}

/// Backward of [`PoolOps::relu_max_pool2`] on flex.
#[derive(Debug)]
struct PoolBackward;

impl Backward<Flex, 1> for PoolBackward {
    /// The winners of the windows and the input's shape.
    type State = (Vec<u8>, [usize; 4]);

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let (won, dims) = ops.state;
        unary::<Flex, _>(ops.parents, ops.node, grads, |grad| {
            unpool(grad, &won, dims)
        });
    }
}

impl<C: CheckpointStrategy> PoolOps for Autodiff<Flex, C> {
    fn relu_max_pool2(x: FloatTensor<Self>) -> FloatTensor<Self> {
        let (x, node) = x.into_parts();
        match PoolBackward.prepare::<C>([node]).compute_bound().stateful() {
            OpsKind::Tracked(prep) => {
                let dims = x.shape().dims();
                let (out, won) = pool(x);
                prep.finish((won, dims), out)
            }
            OpsKind::UnTracked(prep) => prep.finish(pool(x).0),
        }
    }
}

#[cfg(test)]
mod tests {
    use burn::prelude::*;
    use burn::tensor::Distribution;
    use burn::tensor::activation::relu;

    /// The flex operation against Burn's operations, values and gradients
    /// bit for bit, on inputs with many ties (positive, zero and negative).
    #[test]
    fn matches_burn_operations_exactly() {
        let device = Device::flex().autodiff();
        device.seed(7);
        // Half-steps in [-2, 2]: a quarter of the windows hold equal maxima.
        let x = (Tensor::<4>::random([3, 5, 6, 8], Distribution::Uniform(-2.0, 2.0), &device)
            * 2.0)
            .round()
            / 2.0;
        let weights = Tensor::<4>::random([3, 5, 3, 4], Distribution::Normal(0.0, 1.0), &device);
        let run = |fused: bool| {
            let x = x.clone().require_grad();
            let pooled = if fused {
                super::relu_max_pool2(x.clone())
            } else {
                relu(x.clone())
                    .reshape([3, 5, 3, 2, 4, 2])
                    .max_dim(5)
                    .max_dim(3)
                    .reshape([3, 5, 3, 4])
            };
            let grads = (pooled.clone() * weights.clone()).sum().backward();
            let grad = x.grad(&grads).expect("input grad");
            (pooled.inner().into_data(), grad.into_data())
        };
        let (fused, plain) = (run(true), run(false));
        assert_eq!(fused.0, plain.0, "values");
        assert_eq!(fused.1, plain.1, "gradients");
    }
}
