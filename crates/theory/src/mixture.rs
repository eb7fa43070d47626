//! A full-covariance Gaussian mixture in the plane, its samples, its
//! closed-form L2 distance to another, and its maximum-likelihood fit by EM.
//!
//! EM follows scikit-learn's `GaussianMixture` step for step (the authors'
//! notebook fits with it), so a fit from the same starting mixture reaches
//! the same parameters in the same number of iterations: each iteration is
//! an E-step, then an M-step whose component weights are the
//! responsibilities' sums (each plus 10 machine epsilons) normalised, whose
//! covariances get `reg_covar` added to their diagonal; it stops when the
//! mean log-likelihood per point of the E-step changed by less than `tol`.
//! The starting mixture is an M-step on the hard labels of k-means
//! (k-means++ seeding, then Lloyd's iterations), as scikit-learn's default.

use rand::{Rng, RngExt};
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};

/// A point of the plane.
pub type Point = [f64; 2];

/// One weighted Gaussian of a mixture.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Component {
    /// Its weight; a mixture's weights sum to 1.
    pub weight: f64,
    /// Its mean.
    pub mean: Point,
    /// Its covariance (symmetric, positive definite).
    pub cov: [[f64; 2]; 2],
}

impl Component {
    /// √(trace Σ / 2): the standard deviation of an isotropic Gaussian of the same spread.
    pub fn std(&self) -> f64 {
        ((self.cov[0][0] + self.cov[1][1]) / 2.0).sqrt()
    }
}

/// A Gaussian mixture in the plane.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Mixture {
    /// Its components.
    pub components: Vec<Component>,
}

/// A 2-D Gaussian ready to evaluate: mean, inverse covariance, log normaliser.
struct Density {
    mean: Point,
    inverse: [[f64; 2]; 2],
    log_norm: f64,
}

fn determinant(m: &[[f64; 2]; 2]) -> f64 {
    m[0][0] * m[1][1] - m[0][1] * m[1][0]
}

impl Density {
    fn new(mean: Point, cov: &[[f64; 2]; 2]) -> Density {
        let det = determinant(cov);
        Density {
            mean,
            inverse: [
                [cov[1][1] / det, -cov[0][1] / det],
                [-cov[1][0] / det, cov[0][0] / det],
            ],
            log_norm: -(2.0 * std::f64::consts::PI).ln() - 0.5 * det.ln(),
        }
    }

    fn log_pdf(&self, x: Point) -> f64 {
        let d = [x[0] - self.mean[0], x[1] - self.mean[1]];
        let i = &self.inverse;
        let quad =
            d[0] * (i[0][0] * d[0] + i[0][1] * d[1]) + d[1] * (i[1][0] * d[0] + i[1][1] * d[1]);
        self.log_norm - 0.5 * quad
    }
}

/// ln Σ exp(v) without overflow.
fn log_sum_exp(values: &[f64]) -> f64 {
    let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if max == f64::NEG_INFINITY {
        return max;
    }
    max + values.iter().map(|v| (v - max).exp()).sum::<f64>().ln()
}

/// The N(d; 0, Σ_a + Σ_b) term of the L2 distance between two components.
fn overlap(a: &Component, b: &Component) -> f64 {
    let sum = [
        [a.cov[0][0] + b.cov[0][0], a.cov[0][1] + b.cov[0][1]],
        [a.cov[1][0] + b.cov[1][0], a.cov[1][1] + b.cov[1][1]],
    ];
    let d = [a.mean[0] - b.mean[0], a.mean[1] - b.mean[1]];
    Density::new([0.0, 0.0], &sum).log_pdf(d).exp()
}

impl Mixture {
    fn densities(&self) -> Vec<(f64, Density)> {
        self.components
            .iter()
            .map(|c| (c.weight.ln(), Density::new(c.mean, &c.cov)))
            .collect()
    }

    /// ln w_k + ln N(x; m_k, Σ_k) for every component, into `out`.
    fn weighted_log_pdfs(densities: &[(f64, Density)], x: Point, out: &mut [f64]) {
        for (o, (log_w, d)) in out.iter_mut().zip(densities) {
            *o = log_w + d.log_pdf(x);
        }
    }

    /// The mean log-likelihood of `points`.
    pub fn mean_log_likelihood(&self, points: &[Point]) -> f64 {
        let densities = self.densities();
        let mut buf = vec![0.0; densities.len()];
        let total: f64 = points
            .iter()
            .map(|&x| {
                Self::weighted_log_pdfs(&densities, x, &mut buf);
                log_sum_exp(&buf)
            })
            .sum();
        total / points.len() as f64
    }

