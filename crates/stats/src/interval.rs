//! Intervals and p-values: bootstrap percentiles, Clopper-Pearson intervals
//! of a binomial share, two-sided normal p-values, Student t quantiles.

use collapse_records::profile::Estimate;
use collapse_records::stats::mean_sample_std;
use statrs::distribution::{Beta, ContinuousCDF, Normal, StudentsT};

/// The `value` with the percentile interval of its bootstrap `replicates`
/// at `confidence` (type-7 quantiles of the replicates).
pub fn percentile(value: f64, replicates: &[f64], confidence: f64) -> Estimate {
    let mut sorted: Vec<f64> = replicates
        .iter()
        .copied()
        .filter(|v| v.is_finite())
        .collect();
    if sorted.is_empty() {
        return Estimate {
            value,
            lo: f64::NAN,
            hi: f64::NAN,
        };
    }
    sorted.sort_by(f64::total_cmp);
    let tail = (1.0 - confidence) / 2.0;
    Estimate {
        value,
        lo: quantile_sorted(&sorted, tail),
        hi: quantile_sorted(&sorted, 1.0 - tail),
    }
}

/// The `value` with the normal ("standard") bootstrap interval at
/// `confidence`: `value ± z · sd` of its `replicates`, for a figure whose
/// replicates are too few for percentiles but enough for a standard error
/// (Efron and Tibshirani 1993, §13.2: 25 to 200).
pub fn normal(value: f64, replicates: &[f64], confidence: f64) -> Estimate {
    let Some(sd) = mean_sample_std(replicates).1 else {
        return Estimate {
            value,
            lo: f64::NAN,
            hi: f64::NAN,
        };
    };
    let z = Normal::standard().inverse_cdf(0.5 + confidence / 2.0);
    Estimate {
        value,
        lo: value - z * sd,
        hi: value + z * sd,
    }
}

/// The type-7 quantile at `q` of ascending `sorted` values.
pub fn quantile_sorted(sorted: &[f64], q: f64) -> f64 {
    let pos = q * (sorted.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    let frac = pos - lo as f64;
    sorted[lo] * (1.0 - frac) + sorted[hi] * frac
}

/// The share `k / n` with its exact (Clopper-Pearson) interval at `confidence`.
pub fn clopper_pearson(k: usize, n: usize, confidence: f64) -> Estimate {
    if n == 0 {
        return Estimate {
            value: f64::NAN,
            lo: f64::NAN,
            hi: f64::NAN,
        };
    }
    let tail = (1.0 - confidence) / 2.0;
    let (kf, nf) = (k as f64, n as f64);
    let lo = match k {
        0 => 0.0,
        _ => Beta::new(kf, nf - kf + 1.0)
            .expect("positive shapes")
            .inverse_cdf(tail),
    };
    let hi = match k == n {
        true => 1.0,
        false => Beta::new(kf + 1.0, nf - kf)
            .expect("positive shapes")
            .inverse_cdf(1.0 - tail),
    };
    Estimate {
        value: kf / nf,
        lo,
        hi,
    }
}

/// The two-sided p-value of a standard normal statistic `z`.
pub fn normal_p(z: f64) -> f64 {
    if !z.is_finite() {
        return if z.is_nan() { f64::NAN } else { 0.0 };
    }
    let normal = Normal::standard();
    (2.0 * normal.cdf(-z.abs())).min(1.0)
}

/// The quantile at `q` of Student's t with `df` degrees of freedom.
pub fn student_t(q: f64, df: f64) -> f64 {
    StudentsT::new(0.0, 1.0, df)
        .expect("positive degrees of freedom")
        .inverse_cdf(q)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clopper_pearson_matches_published_values() {
        // 95 % exact intervals (as R's binom.test): 0/10 is [0, 0.3085],
        // 5/10 is [0.1871, 0.8129], 10/10 is [0.6915, 1].
        let close = |a: f64, b: f64| (a - b).abs() < 5e-5;
        let e = clopper_pearson(0, 10, 0.95);
        assert!(e.lo == 0.0 && close(e.hi, 0.308_5), "{e:?}");
        let e = clopper_pearson(5, 10, 0.95);
        assert!(close(e.lo, 0.187_1) && close(e.hi, 0.812_9), "{e:?}");
        let e = clopper_pearson(10, 10, 0.95);
        assert!(close(e.lo, 0.691_5) && e.hi == 1.0, "{e:?}");
    }

    #[test]
    fn percentile_interval_of_known_replicates() {
        let replicates: Vec<f64> = (0..=100).map(f64::from).collect();
        let e = percentile(50.0, &replicates, 0.9);
        assert!(
            (e.lo - 5.0).abs() < 1e-9 && (e.hi - 95.0).abs() < 1e-9,
            "{e:?}"
        );
    }

    #[test]
    fn normal_interval_is_two_standard_errors_wide() {
        // Replicates 1, 2, 3: sd 1; z(0.975) = 1.959964.
        let e = normal(10.0, &[1.0, 2.0, 3.0], 0.95);
        assert!((e.lo - (10.0 - 1.959_964)).abs() < 1e-6, "{e:?}");
        assert!((e.hi - (10.0 + 1.959_964)).abs() < 1e-6, "{e:?}");
        assert!(normal(1.0, &[2.0], 0.95).lo.is_nan());
    }

    #[test]
    fn normal_p_and_t_quantiles() {
        assert!((normal_p(1.959_964) - 0.05).abs() < 1e-6);
        assert_eq!(normal_p(0.0), 1.0);
        // t(0.975, 2) = 4.302653.
        assert!((student_t(0.975, 2.0) - 4.302_653).abs() < 1e-5);
    }
}
