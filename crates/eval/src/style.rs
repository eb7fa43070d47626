//! Image-moment style statistics of digits, per image, computed on the device.
//!
//! - `ink`: the sum of grey values (pixels' worth of ink).
//! - `slant`: the shear of the digit, `−μ₁₁ / μ₀₂` from the grey-value
//!   weighted central moments (the quantity MNIST deskewing removes), in
//!   pixels of x per pixel of y; positive leans right (y points down).
//! - `width`, `height`: the bounding box of the pixels above 0.5, in pixels.
//! - `thickness`: stroke width under a rectangle model of the pixels above
//!   0.5: with area `A` and perimeter `P` (pixel edges between ink and
//!   background), a stroke of length `L` and width `t` has `A = L·t` and
//!   `P = 2(L + t)`, so `t` is the smaller root of `t² − (P/2)·t + A = 0`.
//!
//! The spread between the 1 % and 99 % quantiles of each is a classifier-free
//! measure of how wide the tails of the style distribution are.

use burn::prelude::*;
use burn::tensor::ops::PadMode;
use collapse_records::stats::{QUANTILE_LEVELS, histogram, quantiles};
use collapse_records::{Distribution, StyleStat};

/// Threshold on grey values for the bounding box and the stroke.
const INK: f32 = 0.5;

/// Name, unit and fixed histogram range `(lo, hi, bins)` of each statistic.
pub const STATS: [(&str, &str, (f64, f64, usize)); 5] = [
    ("ink", "grey-value sum", (0.0, 300.0, 60)),
    ("slant", "x pixels per y pixel", (-1.5, 1.5, 60)),
    ("width", "pixels", (0.0, 29.0, 29)),
    ("height", "pixels", (0.0, 29.0, 29)),
    ("thickness", "pixels", (0.0, 8.0, 64)),
];

/// Coordinates `0..len` as a float row vector shaped for broadcasting.
fn coords(len: usize, device: &Device) -> Tensor<1> {
    Tensor::<1, Int>::arange(0..len as i64, device).float()
}

/// The style statistics of every image, one column per entry of [`STATS`].
///
/// # Shapes
/// - `images`: `[n, h·w]` in `[0, 1]`; returns `[n, 5]`
pub fn style_features(images: Tensor<2>, [h, w]: [usize; 2]) -> Tensor<2> {
    let n = images.dims()[0];
    let device = images.device();
    let x = images.reshape([n, h, w]);
    let xs = coords(w, &device).reshape([1, 1, w]).expand([n, h, w]);
    let ys = coords(h, &device).reshape([1, h, 1]).expand([n, h, w]);
    let ink = x.clone().sum_dims_squeeze::<1, usize>(&[1, 2]);
    let mass = ink.clone().clamp_min(1e-6).reshape([n, 1, 1]);
    let cx = (x.clone() * xs.clone()).sum_dims(&[1, 2]) / mass.clone();
    let cy = (x.clone() * ys.clone()).sum_dims(&[1, 2]) / mass.clone();
    let dx = xs.clone() - cx.expand([n, h, w]);
    let dy = ys.clone() - cy.expand([n, h, w]);
    let mu11 = (x.clone() * dx * dy.clone()).sum_dims(&[1, 2]);
    let mu02 = (x.clone() * dy.square()).sum_dims(&[1, 2]).clamp_min(1e-6);
    let slant = (mu11 / mu02).neg().reshape([n]);

    let on = x.greater_elem(INK).float();
    let extent = |axis_any: Tensor<2>, len: usize| {
        // axis_any: [n, len] with 1 where the row/column holds ink.
        let pos = coords(len, &device).reshape([1, len]).expand([n, len]);
        let none = axis_any.clone().neg() + 1.0;
        let first = (pos.clone() + none.clone() * 1e4).min_dim(1);
        let last = (pos - none * 1e4).max_dim(1);
        (last - first + 1.0).clamp_min(0.0).reshape([n])
    };
    let width = extent(on.clone().max_dim(1).reshape([n, w]), w);
    let height = extent(on.clone().max_dim(2).reshape([n, h]), h);

    let area = on.clone().sum_dims_squeeze::<1, usize>(&[1, 2]);
    let padded = on.pad((1, 1, 1, 1), PadMode::Constant(0.0));
    let horizontal = (padded.clone().slice([0..n, 0..h + 2, 1..w + 2])
        - padded.clone().slice([0..n, 0..h + 2, 0..w + 1]))
    .abs()
    .sum_dims_squeeze::<1, usize>(&[1, 2]);
    let vertical = (padded.clone().slice([0..n, 1..h + 2, 0..w + 2])
        - padded.slice([0..n, 0..h + 1, 0..w + 2]))
    .abs()
    .sum_dims_squeeze::<1, usize>(&[1, 2]);
    let half_p = (horizontal + vertical) * 0.5;
    let disc = (half_p.clone().square() - area * 4.0).clamp_min(0.0).sqrt();
    let thickness = (half_p - disc) * 0.5;

    Tensor::stack::<2>(vec![ink, slant, width, height, thickness], 1)
}

