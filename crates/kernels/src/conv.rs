//! Convolutions lowered to window copies and matrix multiplies, for the CPU
//! backends.
//!
//! Burn's ndarray backend computes `conv2d` and `conv_transpose2d` too slowly
//! for the authors' network to train on it, and on flex the lowering trains
//! faster than flex's own convolutions (docs/performance.md has the figures).
//! Here a convolution is `unfold` (each output position's input window copied
//! into one row, "im2col") followed by a matrix
//! multiply, and a transposed convolution is a matrix multiply followed by
//! `fold`, the adjoint of `unfold` (each row added back into the windows it
//! came from, "col2im"). Activations stay channels-last (`[batch, h, w, c]`),
//! so the matrix multiply's `[positions, out]` result is already the next
//! layer's input and no layout copies are needed in between.
//!
//! The three products (convolution, transposed convolution, and the weight
//! gradient of both) are one Burn backend extension ([`LoweredConvOps`]), each
//! the others' backward under autodiff. On flex each task of the thread pool
//! unfolds, multiplies and folds a few images at a time in its own cache; on
//! ndarray the whole batch goes through the host and one matrix multiply. A
//! dense layer is the 1×1 case ([`dense`]): on flex the MLPs' layers and the
//! conv VAE's heads are one multiply each (over the thread pool when large). The
//! weights keep the layouts of Burn's `Conv2d` (`[out, in, k, k]`) and
//! `ConvTranspose2d` (`[in, out, k, k]`), so a checkpoint is the same whichever
//! path computed it; the tests and `collapse parity` check this path against
//! Burn's own convolutions.
//!
//! Each operation chooses its path inside ([`conv_path`]): the lowering on the
//! CPU backends, Burn's convolutions (channels-first, permuted around) on the
//! others. Only a benchmark or a parity check forces one path everywhere
//! ([`force_conv_path`]); no model, configuration or record names a path.

// burn-ndarray is deprecated in Burn 0.22; the project still runs on it.
#![allow(deprecated)]

use burn::backend::autodiff::NodeId;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::tensor::FloatTensor;
use burn::backend::{
    Autodiff, AutodiffBackend, Backend, Flex, NdArray, TensorMetadata, backend_extension,
};
use burn::prelude::*;
use burn::tensor::{DType, TensorData, try_read_sync};
use burn_flex::FlexTensor;
use std::sync::atomic::{AtomicU8, Ordering};

use burn::tensor::ops::{ConvOptions, ConvTransposeOptions};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::flex::{contiguous_f32, flex_tensor};
use crate::gemm::{Mat, matmul_into};

/// How convolutions are computed: the same weights and layouts either way.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum ConvImpl {
    /// Burn's `conv2d` / `conv_transpose2d`.
    Burn,
    /// The project's unfold (im2col) and matrix multiply, channels-last (CPU backends only).
    Matmul,
}

impl std::fmt::Display for ConvImpl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ConvImpl::Burn => "burn",
            ConvImpl::Matmul => "matmul",
        })
    }
}

/// The path every convolution takes where one is forced: 0 none, 1 Burn's, 2 the lowering.
static FORCED: AtomicU8 = AtomicU8::new(0);

/// Makes every convolution take `path` on every device, or with `None` each
/// device its own ([`conv_path`]). For the benchmark and the parity check,
/// which compare the two paths; the lowering runs on the CPU backends only.
pub fn force_conv_path(path: Option<ConvImpl>) {
    let code = match path {
        None => 0,
        Some(ConvImpl::Burn) => 1,
        Some(ConvImpl::Matmul) => 2,
    };
    FORCED.store(code, Ordering::SeqCst);
}

/// The path convolutions take on `device`: the forced one, else the lowering
/// on the CPU backends (Burn's ndarray convolutions are far slower, and on
/// flex the lowering is the faster path) and Burn's elsewhere.
pub fn conv_path(device: &Device) -> ConvImpl {
    match FORCED.load(Ordering::SeqCst) {
        1 => ConvImpl::Burn,
        2 => ConvImpl::Matmul,
        _ if crate::flex::is_cpu(device) => ConvImpl::Matmul,
        _ => ConvImpl::Burn,
    }
}

/// A square window sliding over a channels-last image: kernel size, stride and
/// symmetric zero padding, over an image of `height × width × channels`.
#[derive(Clone, Copy, Debug)]
struct Window {
    kernel: usize,
    stride: usize,
    padding: usize,
    height: usize,
    width: usize,
    channels: usize,
}

impl Window {
    /// The window `kernel`, `stride`, `padding` over an image of `height × width × channels`.
    fn new([kernel, stride, padding]: [usize; 3], [height, width, channels]: [usize; 3]) -> Self {
        Window {
            kernel,
            stride,
            padding,
            height,
            width,
            channels,
        }
    }

    /// Output rows and columns: `(h + 2p − k)/s + 1` on each axis.
    fn out_dims(&self) -> [usize; 2] {
        let out = |n: usize| (n + 2 * self.padding - self.kernel) / self.stride + 1;
        [out(self.height), out(self.width)]
    }

    /// Whether each output position's window is its own pixel (kernel 1,
    /// stride 1, no padding): the unfolded rows are the image itself, and the
    /// product a dense layer's.
    fn is_pointwise(&self) -> bool {
        self.kernel == 1 && self.stride == 1 && self.padding == 0
    }

    /// Values of one unfolded row: `k · k · channels`.
    fn row_len(&self) -> usize {
        self.kernel * self.kernel * self.channels
    }

    /// Calls `f(row offset, image offset)` for every kernel tap of output
    /// position `(oy, ox)` that lands inside the image; each names `channels`
    /// contiguous values (taps in `(ky, kx)` row-major order).
    fn taps(&self, oy: usize, ox: usize, mut f: impl FnMut(usize, usize)) {
        let (k, c) = (self.kernel, self.channels);
        for ky in 0..k {
            let Some(iy) = (oy * self.stride + ky).checked_sub(self.padding) else {
                continue;
            };
            if iy >= self.height {
                continue;
            }
            for kx in 0..k {
                let Some(ix) = (ox * self.stride + kx).checked_sub(self.padding) else {
                    continue;
                };
                if ix >= self.width {
                    continue;
                }
                f((ky * k + kx) * c, (iy * self.width + ix) * c);
            }
        }
    }

