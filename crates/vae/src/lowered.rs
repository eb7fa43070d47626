//! Convolutions lowered to window copies and one matrix multiply, for the CPU
//! backends whose own convolutions are slow (ndarray).
//!
//! Burn's ndarray backend computes `conv2d` and `conv_transpose2d` so slowly
//! (the conv VAE trained at 20 images/s there, against about 1,000 on flex) that the
//! authors' network was unusable on it. Here a convolution is `unfold` (each
//! output position's input window copied into one row, "im2col") followed by a
//! matrix multiply, and a transposed convolution is a matrix multiply followed
//! by `fold`, the adjoint of `unfold` (each row added back into the windows it
//! came from, "col2im"). Activations stay channels-last (`[batch, h, w, c]`),
//! so the matrix multiply's `[positions, out]` result is already the next
//! layer's input and no layout copies are needed in between.
//!
//! `unfold` and `fold` are one Burn backend extension ([`WindowOps`]): two
//! host loops over contiguous rows, split across the thread pool by image,
//! each the other's backward pass under autodiff. They run on flex and
//! ndarray (the tensor's values are moved out, not copied, where the backend
//! holds them alone). The weights keep the layouts of Burn's `Conv2d`
//! (`[out, in, k, k]`) and `ConvTranspose2d` (`[in, out, k, k]`), so a
//! checkpoint is the same whichever path computed it; the tests and `collapse
//! parity` check this path against Burn's own convolutions.

// burn-ndarray is deprecated in Burn 0.22; the project still runs on it.
#![allow(deprecated)]

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind, binary, unary};
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, Backend, Flex, NdArray, TensorMetadata, backend_extension};
use burn::prelude::*;
use burn::tensor::{TensorData, try_read_sync};
use burn_flex::FlexTensor;
use rayon::prelude::*;

use crate::flex::{contiguous_f32, flex_tensor, is_ndarray};

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

    /// im2col of one image: `image` is `[h, w, c]`, `rows` is `[oh, ow, k, k, c]`,
    /// zeroed by the caller (taps in the padding stay zero).
    fn unfold_image(&self, image: &[f32], rows: &mut [f32]) {
        let [_, ow] = self.out_dims();
        let (len, c) = (self.row_len(), self.channels);
        for (position, row) in rows.chunks_exact_mut(len).enumerate() {
            self.taps(position / ow, position % ow, |at, from| {
                row[at..at + c].copy_from_slice(&image[from..from + c]);
            });
        }
    }

    /// col2im of one image, the adjoint of [`Self::unfold_image`]: adds every
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