/// The style statistics of a set summarised per statistic, with the fixed
/// bins of [`STATS`], from its per-image `values` (rows of
/// [`style_features`], read to the host).
pub fn style_stats(values: &[f32]) -> Vec<StyleStat> {
    let columns = STATS.len();
    STATS
        .iter()
        .enumerate()
        .map(|(c, (name, unit, (lo, hi, bins)))| {
            let column: Vec<f32> = values.iter().skip(c).step_by(columns).copied().collect();
            StyleStat {
                name: (*name).to_string(),
                unit: (*unit).to_string(),
                distribution: distribution(&column, *lo, *hi, *bins),
            }
        })
        .collect()
}

/// Mean, quantiles and a fixed-bin histogram of host values.
pub fn distribution(values: &[f32], lo: f64, hi: f64, bins: usize) -> Distribution {
    let mean = values.iter().map(|&v| f64::from(v)).sum::<f64>() / values.len().max(1) as f64;
    Distribution {
        mean,
        quantiles: quantiles(values, &QUANTILE_LEVELS),
        histogram: histogram(values, lo, hi, bins),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use collapse_vae::to_host;

    const SIDE: usize = 28;

    fn image(pixels: &[(usize, usize)]) -> Vec<f32> {
        let mut img = vec![0.0f32; SIDE * SIDE];
        for &(y, x) in pixels {
            img[y * SIDE + x] = 1.0;
        }
        img
    }

    fn features(images: &[Vec<f32>]) -> Vec<Vec<f32>> {
        let n = images.len();
        let flat: Vec<f32> = images.concat();
        let t = Tensor::<2>::from_data(TensorData::new(flat, [n, SIDE * SIDE]), &Device::flex());
        to_host(style_features(t, [SIDE, SIDE]))
            .chunks(5)
            .map(<[f32]>::to_vec)
            .collect()
    }

    #[test]
    fn a_bar_has_known_box_ink_and_thickness() {
        // A horizontal bar 20 pixels long and 3 thick.
        let bar: Vec<_> = (10..13)
            .flat_map(|y| (4..24).map(move |x| (y, x)))
            .collect();
        let f = &features(&[image(&bar)])[0];
        assert_eq!(f[0], 60.0, "ink");
        assert!(f[1].abs() < 1e-6, "slant {}", f[1]);
        assert_eq!((f[2], f[3]), (20.0, 3.0), "width, height");
        assert!((f[4] - 3.0).abs() < 1e-5, "thickness {}", f[4]);
    }

    #[test]
    fn a_sheared_stroke_has_its_slant() {
        // A line 2 pixels wide through (14, 14) with x = 14 + s·(14 − y): leaning right.
        for s in [0.25f32, 0.5, -0.4] {
            let line: Vec<_> = (4..24)
                .flat_map(|y| {
                    let x = (14.0 + s * (14.0 - y as f32)).round() as usize;
                    [(y, x), (y, x + 1)]
                })
                .collect();
            let f = &features(&[image(&line)])[0];
            assert!((f[1] - s).abs() < 0.03, "slant {} for shear {s}", f[1]);
        }
    }

    #[test]
    fn an_empty_image_has_no_extent() {
        let f = &features(&[vec![0.0; SIDE * SIDE]])[0];
        assert_eq!(f, &vec![0.0, 0.0, 0.0, 0.0, 0.0]);
    }
}
