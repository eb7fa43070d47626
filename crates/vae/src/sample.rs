//! Sampling images from a VAE's decoder, in large batches on the device.

use burn::backend::tensor::FloatTensor;
use burn::backend::{Backend, Dispatch, Flex, TensorMetadata, backend_extension};
use burn::prelude::*;
use burn::tensor::Distribution;
use burn::tensor::activation::sigmoid;
use burn_flex::FlexTensor;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::elementary::exp_neg_abs;
use crate::flex::{contiguous_f32, flex_tensor, is_flex};
use crate::loss::sigmoid as sigmoid_of;
use crate::model::Vae;

/// How a generated image is made from the decoder's Bernoulli means.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SampleMode {
    /// The means themselves (grey values), as the authors do.
    Mean,
    /// One Bernoulli draw per pixel (binary images).
    Bernoulli,
}

impl std::fmt::Display for SampleMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SampleMode::Mean => "mean",
            SampleMode::Bernoulli => "bernoulli",
        })
    }
}

/// The decoder's means σ(logits) for the given latents.
///
/// # Shapes
/// - `z`: `[batch, latent]`; returns `[batch, pixels]`
pub fn decode_means(model: &Vae, z: Tensor<2>) -> Tensor<2> {
    let logits = model.decode(z);
    let device = logits.device();
    if is_flex(&device) && !device.is_autodiff() {
        return Tensor::from_dispatch(<Dispatch as SigmoidOps>::sigmoid_rows(
            logits.into_dispatch(),
        ));
    }
    sigmoid(logits)
}

/// Rows of the logistic function in parallel: flex computes `sigmoid` as
/// several whole-tensor passes on one thread, which was as slow as the
/// decoder's matrix multiplies when sampling in batches of 1,000 (no gradients
/// are needed there, so this operation has no backward pass).
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
    sigmoid_of(l, exp_neg_abs(l))
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

/// Draws `count` images: z ~ N(0, s²I) with s = `prior_scale`, decoded in
/// batches of `batch`, as means or Bernoulli draws.
///
/// The model should be on a device without autodiff (use `Module::valid`).
///
/// # Shapes
/// - returns `[count, pixels]` on `device`
pub fn sample_images(
    model: &Vae,
    latent_dim: usize,
    count: usize,
    batch: usize,
    prior_scale: f64,
    mode: SampleMode,
    device: &Device,
) -> Tensor<2> {
    // Means on flex: each batch's σ is written straight into its rows of the
    // result, so no batch of means is kept and nothing is concatenated (on the
    // MLP that was a third of sampling's time, most of it the kernel zeroing
    // the pages of buffers used once).
    let into_rows = mode == SampleMode::Mean && is_flex(device) && !device.is_autodiff();
    let mut rows: Option<FloatTensor<Dispatch>> = None;
    let mut chunks = Vec::new();
    let draw = |start: usize| {
        let n = batch.min(count - start);
        Tensor::<2>::random(
            [n, latent_dim],
            Distribution::Normal(0.0, prior_scale),
            device,
        )
    };
    let starts: Vec<usize> = (0..count).step_by(batch.max(1)).collect();
    let mut next = starts.first().map(|&s| draw(s));
    for (i, &start) in starts.iter().enumerate() {
        let Some(z) = next.take() else { break };
        if into_rows {
            // The next batch's noise is drawn while this one decodes: the
            // host RNG is serial, and decoding a trained or loaded model
            // draws nothing, so the noise is the same as drawn in turn.
            let (logits, following) = rayon::join(
                || model.decode(z).into_dispatch(),
                || starts.get(i + 1).map(|&s| draw(s)),
            );
            next = following;
            let sink = rows
                .take()
                .unwrap_or_else(|| <Dispatch as SigmoidOps>::zero_rows(logits.clone(), count));
            rows = Some(<Dispatch as SigmoidOps>::sigmoid_into(sink, logits, start));
            continue;
        }
        let means = decode_means(model, z);
        chunks.push(match mode {
            SampleMode::Mean => means,
            SampleMode::Bernoulli => means
                .clone()
                .greater(means.random_like(Distribution::Default))
                .float(),
        });
        // After this batch's Bernoulli draws: the noise keeps its order.
        next = starts.get(i + 1).map(|&s| draw(s));
    }
    match rows {
        Some(rows) => Tensor::from_dispatch(rows),
        None => Tensor::cat(chunks, 0),
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
