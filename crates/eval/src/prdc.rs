//! Precision and recall (Kynkäänniemi et al. 2019) and density and coverage
//! (Naeem et al. 2020) between two feature sets, from k-nearest-neighbour
//! balls, computed on the device in blocks of rows.
//!
//! Each point's ball has the radius of its k-th nearest neighbour within its
//! own set. Precision: share of samples inside some real ball (samples look
//! real). Recall: share of real points inside some sample ball (the real
//! variety, tails included, is produced). Density: mean number of real balls
//! holding a sample, over k (near 1 for matching sets; above 1 when samples
//! crowd where real data is dense). Coverage: share of real balls holding at
//! least one sample. A point is inside a ball when its distance is at most the
//! radius. All comparisons use squared Euclidean distances; no pairwise matrix
//! larger than `block × count` is held at once, and the only host read is the
//! per-point terms at the end, which the collapse profile bootstraps.

use burn::prelude::*;
use collapse_records::FeatureDistances;
use collapse_vae::to_host;

/// The k of the k-NN radii (Kynkäänniemi et al. use 3; MAD and Naeem et al. 5).
pub const K: usize = 5;

/// Squared distances between every row of `a` and every row of `b`.
///
/// # Shapes
/// - `a`: `[m, d]`, `a_norms`: `[m, 1]`, `b`: `[n, d]`, `b_norms_t`: `[1, n]`
/// - returns `[m, n]`
fn pairwise(a: Tensor<2>, a_norms: Tensor<2>, b: &Tensor<2>, b_norms_t: &Tensor<2>) -> Tensor<2> {
    let [m, _] = a.dims();
    let n = b.dims()[0];
    let cross = a.matmul(b.clone().transpose());
    (a_norms.expand([m, n]) + b_norms_t.clone().expand([m, n]) - cross * 2.0).clamp_min(0.0)
}

/// Squared distances between every row of `a` (`[m, d]`) and every row of
/// `b` (`[n, d]`), `[m, n]`, held whole: for sets small enough to.
pub fn squared_distances(a: &Tensor<2>, b: &Tensor<2>) -> Tensor<2> {
    pairwise(a.clone(), sq_norms(a), b, &sq_norms(b).transpose())
}

/// Squared row norms, `[n, 1]`.
fn sq_norms(x: &Tensor<2>) -> Tensor<2> {
    x.clone().square().sum_dim(1)
}

/// Row blocks `start..end` of `0..n`.
fn blocks(n: usize, block: usize) -> impl Iterator<Item = (usize, usize)> {
    (0..n)
        .step_by(block.max(1))
        .map(move |s| (s, (s + block.max(1)).min(n)))
}

/// The squared distance of every row of `x` to its `k`-th nearest other row.
///
/// # Shapes
/// - `x`: `[n, d]`, returns `[n]`
pub fn knn_radii(x: &Tensor<2>, k: usize, block: usize) -> Tensor<1> {
    let n = x.dims()[0];
    let device = x.device();
    let norms = sq_norms(x);
    let norms_t = norms.clone().transpose();
    let columns = Tensor::<1, Int>::arange(0..n as i64, &device).reshape([1, n]);
    let radii = blocks(n, block).map(|(s, e)| {
        let mut d = pairwise(
            x.clone().slice(s..e),
            norms.clone().slice(s..e),
            x,
            &norms_t,
        );
        // The nearest is the point itself (distance 0), so the k-th other
        // neighbour is the (k + 1)-th smallest: remove the k smallest first,
        // one exact position at a time so duplicates are counted.
        for _ in 0..k {
            let nearest = d.clone().argmin(1);
            let mask = columns
                .clone()
                .expand([e - s, n])
                .equal(nearest.expand([e - s, n]));
            d = d.mask_fill(mask, f32::INFINITY);
        }
        d.min_dim(1).squeeze_dim::<1>(1)
    });
    Tensor::cat(radii.collect(), 0)
}

/// The features of one set with their k-NN radii, ready to be compared.
#[derive(Clone, Debug)]
pub struct Manifold {
    /// `[n, d]`.
    pub features: Tensor<2>,
    /// Squared k-NN radii, `[n]`.
    pub radii: Tensor<1>,
}

impl Manifold {
    /// Computes the k-NN radii of `features` in blocks of `block` rows.
    pub fn new(features: Tensor<2>, k: usize, block: usize) -> Self {
        let radii = knn_radii(&features, k, block);
        Self { features, radii }
    }

    fn len(&self) -> usize {
        self.features.dims()[0]
    }
}

/// What each point of two feature sets shows about the other: the per-point
/// terms whose means are precision, recall, density and coverage.
#[derive(Clone, Debug, PartialEq)]
pub struct Hits {
    /// Per sample: 1 where it lies inside some real ball, else 0.
    pub precise: Vec<f32>,
    /// Per sample: the number of real balls it lies inside.
    pub density: Vec<f32>,
    /// Per real point: 1 where it lies inside some sample's ball, else 0.
    pub recalled: Vec<f32>,
    /// Per real point: 1 where its own ball holds some sample, else 0.
    pub covered: Vec<f32>,
}

impl Hits {
    /// Precision, recall, density and coverage, the means of the per-point
    /// terms; the Fréchet distance is filled in by the caller (NaN here).
    pub fn distances(&self, k: usize) -> FeatureDistances {
        let mean = |v: &[f32]| v.iter().map(|&x| f64::from(x)).sum::<f64>() / v.len().max(1) as f64;
        FeatureDistances {
            fd: f64::NAN,
            precision: mean(&self.precise),
            recall: mean(&self.recalled),
            density: mean(&self.density) / k as f64,
            coverage: mean(&self.covered),
            k,
            reference: self.recalled.len(),
        }
    }
}