/// im2col of a batch: `images` `[batch, h, w, c]` into the zeroed `rows`
/// `[batch, oh, ow, k, k, c]`, one image per task of the thread pool.
fn unfold_batch(window: &Window, images: &[f32], rows: &mut [f32]) {
    let [oh, ow] = window.out_dims();
    let image = window.height * window.width * window.channels;
    rows.par_chunks_mut(oh * ow * window.row_len())
        .zip(images.par_chunks(image))
        .for_each(|(rows, image)| window.unfold_image(image, rows));
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

/// `unfold` of channels-last `images` of `dims` (`[batch, h, w, c]`): the
/// rows and their shape `[batch, oh, ow, k·k·c]`.
fn unfold_values(images: &[f32], dims: [usize; 4], geometry: [usize; 3]) -> (Vec<f32>, [usize; 4]) {
    let [batch, height, width, channels] = dims;
    let window = Window::new(geometry, [height, width, channels]);
    let [oh, ow] = window.out_dims();
    let mut rows = vec![0.0f32; batch * oh * ow * window.row_len()];
    unfold_batch(&window, images, &mut rows);
    (rows, [batch, oh, ow, window.row_len()])
}

/// `fold` of `rows` of `dims` (`[batch, oh, ow, k·k·c]`) onto images of
/// `height × width`: the images and their shape `[batch, height, width, c]`.
fn fold_values(
    rows: &[f32],
    dims: [usize; 4],
    geometry: [usize; 3],
    [height, width]: [usize; 2],
) -> (Vec<f32>, [usize; 4]) {
    let [batch, _, _, len] = dims;
    let channels = len / (geometry[0] * geometry[0]);
    let window = Window::new(geometry, [height, width, channels]);
    let mut images = vec![0.0f32; batch * height * width * channels];
    fold_batch(&window, rows, &mut images);
    (images, [batch, height, width, channels])
}

/// The backend operations behind the lowering: `unfold` (im2col) and `fold`
/// (col2im) over channels-last images. The default bodies move the values
/// through the host (ndarray); flex reads and writes its buffers directly;
/// [`Autodiff`] pairs them as each other's backward.
#[backend_extension(Flex, NdArray, Autodiff)]
pub trait WindowOps: Backend {
    /// `x` `[batch, h, w, c]` → `[batch, oh, ow, k·k·c]`: each output position's
    /// window, taps in `(ky, kx, c)` order, zeros for the padding.
    fn unfold_windows(
        x: FloatTensor<Self>,
        kernel: usize,
        stride: usize,
        padding: usize,
    ) -> FloatTensor<Self> {
        let dims = x.shape().dims();
        let (values, device) = to_host::<Self>(x);
        let (rows, shape) = unfold_values(&values, dims, [kernel, stride, padding]);
        Self::float_from_data(TensorData::new(rows, shape), &device)
    }

    /// The adjoint of [`Self::unfold_windows`] for an image of
    /// `height × width`: `rows` `[batch, oh, ow, k·k·c]` → `[batch, height, width, c]`,
    /// every tap added into the pixel it was read from.
    fn fold_windows(
        rows: FloatTensor<Self>,
        kernel: usize,
        stride: usize,
        padding: usize,
        height: usize,
        width: usize,
    ) -> FloatTensor<Self> {
        let dims = rows.shape().dims();
        let (values, device) = to_host::<Self>(rows);
        let (images, shape) =
            fold_values(&values, dims, [kernel, stride, padding], [height, width]);
        Self::float_from_data(TensorData::new(images, shape), &device)
    }
}

impl WindowOps for Flex {
    fn unfold_windows(x: FlexTensor, kernel: usize, stride: usize, padding: usize) -> FlexTensor {
        let x = contiguous_f32(x);
        let values = x.as_slice::<f32>().expect("made contiguous f32 above");
        let (rows, shape) = unfold_values(values, x.shape().dims(), [kernel, stride, padding]);
        flex_tensor(rows, Shape::new(shape))
    }

    fn fold_windows(
        rows: FlexTensor,
        kernel: usize,
        stride: usize,
        padding: usize,
        height: usize,
        width: usize,
    ) -> FlexTensor {
        let rows = contiguous_f32(rows);
        let values = rows.as_slice::<f32>().expect("made contiguous f32 above");
        let geometry = [kernel, stride, padding];
        let (images, shape) = fold_values(values, rows.shape().dims(), geometry, [height, width]);
        flex_tensor(images, Shape::new(shape))
    }
}

impl WindowOps for NdArray {}

/// Backward of `unfold`: `fold` of the incoming gradient onto the input's size.
#[derive(Debug)]
struct UnfoldBackward;

impl<B: Backend + WindowOps> Backward<B, 1> for UnfoldBackward {
    /// Kernel, stride, padding, and the input's height and width.
    type State = [usize; 5];

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [k, s, p, h, w] = ops.state;
        unary::<B, _>(ops.parents, ops.node, grads, |grad| {
            B::fold_windows(grad, k, s, p, h, w)
        });
    }
}

/// Backward of `fold`: `unfold` of the incoming gradient.
#[derive(Debug)]
struct FoldBackward;

impl<B: Backend + WindowOps> Backward<B, 1> for FoldBackward {
    /// Kernel, stride and padding.
    type State = [usize; 3];

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [k, s, p] = ops.state;
        unary::<B, _>(ops.parents, ops.node, grads, |grad| {
            B::unfold_windows(grad, k, s, p)
        });
    }
}