    /// Appends im2col of one image (`[h, w, c]`) to `rows`: `oh · ow` rows of
    /// `k · k · c` values (taps in `(ky, kx, c)` order), zeros for the taps in
    /// the padding. Every value is written once, so the buffer needs no
    /// zeroing first, and a kernel row's taps inside the image are one copy.
    fn push_unfolded(&self, image: &[f32], rows: &mut Vec<f32>) {
        let [oh, ow] = self.out_dims();
        let (k, c, p) = (self.kernel, self.channels, self.padding);
        for oy in 0..oh {
            for ox in 0..ow {
                // Tap kx reads column ox·s + kx − p: inside for kx in [left, right).
                let x0 = ox * self.stride;
                let left = p.saturating_sub(x0).min(k);
                let right = (self.width + p).saturating_sub(x0).min(k);
                for ky in 0..k {
                    let iy = (oy * self.stride + ky)
                        .checked_sub(p)
                        .filter(|&iy| iy < self.height);
                    match iy {
                        Some(iy) if left < right => {
                            rows.resize(rows.len() + left * c, 0.0);
                            let from = (iy * self.width + x0 + left - p) * c;
                            rows.extend_from_slice(&image[from..from + (right - left) * c]);
                            rows.resize(rows.len() + (k - right) * c, 0.0);
                        }
                        _ => rows.resize(rows.len() + k * c, 0.0),
                    }
                }
            }
        }
    }

    /// col2im of one image, the adjoint of [`Self::push_unfolded`]: adds every
    /// row's taps into `image` (`[h, w, c]`, zeroed by the caller).
    fn fold_image(&self, rows: &[f32], image: &mut [f32]) {
        let [_, ow] = self.out_dims();
        let (len, c) = (self.row_len(), self.channels);
        for (position, row) in rows.chunks_exact(len).enumerate() {
            self.taps(position / ow, position % ow, |at, to| {
                for (sum, v) in image[to..to + c].iter_mut().zip(&row[at..at + c]) {
                    *sum += v;
                }
            });
        }
    }
}

/// im2col of a batch: `images` `[batch, h, w, c]` into `rows`
/// `[batch, oh, ow, k, k, c]`, one image per task of the thread pool.
fn unfold_batch(window: &Window, images: &[f32], rows: &mut [f32]) {
    let [oh, ow] = window.out_dims();
    let image = window.height * window.width * window.channels;
    rows.par_chunks_mut(oh * ow * window.row_len())
        .zip(images.par_chunks(image))
        .for_each(|(rows, image)| {
            let mut unfolded = Vec::with_capacity(rows.len());
            window.push_unfolded(image, &mut unfolded);
            rows.copy_from_slice(&unfolded);
        });
}

/// col2im of a batch, the adjoint of [`unfold_batch`]: `rows` into the zeroed `images`.
fn fold_batch(window: &Window, rows: &[f32], images: &mut [f32]) {
    let [oh, ow] = window.out_dims();
    let image = window.height * window.width * window.channels;
    images
        .par_chunks_mut(image)
        .zip(rows.par_chunks(oh * ow * window.row_len()))
        .for_each(|(image, rows)| window.fold_image(rows, image));
}

/// Moves a float tensor's values to the host (without a copy where the backend
/// holds them alone and contiguous) and returns them with the tensor's device.
fn to_host<B: Backend>(tensor: FloatTensor<B>) -> (Vec<f32>, B::Device) {
    let device = tensor.device();
    let data = try_read_sync(B::float_into_data(tensor))
        .expect("a CPU backend's tensor is readable at once")
        .expect("reading a tensor back cannot fail on a CPU backend");
    let values = data
        .convert::<f32>()
        .try_into_vec::<f32>()
        .expect("converted to f32 above");
    (values, device)
}

/// The unfolded rows `[batch·oh·ow, k·k·c]` of the channels-last images `x`
/// (`[batch, h, w, c]`) as a tensor of the same backend, and `[batch, oh, ow]`.
fn unfold_tensor<B: Backend>(
    x: FloatTensor<B>,
    geometry: [usize; 3],
) -> (FloatTensor<B>, [usize; 3]) {
    let [batch, height, width, channels] = x.shape().dims();
    let window = Window::new(geometry, [height, width, channels]);
    let [oh, ow] = window.out_dims();
    // Under autodiff `x` is also kept for the backward pass, and burn-ndarray
    // reads a shared tensor back element by element (a sixth of a conv step);
    // its copy by `× 1` runs at memory speed and is then read back without one.
    let (images, device) = to_host::<B>(B::float_mul_scalar(x, 1.0.into()));
    let mut rows = vec![0.0f32; batch * oh * ow * window.row_len()];
    unfold_batch(&window, &images, &mut rows);
    let shape = [batch * oh * ow, window.row_len()];
    (
        B::float_from_data(TensorData::new(rows, shape), &device),
        [batch, oh, ow],
    )
}

/// The lowered convolutions as backend operations, each one multiply with the
/// unfolded windows of a channels-last batch (`U` below is im2col, `Uᵀ` col2im),
/// and the two element-wise passes of their backward:
///
/// - [`Self::conv_rows`]: `U(x) · m + b`, a convolution, with its ReLU if asked;
/// - [`Self::deconv_rows`]: `Uᵀ(x · m) + b`, a transposed convolution, with its ReLU if asked;
/// - [`Self::window_gram`]: `U(x)ᵀ · y`, the weight gradient of both;
/// - [`Self::relu_backward_in_place`] and [`Self::channel_sums`]: the ReLU's
///   backward and the bias gradient.
///
/// Under [`Autodiff`] the products are each other's backward. The default
/// bodies (ndarray) unfold or fold the whole batch on the host around one
/// backend matrix multiply, and leave bias and ReLU to the backend. Flex splits
/// the batch into groups of images, one task of the thread pool each, and runs
/// unfold, multiply, fold, bias and ReLU of a few images at a time inside the
/// task: the unfolded rows (26 MB for the paper's network at batch 128) are
/// never built whole, and each task's buffers are small enough to stay in its
/// core's cache, where Burn's matrix multiply of the whole batch, bias add and
/// ReLU each zero-fill and write a new tensor on one thread.
#[backend_extension(Flex, NdArray, Autodiff)]
pub trait LoweredConvOps: Backend {
    /// `x` `[batch, h, w, c]`, `m` `[k·k·c, o]` and `bias` `[o]` →
    /// `[batch, oh, ow, o]`: each output position's window (taps in
    /// `(ky, kx, c)` order, zeros for the padding) times `m`, plus the bias,
    /// through a ReLU if `relu`.
    #[allow(clippy::too_many_arguments)]
    fn conv_rows(
        x: FloatTensor<Self>,
        m: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        kernel: usize,
        stride: usize,
        padding: usize,
        relu: bool,
    ) -> FloatTensor<Self> {
        let outs = m.shape().dims::<2>()[1];
        let (rows, [batch, oh, ow]) = unfold_tensor::<Self>(x, [kernel, stride, padding]);
        let out = Self::float_matmul(rows, m);
        let out = Self::float_reshape(out, Shape::new([batch, oh, ow, outs]));
        bias_and_relu::<Self>(out, bias, relu)
    }

