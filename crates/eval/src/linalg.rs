//! Small dense linear algebra on the host in f64: the symmetric
//! eigendecomposition behind the Fréchet distance's matrix square root and
//! the principal axes of the latent PCA.
//!
//! Matrices here are at most a few hundred rows (feature covariances), so the
//! cyclic Jacobi method, which is unconditionally stable for symmetric
//! matrices and accurate to working precision in every eigenvalue, is fast
//! enough and needs no dependency.

/// A square matrix stored row-major.
#[derive(Clone, Debug, PartialEq)]
pub struct Matrix {
    /// Rows (= columns).
    pub n: usize,
    /// `n × n` entries, row-major.
    pub data: Vec<f64>,
}

impl Matrix {
    /// Wraps `data` (row-major, `n × n`).
    pub fn new(n: usize, data: Vec<f64>) -> Self {
        assert_eq!(data.len(), n * n, "a square matrix has n² entries");
        Self { n, data }
    }

    fn at(&self, i: usize, j: usize) -> f64 {
        self.data[i * self.n + j]
    }

    /// The trace.
    pub fn trace(&self) -> f64 {
        (0..self.n).map(|i| self.at(i, i)).sum()
    }

    /// The product `self · other`.
    pub fn matmul(&self, other: &Matrix) -> Matrix {
        let n = self.n;
        let mut out = vec![0.0; n * n];
        for i in 0..n {
            for k in 0..n {
                let a = self.at(i, k);
                if a != 0.0 {
                    for j in 0..n {
                        out[i * n + j] += a * other.at(k, j);
                    }
                }
            }
        }
        Matrix::new(n, out)
    }
}

/// Eigenvalues (descending) and the matching unit eigenvectors (one per
/// entry) of a symmetric matrix.
pub fn symmetric_eigen(m: &Matrix) -> (Vec<f64>, Vec<Vec<f64>>) {
    let n = m.n;
    let mut a = symmetrised(m);
    let mut v = vec![0.0; n * n];
    for i in 0..n {
        v[i * n + i] = 1.0;
    }
    let scale: f64 = a
        .iter()
        .map(|x| x * x)
        .sum::<f64>()
        .sqrt()
        .max(f64::MIN_POSITIVE);
    for _sweep in 0..100 {
        if off_diagonal_norm(&a, n) <= 1e-15 * scale {
            break;
        }
        for p in 0..n {
            for q in p + 1..n {
                rotate(&mut a, &mut v, n, p, q);
            }
        }
    }
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&i, &j| a[j * n + j].total_cmp(&a[i * n + i]));
    let values = order.iter().map(|&i| a[i * n + i]).collect();
    let vectors = order
        .iter()
        .map(|&i| (0..n).map(|k| v[k * n + i]).collect())
        .collect();
    (values, vectors)
}

/// The eigenvalues (descending) of a symmetric matrix, without its
/// eigenvectors, in `O(n³)` with a small constant: Householder reflections
/// bring it to tridiagonal form (Golub & Van Loan §8.3.1), whose eigenvalues
/// bisection on Sturm counts finds to working precision (§8.4.1). A
/// fraction of the Jacobi method's cost, for the Fréchet distance's bootstrap.
pub fn symmetric_eigenvalues(m: &Matrix) -> Vec<f64> {
    let n = m.n;
    let mut a = symmetrised(m);
    let mut diagonal = vec![0.0; n];
    let mut off = vec![0.0; n.saturating_sub(1)];
    let mut v = vec![0.0; n];
    let mut p = vec![0.0; n];
    for k in 0..n.saturating_sub(1) {
        // The reflection that maps column k below the diagonal onto its first entry.
        let below = k + 1;
        let norm = (below..n).map(|i| a[i * n + k].powi(2)).sum::<f64>().sqrt();
        let first = a[below * n + k];
        let alpha = if first > 0.0 { -norm } else { norm };
        diagonal[k] = a[k * n + k];
        off[k] = alpha;
        for i in below..n {
            v[i] = a[i * n + k];
        }
        v[below] -= alpha;
        let vnorm = (below..n).map(|i| v[i] * v[i]).sum::<f64>().sqrt();
        if vnorm <= f64::MIN_POSITIVE {
            off[k] = first;
            continue;
        }
        for x in &mut v[below..n] {
            *x /= vnorm;
        }
        // The trailing block S becomes H S H = S − 2 (v qᵀ + q vᵀ), with
        // p = S v and q = p − (vᵀ p) v.
        for i in below..n {
            p[i] = (below..n).map(|j| a[i * n + j] * v[j]).sum();
        }
        let vp: f64 = (below..n).map(|i| v[i] * p[i]).sum();
        for i in below..n {
            p[i] -= vp * v[i];
        }
        for i in below..n {
            for j in below..n {
                a[i * n + j] -= 2.0 * (v[i] * p[j] + p[i] * v[j]);
            }
        }
    }
    if n > 0 {
        diagonal[n - 1] = a[n * n - 1];
    }
    tridiagonal_eigenvalues(&diagonal, &off)
}

