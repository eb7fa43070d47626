//! Closed forms of the recursive Gaussian fit (Shumailov et al., Theorem 3.1
//! and the supplement's section 3.1), for a chain that replaces its data and
//! samples generation n ≥ 1 from N(μ_n, λ σ_n²) (λ = 1: no bias).
//!
//! With M samples per generation and unbiased estimators, μ_{n+1} − μ_n has
//! variance λ σ_n² / M and E[σ_{n+1}² | σ_n] = λ σ_n², so for n ≥ 1
//!
//! - E[σ_n²] = λ^(n−1) σ²,
//! - E[(μ_n − μ)²] = σ² (1 + λ + … + λ^(n−1)) / M,
//! - Var(X^n) = E[(μ_n − μ)²] + λ E[σ_n²], which is σ² (1 + n/M) at λ = 1,
//! - E[σ_n] = σ c_M^n λ^((n−1)/2), where c_M = E[√(χ²_{M−1}/(M−1))]
//!   = √(2/(M−1)) Γ(M/2) / Γ((M−1)/2) < 1,
//! - E[W2²] = E[(μ_n − μ)²] + E[σ_n²] − 2σ E[σ_n] + σ², which at λ = 1 is
//!   σ² (n/M + 2 − 2 c_M^n): about 3nσ²/(2M) while n ≪ M, and without bound
//!   as n grows, while σ_n → 0 almost surely (log σ_n² is a random walk with
//!   negative drift).

/// c_M = E[√(χ²_{M−1}/(M−1))], the mean of one generation's factor on σ.
pub fn c(samples: usize) -> f64 {
    let m = samples as f64;
    (2.0 / (m - 1.0)).sqrt() * (libm::lgamma(m / 2.0) - libm::lgamma((m - 1.0) / 2.0)).exp()
}

/// The closed forms of generation `n` of a chain of `samples` per
/// generation, bias `bias`, from N(·, `sigma`²).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Expected {
    /// E[(μ_n − μ)²].
    pub mean_sq_error: f64,
    /// E[σ_n²].
    pub sigma_sq: f64,
    /// Var(X^n), the variance of generation n's samples.
    pub variance: f64,
    /// E[W2²(N(μ_n, σ_n²), N(μ, σ²))].
    pub w2_sq: f64,
}

/// The closed forms of generation `n`.
pub fn expected(n: usize, samples: usize, sigma: f64, bias: f64) -> Expected {
    let s2 = sigma * sigma;
    if n == 0 {
        return Expected {
            mean_sq_error: 0.0,
            sigma_sq: s2,
            variance: s2,
            w2_sq: 0.0,
        };
    }
    let m = samples as f64;
    let geometric: f64 = (0..n as i32).map(|i| bias.powi(i)).sum();
    let mean_sq_error = s2 * geometric / m;
    let sigma_sq = s2 * bias.powi(n as i32 - 1);
    let sigma_mean = sigma * c(samples).powi(n as i32) * bias.powf((n as f64 - 1.0) / 2.0);
    Expected {
        mean_sq_error,
        sigma_sq,
        variance: mean_sq_error + bias * sigma_sq,
        w2_sq: mean_sq_error + sigma_sq - 2.0 * sigma * sigma_mean + s2,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn c_matches_its_asymptotics_and_small_cases() {
        // M = 2: E|Z| = √(2/π).
        assert!((c(2) - (2.0 / std::f64::consts::PI).sqrt()).abs() < 1e-12);
        // c_M = 1 − 1/(4(M−1)) + O(1/M²).
        for m in [100, 1000, 10_000] {
            let approx = 1.0 - 1.0 / (4.0 * (m as f64 - 1.0));
            assert!(
                (c(m) - approx).abs() < 1.0 / (m * m) as f64,
                "{m}: {}",
                c(m) - approx
            );
        }
    }

    #[test]
    fn unbiased_chain_forms() {
        let e = expected(10, 100, 2.0, 1.0);
        assert!((e.variance - 4.0 * (1.0 + 10.0 / 100.0)).abs() < 1e-12);
        assert!((e.sigma_sq - 4.0).abs() < 1e-12);
        let first_order = 1.5 * 4.0 * 10.0 / 100.0;
        assert!(
            (e.w2_sq - first_order).abs() / first_order < 0.02,
            "{}",
            e.w2_sq
        );
        assert_eq!(expected(0, 100, 2.0, 1.0).w2_sq, 0.0);
    }

    #[test]
    fn biased_sampling_shrinks_sigma_geometrically() {
        let e = expected(5, 1000, 1.0, 0.5);
        assert!((e.sigma_sq - 0.5f64.powi(4)).abs() < 1e-15);
        let mean_sq = (1.0 + 0.5 + 0.25 + 0.125 + 0.0625) / 1000.0;
        assert!((e.mean_sq_error - mean_sq).abs() < 1e-15);
        assert!((e.variance - (mean_sq + 0.5f64.powi(5))).abs() < 1e-15);
    }
}