impl<B: Backend + WindowOps, C: CheckpointStrategy> WindowOps for Autodiff<B, C> {
    fn unfold_windows(
        x: FloatTensor<Self>,
        kernel: usize,
        stride: usize,
        padding: usize,
    ) -> FloatTensor<Self> {
        let [_, h, w, _] = x.primitive().shape().dims();
        let (x, node) = x.into_parts();
        let out = |x| B::unfold_windows(x, kernel, stride, padding);
        match UnfoldBackward
            .prepare::<C>([node])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => prep.finish([kernel, stride, padding, h, w], out(x)),
            OpsKind::UnTracked(prep) => prep.finish(out(x)),
        }
    }

    fn fold_windows(
        rows: FloatTensor<Self>,
        kernel: usize,
        stride: usize,
        padding: usize,
        height: usize,
        width: usize,
    ) -> FloatTensor<Self> {
        let (rows, node) = rows.into_parts();
        let out = |r| B::fold_windows(r, kernel, stride, padding, height, width);
        match FoldBackward.prepare::<C>([node]).compute_bound().stateful() {
            OpsKind::Tracked(prep) => prep.finish([kernel, stride, padding], out(rows)),
            OpsKind::UnTracked(prep) => prep.finish(out(rows)),
        }
    }
}

/// `rows · m` for a convolution's unfolded rows (`[positions, k·k·c]`) and its
/// weight matrix (`[k·k·c, out]`), with the weight gradient taken as
/// `(doutᵀ · rows)ᵀ`. Autodiff's own matmul computes it as `rowsᵀ · dout`, and
/// burn-ndarray copies a transposed operand element by element into standard
/// layout: the unfolded rows are the largest tensor of the step (26 MB at
/// batch 128), the output gradient an eighth of that. Used on ndarray only
/// (flex multiplies transposed operands in place).
#[backend_extension(NdArray, Autodiff)]
pub trait RowsMatmulOps: Backend {
    /// `rows` `[n, k]` · `m` `[k, o]` → `[n, o]`.
    fn rows_matmul(rows: FloatTensor<Self>, m: FloatTensor<Self>) -> FloatTensor<Self> {
        Self::float_matmul(rows, m)
    }
}

impl RowsMatmulOps for NdArray {}

/// Backward of [`RowsMatmulOps::rows_matmul`].
#[derive(Debug)]
struct RowsMatmulBackward;

impl<B: Backend> Backward<B, 2> for RowsMatmulBackward {
    /// The rows and the weight matrix.
    type State = (FloatTensor<B>, FloatTensor<B>);

    fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, _: &mut Checkpointer) {
        let (rows, m) = ops.state;
        binary::<B, _, _>(
            ops.parents,
            ops.node,
            grads,
            |grad| B::float_matmul(grad, B::float_transpose(m)),
            |grad| B::float_transpose(B::float_matmul(B::float_transpose(grad), rows)),
        );
    }
}

impl<B: Backend + RowsMatmulOps, C: CheckpointStrategy> RowsMatmulOps for Autodiff<B, C> {
    fn rows_matmul(rows: FloatTensor<Self>, m: FloatTensor<Self>) -> FloatTensor<Self> {
        let (rows, rows_node) = rows.into_parts();
        let (m, m_node) = m.into_parts();
        match RowsMatmulBackward
            .prepare::<C>([rows_node, m_node])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let out = B::rows_matmul(rows.clone(), m.clone());
                prep.finish((rows, m), out)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::rows_matmul(rows, m)),
        }
    }
}

/// [`RowsMatmulOps::rows_matmul`] on ndarray, Burn's matmul elsewhere.
fn rows_matmul(rows: Tensor<2>, m: Tensor<2>) -> Tensor<2> {
    use burn::backend::Dispatch;
    if !is_ndarray(&rows.device()) {
        return rows.matmul(m);
    }
    Tensor::from_dispatch(<Dispatch as RowsMatmulOps>::rows_matmul(
        rows.into_dispatch(),
        m.into_dispatch(),
    ))
}

fn unfold(x: Tensor<4>, kernel: usize, stride: usize, padding: usize) -> Tensor<4> {
    use burn::backend::Dispatch;
    Tensor::from_dispatch(<Dispatch as WindowOps>::unfold_windows(
        x.into_dispatch(),
        kernel,
        stride,
        padding,
    ))
}