    /// `x` `[batch, h, w, c]`, `m` `[c, k·k·o]` and `bias` `[o]` →
    /// `[batch, height, width, o]`: each input pixel's row of `x · m` added
    /// into the window of the output it scatters to (the adjoint of
    /// [`Self::conv_rows`] in `x`), plus the bias, through a ReLU if `relu`.
    #[allow(clippy::too_many_arguments)]
    fn deconv_rows(
        x: FloatTensor<Self>,
        m: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        kernel: usize,
        stride: usize,
        padding: usize,
        height: usize,
        width: usize,
        relu: bool,
    ) -> FloatTensor<Self> {
        let [batch, h, w, c] = x.shape().dims();
        let len = m.shape().dims::<2>()[1];
        let rows = Self::float_matmul(Self::float_reshape(x, Shape::new([batch * h * w, c])), m);
        let (rows, device) = to_host::<Self>(rows);
        let window = Window::new(
            [kernel, stride, padding],
            [height, width, len / (kernel * kernel)],
        );
        let mut images = vec![0.0f32; batch * height * width * window.channels];
        fold_batch(&window, &rows, &mut images);
        let shape = [batch, height, width, window.channels];
        let out = Self::float_from_data(TensorData::new(images, shape), &device);
        bias_and_relu::<Self>(out, bias, relu)
    }

    /// `x` `[batch, h, w, c]` and `y` `[batch, oh, ow, n]` → `[k·k·c, n]`: the
    /// unfolded windows of `x`, transposed, times `y`.
    fn window_gram(
        x: FloatTensor<Self>,
        y: FloatTensor<Self>,
        kernel: usize,
        stride: usize,
        padding: usize,
    ) -> FloatTensor<Self> {
        let (rows, [batch, oh, ow]) = unfold_tensor::<Self>(x, [kernel, stride, padding]);
        let n = y.shape().dims::<4>()[3];
        let y = Self::float_reshape(y, Shape::new([batch * oh * ow, n]));
        // (yᵀ · rows)ᵀ rather than rowsᵀ · y: burn-ndarray copies a transposed
        // operand element by element, and the rows are the larger one.
        Self::float_transpose(Self::float_matmul(Self::float_transpose(y), rows))
    }

    /// The gradient `grad` through a ReLU whose output was `out`: zero where
    /// `out ≤ 0`, as Burn's `relu_backward` (in place where `grad` is held alone).
    fn relu_backward_in_place(
        grad: FloatTensor<Self>,
        out: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        Self::relu_backward(out, grad)
    }

    /// `y` `[.., n]` summed over all but its last axis → `[n]` (a bias gradient).
    fn channel_sums(y: FloatTensor<Self>) -> FloatTensor<Self> {
        let dims = y.shape();
        let n = dims[dims.num_dims() - 1];
        let y = Self::float_reshape(y, Shape::new([dims.num_elements() / n, n]));
        Self::float_reshape(Self::float_sum_dim(y, 0), Shape::new([n]))
    }
}

/// `out` (`[.., o]`) plus `bias` (`[o]`), through a ReLU if `relu`, by the backend's own operations.
fn bias_and_relu<B: Backend>(
    out: FloatTensor<B>,
    bias: FloatTensor<B>,
    relu: bool,
) -> FloatTensor<B> {
    let o = bias.shape()[0];
    let out = B::float_add(out, B::float_reshape(bias, Shape::new([1, 1, 1, o])));
    if relu { B::relu(out) } else { out }
}

/// A zero bias of `n` values on `like`'s device: the backward passes'
/// products have none.
fn no_bias<B: Backend>(like: &FloatTensor<B>, n: usize) -> FloatTensor<B> {
    B::float_zeros(Shape::new([n]), &like.device(), like.dtype().into())
}

impl LoweredConvOps for NdArray {}

/// Values the flex kernels keep in one task's buffers at a time (1 MiB), so
/// that they stay in a core's cache.
const TASK_VALUES: usize = 1 << 18;

/// Groups of images the flex kernels split a batch into (fewer for smaller
/// batches). Fixed, not the thread count: the weight and bias gradients' sums
/// run group by group, so they are the same on any number of threads. Beyond
/// 16 cores only the matrix multiplies inside a group use the rest.
const GROUPS: usize = 16;

/// How the flex kernels split a batch: `per_group` images per task of the
/// thread pool, processed `per_chunk` at a time (`per_image` values of
/// buffers each). The weight gradient goes chunk by chunk too: its product is
/// `[k·k·c, n]` whatever the number of rows, so whole groups gain nothing.
fn split(batch: usize, per_image: usize) -> (usize, usize) {
    let per_group = batch.div_ceil(GROUPS).max(1);
    let per_chunk = (TASK_VALUES / per_image.max(1)).clamp(1, per_group);
    (per_group, per_chunk)
}

/// The values of a contiguous f32 flex tensor.
fn values(tensor: &FlexTensor) -> &[f32] {
    tensor.as_slice::<f32>().expect("a contiguous f32 tensor")
}

/// `tensor` as is where its values are contiguous (a batch cut from a larger
/// tensor, say), else a contiguous copy: for tensors only read.
fn readable(tensor: FlexTensor) -> FlexTensor {
    assert_eq!(tensor.dtype(), DType::F32, "the project computes in f32");
    if tensor.as_slice::<f32>().is_some() {
        tensor
    } else {
        tensor.to_contiguous()
    }
}

/// `tensor` as is where its strides are those of a 2-D view with none
/// negative (a transpose, say), else a contiguous copy.
fn strided(tensor: FlexTensor) -> FlexTensor {
    assert_eq!(tensor.dtype(), DType::F32, "the project computes in f32");
    match tensor.layout().strides() {
        [r, c] if *r >= 0 && *c >= 0 => tensor,
        _ => contiguous_f32(tensor),
    }
}

/// A 2-D tensor returned by [`strided`] as a matrix over its buffer.
fn matrix(tensor: &FlexTensor) -> Mat<'_> {
    let layout = tensor.layout();
    let [rows, cols] = tensor.shape().dims();
    let &[row_stride, col_stride] = layout.strides() else {
        panic!("a 2-D tensor")
    };
    let data = &tensor.storage::<f32>()[layout.start_offset()..];
    Mat::strided(
        data,
        [rows, cols],
        [row_stride as usize, col_stride as usize],
    )
}

/// A dense layer on a whole batch: `rows · m` (one multiply, over the thread
/// pool if it is large: split by rows, gemm would pack `m` again for every
/// part) plus `bias`, through a ReLU if `relu`, in parallel slices if large.
/// A zero bias without a ReLU (the backward passes') is no pass at all.
fn dense_rows(rows: Mat<'_>, m: Mat<'_>, bias: &[f32], relu: bool) -> Vec<f32> {
    let mut out = vec![0.0f32; rows.rows() * m.cols()];
    let parallel = worth_splitting(rows.rows(), rows.cols(), m.cols());
    matmul_into(&mut out, rows, m, false, parallel);
    if relu || bias.iter().any(|&b| b != 0.0) {
        if out.len() >= SPLIT_VALUES {
            out.par_chunks_mut(SPLIT_VALUES.div_ceil(bias.len()) * bias.len())
                .for_each(|out| finish_rows(out, bias, relu));
        } else {
            finish_rows(&mut out, bias, relu);
        }
    }
    out
}

