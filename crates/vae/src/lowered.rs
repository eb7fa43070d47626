//! Convolutions lowered to shifted windows and one matrix multiply, built only
//! from Burn's tensor operations (so differentiable on every backend).
//!
//! Burn's ndarray backend computes `conv2d` and `conv_transpose2d` so slowly
//! (the conv VAE trained at 12 images/s there, against 641 on flex) that the
//! authors' network was unusable on it. This path uses the weight layouts of
//! Burn's `Conv2d` (`[out, in, k, k]`) and `ConvTranspose2d` (`[in, out, k, k]`),
//! so a checkpoint is the same whichever path computed it, and `collapse
//! parity` checks it against Burn's own.
//!
//! Both directions split a stride-`s` kernel of size `k` into `d = ⌈k/s⌉`
//! shifts times `s` phases per axis (the kernel is zero-padded to `d·s` taps).
//! A convolution folds the padded input's `s × s` phases into channels
//! (space to depth), after which it is a stride-1 convolution with a `d × d`
//! kernel: `d²` shifted windows stacked along the channels and one matrix
//! multiply. A transposed convolution computes its `s × s` output phases at
//! once, each a stride-1 convolution of the input with a `d × d` kernel, and
//! interleaves them (depth to space). No index gathers are needed: only
//! padding, slices, permutes, one concatenation and one matrix multiply, whose
//! backward passes every backend computes with contiguous copies.

use burn::prelude::*;
use burn::tensor::ops::PadMode;

/// Zero-pads the two kernel axes of `weight` (`[a, b, k, k]`) to `d·s` taps and
/// splits each tap `t = shift·s + phase`: returns `[a, b, d, s, d, s]`.
fn split_taps(weight: Tensor<4>, d: usize, s: usize) -> Tensor<6> {
    let [a, b, k, _] = weight.dims();
    let extra = d * s - k;
    weight
        .pad([(0, extra), (0, extra)], PadMode::Constant(0.0))
        .reshape([a, b, d, s, d, s])
}

/// Pads the two spatial axes of `x` with `before` zeros and then cuts or pads
/// them to `rows × cols`.
fn pad_to(x: Tensor<4>, before: usize, rows: usize, cols: usize) -> Tensor<4> {
    let [b, c, h, w] = x.dims();
    x.pad(
        [
            (before, rows.saturating_sub(h + before)),
            (before, cols.saturating_sub(w + before)),
        ],
        PadMode::Constant(0.0),
    )
    .slice([0..b, 0..c, 0..rows, 0..cols])
}

/// The `d × d` windows of size `rows × cols` of `x` (`[b, c, ..]`), window
/// `(i, j)` starting at `(start(i), start(j))`, stacked along the channels in
/// row-major `(i, j)` order: returns `[b, d·d·c, rows·cols]`.
fn windows(
    x: Tensor<4>,
    d: usize,
    rows: usize,
    cols: usize,
    start: impl Fn(usize) -> usize,
) -> Tensor<3> {
    let [b, c, _, _] = x.dims();
    let mut parts = Vec::with_capacity(d * d);
    for i in 0..d {
        for j in 0..d {
            let (y, x0) = (start(i), start(j));
            parts.push(x.clone().slice([0..b, 0..c, y..y + rows, x0..x0 + cols]));
        }
    }
    Tensor::cat(parts, 1).reshape([b, d * d * c, rows * cols])
}

/// 2-D convolution with a square kernel, equal strides and symmetric padding.
///
/// # Shapes
/// - `x`: `[batch, in, h, w]`, `weight`: `[out, in, k, k]`, `bias`: `[out]`
/// - returns `[batch, out, (h + 2p - k)/s + 1, (w + 2p - k)/s + 1]`
pub fn conv2d(
    x: Tensor<4>,
    weight: Tensor<4>,
    bias: Option<Tensor<1>>,
    stride: usize,
    padding: usize,
) -> Tensor<4> {
    let s = stride;
    let [b, c, h, w] = x.dims();
    let [o, _, k, _] = weight.dims();
    let d = k.div_ceil(s);
    let (ho, wo) = ((h + 2 * padding - k) / s + 1, (w + 2 * padding - k) / s + 1);
    // Padded row r·s + phase is input row r·s + phase − p; output row m reads
    // tap t = shift·s + phase from padded row (m + shift)·s + phase.
    let (hq, wq) = (ho + d - 1, wo + d - 1);
    let phases = pad_to(x, padding, hq * s, wq * s)
        .reshape([b, c, hq, s, wq, s])
        .permute([0, 3, 5, 1, 2, 4])
        .reshape([b, s * s * c, hq, wq]);
    let columns = windows(phases, d, ho, wo, |shift| shift);
    // [out, in, shift_y, phase_y, shift_x, phase_x] → [out, shift_y, shift_x, phase_y, phase_x, in]
    let matrix = split_taps(weight, d, s)
        .permute([0, 2, 4, 3, 5, 1])
        .reshape([1, o, d * d * s * s * c]);
    let out = matrix.matmul(columns);
    let out = match bias {
        Some(bias) => out + bias.reshape([1, o, 1]),
        None => out,
    };
    out.reshape([b, o, ho, wo])
}

