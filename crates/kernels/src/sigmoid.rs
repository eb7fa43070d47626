//! The logistic function σ over rows of logits: the decoder's means.
//!
//! flex computes Burn's `sigmoid` as several whole-tensor passes on one
//! thread; here, on flex without autodiff, each row is one task of the thread
//! pool and a batch's means can be written straight into their rows of a
//! larger result. Everywhere else it is Burn's `sigmoid`.

use burn::backend::tensor::FloatTensor;
use burn::backend::{Backend, Dispatch, Flex, TensorMetadata, backend_extension};
use burn::prelude::*;
use burn::tensor::activation;
use burn_flex::FlexTensor;
use rayon::prelude::*;

use crate::elementary::{exp_neg_abs, sigmoid_from};
use crate::flex::{contiguous_f32, flex_tensor, is_flex};

/// Whether the parallel flex kernel computes σ on `device`.
fn in_rows(device: &Device) -> bool {
    is_flex(device) && !device.is_autodiff()
}

/// σ of every value of `logits`.
///
/// # Shapes
/// - `logits`: `[rows, cols]`; returns `[rows, cols]`
pub fn sigmoid(logits: Tensor<2>) -> Tensor<2> {
    if in_rows(&logits.device()) {
        return Tensor::from_dispatch(<Dispatch as SigmoidOps>::sigmoid_rows(
            logits.into_dispatch(),
        ));
    }
    activation::sigmoid(logits)
}

/// σ of the logits of `count` rows made in batches of `batch`: `draw(start)`
/// gives the inputs of the batch that starts at row `start` and `decode` its
/// logits.
///
/// On flex without autodiff each batch's σ is written into its rows of the
/// result, so no batch is kept and nothing is concatenated, and the next
/// batch's inputs are drawn while this one decodes: `draw` must be the only
/// one of the two that draws random numbers, so that they come in the same
/// order as drawn in turn. Elsewhere each batch is drawn, decoded and passed
/// through σ in turn, and the batches are concatenated.
///
/// # Shapes
/// - returns `[count, cols]`, `cols` being the logits'
pub fn sigmoid_of_batches(
    count: usize,
    batch: usize,
    device: &Device,
    draw: impl Fn(usize) -> Tensor<2> + Sync,
    decode: impl Fn(Tensor<2>) -> Tensor<2> + Sync,
) -> Tensor<2> {
    let starts: Vec<usize> = (0..count).step_by(batch.max(1)).collect();
    if !in_rows(device) {
        let means = starts.iter().map(|&s| sigmoid(decode(draw(s)))).collect();
        return Tensor::cat(means, 0);
    }
    let mut rows: Option<FloatTensor<Dispatch>> = None;
    let mut next = starts.first().map(|&s| draw(s));
    for (i, &start) in starts.iter().enumerate() {
        let Some(inputs) = next.take() else { break };
        let (logits, following) = rayon::join(
            || decode(inputs).into_dispatch(),
            || starts.get(i + 1).map(|&s| draw(s)),
        );
        next = following;
        let sink = rows
            .take()
            .unwrap_or_else(|| <Dispatch as SigmoidOps>::zero_rows(logits.clone(), count));
        rows = Some(<Dispatch as SigmoidOps>::sigmoid_into(sink, logits, start));
    }
    match rows {
        Some(rows) => Tensor::from_dispatch(rows),
        None => Tensor::cat(Vec::new(), 0),
    }
}

/// Rows of the logistic function in parallel, for flex without autodiff
/// (sampling needs no gradients, so this operation has no backward pass).
#[backend_extension(Flex)]
pub trait SigmoidOps: Backend {
    /// σ of every value of `x` (`[rows, cols]`).
    fn sigmoid_rows(x: FloatTensor<Self>) -> FloatTensor<Self>;

    /// A zeroed `[rows, cols]` tensor on `like`'s device, `cols` being `like`'s.
    fn zero_rows(like: FloatTensor<Self>, rows: usize) -> FloatTensor<Self>;

