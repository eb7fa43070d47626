//! Latent statistics of a generation (`latents.json`) and the probe (`probe.json`).
//!
//! Reductions run on the device; only per-dimension vectors, one `d × d`
//! covariance and the probe's pooled μ values are read back.

use burn::prelude::*;
use collapse_records::stats::{QUANTILE_LEVELS, histogram, mean_std, quantiles};
use collapse_records::{AggregatePosterior, LatentStats, ProbeStats};
use collapse_vae::loss::kl_per_dim;
use collapse_vae::{Posterior, to_host};

/// Burda et al. (2015): a unit is active when Var_x[E_q(z|x) z_u] exceeds this.
pub const ACTIVE_THRESHOLD: f64 = 0.01;
/// Range of the probe histogram's fixed bins.
pub const PROBE_RANGE: (f64, f64) = (-4.0, 4.0);
/// Number of probe histogram bins (width 0.1).
pub const PROBE_BINS: usize = 80;
/// |μ| beyond this counts towards the probe's tail mass.
pub const TAIL_THRESHOLD: f32 = 2.0;

fn to_f64(v: Vec<f32>) -> Vec<f64> {
    v.into_iter().map(f64::from).collect()
}

/// Natural log-determinant of a symmetric positive-definite `d × d` matrix
/// (row-major) by Cholesky; `-inf` when it is not positive definite.
pub fn logdet_spd(a: &[f64], d: usize) -> f64 {
    let mut l = vec![0.0f64; d * d];
    let mut logdet = 0.0;
    for j in 0..d {
        let s: f64 = (0..j).map(|k| l[j * d + k] * l[j * d + k]).sum();
        let diag = a[j * d + j] - s;
        if diag <= 0.0 || !diag.is_finite() {
            return f64::NEG_INFINITY;
        }
        let ljj = diag.sqrt();
        l[j * d + j] = ljj;
        logdet += 2.0 * ljj.ln();
        for i in j + 1..d {
            let s: f64 = (0..j).map(|k| l[i * d + k] * l[j * d + k]).sum();
            l[i * d + j] = (a[i * d + j] - s) / ljj;
        }
    }
    logdet
}

/// `latents.json` for one generation's encoder over the real test set.
pub fn latent_stats(generation: usize, posterior: &Posterior) -> LatentStats {
    let mu = posterior.mu.clone();
    let logvar = posterior.logvar.clone();
    let [n, d] = mu.dims();
    let mean = mu.clone().mean_dim(0);
    let centred = mu.clone() - mean.clone();
    let cov = centred.clone().transpose().matmul(centred) / n as f64;
    let mu_var = to_f64(to_host(mu.clone().var_bias(0)));
    let mean_sigma2 = to_f64(to_host(logvar.clone().exp().mean_dim(0)));
    let kl = to_f64(to_host(kl_per_dim(mu, logvar).mean_dim(0)));
    let mut cov = to_f64(to_host(cov));
    for (j, s2) in mean_sigma2.iter().enumerate() {
        cov[j * d + j] += s2;
    }
    let active_units = mu_var.iter().filter(|&&v| v > ACTIVE_THRESHOLD).count();
    let mu_mean = to_f64(to_host(mean));
    LatentStats {
        generation,
        images: n,
        aggregate: AggregatePosterior {
            mean: mu_mean.clone(),
            cov_trace: (0..d).map(|j| cov[j * d + j]).sum(),
            cov_logdet: logdet_spd(&cov, d),
        },
        mu_mean,
        mu_var,
        mean_sigma2,
        kl_per_dim: kl,
        active_threshold: ACTIVE_THRESHOLD,
        active_units,
    }
}

/// `probe.json`: `mu` is this generation's samples encoded by the generation-0 encoder.
pub fn probe_stats(generation: usize, mu: Tensor<2>) -> ProbeStats {
    let [n, d] = mu.dims();
    let per_dim_std = to_f64(to_host(mu.clone().var_bias(0).sqrt()));
    let pooled = to_host(mu);
    let (mu_mean, mu_std) = mean_std(&pooled);
    let tail = pooled.iter().filter(|v| v.abs() > TAIL_THRESHOLD).count();
    ProbeStats {
        generation,
        samples: n,
        mu_mean,
        mu_std,
        per_dim_std,
        quantiles: quantiles(&pooled, &QUANTILE_LEVELS),
        histogram: histogram(&pooled, PROBE_RANGE.0, PROBE_RANGE.1, PROBE_BINS),
        tail_mass: tail as f64 / (n * d).max(1) as f64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logdet_of_diagonal_and_full_matrices() {
        let a = [2.0, 0.0, 0.0, 3.0];
        assert!((logdet_spd(&a, 2) - 6f64.ln()).abs() < 1e-12);
        let b = [4.0, 2.0, 2.0, 3.0]; // det 8
        assert!((logdet_spd(&b, 2) - 8f64.ln()).abs() < 1e-12);
        assert_eq!(logdet_spd(&[-1.0], 1), f64::NEG_INFINITY);
    }
}