/// Values below which an element-wise pass stays on the calling thread:
/// waking the pool costs more than it saves (a dense layer of the MLPs runs
/// a dozen such passes per step).
const SPLIT_VALUES: usize = 1 << 15;

/// Whether an `m × k` by `k × n` product is large enough to split over the
/// thread pool (as flex does from 192³ multiply-adds).
fn worth_splitting(m: usize, k: usize, n: usize) -> bool {
    m.saturating_mul(k).saturating_mul(n) >= 192 * 192 * 192
}

/// Whether the products of `tasks` tasks should themselves be split over the
/// thread pool: only when there are fewer tasks than threads (a small batch).
fn multiply_in_parallel(tasks: usize) -> bool {
    tasks < rayon::current_num_threads()
}

/// `out` (rows of `bias.len()` values) plus `bias`, through a ReLU if `relu`, in place.
fn finish_rows(out: &mut [f32], bias: &[f32], relu: bool) {
    // Zero where `v ≤ 0`: a NaN passes, as in Burn's `relu` (`max` would make it 0,
    // and a diverged layer's NaN would no longer reach the loss's check).
    let activate = |v: f32| if relu && v <= 0.0 { 0.0 } else { v };
    for out in out.chunks_exact_mut(bias.len()) {
        for (o, b) in out.iter_mut().zip(bias) {
            *o = activate(*o + b);
        }
    }
}

/// Sums of `parts` (equal lengths) added in their order, a slice of the result per task.
fn sum_in_order(parts: &[Vec<f32>], len: usize) -> Vec<f32> {
    const SLICE: usize = 4096;
    let mut out = vec![0.0f32; len];
    out.par_chunks_mut(SLICE).enumerate().for_each(|(i, out)| {
        for part in parts {
            for (o, v) in out.iter_mut().zip(&part[i * SLICE..]) {
                *o += v;
            }
        }
    });
    out
}

impl LoweredConvOps for Flex {
    fn conv_rows(
        x: FlexTensor,
        m: FlexTensor,
        bias: FlexTensor,
        kernel: usize,
        stride: usize,
        padding: usize,
        relu: bool,
    ) -> FlexTensor {
        let x = readable(x);
        let bias = readable(bias);
        let bias = values(&bias);
        let [batch, height, width, channels] = x.shape().dims();
        let window = Window::new([kernel, stride, padding], [height, width, channels]);
        let [oh, ow] = window.out_dims();
        let (positions, len, outs) = (oh * ow, window.row_len(), m.shape().dims::<2>()[1]);
        let image = height * width * channels;
        let (per_group, per_chunk) = split(batch, positions * (len + outs));
        let (images, m) = (values(&x), strided(m));
        let m = matrix(&m);
        if window.is_pointwise() {
            let rows = Mat::row_major(images, batch * positions, len);
            let out = dense_rows(rows, m, bias, relu);
            return flex_tensor(out, Shape::new([batch, oh, ow, outs]));
        }
        let parallel = multiply_in_parallel(batch.div_ceil(per_group));
        let mut out = vec![0.0f32; batch * positions * outs];
        out.par_chunks_mut(per_group * positions * outs)
            .zip(images.par_chunks(per_group * image))
            .for_each(|(out, images)| {
                let mut rows = Vec::with_capacity(per_chunk * positions * len);
                let chunks = out
                    .chunks_mut(per_chunk * positions * outs)
                    .zip(images.chunks(per_chunk * image));
                for (out, images) in chunks {
                    rows.clear();
                    for image in images.chunks_exact(image) {
                        window.push_unfolded(image, &mut rows);
                    }
                    let n = images.len() / image;
                    let rows = Mat::row_major(&rows, n * positions, len);
                    matmul_into(out, rows, m, false, parallel);
                    finish_rows(out, bias, relu);
                }
            });
        flex_tensor(out, Shape::new([batch, oh, ow, outs]))
    }

    fn deconv_rows(
        x: FlexTensor,
        m: FlexTensor,
        bias: FlexTensor,
        kernel: usize,
        stride: usize,
        padding: usize,
        height: usize,
        width: usize,
        relu: bool,
    ) -> FlexTensor {
        let x = readable(x);
        let bias = readable(bias);
        let bias = values(&bias);
        let [batch, h, w, c] = x.shape().dims();
        let len = m.shape().dims::<2>()[1];
        let window = Window::new(
            [kernel, stride, padding],
            [height, width, len / (kernel * kernel)],
        );
        let (pixels, image) = (h * w, height * width * window.channels);
        let (per_group, per_chunk) = split(batch, pixels * (c + len));
        let (x, m) = (values(&x), strided(m));
        let m = matrix(&m);
        if window.is_pointwise() {
            assert_eq!(
                [height, width],
                [h, w],
                "a 1x1 transposed convolution keeps the size"
            );
            let out = dense_rows(Mat::row_major(x, batch * pixels, c), m, bias, relu);
            return flex_tensor(out, Shape::new([batch, height, width, window.channels]));
        }
        let parallel = multiply_in_parallel(batch.div_ceil(per_group));
        let mut out = vec![0.0f32; batch * image];
        out.par_chunks_mut(per_group * image)
            .zip(x.par_chunks(per_group * pixels * c))
            .for_each(|(out, x)| {
                let mut rows = vec![0.0f32; per_chunk * pixels * len];
                let chunks = out
                    .chunks_mut(per_chunk * image)
                    .zip(x.chunks(per_chunk * pixels * c));
                for (out, x) in chunks {
                    let n = out.len() / image;
                    let rows = &mut rows[..n * pixels * len];
                    matmul_into(rows, Mat::row_major(x, n * pixels, c), m, false, parallel);
                    for (rows, image) in rows
                        .chunks_exact(pixels * len)
                        .zip(out.chunks_exact_mut(image))
                    {
                        window.fold_image(rows, image);
                    }
                    finish_rows(out, bias, relu);
                }
            });
        flex_tensor(out, Shape::new([batch, height, width, window.channels]))
    }