    /// `out` with rows `start..start + n` replaced by σ of `logits` (`[n, cols]`),
    /// in place where `out` is held alone.
    fn sigmoid_into(
        out: FloatTensor<Self>,
        logits: FloatTensor<Self>,
        start: usize,
    ) -> FloatTensor<Self>;
}

/// σ(l), without overflow.
fn logistic(l: f32) -> f32 {
    sigmoid_from(l, exp_neg_abs(l))
}

impl SigmoidOps for Flex {
    fn sigmoid_rows(x: FlexTensor) -> FlexTensor {
        let mut x = contiguous_f32(x);
        let [_, cols] = x.shape().dims();
        // In place where the logits are held alone (the decoder's fresh
        // output): no new buffer to allocate, zero and page in.
        x.storage_mut::<f32>()
            .par_chunks_mut(cols.max(1))
            .for_each(|row| {
                for v in row {
                    *v = logistic(*v);
                }
            });
        x
    }

    fn zero_rows(like: FlexTensor, rows: usize) -> FlexTensor {
        let [_, cols] = like.shape().dims();
        // Fresh zeroed memory: the pages are zeroed by the kernel when the
        // sigmoid first writes them, in parallel.
        flex_tensor(vec![0.0; rows * cols], Shape::new([rows, cols]))
    }

    fn sigmoid_into(out: FlexTensor, logits: FlexTensor, start: usize) -> FlexTensor {
        let (mut out, logits) = (contiguous_f32(out), contiguous_f32(logits));
        let [n, cols] = logits.shape().dims();
        let cols = cols.max(1);
        let rows = &mut out.storage_mut::<f32>()[start * cols..(start + n) * cols];
        rows.par_chunks_mut(cols)
            .zip(
                logits
                    .as_slice::<f32>()
                    .expect("contiguous f32")
                    .par_chunks(cols),
            )
            .for_each(|(row, l)| {
                for (out, &l) in row.iter_mut().zip(l) {
                    *out = logistic(l);
                }
            });
        out
    }
}

#[cfg(test)]
mod tests {
    use burn::prelude::*;
    use burn::tensor::Distribution;
    use burn::tensor::activation::sigmoid;

    /// The parallel flex kernel against Burn's `sigmoid`, over a wide range of logits.
    #[test]
    fn flex_sigmoid_matches_burn() {
        use burn::backend::Dispatch;
        let device = Device::flex();
        let x = Tensor::<2>::random([7, 33], Distribution::Normal(0.0, 30.0), &device);
        let ours = Tensor::<2>::from_dispatch(<Dispatch as super::SigmoidOps>::sigmoid_rows(
            x.clone().into_dispatch(),
        ));
        let diff: f32 = (ours - sigmoid(x)).abs().max().into_scalar();
        assert!(diff < 1e-6, "{diff}");
    }

    /// Flex's sampling of means, each batch's σ written into its rows of one
    /// result, against Burn's sigmoid of each batch concatenated: three
    /// batches of logits, the last one short.
    #[test]
    fn flex_means_are_written_into_their_rows() {
        use burn::backend::Dispatch;
        let device = Device::flex();
        let batches: Vec<Tensor<2>> = [1_000, 1_000, 500]
            .map(|n| Tensor::<2>::random([n, 33], Distribution::Normal(0.0, 8.0), &device))
            .into();
        let mut sink =
            <Dispatch as super::SigmoidOps>::zero_rows(batches[0].clone().into_dispatch(), 2_500);
        for (i, logits) in batches.iter().enumerate() {
            sink = <Dispatch as super::SigmoidOps>::sigmoid_into(
                sink,
                logits.clone().into_dispatch(),
                i * 1_000,
            );
        }
        let ours = Tensor::<2>::from_dispatch(sink);
        let theirs = Tensor::cat(batches.into_iter().map(sigmoid).collect(), 0);
        assert_eq!(ours.dims(), [2_500, 33]);
        let diff: f32 = (ours - theirs).abs().max().into_scalar();
        assert!(diff < 1e-6, "{diff}");
    }
}
