//! The Fréchet distance of a generation's features to the real test set's,
//! for any resample of the samples: the real side prepared once, the
//! weighted covariance on the device, its eigenvalues alone on the host.

use burn::prelude::*;
use collapse_eval::evaluator::moments;
use collapse_eval::linalg::{Matrix, sqrt_psd, symmetric_eigenvalues};
use collapse_vae::to_host;

/// The real test set's side of the Fréchet distance.
pub(crate) struct RealMoments {
    mean: Vec<f64>,
    trace: f64,
    /// The square root of the real features' covariance, `[d, d]`, on the device.
    root: Tensor<2>,
}

impl RealMoments {
    pub(crate) fn new(features: &Tensor<2>) -> Self {
        let (mean, cov) = moments(features);
        let root = sqrt_psd(&cov);
        let d = cov.n;
        let root_values: Vec<f32> = root.data.iter().map(|&v| v as f32).collect();
        RealMoments {
            mean,
            trace: cov.trace(),
            root: Tensor::from_data(TensorData::new(root_values, [d, d]), &features.device()),
        }
    }
}

/// The counts of a resample as a `[n, 1]` column (ones where `None`).
fn weights(n: usize, counts: Option<&[u32]>, device: &Device) -> Tensor<2> {
    let w: Vec<f32> = match counts {
        Some(c) => c.iter().map(|&c| c as f32).collect(),
        None => vec![1.0; n],
    };
    Tensor::from_data(TensorData::new(w, [n, 1]), device)
}

/// A generation's features ready for the Fréchet distance's replicates.
pub(crate) struct FdSide {
    /// The features `[n, d]`.
    features: Tensor<2>,
    /// The features times `R`, the square root of the real covariance.
    rotated: Tensor<2>,
    /// Each row's squared norm, in f64.
    norms: Vec<f64>,
}

impl FdSide {
    pub(crate) fn new(real: &RealMoments, features: Tensor<2>) -> Self {
        let rotated = features.clone().matmul(real.root.clone());
        let norms = to_host(features.clone().square().sum_dim(1))
            .into_iter()
            .map(f64::from)
            .collect();
        FdSide {
            features,
            rotated,
            norms,
        }
    }
}

/// The Fréchet distance between the real features and a generation's,
/// each row weighted by `counts`: `|μ_r − μ|² + tr Σ_r + tr Σ − 2 Σ
/// √λ(R Σ R)` with `R = Σ_r^½`. `R Σ R` is the weighted covariance of the
/// rotated rows, one product on the device; its eigenvalues alone are found
/// on the host, and `tr Σ` is `(Σ w |x|² − n |μ|²) / (n − 1)` in f64.
pub(crate) fn fd_to_real(real: &RealMoments, side: &FdSide, counts: Option<&[u32]>) -> f64 {
    let [n, d] = side.features.dims();
    let w = weights(n, counts, &side.features.device());
    let mean = w.clone().transpose().matmul(side.features.clone()) / n as f64;
    let rotated_mean = mean.clone().matmul(real.root.clone());
    let centred = side.rotated.clone() - rotated_mean.expand([n, d]);
    let middle = (centred.clone() * w.expand([n, d]))
        .transpose()
        .matmul(centred)
        / (n - 1) as f64;
    let v: Vec<f64> = to_host(Tensor::cat(
        vec![mean.reshape([d]), middle.reshape([d * d])],
        0,
    ))
    .into_iter()
    .map(f64::from)
    .collect();
    let (mean, middle) = v.split_at(d);
    let weighted: f64 = match counts {
        Some(c) => side
            .norms
            .iter()
            .zip(c)
            .map(|(s, &c)| s * f64::from(c))
            .sum(),
        None => side.norms.iter().sum(),
    };
    let mean_norm: f64 = mean.iter().map(|m| m * m).sum();
    let trace = (weighted - n as f64 * mean_norm) / (n - 1) as f64;
    let shift: f64 = real
        .mean
        .iter()
        .zip(mean)
        .map(|(a, b)| (a - b).powi(2))
        .sum();
    let values = symmetric_eigenvalues(&Matrix::new(d, middle.to_vec()));
    let cross: f64 = values.iter().map(|l| l.max(0.0).sqrt()).sum();
    (shift + real.trace + trace - 2.0 * cross).max(0.0)
}