/// `layer` applied to `x` by Burn's convolution or by [`conv2d`], as `conv_impl` says;
/// `stride` and `padding` must be the layer's own (the lowering reads only its weights).
pub fn apply_conv2d(
    layer: &burn::nn::conv::Conv2d,
    x: Tensor<4>,
    conv_impl: crate::ConvImpl,
    stride: usize,
    padding: usize,
) -> Tensor<4> {
    match conv_impl {
        crate::ConvImpl::Burn => layer.forward(x),
        crate::ConvImpl::Matmul => conv2d(
            x,
            layer.weight.val(),
            layer.bias.as_ref().map(|b| b.val()),
            stride,
            padding,
        ),
    }
}

/// 2-D transposed convolution with a square kernel, equal strides, symmetric
/// padding and no output padding.
///
/// # Shapes
/// - `x`: `[batch, in, h, w]`, `weight`: `[in, out, k, k]`, `bias`: `[out]`
/// - returns `[batch, out, (h - 1)s + k - 2p, (w - 1)s + k - 2p]`
pub fn conv_transpose2d(
    x: Tensor<4>,
    weight: Tensor<4>,
    bias: Option<Tensor<1>>,
    stride: usize,
    padding: usize,
) -> Tensor<4> {
    let s = stride;
    let [b, c, h, w] = x.dims();
    let [_, o, k, _] = weight.dims();
    let d = k.div_ceil(s);
    let (ho, wo) = ((h - 1) * s + k - 2 * padding, (w - 1) * s + k - 2 * padding);
    // Output row y with y + p = q·s + phase sums input rows q − shift times tap
    // shift·s + phase; rows q < qh cover every output row.
    let (qh, qw) = ((ho + padding).div_ceil(s), (wo + padding).div_ceil(s));
    let padded = pad_to(x, d - 1, qh + d - 1, qw + d - 1);
    let columns = windows(padded, d, qh, qw, |shift| d - 1 - shift);
    // [in, out, shift_y, phase_y, shift_x, phase_x] → [phase_y, phase_x, out, shift_y, shift_x, in]
    let matrix = split_taps(weight, d, s)
        .permute([3, 5, 1, 2, 4, 0])
        .reshape([1, s * s * o, d * d * c]);
    let out = matrix
        .matmul(columns)
        .reshape([b, s, s, o, qh, qw])
        .permute([0, 3, 4, 1, 5, 2])
        .reshape([b, o, qh * s, qw * s])
        .slice([0..b, 0..o, padding..padding + ho, padding..padding + wo]);
    match bias {
        Some(bias) => out + bias.reshape([1, o, 1, 1]),
        None => out,
    }
}

#[cfg(test)]
mod tests {
    use burn::nn::PaddingConfig2d;
    use burn::nn::conv::{Conv2dConfig, ConvTranspose2dConfig};
    use burn::prelude::*;
    use burn::tensor::Distribution;

    fn max_diff(a: Tensor<4>, b: Tensor<4>) -> f32 {
        assert_eq!(a.dims(), b.dims());
        (a - b).abs().max().into_scalar()
    }

    #[test]
    fn matches_burn_convolutions_for_several_geometries() {
        let device = Device::flex();
        device.seed(1);
        for (k, s, p, size) in [
            (4, 2, 1, 14),
            (3, 1, 1, 9),
            (4, 2, 0, 10),
            (2, 2, 0, 8),
            (4, 2, 0, 9),
            (5, 1, 2, 12),
            (5, 1, 0, 10),
            (3, 2, 1, 7),
            (5, 3, 2, 11),
        ] {
            let x =
                Tensor::<4>::random([3, 5, size, size], Distribution::Normal(0.0, 1.0), &device);
            let conv = Conv2dConfig::new([5, 7], [k, k])
                .with_stride([s, s])
                .with_padding(PaddingConfig2d::Explicit(p, p, p, p))
                .init(&device);
            let ours = super::conv2d(
                x.clone(),
                conv.weight.val(),
                conv.bias.as_ref().map(|b| b.val()),
                s,
                p,
            );
            assert!(
                max_diff(ours, conv.forward(x.clone())) < 1e-4,
                "conv k{k} s{s} p{p}"
            );
            let deconv = ConvTranspose2dConfig::new([5, 7], [k, k])
                .with_stride([s, s])
                .with_padding([p, p])
                .init(&device);
            let ours = super::conv_transpose2d(
                x.clone(),
                deconv.weight.val(),
                deconv.bias.as_ref().map(|b| b.val()),
                s,
                p,
            );
            assert!(
                max_diff(ours, deconv.forward(x)) < 1e-4,
                "deconv k{k} s{s} p{p}"
            );
        }
    }
}
