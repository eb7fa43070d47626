//! Two-sample tests: the kernel test (MMD with a permutation p-value) on
//! feature vectors, Kolmogorov-Smirnov and Mann-Whitney on per-sample scalars.

use burn::prelude::*;
use collapse_vae::to_host;
use rand::RngExt;
use rand::rngs::Xoshiro256PlusPlus;
use statrs::distribution::{ContinuousCDF, Normal};

/// The two-sample Kolmogorov-Smirnov test of `a` against `b`: the largest
/// gap D between their empirical distribution functions and its asymptotic
/// two-sided p-value, Kolmogorov's distribution beyond `D √(mn / (m + n))`.
///
/// Written here rather than taken from statrs, whose p-value sums
/// Kolmogorov's series until a term is negligible, which never happens at
/// D = 0 (two sets of the same values): its loop does not end. This one is
/// checked against statrs's elsewhere.
pub fn kolmogorov_smirnov(a: &[f32], b: &[f32]) -> (f64, f64) {
    let sorted = |v: &[f32]| {
        let mut v = v.to_vec();
        v.sort_by(f32::total_cmp);
        v
    };
    let (a, b) = (sorted(a), sorted(b));
    let (n1, n2) = (a.len(), b.len());
    if n1 == 0 || n2 == 0 || a.iter().chain(&b).any(|v| v.is_nan()) {
        return (f64::NAN, f64::NAN);
    }
    let (mut i, mut j, mut d) = (0, 0, 0.0f64);
    while i < n1 && j < n2 {
        // Step past every copy of the next value in both sets at once.
        let x = a[i].min(b[j]);
        while i < n1 && a[i] == x {
            i += 1;
        }
        while j < n2 && b[j] == x {
            j += 1;
        }
        d = d.max((i as f64 / n1 as f64 - j as f64 / n2 as f64).abs());
    }
    let en = (n1 * n2) as f64 / (n1 + n2) as f64;
    (d, kolmogorov_sf(d * en.sqrt()))
}

/// `P(K > x)` for Kolmogorov's limit distribution: `2 Σ (−1)^{k−1}
/// e^{−2k²x²}` where it converges fast (x ≥ 1), else one minus the
/// Jacobi-theta form of the distribution function, `√(2π)/x Σ
/// e^{−(2k−1)²π²/(8x²)}`, which converges fast for small x.
pub fn kolmogorov_sf(x: f64) -> f64 {
    if x <= 0.0 {
        return 1.0;
    }
    if x < 1.0 {
        let w = std::f64::consts::PI.powi(2) / (8.0 * x * x);
        let cdf: f64 = (1..=20)
            .map(|k| (-((2 * k - 1) as f64).powi(2) * w).exp())
            .sum::<f64>()
            * (2.0 * std::f64::consts::PI).sqrt()
            / x;
        return (1.0 - cdf).clamp(0.0, 1.0);
    }
    let sf: f64 = (1..=100)
        .map(|k| {
            let sign = if k % 2 == 1 { 1.0 } else { -1.0 };
            sign * (-2.0 * (k * k) as f64 * x * x).exp()
        })
        .sum::<f64>();
    (2.0 * sf).clamp(0.0, 1.0)
}

/// The two-sided Mann-Whitney test of `a` against `b`: the statistic U of
/// `a` (the pairs where `a`'s value is larger, ties counting half) and its
/// p-value from the normal approximation with the tie correction and the
/// continuity correction (as scipy's `mannwhitneyu` with
/// `method="asymptotic"`).
///
/// Written here rather than taken from statrs, whose version first compares
/// every pair of values to check they are comparable: 200 million
/// comparisons for two sets of 10,000. This one ranks in `O(n log n)` and is
/// checked against statrs's on small sets.
pub fn mann_whitney(a: &[f32], b: &[f32]) -> (f64, f64) {
    let (n1, n2) = (a.len(), b.len());
    if n1 == 0 || n2 == 0 || a.iter().chain(b).any(|v| v.is_nan()) {
        return (f64::NAN, f64::NAN);
    }
    let mut pooled: Vec<(f32, bool)> = a
        .iter()
        .map(|&v| (v, true))
        .chain(b.iter().map(|&v| (v, false)))
        .collect();
    pooled.sort_by(|x, y| x.0.total_cmp(&y.0));
    let n = pooled.len();
    let (mut rank_sum, mut ties) = (0.0f64, 0.0f64);
    let mut start = 0;
    while start < n {
        let mut end = start + 1;
        while end < n && pooled[end].0 == pooled[start].0 {
            end += 1;
        }
        // Ranks start + 1 ..= end share their mean.
        let rank = (start + 1 + end) as f64 / 2.0;
        let from_a = pooled[start..end].iter().filter(|p| p.1).count();
        rank_sum += rank * from_a as f64;
        let t = (end - start) as f64;
        ties += t * t * t - t;
        start = end;
    }
    let (f1, f2) = (n1 as f64, n2 as f64);
    let u1 = rank_sum - f1 * (f1 + 1.0) / 2.0;
    let mean = f1 * f2 / 2.0;
    let nf = n as f64;
    let var = f1 * f2 / 12.0 * ((nf + 1.0) - ties / (nf * (nf - 1.0)));
    let u = u1.max(f1 * f2 - u1);
    let z = (u - mean - 0.5) / var.sqrt();
    let p = match var > 0.0 {
        true => (2.0 * Normal::standard().sf(z)).clamp(0.0, 1.0),
        false => 1.0,
    };
    (u1, p)
}