/// The per-point terms of precision, recall, density and coverage of `fake`
/// against `real`, and each sample's Euclidean distance to its nearest real
/// point.
///
/// One pass over the sample × real distances, a block of samples at a time:
/// rows give precision, density and the nearest real point, columns
/// (accumulated across blocks) recall and coverage.
pub fn prdc(real: &Manifold, fake: &Manifold, block: usize) -> (Hits, Vec<f32>) {
    let (nr, nf) = (real.len(), fake.len());
    let real_norms_t = sq_norms(&real.features).transpose();
    let fake_norms = sq_norms(&fake.features);
    let real_radii_t = real.radii.clone().reshape([1, nr]);
    let device = real.features.device();
    let mut rows = Vec::new();
    let mut recalled = Tensor::<2>::zeros([1, nr], &device);
    let mut nearest = Tensor::<2>::full([1, nr], f32::INFINITY, &device);
    for (s, e) in blocks(nf, block) {
        let d = pairwise(
            fake.features.clone().slice(s..e),
            fake_norms.clone().slice(s..e),
            &real.features,
            &real_norms_t,
        );
        let inside_real = d
            .clone()
            .lower_equal(real_radii_t.clone().expand([e - s, nr]));
        let precise = inside_real.clone().any_dim(1).float();
        let density = inside_real.float().sum_dim(1);
        let closest = d.clone().min_dim(1).sqrt();
        rows.push(Tensor::cat(vec![precise, density, closest], 1));
        let own = fake.radii.clone().slice(s..e).reshape([e - s, 1]);
        let inside_fake = d.clone().lower_equal(own.expand([e - s, nr]));
        recalled = recalled.max_pair(inside_fake.any_dim(0).float());
        nearest = nearest.min_pair(d.min_dim(0));
    }
    let covered = nearest.lower_equal(real_radii_t).float();
    // One read: the sample terms in three columns, then the real ones.
    let rows = Tensor::cat(rows, 0).transpose().reshape([3 * nf]);
    let columns = Tensor::cat(vec![recalled, covered], 0).reshape([2 * nr]);
    let v = to_host(Tensor::cat(vec![rows, columns], 0));
    let (fake_terms, real_terms) = v.split_at(3 * nf);
    let hits = Hits {
        precise: fake_terms[..nf].to_vec(),
        density: fake_terms[nf..2 * nf].to_vec(),
        recalled: real_terms[..nr].to_vec(),
        covered: real_terms[nr..].to_vec(),
    };
    (hits, fake_terms[2 * nf..].to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Distribution;

    fn manifold(x: &Tensor<2>) -> Manifold {
        Manifold::new(x.clone(), K, 64)
    }

    #[test]
    fn radii_match_a_brute_force_count() {
        let device = Device::flex();
        device.seed(3);
        let x = Tensor::<2>::random([70, 4], Distribution::Normal(0.0, 1.0), &device);
        let radii = to_host(knn_radii(&x, K, 16));
        let host = to_host(x);
        for i in 0..70 {
            let mut d: Vec<f32> = (0..70)
                .filter(|&j| j != i)
                .map(|j| {
                    (0..4)
                        .map(|c| (host[i * 4 + c] - host[j * 4 + c]).powi(2))
                        .sum()
                })
                .collect();
            d.sort_by(f32::total_cmp);
            assert!(
                (d[K - 1] - radii[i]).abs() < 1e-4,
                "{i}: {} vs {}",
                d[K - 1],
                radii[i]
            );
        }
    }

    #[test]
    fn identical_sets_are_perfect() {
        let device = Device::flex();
        device.seed(1);
        let x = Tensor::<2>::random([300, 8], Distribution::Normal(0.0, 1.0), &device);
        let m = manifold(&x);
        let (hits, nearest) = prdc(&m, &m, 128);
        // Zero up to the rounding of |a|² + |b|² − 2ab.
        assert!(nearest.iter().all(|&d| d < 1e-2), "{nearest:?}");
        let d = hits.distances(K);
        assert_eq!((d.precision, d.recall, d.coverage), (1.0, 1.0, 1.0));
        // Each point lies in its own ball and in the balls of the points that
        // count it among their k nearest: K of them on average, plus itself.
        assert!(
            (d.density - (K as f64 + 1.0) / K as f64).abs() < 1e-9,
            "{}",
            d.density
        );
    }

    #[test]
    fn a_missing_mode_drops_recall_and_coverage_not_precision() {
        let device = Device::flex();
        device.seed(2);
        // Real: two well-separated clusters; fake: only the first.
        let a = Tensor::<2>::random([200, 2], Distribution::Normal(0.0, 1.0), &device);
        let b = Tensor::<2>::random([200, 2], Distribution::Normal(0.0, 1.0), &device) + 50.0;
        let real = manifold(&Tensor::cat(vec![a.clone(), b], 0));
        let fake_a = Tensor::<2>::random([400, 2], Distribution::Normal(0.0, 1.0), &device);
        let (hits, _) = prdc(&real, &manifold(&fake_a), 100);
        // The second cluster's real points are neither recalled nor covered.
        assert_eq!(hits.recalled[200..].iter().sum::<f32>(), 0.0);
        assert_eq!(hits.covered[200..].iter().sum::<f32>(), 0.0);
        let d = hits.distances(K);
        assert!(d.precision > 0.95, "{d:?}");
        assert!(d.recall < 0.55 && d.recall > 0.4, "{d:?}");
        assert!(d.coverage < 0.55 && d.coverage > 0.4, "{d:?}");
    }
}