/// The eigenvalues (descending) of the symmetric tridiagonal matrix with
/// `diagonal` and `off` diagonal, each by bisection on the Sturm count (how
/// many eigenvalues lie below x) inside the Gershgorin bounds.
fn tridiagonal_eigenvalues(diagonal: &[f64], off: &[f64]) -> Vec<f64> {
    let n = diagonal.len();
    let radius = |i: usize| {
        let left = if i > 0 { off[i - 1].abs() } else { 0.0 };
        let right = if i + 1 < n { off[i].abs() } else { 0.0 };
        left + right
    };
    let lo = (0..n)
        .map(|i| diagonal[i] - radius(i))
        .fold(f64::INFINITY, f64::min);
    let hi = (0..n)
        .map(|i| diagonal[i] + radius(i))
        .fold(f64::NEG_INFINITY, f64::max);
    let tiny = f64::EPSILON * lo.abs().max(hi.abs()).max(f64::MIN_POSITIVE);
    let below = |x: f64| {
        let mut count = 0;
        let mut q = 1.0;
        for i in 0..n {
            let e2 = if i > 0 { off[i - 1] * off[i - 1] } else { 0.0 };
            q = diagonal[i] - x - if i > 0 { e2 / q } else { 0.0 };
            if q == 0.0 {
                q = -tiny;
            }
            if q < 0.0 {
                count += 1;
            }
        }
        count
    };
    let mut values: Vec<f64> = (0..n)
        .map(|k| {
            // The (k + 1)-th smallest: the least x with more than k below it.
            let (mut a, mut b) = (lo, hi);
            while b - a > 2.0 * tiny + f64::EPSILON * (a.abs() + b.abs()) {
                let mid = 0.5 * (a + b);
                if mid <= a || mid >= b {
                    break;
                }
                if below(mid) > k {
                    b = mid;
                } else {
                    a = mid;
                }
            }
            0.5 * (a + b)
        })
        .collect();
    values.reverse();
    values
}

/// The entries of `m` with each pair `m[i][j]`, `m[j][i]` replaced by its
/// mean: covariances computed in f32 are symmetric only up to rounding.
fn symmetrised(m: &Matrix) -> Vec<f64> {
    let n = m.n;
    let mut a = m.data.clone();
    for i in 0..n {
        for j in 0..i {
            let s = 0.5 * (a[i * n + j] + a[j * n + i]);
            a[i * n + j] = s;
            a[j * n + i] = s;
        }
    }
    a
}

/// The Frobenius norm of the off-diagonal entries of the `n × n` matrix `a`.
fn off_diagonal_norm(a: &[f64], n: usize) -> f64 {
    (0..n)
        .flat_map(|i| (0..n).filter(move |&j| j != i).map(move |j| (i, j)))
        .map(|(i, j)| a[i * n + j].powi(2))
        .sum::<f64>()
        .sqrt()
}

/// One Jacobi rotation: zeroes `a[p][q]` (and `a[q][p]`) by rotating rows and
/// columns `p` and `q` of `a`, and accumulates the rotation into the
/// eigenvectors' columns of `v` (Golub & Van Loan, Algorithm 8.4.1). An entry
/// already zero is left as it is.
fn rotate(a: &mut [f64], v: &mut [f64], n: usize, p: usize, q: usize) {
    let apq = a[p * n + q];
    if apq.abs() <= f64::MIN_POSITIVE {
        return;
    }
    let theta = (a[q * n + q] - a[p * n + p]) / (2.0 * apq);
    let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
    let t = if theta == 0.0 { 1.0 } else { t };
    let c = 1.0 / (t * t + 1.0).sqrt();
    let s = t * c;
    for k in 0..n {
        let (akp, akq) = (a[k * n + p], a[k * n + q]);
        a[k * n + p] = c * akp - s * akq;
        a[k * n + q] = s * akp + c * akq;
    }
    for k in 0..n {
        let (apk, aqk) = (a[p * n + k], a[q * n + k]);
        a[p * n + k] = c * apk - s * aqk;
        a[q * n + k] = s * apk + c * aqk;
    }
    for k in 0..n {
        let (vkp, vkq) = (v[k * n + p], v[k * n + q]);
        v[k * n + p] = c * vkp - s * vkq;
        v[k * n + q] = s * vkp + c * vkq;
    }
}

/// The symmetric positive semi-definite square root of a symmetric matrix
/// (negative eigenvalues from rounding are clamped to zero).
pub fn sqrt_psd(m: &Matrix) -> Matrix {
    let n = m.n;
    let (values, vectors) = symmetric_eigen(m);
    let mut out = vec![0.0; n * n];
    for (lambda, v) in values.iter().zip(&vectors) {
        let s = lambda.max(0.0).sqrt();
        for i in 0..n {
            for j in 0..n {
                out[i * n + j] += s * v[i] * v[j];
            }
        }
    }
    Matrix::new(n, out)
}