    /// The most probable component of each point.
    pub fn predict(&self, points: &[Point]) -> Vec<usize> {
        let densities = self.densities();
        let mut buf = vec![0.0; densities.len()];
        points
            .iter()
            .map(|&x| {
                Self::weighted_log_pdfs(&densities, x, &mut buf);
                (0..buf.len())
                    .max_by(|&a, &b| buf[a].total_cmp(&buf[b]))
                    .unwrap_or(0)
            })
            .collect()
    }

    /// `n` independent samples: each point's component drawn by weight, then
    /// the point from that component (mean plus Cholesky factor times N(0, I)).
    pub fn sample(&self, n: usize, rng: &mut impl Rng) -> Vec<Point> {
        let factors: Vec<[f64; 3]> = self
            .components
            .iter()
            .map(|c| {
                let a = c.cov[0][0].sqrt();
                let b = c.cov[1][0] / a;
                [a, b, (c.cov[1][1] - b * b).max(0.0).sqrt()]
            })
            .collect();
        (0..n)
            .map(|_| {
                let u: f64 = rng.random();
                let mut k = 0;
                let mut acc = self.components[0].weight;
                while u >= acc && k + 1 < self.components.len() {
                    k += 1;
                    acc += self.components[k].weight;
                }
                let (z0, z1): (f64, f64) = (StandardNormal.sample(rng), StandardNormal.sample(rng));
                let [a, b, c] = factors[k];
                let m = self.components[k].mean;
                [m[0] + a * z0, m[1] + b * z0 + c * z1]
            })
            .collect()
    }

    /// ∫ (p − q)², from the closed form of the integral of a product of two Gaussians.
    pub fn l2_sq(&self, other: &Mixture) -> f64 {
        let cross = |p: &Mixture, q: &Mixture| -> f64 {
            p.components
                .iter()
                .flat_map(|a| {
                    q.components
                        .iter()
                        .map(move |b| a.weight * b.weight * overlap(a, b))
                })
                .sum()
        };
        cross(self, self) + cross(other, other) - 2.0 * cross(self, other)
    }

    /// The same mixture with its components ordered by the first coordinate of their means.
    pub fn ordered(mut self) -> Mixture {
        self.components
            .sort_by(|a, b| a.mean[0].total_cmp(&b.mean[0]));
        self
    }
}

/// How EM fits.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct EmSettings {
    /// Components.
    pub components: usize,
    /// Stop when the mean log-likelihood per point changes by less.
    pub tol: f64,
    /// The most iterations.
    pub max_iter: usize,
    /// Added to each covariance's diagonal.
    pub reg_covar: f64,
}

impl Default for EmSettings {
    /// The notebook's: 2 components, tolerance 1e-5, at most 2,000 iterations;
    /// scikit-learn's regularisation 1e-6.
    fn default() -> Self {
        EmSettings {
            components: 2,
            tol: 1e-5,
            max_iter: 2000,
            reg_covar: 1e-6,
        }
    }
}

/// An EM fit.
#[derive(Clone, Debug, PartialEq)]
pub struct EmFit {
    /// The fitted mixture.
    pub mixture: Mixture,
    /// Iterations run.
    pub iterations: usize,
    /// Whether the tolerance was met before the iteration limit.
    pub converged: bool,
    /// The mean log-likelihood per point of the last E-step.
    pub lower_bound: f64,
}

/// The M-step: the mixture that maximises the expected log-likelihood under
/// responsibilities `resp` (`points.len()` rows of `k`).
fn m_step(points: &[Point], resp: &[f64], k: usize, reg_covar: f64) -> Mixture {
    let eps = 10.0 * f64::EPSILON;
    let mut components: Vec<Component> = (0..k)
        .map(|j| {
            let nk: f64 = resp.iter().skip(j).step_by(k).sum::<f64>() + eps;
            let mut mean = [0.0; 2];
            for (x, r) in points.iter().zip(resp.chunks_exact(k)) {
                mean[0] += r[j] * x[0];
                mean[1] += r[j] * x[1];
            }
            mean = [mean[0] / nk, mean[1] / nk];
            let mut cov = [[0.0; 2]; 2];
            for (x, r) in points.iter().zip(resp.chunks_exact(k)) {
                let d = [x[0] - mean[0], x[1] - mean[1]];
                cov[0][0] += r[j] * d[0] * d[0];
                cov[0][1] += r[j] * d[0] * d[1];
                cov[1][1] += r[j] * d[1] * d[1];
            }
            cov[0][0] = cov[0][0] / nk + reg_covar;
            cov[1][1] = cov[1][1] / nk + reg_covar;
            cov[0][1] /= nk;
            cov[1][0] = cov[0][1];
            Component {
                weight: nk,
                mean,
                cov,
            }
        })
        .collect();
    let total: f64 = components.iter().map(|c| c.weight).sum();
    for c in &mut components {
        c.weight /= total;
    }
    Mixture { components }
}