    fn window_gram(
        x: FlexTensor,
        y: FlexTensor,
        kernel: usize,
        stride: usize,
        padding: usize,
    ) -> FlexTensor {
        let x = readable(x);
        let [batch, height, width, channels] = x.shape().dims();
        let window = Window::new([kernel, stride, padding], [height, width, channels]);
        let [oh, ow] = window.out_dims();
        let (positions, len, n) = (oh * ow, window.row_len(), y.shape().dims::<4>()[3]);
        let image = height * width * channels;
        let (per_group, per_chunk) = split(batch, positions * (len + n));
        let (images, y) = (values(&x), readable(y));
        let y = values(&y);
        if window.is_pointwise() {
            let rows = Mat::row_major(images, batch * positions, len).t();
            let mut out = vec![0.0f32; len * n];
            let parallel = worth_splitting(len, batch * positions, n);
            matmul_into(
                &mut out,
                rows,
                Mat::row_major(y, batch * positions, n),
                false,
                parallel,
            );
            return flex_tensor(out, Shape::new([len, n]));
        }
        let parallel = multiply_in_parallel(batch.div_ceil(per_group));
        // One partial sum per group, each over its chunks in order.
        let partials: Vec<Vec<f32>> = images
            .par_chunks(per_group * image)
            .zip(y.par_chunks(per_group * positions * n))
            .map(|(images, y)| {
                let mut sum = vec![0.0f32; len * n];
                let mut rows = Vec::with_capacity(per_chunk * positions * len);
                let chunks = images
                    .chunks(per_chunk * image)
                    .zip(y.chunks(per_chunk * positions * n));
                for (images, y) in chunks {
                    rows.clear();
                    for image in images.chunks_exact(image) {
                        window.push_unfolded(image, &mut rows);
                    }
                    let count = images.len() / image;
                    let rows = Mat::row_major(&rows, count * positions, len).t();
                    let y = Mat::row_major(y, count * positions, n);
                    matmul_into(&mut sum, rows, y, true, parallel);
                }
                sum
            })
            .collect();
        flex_tensor(sum_in_order(&partials, len * n), Shape::new([len, n]))
    }

    fn relu_backward_in_place(grad: FlexTensor, out: FlexTensor) -> FlexTensor {
        const SLICE: usize = 1 << 14;
        let mut grad = contiguous_f32(grad);
        let out = readable(out);
        grad.storage_mut::<f32>()
            .par_chunks_mut(SLICE)
            .zip(values(&out).par_chunks(SLICE))
            .for_each(|(grad, out)| {
                for (g, o) in grad.iter_mut().zip(out) {
                    // `<=` keeps the gradient at a NaN output, as flex's relu_backward.
                    if *o <= 0.0 {
                        *g = 0.0;
                    }
                }
            });
        grad
    }

    fn channel_sums(y: FlexTensor) -> FlexTensor {
        let y = readable(y);
        let dims = y.shape();
        let n = dims[dims.num_dims() - 1];
        let rows = dims.num_elements() / n;
        // Fixed by the size alone, so the sums are the same on any thread count.
        let per_group = rows.div_ceil(GROUPS).max(SPLIT_VALUES / n).max(1);
        let partials: Vec<Vec<f32>> = values(&y)
            .par_chunks(per_group * n)
            .map(|rows| {
                let mut sum = vec![0.0f32; n];
                for row in rows.chunks_exact(n) {
                    for (s, v) in sum.iter_mut().zip(row) {
                        *s += v;
                    }
                }
                sum
            })
            .collect();
        flex_tensor(sum_in_order(&partials, n), Shape::new([n]))
    }
}

/// The start of both products' backward passes: the output's gradient through
/// the ReLU where one was applied (`out` is then its output), and the bias
/// gradient (its sums) registered for `bias` where the bias is tracked.
fn through_relu_and_bias<B: Backend + LoweredConvOps>(
    grad: FloatTensor<B>,
    out: Option<FloatTensor<B>>,
    bias: Option<NodeId>,
    grads: &mut Gradients,
) -> FloatTensor<B> {
    let grad = match out {
        Some(out) => B::relu_backward_in_place(grad, out),
        None => grad,
    };
    if let Some(bias) = bias {
        grads.register::<B>(bias, B::channel_sums(grad.clone()));
    }
    grad
}

/// What a product's backward pass keeps: `x`, `m`, the output where a ReLU
/// was applied, and `N` sizes of the geometry.
type Saved<B, const N: usize> = (
    FloatTensor<B>,
    FloatTensor<B>,
    Option<FloatTensor<B>>,
    [usize; N],
);

/// Backward of [`LoweredConvOps::conv_rows`]: with `z̄` the output's gradient
/// through the ReLU, `x̄ = Uᵀ(z̄ · mᵀ)`, `m̄ = U(x)ᵀ · z̄` and `b̄ = Σ z̄`.
#[derive(Debug)]
struct ConvRowsBackward;

impl<B: Backend + LoweredConvOps> Backward<B, 3> for ConvRowsBackward {
    /// Kernel, stride, padding, and `x`'s height and width.
    type State = Saved<B, 5>;

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let (x, m, out, [k, s, p, h, w]) = ops.state;
        let [x_node, m_node, bias_node] = ops.parents;
        let grad = grads.consume::<B>(&ops.node);
        let grad = through_relu_and_bias::<B>(grad, out, bias_node.map(|n| n.id), grads);
        if let Some(node) = m_node {
            grads.register::<B>(node.id, B::window_gram(x, grad.clone(), k, s, p));
        }
        if let Some(node) = x_node {
            let bias = no_bias::<B>(&grad, m.shape()[0] / (k * k));
            let m = B::float_transpose(m);
            let dx = B::deconv_rows(grad, m, bias, k, s, p, h, w, false);
            grads.register::<B>(node.id, dx);
        }
    }
}

/// Backward of [`LoweredConvOps::deconv_rows`]: with `z̄` the output's
/// gradient through the ReLU, `x̄ = U(z̄) · mᵀ`, `m̄ = (U(z̄)ᵀ · x)ᵀ` and `b̄ = Σ z̄`.
#[derive(Debug)]
struct DeconvRowsBackward;

impl<B: Backend + LoweredConvOps> Backward<B, 3> for DeconvRowsBackward {
    /// Kernel, stride, padding.
    type State = Saved<B, 3>;

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let (x, m, out, [k, s, p]) = ops.state;
        let [x_node, m_node, bias_node] = ops.parents;
        let grad = grads.consume::<B>(&ops.node);
        let grad = through_relu_and_bias::<B>(grad, out, bias_node.map(|n| n.id), grads);
        if let Some(node) = m_node {
            let gram = B::window_gram(grad.clone(), x, k, s, p);
            grads.register::<B>(node.id, B::float_transpose(gram));
        }
        if let Some(node) = x_node {
            let bias = no_bias::<B>(&grad, m.shape()[0]);
            let m = B::float_transpose(m);
            grads.register::<B>(node.id, B::conv_rows(grad, m, bias, k, s, p, false));
        }
    }
}

