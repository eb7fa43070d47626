//! Convolutions lowered to gathers and one matrix multiply, built only from
//! Burn's tensor operations (so differentiable on every backend).
//!
//! Burn's ndarray backend computes `conv2d` and `conv_transpose2d` so slowly
//! (the conv VAE trained at 12 images/s there, against 641 on flex) that the
//! authors' network was unusable on it; this path trains it at ~190. It
//! uses the weight layouts of Burn's `Conv2d` (`[out, in, k, k]`) and
//! `ConvTranspose2d` (`[in, out, k, k]`), so a checkpoint is the same whichever
//! path computed it, and `collapse parity` checks it against Burn's own.
//!
//! Gather indices depend only on the layer's geometry; positions that fall in
//! the padding point at one extra zero element appended to the gathered axis.
//! The convolution gathers its columns, then multiplies; the transposed
//! convolution multiplies first, then gathers each output pixel's ⌈k/s⌉²
//! contributions and adds them.

use burn::prelude::*;

/// Index tensor on `device` from host indices.
fn indices(values: Vec<i64>, device: &Device) -> Tensor<1, Int> {
    let n = values.len();
    Tensor::from_data(TensorData::new(values, [n]), device)
}

/// Appends one zero along the last axis: `[b, c, n]` → `[b, c, n + 1]`.
fn with_zero_slot(t: Tensor<3>) -> Tensor<3> {
    let [b, c, _] = t.dims();
    let zero = Tensor::zeros([b, c, 1], &t.device());
    Tensor::cat(vec![t, zero], 2)
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
    let [b, c, h, w] = x.dims();
    let [o, _, k, _] = weight.dims();
    let (ho, wo) = (
        (h + 2 * padding - k) / stride + 1,
        (w + 2 * padding - k) / stride + 1,
    );
    let zero_slot = (h * w) as i64;
    // Column (c, ki, kj, oy, ox) reads input pixel (oy·s + ki − p, ox·s + kj − p).
    let mut idx = Vec::with_capacity(k * k * ho * wo);
    for ki in 0..k {
        for kj in 0..k {
            for oy in 0..ho {
                for ox in 0..wo {
                    let (iy, ix) = (
                        (oy * stride + ki) as i64 - padding as i64,
                        (ox * stride + kj) as i64 - padding as i64,
                    );
                    let inside = (0..h as i64).contains(&iy) && (0..w as i64).contains(&ix);
                    idx.push(if inside {
                        iy * w as i64 + ix
                    } else {
                        zero_slot
                    });
                }
            }
        }
    }
    let device = x.device();
    let columns = with_zero_slot(x.reshape([b, c, h * w]))
        .select(2, indices(idx, &device))
        .reshape([b, c * k * k, ho * wo]);
    let out = weight.reshape([1, o, c * k * k]).matmul(columns);
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
    let [b, c, h, w] = x.dims();
    let [_, o, k, _] = weight.dims();
    let (ho, wo) = (
        (h - 1) * stride + k - 2 * padding,
        (w - 1) * stride + k - 2 * padding,
    );
    let device = x.device();
    // Every input pixel times every kernel tap: [b, o, k·k·h·w] (+ a zero slot).
    let taps = weight
        .reshape([c, o * k * k])
        .transpose()
        .reshape([1, o * k * k, c])
        .matmul(x.reshape([b, c, h * w]))
        .reshape([b, o, k * k * h * w]);
    let taps = with_zero_slot(taps);
    let zero_slot = (k * k * h * w) as i64;
    // Output row y receives tap ki of input row i where i·s + ki = y + p; there
    // are at most ⌈k/s⌉ such (i, ki) per axis, one gather per pair of them.
    let per_axis = k.div_ceil(stride);
    let source = |full: usize, slot: usize, size: usize| -> Option<(usize, usize)> {
        let tap = full % stride + slot * stride;
        (tap < k && tap <= full && (full - tap) / stride < size)
            .then(|| (tap, (full - tap) / stride))
    };
    let mut out: Option<Tensor<3>> = None;
    for sy in 0..per_axis {
        for sx in 0..per_axis {
            let mut idx = Vec::with_capacity(ho * wo);
            for y in 0..ho {
                for xo in 0..wo {
                    let from = source(y + padding, sy, h).zip(source(xo + padding, sx, w));
                    idx.push(match from {
                        Some(((ki, i), (kj, j))) => (((ki * k + kj) * h + i) * w + j) as i64,
                        None => zero_slot,
                    });
                }
            }
            let part = taps.clone().select(2, indices(idx, &device));
            out = Some(match out {
                Some(t) => t + part,
                None => part,
            });
        }
    }
    let out = out.expect("a kernel has at least one tap");
    let out = match bias {
        Some(bias) => out + bias.reshape([1, o, 1]),
        None => out,
    };
    out.reshape([b, o, ho, wo])
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
        for (k, s, p, size) in [(4, 2, 1, 14), (3, 1, 1, 9), (4, 2, 0, 10), (2, 2, 0, 8)] {
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