fn fold(
    rows: Tensor<4>,
    [kernel, stride, padding]: [usize; 3],
    [height, width]: [usize; 2],
) -> Tensor<4> {
    use burn::backend::Dispatch;
    Tensor::from_dispatch(<Dispatch as WindowOps>::fold_windows(
        rows.into_dispatch(),
        kernel,
        stride,
        padding,
        height,
        width,
    ))
}

/// 2-D convolution of a channels-last batch with a square kernel, equal
/// strides and symmetric padding.
///
/// # Shapes
/// - `x`: `[batch, h, w, in]`, `weight`: `[out, in, k, k]` (Burn's `Conv2d`), `bias`: `[out]`
/// - returns `[batch, (h + 2p − k)/s + 1, (w + 2p − k)/s + 1, out]`
pub fn conv2d_nhwc(
    x: Tensor<4>,
    weight: Tensor<4>,
    bias: Option<Tensor<1>>,
    stride: usize,
    padding: usize,
) -> Tensor<4> {
    let [b, _, _, c] = x.dims();
    let [o, _, k, _] = weight.dims();
    let rows = unfold(x, k, stride, padding);
    let [_, oh, ow, len] = rows.dims();
    // [out, in, ky, kx] → [ky, kx, in, out]: the rows' tap order.
    let matrix = weight.permute([2, 3, 1, 0]).reshape([k * k * c, o]);
    let out = rows_matmul(rows.reshape([b * oh * ow, len]), matrix);
    let out = match bias {
        Some(bias) => out + bias.reshape([1, o]),
        None => out,
    };
    out.reshape([b, oh, ow, o])
}

/// 2-D transposed convolution of a channels-last batch with a square kernel,
/// equal strides, symmetric padding and no output padding: the adjoint of
/// [`conv2d_nhwc`] with the same kernel geometry.
///
/// # Shapes
/// - `x`: `[batch, h, w, in]`, `weight`: `[in, out, k, k]` (Burn's `ConvTranspose2d`), `bias`: `[out]`
/// - returns `[batch, (h − 1)s + k − 2p, (w − 1)s + k − 2p, out]`
pub fn conv_transpose2d_nhwc(
    x: Tensor<4>,
    weight: Tensor<4>,
    bias: Option<Tensor<1>>,
    stride: usize,
    padding: usize,
) -> Tensor<4> {
    let [b, h, w, c] = x.dims();
    let [_, o, k, _] = weight.dims();
    let (oh, ow) = (
        (h - 1) * stride + k - 2 * padding,
        (w - 1) * stride + k - 2 * padding,
    );
    // [in, out, ky, kx] → [in, ky, kx, out]: each input pixel's contribution to
    // the taps of the output window it scatters into.
    let matrix = weight.permute([0, 2, 3, 1]).reshape([c, k * k * o]);
    let rows = x
        .reshape([b * h * w, c])
        .matmul(matrix)
        .reshape([b, h, w, k * k * o]);
    let out = fold(rows, [k, stride, padding], [oh, ow]);
    match bias {
        Some(bias) => out + bias.reshape([1, 1, 1, o]),
        None => out,
    }
}

/// `layer` applied to the channels-first batch `x` (`[batch, c, h, w]`) by
/// Burn's convolution or by [`conv2d_nhwc`], as `conv_impl` says; `stride` and
/// `padding` must be the layer's own (the lowering reads only its weights).
/// `Hybrid` keeps Burn's convolution here: the frozen classifier is
/// channels-first, and on flex the lowering with its permutes scored images at
/// half the rate of Burn's convolution.
pub fn apply_conv2d(
    layer: &burn::nn::conv::Conv2d,
    x: Tensor<4>,
    conv_impl: crate::ConvImpl,
    stride: usize,
    padding: usize,
) -> Tensor<4> {
    match conv_impl {
        crate::ConvImpl::Burn | crate::ConvImpl::Hybrid => layer.forward(x),
        crate::ConvImpl::Matmul => conv2d_nhwc(
            x.permute([0, 2, 3, 1]),
            layer.weight.val(),
            layer.bias.as_ref().map(|b| b.val()),
            stride,
            padding,
        )
        .permute([0, 3, 1, 2]),
    }
}