impl<B: Backend + LoweredConvOps, C: CheckpointStrategy> LoweredConvOps for Autodiff<B, C> {
    fn conv_rows(
        x: FloatTensor<Self>,
        m: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        kernel: usize,
        stride: usize,
        padding: usize,
        relu: bool,
    ) -> FloatTensor<Self> {
        let [_, h, w, _] = x.primitive().shape().dims();
        let (x, x_node) = x.into_parts();
        let (m, m_node) = m.into_parts();
        let (bias, bias_node) = bias.into_parts();
        let out = |x, m, bias| B::conv_rows(x, m, bias, kernel, stride, padding, relu);
        match ConvRowsBackward
            .prepare::<C>([x_node, m_node, bias_node])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let y = out(x.clone(), m.clone(), bias);
                let kept = relu.then(|| y.clone());
                prep.finish((x, m, kept, [kernel, stride, padding, h, w]), y)
            }
            OpsKind::UnTracked(prep) => prep.finish(out(x, m, bias)),
        }
    }

    fn deconv_rows(
        x: FloatTensor<Self>,
        m: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        kernel: usize,
        stride: usize,
        padding: usize,
        height: usize,
        width: usize,
        relu: bool,
    ) -> FloatTensor<Self> {
        let (x, x_node) = x.into_parts();
        let (m, m_node) = m.into_parts();
        let (bias, bias_node) = bias.into_parts();
        let out =
            |x, m, bias| B::deconv_rows(x, m, bias, kernel, stride, padding, height, width, relu);
        match DeconvRowsBackward
            .prepare::<C>([x_node, m_node, bias_node])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let y = out(x.clone(), m.clone(), bias);
                let kept = relu.then(|| y.clone());
                prep.finish((x, m, kept, [kernel, stride, padding]), y)
            }
            OpsKind::UnTracked(prep) => prep.finish(out(x, m, bias)),
        }
    }

    // The three below are only ever values of a backward pass (on the inner
    // backend); through autodiff they are not differentiated again.

    fn window_gram(
        x: FloatTensor<Self>,
        y: FloatTensor<Self>,
        kernel: usize,
        stride: usize,
        padding: usize,
    ) -> FloatTensor<Self> {
        let (x, y) = (x.into_primitive(), y.into_primitive());
        Self::from_inner(B::window_gram(x, y, kernel, stride, padding))
    }

    fn relu_backward_in_place(
        grad: FloatTensor<Self>,
        out: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        let (grad, out) = (grad.into_primitive(), out.into_primitive());
        Self::from_inner(B::relu_backward_in_place(grad, out))
    }

    fn channel_sums(y: FloatTensor<Self>) -> FloatTensor<Self> {
        Self::from_inner(B::channel_sums(y.into_primitive()))
    }
}

fn conv_rows(
    x: Tensor<4>,
    m: Tensor<2>,
    bias: Tensor<1>,
    [kernel, stride, padding]: [usize; 3],
    relu: bool,
) -> Tensor<4> {
    use burn::backend::Dispatch;
    Tensor::from_dispatch(<Dispatch as LoweredConvOps>::conv_rows(
        x.into_dispatch(),
        m.into_dispatch(),
        bias.into_dispatch(),
        kernel,
        stride,
        padding,
        relu,
    ))
}

fn deconv_rows(
    x: Tensor<4>,
    m: Tensor<2>,
    bias: Tensor<1>,
    [kernel, stride, padding]: [usize; 3],
    [height, width]: [usize; 2],
    relu: bool,
) -> Tensor<4> {
    use burn::backend::Dispatch;
    Tensor::from_dispatch(<Dispatch as LoweredConvOps>::deconv_rows(
        x.into_dispatch(),
        m.into_dispatch(),
        bias.into_dispatch(),
        kernel,
        stride,
        padding,
        height,
        width,
        relu,
    ))
}

/// 2-D convolution of a channels-last batch with a square kernel, equal
/// strides and symmetric padding, through a ReLU if `relu`.
///
/// # Shapes
/// - `x`: `[batch, h, w, in]`, `weight`: `[out, in, k, k]` (Burn's `Conv2d`), `bias`: `[out]`
/// - returns `[batch, (h + 2p − k)/s + 1, (w + 2p − k)/s + 1, out]`
pub fn conv2d_nhwc(
    x: Tensor<4>,
    weight: Tensor<4>,
    bias: Option<Tensor<1>>,
    [stride, padding]: [usize; 2],
    relu: bool,
) -> Tensor<4> {
    if conv_path(&x.device()) == ConvImpl::Burn {
        let options = ConvOptions::new([stride; 2], [padding; 2], [1, 1], 1);
        let y = burn::tensor::module::conv2d(x.permute([0, 3, 1, 2]), weight, bias, options);
        return relu_if(y, relu).permute([0, 2, 3, 1]);
    }
    let [_, _, _, c] = x.dims();
    let [o, _, k, _] = weight.dims();
    // [out, in, ky, kx] → [ky, kx, in, out]: the rows' tap order.
    let matrix = weight.permute([2, 3, 1, 0]).reshape([k * k * c, o]);
    let bias = bias.unwrap_or_else(|| Tensor::zeros([o], &matrix.device()));
    conv_rows(x, matrix, bias, [k, stride, padding], relu)
}

/// 2-D transposed convolution of a channels-last batch with a square kernel,
/// equal strides, symmetric padding and no output padding, through a ReLU if
/// `relu`: the adjoint of [`conv2d_nhwc`] with the same kernel geometry.
///
/// # Shapes
/// - `x`: `[batch, h, w, in]`, `weight`: `[in, out, k, k]` (Burn's `ConvTranspose2d`), `bias`: `[out]`
/// - returns `[batch, (h − 1)s + k − 2p, (w − 1)s + k − 2p, out]`
pub fn conv_transpose2d_nhwc(
    x: Tensor<4>,
    weight: Tensor<4>,
    bias: Option<Tensor<1>>,
    [stride, padding]: [usize; 2],
    relu: bool,
) -> Tensor<4> {
    if conv_path(&x.device()) == ConvImpl::Burn {
        let options = ConvTransposeOptions::new([stride; 2], [padding; 2], [0, 0], [1, 1], 1);
        let x = x.permute([0, 3, 1, 2]);
        let y = burn::tensor::module::conv_transpose2d(x, weight, bias, options);
        return relu_if(y, relu).permute([0, 2, 3, 1]);
    }
    let [_, h, w, c] = x.dims();
    let [_, o, k, _] = weight.dims();
    let (oh, ow) = (
        (h - 1) * stride + k - 2 * padding,
        (w - 1) * stride + k - 2 * padding,
    );
    // [in, out, ky, kx] → [in, ky, kx, out]: each input pixel's contribution to
    // the taps of the output window it scatters into.
    let matrix = weight.permute([0, 2, 3, 1]).reshape([c, k * k * o]);
    let bias = bias.unwrap_or_else(|| Tensor::zeros([o], &matrix.device()));
    deconv_rows(x, matrix, bias, [k, stride, padding], [oh, ow], relu)
}

