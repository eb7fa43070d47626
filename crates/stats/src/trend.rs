//! Over a whole chain: Holm's correction across generations, the onset of a
//! change, and its per-generation rate.

use collapse_records::profile::{Estimate, Rate};

use crate::interval::student_t;

/// Holm's step-down adjustment of `p` (one family): each adjusted p-value
/// is the largest of `(m − j + 1) p_(j)` over the `j` smallest up to its
/// own rank, capped at 1. Rejecting where the adjusted value is at most α
/// holds the family-wise error rate at α. NaN stays NaN and is not counted.
pub fn holm(p: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..p.len()).filter(|&i| !p[i].is_nan()).collect();
    order.sort_by(|&a, &b| p[a].total_cmp(&p[b]));
    let m = order.len();
    let mut adjusted = vec![f64::NAN; p.len()];
    let mut running = 0.0f64;
    for (rank, &i) in order.iter().enumerate() {
        running = running.max(((m - rank) as f64 * p[i]).min(1.0));
        adjusted[i] = running;
    }
    adjusted
}

/// The first generation (index into `p_holm`, generation 0 first) whose
/// adjusted p-value is at most `alpha`.
pub fn onset(p_holm: &[Option<f64>], alpha: f64) -> Option<usize> {
    p_holm.iter().position(|p| p.is_some_and(|p| p <= alpha))
}

/// The per-generation rate of change of `values` (one per generation, from
/// 0) at `confidence`: a least-squares line through `ln value` where every
/// value is positive (the rate is then `e^slope − 1`, the share by which the
/// figure grows each generation), else through the values themselves.
/// `None` under three finite values, where no interval exists.
pub fn rate(values: &[f64], confidence: f64) -> Option<Rate> {
    let points: Vec<(f64, f64)> = values
        .iter()
        .enumerate()
        .filter(|(_, v)| v.is_finite())
        .map(|(g, &v)| (g as f64, v))
        .collect();
    if points.len() < 3 {
        return None;
    }
    let geometric = points.iter().all(|&(_, v)| v > 0.0);
    let ys: Vec<f64> = points
        .iter()
        .map(|&(_, v)| if geometric { v.ln() } else { v })
        .collect();
    let n = points.len() as f64;
    let mx = points.iter().map(|p| p.0).sum::<f64>() / n;
    let my = ys.iter().sum::<f64>() / n;
    let sxx: f64 = points.iter().map(|p| (p.0 - mx).powi(2)).sum();
    let sxy: f64 = points
        .iter()
        .zip(&ys)
        .map(|(p, y)| (p.0 - mx) * (y - my))
        .sum();
    let slope = sxy / sxx;
    let residual: f64 = points
        .iter()
        .zip(&ys)
        .map(|(p, y)| (y - my - slope * (p.0 - mx)).powi(2))
        .sum();
    let se = (residual / (n - 2.0) / sxx).sqrt();
    let half = student_t(0.5 + confidence / 2.0, n - 2.0) * se;
    let (lo, hi) = (slope - half, slope + half);
    let scale = |b: f64| if geometric { b.exp() - 1.0 } else { b };
    Some(Rate {
        fit: if geometric { "log-linear" } else { "linear" }.to_string(),
        rate: Estimate {
            value: scale(slope),
            lo: scale(lo),
            hi: scale(hi),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holm_adjusts_as_published() {
        // Holm (1979) step-down on four p-values, checked by hand:
        // sorted 0.01, 0.02, 0.03, 0.2 times 4, 3, 2, 1, made monotone.
        let adjusted = holm(&[0.03, 0.01, 0.2, 0.02]);
        let expected = [0.06, 0.04, 0.2, 0.06];
        for (a, e) in adjusted.iter().zip(expected) {
            assert!((a - e).abs() < 1e-12, "{adjusted:?}");
        }
        let with_nan = holm(&[f64::NAN, 0.01, 0.5]);
        assert!(with_nan[0].is_nan());
        assert_eq!((with_nan[1], with_nan[2]), (0.02, 0.5));
    }

    #[test]
    fn onset_is_the_first_significant_generation() {
        let p = [None, Some(0.2), Some(0.04), Some(0.001)];
        assert_eq!(onset(&p, 0.05), Some(2));
        assert_eq!(onset(&p, 0.01), Some(3));
        assert_eq!(onset(&[None, Some(0.5)], 0.05), None);
    }

    #[test]
    fn a_geometric_decay_has_its_rate_and_a_tight_interval() {
        let values: Vec<f64> = (0..8).map(|g| 2.0 * 0.9f64.powi(g)).collect();
        let r = rate(&values, 0.95).unwrap();
        assert_eq!(r.fit, "log-linear");
        assert!((r.rate.value + 0.1).abs() < 1e-9, "{r:?}");
        assert!(r.rate.hi - r.rate.lo < 1e-9, "{r:?}");
        // A noisy decay: the interval holds the true rate and is wider.
        let noisy: Vec<f64> = values
            .iter()
            .enumerate()
            .map(|(g, v)| v * if g % 2 == 0 { 1.05 } else { 0.95 })
            .collect();
        let r = rate(&noisy, 0.95).unwrap();
        assert!(r.rate.lo < -0.1 && -0.1 < r.rate.hi, "{r:?}");
        // A figure through zero is fitted on its own scale.
        let r = rate(&[1.0, 0.0, -1.0], 0.95).unwrap();
        assert_eq!((r.fit.as_str(), r.rate.value), ("linear", -1.0));
        assert!(rate(&[1.0, 2.0], 0.95).is_none());
    }
}