/// The E-step: responsibilities into `resp`; returns the mean log-likelihood per point.
fn e_step(points: &[Point], mixture: &Mixture, resp: &mut [f64]) -> f64 {
    let densities = mixture.densities();
    let k = densities.len();
    let mut total = 0.0;
    for (x, r) in points.iter().zip(resp.chunks_exact_mut(k)) {
        Mixture::weighted_log_pdfs(&densities, *x, r);
        let norm = log_sum_exp(r);
        for v in r.iter_mut() {
            *v = (*v - norm).exp();
        }
        total += norm;
    }
    total / points.len() as f64
}

/// EM from `start` until the tolerance or the iteration limit.
pub fn em(points: &[Point], start: Mixture, s: &EmSettings) -> EmFit {
    let k = start.components.len();
    let mut resp = vec![0.0; points.len() * k];
    let mut mixture = start;
    let mut lower_bound = f64::NEG_INFINITY;
    for iteration in 1..=s.max_iter {
        let previous = lower_bound;
        lower_bound = e_step(points, &mixture, &mut resp);
        mixture = m_step(points, &resp, k, s.reg_covar);
        if (lower_bound - previous).abs() < s.tol {
            return EmFit {
                mixture,
                iterations: iteration,
                converged: true,
                lower_bound,
            };
        }
    }
    EmFit {
        mixture,
        iterations: s.max_iter,
        converged: false,
        lower_bound,
    }
}

fn distance_sq(a: Point, b: Point) -> f64 {
    (a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)
}

/// Hard labels of k-means: k-means++ seeding, then Lloyd's iterations until
/// no label changes (at most 300, scikit-learn's limit).
fn kmeans_labels(points: &[Point], k: usize, rng: &mut impl Rng) -> Vec<usize> {
    let mut centres = vec![points[rng.random_range(0..points.len())]];
    while centres.len() < k {
        let nearest: Vec<f64> = points
            .iter()
            .map(|&x| {
                centres
                    .iter()
                    .map(|&c| distance_sq(x, c))
                    .fold(f64::INFINITY, f64::min)
            })
            .collect();
        let total: f64 = nearest.iter().sum();
        let mut u = rng.random::<f64>() * total;
        let pick = nearest
            .iter()
            .position(|&d| {
                u -= d;
                u < 0.0
            })
            .unwrap_or(points.len() - 1);
        centres.push(points[pick]);
    }
    let mut labels = vec![usize::MAX; points.len()];
    for _ in 0..300 {
        let mut changed = false;
        for (label, &x) in labels.iter_mut().zip(points) {
            let best = (0..k)
                .min_by(|&a, &b| distance_sq(x, centres[a]).total_cmp(&distance_sq(x, centres[b])))
                .unwrap_or(0);
            changed |= *label != best;
            *label = best;
        }
        if !changed {
            break;
        }
        for (j, centre) in centres.iter_mut().enumerate() {
            let members: Vec<Point> = points
                .iter()
                .zip(&labels)
                .filter(|(_, l)| **l == j)
                .map(|(x, _)| *x)
                .collect();
            if !members.is_empty() {
                let n = members.len() as f64;
                *centre = [
                    members.iter().map(|x| x[0]).sum::<f64>() / n,
                    members.iter().map(|x| x[1]).sum::<f64>() / n,
                ];
            }
        }
    }
    labels
}