/// A dense layer, `x · weight + bias`, through a ReLU if `relu`.
///
/// On flex this is the lowering's pointwise product (a 1×1 convolution of a
/// one-pixel image): one multiply into the layer's own buffer (over the
/// thread pool when large), with bias and ReLU in one pass, and the backward
/// pass made of the same pieces, where Burn's `Linear` zero-fills and
/// re-aligns a new tensor per multiply and adds the bias and the ReLU as
/// passes of their own.
/// Elsewhere it is Burn's `linear` and `relu`.
///
/// # Shapes
/// - `x`: `[batch, in]`, `weight`: `[in, out]` (Burn's `Linear`), `bias`: `[out]`
/// - returns `[batch, out]`
pub fn dense(x: Tensor<2>, weight: Tensor<2>, bias: Option<Tensor<1>>, relu: bool) -> Tensor<2> {
    if !crate::flex::is_flex(&weight.device()) {
        return relu_if(burn::tensor::module::linear(x, weight, bias), relu);
    }
    let [batch, inputs] = x.dims();
    let [_, outs] = weight.dims();
    let bias = bias.unwrap_or_else(|| Tensor::zeros([outs], &weight.device()));
    let x = x.reshape([batch, 1, 1, inputs]);
    conv_rows(x, weight, bias, [1, 1, 0], relu).reshape([batch, outs])
}

/// `layer` applied to the channels-first batch `x` (`[batch, c, h, w]`) on
/// the path of its device ([`conv_path`]); `stride` and `padding` must be
/// the layer's own (the lowering reads only its weights). The lowering is
/// channels-last, so it permutes around it.
pub fn apply_conv2d(
    layer: &burn::nn::conv::Conv2d,
    x: Tensor<4>,
    stride: usize,
    padding: usize,
) -> Tensor<4> {
    match conv_path(&x.device()) {
        ConvImpl::Burn => layer.forward(x),
        ConvImpl::Matmul => conv2d_nhwc(
            x.permute([0, 2, 3, 1]),
            layer.weight.val(),
            layer.bias.as_ref().map(|b| b.val()),
            [stride, padding],
            false,
        )
        .permute([0, 3, 1, 2]),
    }
}

/// `y` through a ReLU if `relu`.
fn relu_if<const D: usize>(y: Tensor<D>, relu: bool) -> Tensor<D> {
    match relu {
        true => burn::tensor::activation::relu(y),
        false => y,
    }
}

#[cfg(test)]
mod tests {
    use burn::nn::PaddingConfig2d;
    use burn::nn::conv::{Conv2d, Conv2dConfig, ConvTranspose2d, ConvTranspose2dConfig};
    use burn::prelude::*;
    use burn::tensor::{Distribution, activation};

    const GEOMETRIES: [(usize, usize, usize, usize); 10] = [
        (4, 2, 1, 14),
        (1, 1, 0, 5),
        (3, 1, 1, 9),
        (4, 2, 0, 10),
        (2, 2, 0, 8),
        (4, 2, 0, 9),
        (5, 1, 2, 12),
        (5, 1, 0, 10),
        (3, 2, 1, 7),
        (5, 3, 2, 11),
    ];

    fn max_diff(a: Tensor<4>, b: Tensor<4>) -> f32 {
        assert_eq!(a.dims(), b.dims());
        (a - b).abs().max().into_scalar()
    }

    fn nhwc(x: Tensor<4>) -> Tensor<4> {
        x.permute([0, 2, 3, 1])
    }

    fn nchw(x: Tensor<4>) -> Tensor<4> {
        x.permute([0, 3, 1, 2])
    }

    /// Burn's two layers of one geometry, `channels[0] → channels[1]` and
    /// `channels[1] → channels[2]`.
    fn layers(
        channels: [usize; 3],
        (k, s, p): (usize, usize, usize),
        device: &Device,
    ) -> (Conv2d, ConvTranspose2d) {
        let conv = Conv2dConfig::new([channels[0], channels[1]], [k, k])
            .with_stride([s, s])
            .with_padding(PaddingConfig2d::Explicit(p, p, p, p))
            .init(device);
        let deconv = ConvTranspose2dConfig::new([channels[1], channels[2]], [k, k])
            .with_stride([s, s])
            .with_padding([p, p])
            .init(device);
        (conv, deconv)
    }

    /// `layer` by the lowering, channels first in and out.
    fn lowered_conv(layer: &Conv2d, x: Tensor<4>, s: usize, p: usize, relu: bool) -> Tensor<4> {
        let bias = layer.bias.as_ref().map(|b| b.val());
        nchw(super::conv2d_nhwc(
            nhwc(x),
            layer.weight.val(),
            bias,
            [s, p],
            relu,
        ))
    }

    /// `layer` by the lowering, channels first in and out.
    fn lowered_deconv(
        layer: &ConvTranspose2d,
        x: Tensor<4>,
        s: usize,
        p: usize,
        relu: bool,
    ) -> Tensor<4> {
        let bias = layer.bias.as_ref().map(|b| b.val());
        nchw(super::conv_transpose2d_nhwc(
            nhwc(x),
            layer.weight.val(),
            bias,
            [s, p],
            relu,
        ))
    }

    /// Forward values against Burn's `Conv2d` and `ConvTranspose2d`, on flex and ndarray.
    #[test]
    fn matches_burn_convolutions_for_several_geometries() {
        for device in [Device::flex(), Device::ndarray()] {
            for (k, s, p, size) in GEOMETRIES {
                let x = Tensor::<4>::random(
                    [3, 5, size, size],
                    Distribution::Normal(0.0, 1.0),
                    &device,
                );
                let (conv, _) = layers([5, 7, 1], (k, s, p), &device);
                let (_, deconv) = layers([1, 5, 7], (k, s, p), &device);
                let ours = lowered_conv(&conv, x.clone(), s, p, false);
                let diff = max_diff(ours, conv.forward(x.clone()));
                assert!(diff < 1e-4, "conv k{k} s{s} p{p}: {diff}");
                let ours = lowered_deconv(&deconv, x.clone(), s, p, false);
                let diff = max_diff(ours, deconv.forward(x));
                assert!(diff < 1e-4, "deconv k{k} s{s} p{p}: {diff}");
            }
        }
    }

    /// Gradients of the input, the weights and the bias against Burn's own, under autodiff.
    #[test]
    fn gradients_match_burn_convolutions() {
        for device in [Device::flex().autodiff(), Device::ndarray().autodiff()] {
            for geometry in GEOMETRIES {
                for relu in [false, true] {
                    check_gradients(&device, geometry, 2, [3, 4, 2], relu);
                }
            }
        }
    }

