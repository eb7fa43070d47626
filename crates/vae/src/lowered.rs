//! Stride-s convolutions lowered to slices, padding and one matrix multiply,
//! built only from Burn's tensor operations (and so differentiable on every
//! backend).
//!
//! Burn's ndarray backend computes `conv2d` and `conv_transpose2d` about 30×
//! slower than its matrix multiply would allow, which makes the authors' conv
//! VAE unusable there; this path gives ndarray the speed of its matmul. It uses
//! the weight layouts of Burn's `Conv2d` (`[out, in, k, k]`) and
//! `ConvTranspose2d` (`[in, out, k, k]`), so a checkpoint is the same whichever
//! path computed it, and `collapse parity` checks it against Burn's own.
//!
//! Both functions need `kernel` to be a multiple of `stride`, and the padded
//! input (convolution) to be a multiple of `stride`: the spatial axes are then
//! split as `(position, phase)` by a reshape, and every kernel offset becomes
//! a plain slice.

use burn::prelude::*;
use burn::tensor::ops::PadMode;

fn check(kernel: usize, stride: usize) {
    assert!(
        kernel % stride == 0,
        "lowered convolution needs the kernel ({kernel}) to be a multiple of the stride ({stride})"
    );
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
    check(k, stride);
    let (hp, wp) = (h + 2 * padding, w + 2 * padding);
    assert!(hp % stride == 0 && wp % stride == 0, "padded input must be a multiple of the stride");
    let (ho, wo) = ((hp - k) / stride + 1, (wp - k) / stride + 1);
    let s = stride;
    let phased = x
        .pad([(padding, padding), (padding, padding)], PadMode::Constant(0.0))
        .reshape([b, c, hp / s, s, wp / s, s]);
    // One [b, c, ho, wo] slice per kernel offset (ki, kj) = (s·a + r, s·bb + q).
    let patches: Vec<Tensor<4>> = (0..k * k)
        .map(|offset| {
            let (ki, kj) = (offset / k, offset % k);
            let (a, r, bb, q) = (ki / s, ki % s, kj / s, kj % s);
            phased
                .clone()
                .slice([0..b, 0..c, a..a + ho, r..r + 1, bb..bb + wo, q..q + 1])
                .reshape([b, c, ho, wo])
        })
        .collect();
    let columns: Tensor<5> = Tensor::stack(patches, 2);
    let columns = columns.reshape([b, c * k * k, ho * wo]);
    let out = weight.reshape([1, o, c * k * k]).matmul(columns);
    let out = match bias {
        Some(bias) => out + bias.reshape([1, o, 1]),
        None => out,
    };
    out.reshape([b, o, ho, wo])
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
    check(k, stride);
    let s = stride;
    let span = k / s;
    // Every input pixel times every kernel tap: [b, o·k·k, h·w].
    let taps = weight
        .reshape([c, o * k * k])
        .transpose()
        .reshape([1, o * k * k, c])
        .matmul(x.reshape([b, c, h * w]))
        .reshape([b, o, k, k, h, w]);
    // Tap (ki, kj) of pixel (i, j) lands on output row s·i + ki = s·(i + a) + r.
    let phase = |r: usize, q: usize| -> Tensor<4> {
        let mut sum: Option<Tensor<4>> = None;
        for a in 0..span {
            for bb in 0..span {
                let (ki, kj) = (s * a + r, s * bb + q);
                let tap = taps
                    .clone()
                    .slice([0..b, 0..o, ki..ki + 1, kj..kj + 1, 0..h, 0..w])
                    .reshape([b, o, h, w])
                    .pad([(a, span - 1 - a), (bb, span - 1 - bb)], PadMode::Constant(0.0));
                sum = Some(match sum {
                    Some(t) => t + tap,
                    None => tap,
                });
            }
        }
        sum.expect("kernel has at least one tap")
    };
    let rows: Vec<Tensor<5>> = (0..s)
        .map(|r| Tensor::stack((0..s).map(|q| phase(r, q)).collect(), 4))
        .collect();
    let (hf, wf) = ((h + span - 1) * s, (w + span - 1) * s);
    let full: Tensor<6> = Tensor::stack(rows, 3);
    let full = full.reshape([b, o, hf, wf]);
    let (ho, wo) = ((h - 1) * s + k - 2 * padding, (w - 1) * s + k - 2 * padding);
    let out = full.slice([0..b, 0..o, padding..padding + ho, padding..padding + wo]);
    match bias {
        Some(bias) => out + bias.reshape([1, o, 1, 1]),
        None => out,
    }
}