/// Fréchet distance between the Gaussians `N(mu1, cov1)` and `N(mu2, cov2)`:
/// `|mu1 − mu2|² + tr(cov1) + tr(cov2) − 2 tr((cov1^½ cov2 cov1^½)^½)`.
///
/// The cross term is computed from the symmetric matrix `cov1^½ cov2 cov1^½`,
/// whose eigenvalues are real and non-negative, instead of the non-symmetric
/// `cov1 cov2` that an iterative square root (as scipy's `sqrtm` in the usual
/// FID code) can return complex or unstable results for.
pub fn frechet_distance(mu1: &[f64], cov1: &Matrix, mu2: &[f64], cov2: &Matrix) -> f64 {
    let mean_term: f64 = mu1.iter().zip(mu2).map(|(a, b)| (a - b).powi(2)).sum();
    let root1 = sqrt_psd(cov1);
    let middle = root1.matmul(cov2).matmul(&root1);
    let (values, _) = symmetric_eigen(&middle);
    let cross: f64 = values.iter().map(|l| l.max(0.0).sqrt()).sum();
    (mean_term + cov1.trace() + cov2.trace() - 2.0 * cross).max(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn diag(values: &[f64]) -> Matrix {
        let n = values.len();
        let mut m = Matrix::new(n, vec![0.0; n * n]);
        for (i, v) in values.iter().enumerate() {
            m.data[i * n + i] = *v;
        }
        m
    }

    #[test]
    fn eigen_of_a_known_matrix() {
        // [[2, 1], [1, 2]] has eigenvalues 3 and 1 with axes (1, 1)/√2 and (1, −1)/√2.
        let (values, vectors) = symmetric_eigen(&Matrix::new(2, vec![2.0, 1.0, 1.0, 2.0]));
        assert!((values[0] - 3.0).abs() < 1e-12 && (values[1] - 1.0).abs() < 1e-12);
        let r = std::f64::consts::FRAC_1_SQRT_2;
        assert!((vectors[0][0].abs() - r).abs() < 1e-12);
        assert!((vectors[0][0] - vectors[0][1]).abs() < 1e-12);
    }

    #[test]
    fn eigenvalues_alone_match_the_jacobi_method() {
        // A fixed pseudo-random symmetric matrix, with a repeated eigenvalue
        // added by a rank-deficient part.
        let n = 40;
        let mut state = 12345u64;
        let mut next = || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5
        };
        let b: Vec<f64> = (0..n * 10).map(|_| next()).collect();
        let mut data = vec![0.0; n * n];
        for i in 0..n {
            for j in 0..n {
                data[i * n + j] = (0..10).map(|k| b[i * 10 + k] * b[j * 10 + k]).sum();
            }
        }
        let m = Matrix::new(n, data);
        let (jacobi, _) = symmetric_eigen(&m);
        let fast = symmetric_eigenvalues(&m);
        for (a, b) in jacobi.iter().zip(&fast) {
            assert!((a - b).abs() < 1e-10, "{a} vs {b}");
        }
        // Thirty of the forty are zero: a rank-10 matrix.
        assert!(fast[10..].iter().all(|v| v.abs() < 1e-10), "{fast:?}");
        let two = symmetric_eigenvalues(&Matrix::new(2, vec![2.0, 1.0, 1.0, 2.0]));
        assert!((two[0] - 3.0).abs() < 1e-12 && (two[1] - 1.0).abs() < 1e-12);
        assert_eq!(symmetric_eigenvalues(&diag(&[5.0])), vec![5.0]);
    }

    #[test]
    fn square_root_squares_back() {
        let m = Matrix::new(3, vec![4.0, 1.0, 0.5, 1.0, 3.0, 0.2, 0.5, 0.2, 2.0]);
        let r = sqrt_psd(&m);
        let back = r.matmul(&r);
        for (a, b) in back.data.iter().zip(&m.data) {
            assert!((a - b).abs() < 1e-10, "{a} vs {b}");
        }
    }

    #[test]
    fn frechet_distance_known_answers() {
        let m = Matrix::new(2, vec![2.0, 0.3, 0.3, 1.0]);
        // Identical Gaussians: zero.
        assert!(frechet_distance(&[1.0, 2.0], &m, &[1.0, 2.0], &m).abs() < 1e-9);
        // Shifted mean only: the squared shift.
        let d = frechet_distance(&[0.0, 0.0], &m, &[3.0, 4.0], &m);
        assert!((d - 25.0).abs() < 1e-9, "{d}");
        // Diagonal covariances: Σ (√a − √b)².
        let d = frechet_distance(&[0.0; 2], &diag(&[4.0, 9.0]), &[0.0; 2], &diag(&[1.0, 1.0]));
        assert!((d - (1.0 + 4.0)).abs() < 1e-9, "{d}");
    }
}