/// Squared distances between every row of `a` (`[m, d]`) and of `b` (`[n, d]`).
fn pairwise(a: &Tensor<2>, b: &Tensor<2>) -> Tensor<2> {
    let (m, n) = (a.dims()[0], b.dims()[0]);
    let an = a.clone().square().sum_dim(1).expand([m, n]);
    let bn = b.clone().square().sum_dim(1).transpose().expand([m, n]);
    (an + bn - a.clone().matmul(b.clone().transpose()) * 2.0).clamp_min(0.0)
}

/// The median distance between distinct rows of `x` (`[m, d]`), the
/// bandwidth of the MMD's kernel.
pub fn median_distance(x: &Tensor<2>) -> f64 {
    let m = x.dims()[0];
    let d = to_host(pairwise(x, x));
    let mut upper: Vec<f32> = (0..m)
        .flat_map(|i| d[i * m + i + 1..(i + 1) * m].iter().copied())
        .collect();
    if upper.is_empty() {
        return f64::NAN;
    }
    let mid = upper.len() / 2;
    let (_, median, _) = upper.select_nth_unstable_by(mid, f32::total_cmp);
    f64::from(*median).sqrt()
}

/// The kernel two-sample test of rows `x` (`[m, d]`) against rows `y`
/// (`[n, d]`): the biased estimate of MMD² under the Gaussian kernel of
/// bandwidth `sigma`, and its permutation p-value over `permutations`
/// relabellings of the pooled rows, `(1 + #{MMD²_perm ≥ MMD²}) / (1 + P)`.
///
/// The Gram matrix of the pooled rows is computed once on the device; every
/// relabelling is a column of weights `s` (`+1/m` for the rows it calls
/// `x`, `−1/n` for the others) and its MMD² is `sᵀ K s`, so all of them
/// are one matrix product and one read.
pub fn mmd(
    x: &Tensor<2>,
    y: &Tensor<2>,
    sigma: f64,
    permutations: usize,
    rng: &mut Xoshiro256PlusPlus,
) -> (f64, f64) {
    let (m, n) = (x.dims()[0], y.dims()[0]);
    let total = m + n;
    let device = x.device();
    let pooled = Tensor::cat(vec![x.clone(), y.clone()], 0);
    let gram = (pairwise(&pooled, &pooled) / (-2.0 * sigma * sigma)).exp();
    let columns = permutations + 1;
    let (wx, wy) = (1.0 / m as f32, -1.0 / n as f32);
    let mut weights = vec![0f32; total * columns];
    let mut labels: Vec<usize> = (0..total).collect();
    for c in 0..columns {
        if c > 0 {
            // Fisher-Yates: the first m of the shuffled rows are called x.
            for i in (1..total).rev() {
                labels.swap(i, rng.random_range(0..=i));
            }
        }
        for (rank, &row) in labels.iter().enumerate() {
            weights[row * columns + c] = if rank < m { wx } else { wy };
        }
    }
    let s = Tensor::<2>::from_data(TensorData::new(weights, [total, columns]), &device);
    let stats = to_host((s.clone() * gram.matmul(s)).sum_dim(0));
    let observed = stats[0];
    let beyond = stats[1..].iter().filter(|&&v| v >= observed).count();
    (
        f64::from(observed),
        (1 + beyond) as f64 / (1 + permutations) as f64,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Distribution;
    use rand::SeedableRng;
    use statrs::stats_tests::ks_test::{KSTwoSampleAlternativeMethod, ks_twosample};
    use statrs::stats_tests::mannwhitneyu::{MannWhitneyUMethod, mannwhitneyu};
    use statrs::stats_tests::{Alternative, NaNPolicy};

    #[test]
    fn mann_whitney_matches_statrs_with_and_without_ties() {
        let a = [
            19.0f32, 22.0, 16.0, 29.0, 24.0, 31.0, 12.0, 22.0, 18.0, 40.0,
        ];
        let b = [
            20.0f32, 11.0, 17.0, 12.0, 22.0, 9.0, 15.0, 13.0, 21.0, 14.0, 16.0,
        ];
        let ours = mann_whitney(&a, &b);
        let theirs = mannwhitneyu(
            &a,
            &b,
            MannWhitneyUMethod::AsymptoticInclContinuityCorrection,
            Alternative::TwoSided,
        )
        .unwrap();
        assert!((ours.0 - theirs.0).abs() < 1e-9, "{ours:?} {theirs:?}");
        assert!((ours.1 - theirs.1).abs() < 1e-12, "{ours:?} {theirs:?}");
        let c: Vec<f32> = (0..30).map(|i| (i % 7) as f32).collect();
        let d: Vec<f32> = (0..25).map(|i| (i % 5) as f32 + 0.5).collect();
        let ours = mann_whitney(&c, &d);
        let theirs = mannwhitneyu(
            &c,
            &d,
            MannWhitneyUMethod::AsymptoticInclContinuityCorrection,
            Alternative::TwoSided,
        )
        .unwrap();
        assert!((ours.1 - theirs.1).abs() < 1e-12, "{ours:?} {theirs:?}");
    }

    #[test]
    fn kolmogorov_tail_at_its_classic_critical_values() {
        // The asymptotic 5 % and 1 % critical values 1.3581 and 1.6276.
        assert!((kolmogorov_sf(1.358_1) - 0.05).abs() < 1e-4);
        assert!((kolmogorov_sf(1.627_6) - 0.01).abs() < 1e-4);
        // Both series agree where they meet.
        let below = kolmogorov_sf(1.0 - 1e-12);
        assert!((below - kolmogorov_sf(1.0)).abs() < 1e-9, "{below}");
        assert_eq!(kolmogorov_sf(0.0), 1.0);
    }

    #[test]
    fn kolmogorov_smirnov_matches_statrs() {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(5);
        for shift in [0.0f32, 0.05, 0.3] {
            let a: Vec<f32> = (0..400).map(|_| rng.random::<f32>()).collect();
            let b: Vec<f32> = (0..300).map(|_| rng.random::<f32>() + shift).collect();
            let ours = kolmogorov_smirnov(&a, &b);
            let wide = |v: &[f32]| v.iter().map(|&x| f64::from(x)).collect::<Vec<_>>();
            let theirs = ks_twosample(
                wide(&a),
                wide(&b),
                KSTwoSampleAlternativeMethod::TwoSidedAsymptotic,
                NaNPolicy::Error,
            )
            .unwrap();
            assert!((ours.0 - theirs.0).abs() < 1e-12, "{ours:?} {theirs:?}");
            assert!((ours.1 - theirs.1).abs() < 1e-9, "{ours:?} {theirs:?}");
        }
    }

    #[test]
    fn kolmogorov_smirnov_of_shifted_and_equal_sets() {
        let a: Vec<f32> = (0..500).map(|i| i as f32 / 500.0).collect();
        let shifted: Vec<f32> = a.iter().map(|v| v + 0.2).collect();
        let (d, p) = kolmogorov_smirnov(&a, &shifted);
        // 0.2 up to the rounding of the shifted f32 values.
        assert!((d - 0.2).abs() < 0.005 && p < 1e-6, "{d} {p}");
        let mut reversed = a.clone();
        reversed.reverse();
        let (d, p) = kolmogorov_smirnov(&a, &reversed);
        assert!(d == 0.0 && p == 1.0, "{d} {p}");
    }

    /// Under the null, the permutation p-value is uniform: about 5 % of
    /// tests of two draws from one distribution fall at or below 0.05; a
    /// shifted distribution is found every time.
    #[test]
    fn mmd_holds_its_level_under_the_null_and_finds_a_shift() {
        let device = Device::flex();
        device.seed(11);
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(3);
        let draw = |shift: f32| {
            Tensor::<2>::random([60, 3], Distribution::Normal(0.0, 1.0), &device) + shift
        };
        let sigma = median_distance(&draw(0.0));
        let rejected = (0..100)
            .filter(|_| mmd(&draw(0.0), &draw(0.0), sigma, 99, &mut rng).1 <= 0.05)
            .count();
        assert!(rejected <= 12, "{rejected} of 100 null tests rejected");
        for _ in 0..5 {
            let (stat, p) = mmd(&draw(0.0), &draw(1.0), sigma, 99, &mut rng);
            assert!(stat > 0.0 && p <= 0.01, "{stat} {p}");
        }
    }
}