/// Fits a mixture of `s.components` to `points`: EM from the M-step of k-means's labels.
pub fn fit(points: &[Point], s: &EmSettings, rng: &mut impl Rng) -> EmFit {
    let k = s.components;
    let labels = kmeans_labels(points, k, rng);
    let mut resp = vec![0.0; points.len() * k];
    for (i, &l) in labels.iter().enumerate() {
        resp[i * k + l] = 1.0;
    }
    em(points, m_step(points, &resp, k, s.reg_covar), s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{Purpose, stream};

    fn two_blobs() -> Mixture {
        Mixture {
            components: vec![
                Component {
                    weight: 0.3,
                    mean: [-2.0, 0.0],
                    cov: [[0.5, 0.1], [0.1, 0.3]],
                },
                Component {
                    weight: 0.7,
                    mean: [2.0, 1.0],
                    cov: [[1.0, -0.2], [-0.2, 0.6]],
                },
            ],
        }
    }

    #[test]
    fn l2_distance_is_zero_to_itself_and_symmetric() {
        let a = two_blobs();
        let mut b = a.clone();
        b.components[0].mean = [-1.0, 0.5];
        assert!(a.l2_sq(&a).abs() < 1e-15);
        assert!((a.l2_sq(&b) - b.l2_sq(&a)).abs() < 1e-15);
        assert!(a.l2_sq(&b) > 0.0);
        // Two unit normals at distance d: ∫(p − q)² = (1 − e^{−d²/4}) / (2π).
        let unit = |x| Mixture {
            components: vec![Component {
                weight: 1.0,
                mean: [x, 0.0],
                cov: [[1.0, 0.0], [0.0, 1.0]],
            }],
        };
        let expected = (1.0 - (-1.0f64 / 4.0).exp()) / (2.0 * std::f64::consts::PI);
        assert!((unit(0.0).l2_sq(&unit(1.0)) - expected).abs() < 1e-15);
    }

    #[test]
    fn samples_have_the_mixture_moments() {
        let m = two_blobs();
        let mut rng = stream(1, Purpose::MixtureSamples, 0);
        let x = m.sample(200_000, &mut rng);
        let mean = |i: usize| x.iter().map(|p| p[i]).sum::<f64>() / x.len() as f64;
        assert!(
            (mean(0) - (0.3 * -2.0 + 0.7 * 2.0)).abs() < 0.01,
            "{}",
            mean(0)
        );
        assert!((mean(1) - 0.7).abs() < 0.01, "{}", mean(1));
        // P(x < 0): each component's normal CDF at 0, by weight.
        let below = |mean: f64, var: f64| 0.5 * libm::erfc(mean / (2.0 * var).sqrt());
        let expected = 0.3 * below(-2.0, 0.5) + 0.7 * below(2.0, 1.0);
        let left = x.iter().filter(|p| p[0] < 0.0).count() as f64 / x.len() as f64;
        assert!((left - expected).abs() < 0.005, "{left} against {expected}");
    }

    #[test]
    fn em_recovers_a_separated_mixture() {
        let truth = two_blobs();
        let mut rng = stream(2, Purpose::MixtureSamples, 0);
        let x = truth.sample(20_000, &mut rng);
        let fit = fit(
            &x,
            &EmSettings::default(),
            &mut stream(2, Purpose::MixtureInit, 0),
        );
        assert!(fit.converged);
        let got = fit.mixture.ordered();
        for (g, t) in got.components.iter().zip(&truth.components) {
            assert!((g.weight - t.weight).abs() < 0.01);
            for i in 0..2 {
                assert!(
                    (g.mean[i] - t.mean[i]).abs() < 0.03,
                    "{:?} {:?}",
                    g.mean,
                    t.mean
                );
                for j in 0..2 {
                    assert!(
                        (g.cov[i][j] - t.cov[i][j]).abs() < 0.04,
                        "{:?} {:?}",
                        g.cov,
                        t.cov
                    );
                }
            }
        }
        assert!((got.mean_log_likelihood(&x) - truth.mean_log_likelihood(&x)).abs() < 0.01);
    }

    /// The fixture holds scikit-learn 1.9.1's `GaussianMixture` fit (full
    /// covariance, tol 1e-5, max_iter 2000, reg_covar 1e-6) of 300 points from
    /// a given start (`weights_init`, `means_init`, `precisions_init`), made
    /// by `reference/sklearn_em.py`.
    #[test]
    fn em_matches_scikit_learn_from_the_same_start() {
        #[derive(Deserialize)]
        struct Reference {
            points: Vec<Point>,
            start: Mixture,
            fitted: Mixture,
            n_iter: usize,
            lower_bound: f64,
        }
        let text = include_str!("../reference/sklearn-em.json");
        let r: Reference = serde_json::from_str(text).unwrap();
        let fit = em(&r.points, r.start, &EmSettings::default());
        assert!(fit.converged);
        assert_eq!(fit.iterations, r.n_iter);
        assert!(
            (fit.lower_bound - r.lower_bound).abs() < 1e-10,
            "{} {}",
            fit.lower_bound,
            r.lower_bound
        );
        for (g, t) in fit.mixture.components.iter().zip(&r.fitted.components) {
            assert!(
                (g.weight - t.weight).abs() < 1e-9,
                "{} {}",
                g.weight,
                t.weight
            );
            for i in 0..2 {
                assert!((g.mean[i] - t.mean[i]).abs() < 1e-9);
                for j in 0..2 {
                    assert!((g.cov[i][j] - t.cov[i][j]).abs() < 1e-9);
                }
            }
        }
    }
}
