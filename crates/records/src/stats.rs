//! Summary statistics on host values: quantiles, fixed-bin histograms, moments.
//!
//! These run once per generation on values already read back from the device
//! (10,000 probe samples × latent size), never inside a training loop.

use serde::{Deserialize, Serialize};

/// A quantile of a distribution.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Quantile {
    /// Level in `[0, 1]`.
    pub q: f64,
    /// Value at that level.
    pub value: f64,
}

/// A histogram with fixed, equal bins over `[lo, hi)`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Histogram {
    /// Left edge of the first bin.
    pub lo: f64,
    /// Right edge of the last bin.
    pub hi: f64,
    /// Count per bin.
    pub counts: Vec<u64>,
    /// Values below `lo`.
    pub below: u64,
    /// Values at or above `hi`.
    pub above: u64,
}

impl Histogram {
    /// Total number of values counted, outliers included.
    pub fn total(&self) -> u64 {
        self.counts.iter().sum::<u64>() + self.below + self.above
    }

    /// Bin centres.
    pub fn centres(&self) -> Vec<f64> {
        let w = (self.hi - self.lo) / self.counts.len() as f64;
        (0..self.counts.len())
            .map(|i| self.lo + (i as f64 + 0.5) * w)
            .collect()
    }

    /// Density per bin (count / (total × bin width)).
    pub fn density(&self) -> Vec<f64> {
        let w = (self.hi - self.lo) / self.counts.len() as f64;
        let total = self.total().max(1) as f64;
        self.counts
            .iter()
            .map(|&c| c as f64 / (total * w))
            .collect()
    }
}

/// The quantile levels recorded for the probe (1, 5, 25, 50, 75, 95, 99 %).
pub const QUANTILE_LEVELS: [f64; 7] = [0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99];

/// Mean and population standard deviation, in f64.
pub fn mean_std(values: &[f32]) -> (f64, f64) {
    if values.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let n = values.len() as f64;
    let mean = values.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
    let var = values
        .iter()
        .map(|&v| (f64::from(v) - mean).powi(2))
        .sum::<f64>()
        / n;
    (mean, var.sqrt())
}

/// Mean and sample standard deviation (divisor n − 1) of the finite values
/// among `values`: no mean without a value, no deviation under two.
pub fn mean_sample_std(values: &[f64]) -> (Option<f64>, Option<f64>) {
    let finite: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    let n = finite.len() as f64;
    if finite.is_empty() {
        return (None, None);
    }
    let mean = finite.iter().sum::<f64>() / n;
    let std = (finite.len() > 1)
        .then(|| (finite.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt());
    (Some(mean), std)
}

/// Quantiles at `levels` by linear interpolation between order statistics
/// (the "type 7" definition, as numpy's default).
pub fn quantiles(values: &[f32], levels: &[f64]) -> Vec<Quantile> {
    let mut sorted: Vec<f32> = values.to_vec();
    sorted.sort_by(f32::total_cmp);
    levels
        .iter()
        .map(|&q| {
            let value = if sorted.is_empty() {
                f64::NAN
            } else {
                let pos = q * (sorted.len() - 1) as f64;
                let lo = pos.floor() as usize;
                let hi = pos.ceil() as usize;
                let frac = pos - lo as f64;
                f64::from(sorted[lo]) * (1.0 - frac) + f64::from(sorted[hi]) * frac
            };
            Quantile { q, value }
        })
        .collect()
}

/// Counts `values` in `bins` equal bins over `[lo, hi)`; values outside go to
/// `below` / `above`.
pub fn histogram(values: &[f32], lo: f64, hi: f64, bins: usize) -> Histogram {
    let mut counts = vec![0u64; bins];
    let (mut below, mut above) = (0u64, 0u64);
    let width = (hi - lo) / bins as f64;
    for &v in values {
        let v = f64::from(v);
        if v < lo {
            below += 1;
        } else if v >= hi {
            above += 1;
        } else {
            counts[(((v - lo) / width) as usize).min(bins - 1)] += 1;
        }
    }
    Histogram {
        lo,
        hi,
        counts,
        below,
        above,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_interpolate() {
        let v = [3.0, 1.0, 2.0, 4.0, 5.0];
        let q = quantiles(&v, &[0.0, 0.5, 0.25, 1.0]);
        let values: Vec<f64> = q.iter().map(|q| q.value).collect();
        assert_eq!(values, vec![1.0, 3.0, 2.0, 5.0]);
    }

    #[test]
    fn histogram_counts_edges_and_outliers() {
        let h = histogram(&[-5.0, -4.0, -0.1, 0.0, 3.99, 4.0], -4.0, 4.0, 8);
        assert_eq!(h.below, 1);
        assert_eq!(h.above, 1);
        assert_eq!(h.counts[0], 1);
        assert_eq!(h.counts[3], 1);
        assert_eq!(h.counts[4], 1);
        assert_eq!(h.counts[7], 1);
    }

    #[test]
    fn mean_and_sample_std_skip_non_finite_values() {
        assert_eq!(
            mean_sample_std(&[1.0, 2.0, 3.0, f64::NAN]),
            (Some(2.0), Some(1.0))
        );
        assert_eq!(mean_sample_std(&[4.0]), (Some(4.0), None));
        assert_eq!(mean_sample_std(&[]), (None, None));
    }

    #[test]
    fn mean_std_population() {
        let (m, s) = mean_std(&[1.0, 3.0]);
        assert_eq!((m, s), (2.0, 1.0));
    }
}