    /// The dense layer on flex against Burn's `linear` (and `relu`): output
    /// and the input, weight and bias gradients, on a batch cut from a larger tensor.
    #[test]
    fn dense_matches_burn_linear_with_gradients() {
        use burn::nn::LinearConfig;
        let device = Device::flex().autodiff();
        let layer = LinearConfig::new(50, 23).init(&device);
        let (w, b) = (layer.weight.val(), layer.bias.as_ref().expect("bias").val());
        // A batch cut out of a larger tensor, as the training loop's are.
        let whole = Tensor::<2>::random([80, 50], Distribution::Normal(0.0, 1.0), &device);
        let x = whole.narrow(0, 7, 37);
        let target = Tensor::<2>::random([37, 23], Distribution::Normal(0.0, 1.0), &device);
        for relu in [false, true] {
            let run = |ours: bool| {
                let x = x.clone().detach().require_grad();
                let y = if ours {
                    super::dense(x.clone(), w.clone(), Some(b.clone()), relu)
                } else {
                    let y = burn::tensor::module::linear(x.clone(), w.clone(), Some(b.clone()));
                    if relu { activation::relu(y) } else { y }
                };
                let g = (y.clone() * target.clone()).sum().backward();
                let grads = [x.grad(&g), w.grad(&g)].map(|t| t.expect("a gradient"));
                let bias = b.grad(&g).expect("a bias gradient");
                (y.detach(), grads, bias)
            };
            let (y1, [x1, w1], b1) = run(false);
            let (y2, [x2, w2], b2) = run(true);
            let close = |a: Tensor<2>, b: Tensor<2>, what: &str| {
                let scale = a.clone().abs().max().into_scalar::<f32>().max(1.0);
                let diff = (a - b).abs().max().into_scalar::<f32>() / scale;
                assert!(diff < 1e-5, "{what}, relu {relu}: {diff}");
            };
            close(y1, y2, "output");
            close(x1, x2, "input grad");
            close(w1, w2, "weight grad");
            close(b1.unsqueeze(), b2.unsqueeze(), "bias grad");
        }
        // Without autodiff (sampling, the probe) the same values.
        let plain = Device::flex();
        let (x, w, b) = (x.inner().to_device(&plain), w.inner(), b.inner());
        let ours = super::dense(x.clone(), w.clone(), Some(b.clone()), true);
        let theirs = activation::relu(burn::tensor::module::linear(x, w, Some(b)));
        assert!((ours - theirs).abs().max().into_scalar::<f32>() < 1e-5);
    }

    /// A NaN passes the fused ReLU as it passes Burn's `relu` (flex and
    /// ndarray alike): a diverged layer must still reach the loss's check.
    #[test]
    fn nan_passes_the_fused_relu() {
        for device in [Device::flex(), Device::ndarray()] {
            let (conv, _) = layers([2, 3, 1], (3, 1, 1), &device);
            let x = Tensor::<4>::random([2, 2, 6, 6], Distribution::Normal(0.0, 1.0), &device);
            let nan = Tensor::<4>::full([1, 1, 1, 1], f32::NAN, &device);
            let x = x.slice_assign([0..1, 0..1, 2..3, 2..3], nan);
            let ours = lowered_conv(&conv, x.clone(), 1, 1, true).is_nan();
            let theirs = activation::relu(conv.forward(x)).is_nan();
            let count = ours.clone().int().sum().into_scalar::<i64>();
            assert!(count > 0, "the NaN reaches the output");
            assert_eq!(ours.into_data(), theirs.into_data());
        }
    }

    /// A batch that flex splits into several groups of images, each multiplied
    /// in more than one chunk (100 images: 14 groups of 7 images in chunks of
    /// 4 and 3, and one of 2), against Burn's convolutions.
    #[test]
    fn large_batches_split_into_groups_and_chunks_match_burn() {
        let (batch, channels, size) = (100, [16, 32, 16], 28);
        let per_image = 14 * 14 * (4 * 4 * channels[0] + channels[1]);
        assert_eq!(super::split(batch, per_image), (7, 4));
        let device = Device::flex().autodiff();
        check_gradients(&device, (4, 2, 1, size), batch, channels, true);
    }

    /// Output, input, weight and bias gradients of a convolution `channels[0]
    /// → channels[1]` followed by a transposed one `channels[1] → channels[2]`,
    /// each through a ReLU if `relu`, lowered and Burn's, on a batch of `batch`
    /// images of `size × size`.
    fn check_gradients(
        device: &Device,
        (k, s, p, size): (usize, usize, usize, usize),
        batch: usize,
        channels: [usize; 3],
        relu: bool,
    ) {
        let x = Tensor::<4>::random(
            [batch, channels[0], size, size],
            Distribution::Normal(0.0, 1.0),
            device,
        );
        let (conv, deconv) = layers(channels, (k, s, p), device);
        // Both layers in a row, so each lowering's backward feeds the other's.
        let activate = |x: Tensor<4>| if relu { activation::relu(x) } else { x };
        let theirs = |x: Tensor<4>| activate(deconv.forward(activate(conv.forward(x))));
        let ours = |x: Tensor<4>| {
            let h = lowered_conv(&conv, x, s, p, relu);
            lowered_deconv(&deconv, h, s, p, relu)
        };
        let target = Tensor::<4>::random_like(&theirs(x.clone()), Distribution::Normal(0.0, 1.0));
        let grads = |f: &dyn Fn(Tensor<4>) -> Tensor<4>| {
            let x = x.clone().detach().require_grad();
            let y = f(x.clone());
            let loss = (y.clone() * target.clone()).sum();
            let g = loss.backward();
            let weights = [conv.weight.val(), deconv.weight.val()];
            let [w1, w2] = weights.map(|w| w.grad(&g).expect("weight grad"));
            let b1 = conv.bias.as_ref().expect("bias").val().grad(&g);
            let b2 = deconv.bias.as_ref().expect("bias").val().grad(&g);
            let x = x.grad(&g).expect("input grad");
            (y, x, w1, w2, b1.expect("bias grad"), b2.expect("bias grad"))
        };
        let (y1, x1, w1a, w2a, b1a, b2a) = grads(&theirs);
        let (y2, x2, w1b, w2b, b1b, b2b) = grads(&ours);
        // Relative to the largest magnitude: sums over a large batch grow with it.
        let close = |a: Tensor<4>, b: Tensor<4>, what: &str| {
            let scale = a.clone().abs().max().into_scalar::<f32>().max(1.0);
            let diff = max_diff(a, b) / scale;
            assert!(
                diff < 1e-4,
                "{what} k{k} s{s} p{p} batch {batch} relu {relu}: {diff}"
            );
        };
        close(y1.detach(), y2.detach(), "output");
        close(x1, x2, "input grad");
        close(w1a, w1b, "conv weight grad");
        close(w2a, w2b, "deconv weight grad");
        let bias = |a: Tensor<1>, b: Tensor<1>| {
            close(
                a.reshape([1, 1, 1, -1]),
                b.reshape([1, 1, 1, -1]),
                "bias grad",
            )
        };
        bias(b1a, b1b);
        bias(b2a, b2b);
    }
}