#[cfg(test)]
mod tests {
    use burn::nn::PaddingConfig2d;
    use burn::nn::conv::{Conv2d, Conv2dConfig, ConvTranspose2d, ConvTranspose2dConfig};
    use burn::prelude::*;
    use burn::tensor::Distribution;

    const GEOMETRIES: [(usize, usize, usize, usize); 9] = [
        (4, 2, 1, 14),
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
    fn lowered_conv(layer: &Conv2d, x: Tensor<4>, s: usize, p: usize) -> Tensor<4> {
        let bias = layer.bias.as_ref().map(|b| b.val());
        nchw(super::conv2d_nhwc(nhwc(x), layer.weight.val(), bias, s, p))
    }

    /// `layer` by the lowering, channels first in and out.
    fn lowered_deconv(layer: &ConvTranspose2d, x: Tensor<4>, s: usize, p: usize) -> Tensor<4> {
        let bias = layer.bias.as_ref().map(|b| b.val());
        nchw(super::conv_transpose2d_nhwc(
            nhwc(x),
            layer.weight.val(),
            bias,
            s,
            p,
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
                let ours = lowered_conv(&conv, x.clone(), s, p);
                let diff = max_diff(ours, conv.forward(x.clone()));
                assert!(diff < 1e-4, "conv k{k} s{s} p{p}: {diff}");
                let ours = lowered_deconv(&deconv, x.clone(), s, p);
                let diff = max_diff(ours, deconv.forward(x));
                assert!(diff < 1e-4, "deconv k{k} s{s} p{p}: {diff}");
            }
        }
    }

    /// Gradients of the input, the weights and the bias against Burn's own, under autodiff.
    #[test]
    fn gradients_match_burn_convolutions() {
        for device in [Device::flex().autodiff(), Device::ndarray().autodiff()] {
            for (k, s, p, size) in GEOMETRIES {
                let x = Tensor::<4>::random(
                    [2, 3, size, size],
                    Distribution::Normal(0.0, 1.0),
                    &device,
                );
                let (conv, deconv) = layers([3, 4, 2], (k, s, p), &device);
                // Both layers in a row, so each lowering's backward feeds the other's.
                let theirs = |x: Tensor<4>| deconv.forward(conv.forward(x));
                let ours =
                    |x: Tensor<4>| lowered_deconv(&deconv, lowered_conv(&conv, x, s, p), s, p);
                let target =
                    Tensor::<4>::random_like(&theirs(x.clone()), Distribution::Normal(0.0, 1.0));
                let grads = |f: &dyn Fn(Tensor<4>) -> Tensor<4>| {
                    let x = x.clone().detach().require_grad();
                    let loss = (f(x.clone()) * target.clone()).sum();
                    let g = loss.backward();
                    let weights = [conv.weight.val(), deconv.weight.val()];
                    let [w1, w2] = weights.map(|w| w.grad(&g).expect("weight grad"));
                    let b1 = conv.bias.as_ref().expect("bias").val().grad(&g);
                    let b2 = deconv.bias.as_ref().expect("bias").val().grad(&g);
                    let x = x.grad(&g).expect("input grad");
                    (x, w1, w2, b1.expect("bias grad"), b2.expect("bias grad"))
                };
                let (x1, w1a, w2a, b1a, b2a) = grads(&theirs);
                let (x2, w1b, w2b, b1b, b2b) = grads(&ours);
                let close = |a: Tensor<4>, b: Tensor<4>, what: &str| {
                    let diff = max_diff(a, b);
                    assert!(diff < 1e-3, "{what} k{k} s{s} p{p}: {diff}");
                };
                close(x1, x2, "input grad");
                close(w1a, w1b, "conv weight grad");
                close(w2a, w2b, "deconv weight grad");
                let bias_diff: f32 = (b1a - b1b).abs().max().into_scalar::<f32>()
                    + (b2a - b2b).abs().max().into_scalar::<f32>();
                assert!(bias_diff < 1e-3, "bias grads k{k} s{s} p{p}: {bias_diff}");
            }
        }
    }
}
