//! Inference over seeds. Each seed is an independent chain, so the spread
//! of a figure over seeds holds the noise of sampling and of training alike:
//! the t intervals and tests here are the ones a change from generation 0,
//! or a difference between two conditions, must pass to be more than a
//! retrained model's chance.

use collapse_records::profile::Estimate;
use collapse_records::stats::mean_sample_std;
use statrs::distribution::{ContinuousCDF, StudentsT};

use crate::interval::student_t;

/// How many of `values` are finite, with their mean and sample standard
/// deviation (divisor n − 1; NaN where undefined).
fn moments(values: &[f64]) -> (usize, f64, f64) {
    let n = values.iter().filter(|v| v.is_finite()).count();
    let (mean, sd) = mean_sample_std(values);
    (n, mean.unwrap_or(f64::NAN), sd.unwrap_or(f64::NAN))
}

fn undefined(value: f64) -> Estimate {
    Estimate {
        value,
        lo: f64::NAN,
        hi: f64::NAN,
    }
}

/// The two-sided p-value of `t` under Student's t with `df` degrees of
/// freedom; a difference with no spread at all is certain unless it is zero.
fn t_p(t: f64, df: f64) -> f64 {
    match t.is_finite() {
        true => {
            2.0 * StudentsT::new(0.0, 1.0, df)
                .expect("positive df")
                .sf(t.abs())
        }
        false if t.is_nan() => f64::NAN,
        false => 0.0,
    }
}

/// The mean of the finite `values` with its t interval at `confidence`
/// (no interval under two values).
pub fn mean_interval(values: &[f64], confidence: f64) -> Estimate {
    let (n, mean, sd) = moments(values);
    if n < 2 {
        return undefined(if n == 1 { mean } else { f64::NAN });
    }
    let half = student_t(0.5 + confidence / 2.0, n as f64 - 1.0) * sd / (n as f64).sqrt();
    Estimate {
        value: mean,
        lo: mean - half,
        hi: mean + half,
    }
}

/// The mean change from `first` to `later` (one value per seed, paired),
/// its t interval and the two-sided p-value of the paired t test.
pub fn paired_change(first: &[f64], later: &[f64], confidence: f64) -> (Estimate, f64) {
    let changes: Vec<f64> = first.iter().zip(later).map(|(a, b)| b - a).collect();
    let (n, mean, sd) = moments(&changes);
    if n < 2 {
        return (undefined(if n == 1 { mean } else { f64::NAN }), f64::NAN);
    }
    let se = sd / (n as f64).sqrt();
    let df = n as f64 - 1.0;
    let half = student_t(0.5 + confidence / 2.0, df) * se;
    let p = if mean == 0.0 && se == 0.0 {
        1.0
    } else {
        t_p(mean / se, df)
    };
    (
        Estimate {
            value: mean,
            lo: mean - half,
            hi: mean + half,
        },
        p,
    )
}

/// The difference of the means of `b` and `a` (`b − a`, independent seeds),
/// its Welch interval and the two-sided p-value of Welch's t test (the
/// Welch-Satterthwaite degrees of freedom).
pub fn welch(a: &[f64], b: &[f64], confidence: f64) -> (Estimate, f64) {
    let ((na, ma, sa), (nb, mb, sb)) = (moments(a), moments(b));
    let diff = mb - ma;
    if na < 2 || nb < 2 {
        return (undefined(diff), f64::NAN);
    }
    let (va, vb) = (sa * sa / na as f64, sb * sb / nb as f64);
    let se = (va + vb).sqrt();
    if se == 0.0 {
        return (undefined(diff), if diff == 0.0 { 1.0 } else { 0.0 });
    }
    let df = (va + vb).powi(2) / (va * va / (na as f64 - 1.0) + vb * vb / (nb as f64 - 1.0));
    let half = student_t(0.5 + confidence / 2.0, df) * se;
    (
        Estimate {
            value: diff,
            lo: diff - half,
            hi: diff + half,
        },
        t_p(diff / se, df),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mean_of_four_seeds_has_its_t_interval() {
        // Mean 2.5, sd √(5/3), t(0.975, 3) = 3.182446.
        let e = mean_interval(&[1.0, 2.0, 3.0, 4.0], 0.95);
        let half = 3.182_446 * (5.0f64 / 3.0).sqrt() / 2.0;
        assert!((e.value - 2.5).abs() < 1e-12);
        assert!((e.hi - 2.5 - half).abs() < 1e-5, "{e:?}");
        assert!(mean_interval(&[1.0], 0.95).lo.is_nan());
    }

    #[test]
    fn paired_changes_as_a_one_sample_t_test() {
        // Changes 1, 2, 3: mean 2, se 1/√3, t = 2√3 = 3.4641 on 2 df: p = 0.07418.
        let (e, p) = paired_change(&[0.0, 0.0, 0.0], &[1.0, 2.0, 3.0], 0.95);
        assert!((e.value - 2.0).abs() < 1e-12);
        assert!((p - 0.074_18).abs() < 1e-4, "{p}");
        let (_, same) = paired_change(&[1.0, 2.0], &[1.0, 2.0], 0.95);
        assert_eq!(same, 1.0);
    }

    #[test]
    fn welch_matches_a_worked_example() {
        // a = 1..5 (var 2.5), b = 3, 5, 7, 9, 11 (var 10): diff 4, se √2.5,
        // t = 2.52982, df = 2.5² / (0.5²/4 + 2²/4) = 5.88235 (Welch-Satterthwaite):
        // p = 0.0454646 (the t density integrated numerically).
        let a = [1.0, 2.0, 3.0, 4.0, 5.0];
        let b = [3.0, 5.0, 7.0, 9.0, 11.0];
        let (e, p) = welch(&a, &b, 0.95);
        assert!((e.value - 4.0).abs() < 1e-12);
        assert!((p - 0.045_464_6).abs() < 1e-6, "{p}");
        assert!(e.lo > 0.0, "{e:?}");
    }
}
