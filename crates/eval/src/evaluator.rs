//! The evaluator of a run: the frozen classifier, the real test set's
//! reference (features, k-NN radii, moments, principal axes), and the scoring
//! of one set of images into an [`EvalRecord`].

use burn::prelude::*;
use collapse_records::{ClassStats, ClassifierInfo, EvalRecord, FeatureDistances};
use collapse_vae::{Vae, encode_all, per_image_parts, to_host};

use crate::classifier::Classifier;
use crate::evidence::Evidence;
use crate::linalg::{Matrix, frechet_distance, symmetric_eigen};
use crate::prdc::{Hits, K, Manifold, knn_radii, prdc};
use crate::style::{STATS, distribution, style_features, style_stats};

/// Fixed histogram of the negative ELBO under the generation-0 VAE, nats.
pub const NELBO_BINS: (f64, f64, usize) = (0.0, 600.0, 60);
/// Points of each set kept for the latent PCA plot.
pub const PCA_POINTS: usize = 1000;
/// A share of the largest softmax probability below this counts as unreadable.
pub const CONFIDENT: f32 = 0.5;

/// The frozen evaluators of one run and the real test set's reference.
pub struct Evaluator {
    classifier: Classifier,
    info: ClassifierInfo,
    image_dims: [usize; 2],
    batch: usize,
    real: Manifold,
    real_moments: (Vec<f64>, Matrix),
    /// Mean (`[1, latent]`) and the two principal axes (`[latent, 2]`) of the
    /// generation-0 encoder's μ over the real test set.
    pca: (Tensor<2>, Tensor<2>),
}

impl Evaluator {
    /// Builds the evaluator from the frozen `classifier` and generation-0 VAE
    /// `gen0`, with the real `test` images as reference, and returns it with
    /// the reference's own record (`reference.json`) and per-sample evidence.
    /// Batches of `batch` rows.
    pub fn new(
        classifier: Classifier,
        info: ClassifierInfo,
        gen0: &Vae,
        test: &Tensor<2>,
        image_dims: [usize; 2],
        batch: usize,
    ) -> (Self, EvalRecord, Evidence) {
        let (features, _) = classifier.score(test, batch);
        let real_moments = moments(&features);
        let mu = encode_all(gen0, test, batch).mu;
        let pca = principal_axes(&mu);
        let evaluator = Self {
            classifier,
            info,
            image_dims,
            batch,
            real: Manifold::new(features, K, batch),
            real_moments,
            pca,
        };
        let (reference, evidence) = evaluator.score(gen0, test, &mu, None);
        (evaluator, reference, evidence)
    }

    /// Scores the samples of `generation` (`images`, whose generation-0
    /// encoder means are `gen0_mu`) against the real test set: the record
    /// and its per-sample evidence.
    pub fn evaluate(
        &self,
        gen0: &Vae,
        images: &Tensor<2>,
        gen0_mu: &Tensor<2>,
        generation: usize,
    ) -> (EvalRecord, Evidence) {
        self.score(gen0, images, gen0_mu, Some(generation))
    }

    /// The neighbours of `features` (a generation's samples, or the real
    /// set where `generation` is `None`) in the real test set.
    fn neighbours(&self, features: &Tensor<2>, generation: Option<usize>) -> Neighbours {
        match generation {
            Some(_) => {
                let fake = Manifold::new(features.clone(), K, self.batch);
                let (hits, nearest) = prdc(&self.real, &fake, self.batch);
                let mut d = hits.distances(K);
                let (mean, cov) = moments(features);
                d.fd = frechet_distance(&self.real_moments.0, &self.real_moments.1, &mean, &cov);
                (Some(d), Some(hits), nearest, None)
            }
            None => {
                let n = features.dims()[0];
                let nearest = knn_radii(features, 1, self.batch).sqrt();
                let radii = self.real.radii.clone().sqrt();
                let both = to_host(Tensor::cat(vec![nearest, radii], 0));
                let (nearest, radii) = both.split_at(n);
                (None, None, nearest.to_vec(), Some(radii.to_vec()))
            }
        }
    }

    fn score(
        &self,
        gen0: &Vae,
        images: &Tensor<2>,
        gen0_mu: &Tensor<2>,
        generation: Option<usize>,
    ) -> (EvalRecord, Evidence) {
        let n = images.dims()[0];
        let (features, probs) = self.classifier.score(images, self.batch);
        let predicted = probs.clone().argmax(1).float().reshape([n]);
        let classes = class_stats(probs);
        let (distances, hits, nearest_real, radius) = self.neighbours(&features, generation);
        let parts = per_image_parts(gen0, images, self.batch);
        let nelbo = to_host(parts.recon + parts.kl);
        let (lo, hi, bins) = NELBO_BINS;
        let kept = PCA_POINTS.min(n);
        let (mean, axes) = &self.pca;
        let projected = to_host(
            (gen0_mu.clone().slice(0..kept) - mean.clone().expand([kept, mean.dims()[1]]))
                .matmul(axes.clone()),
        );
        let style = to_host(style_features(images.clone(), self.image_dims));
        let record = EvalRecord {
            label: generation.map_or("real test set".to_string(), |g| format!("generation {g}")),
            generation,
            images: n,
            classifier: self.info.clone(),
            classes,
            distances,
            nelbo0: distribution(&nelbo, lo, hi, bins),
            style: style_stats(&style),
            pca: projected
                .chunks(2)
                .map(|p| [f64::from(p[0]), f64::from(p[1])])
                .collect(),
        };
        let evidence = Evidence {
            images: n,
            feature_dim: features.dims()[1],
            features: to_host(features),
            classes: to_host(predicted),
            nelbo0: nelbo,
            style,
            nearest_real,
            latent_dim: gen0_mu.dims()[1],
            mu: to_host(gen0_mu.clone()),
            hits,
            radius,
        };
        debug_assert_eq!(evidence.style.len(), n * STATS.len());
        (record, evidence)
    }
}

/// What a set's features show of the real test set's: for a generation's
/// samples, the feature distances and the per-point hits, each sample's
/// distance to its nearest real image; for the real set itself, each image's
/// distance to its nearest other image and its k-NN radius.
type Neighbours = (
    Option<FeatureDistances>,
    Option<Hits>,
    Vec<f32>,
    Option<Vec<f32>>,
);

/// What the classifier reads in a set, from its softmax outputs `[n, classes]`.
pub fn class_stats(probs: Tensor<2>) -> ClassStats {
    let [n, classes] = probs.dims();
    let device = probs.device();
    let predicted = probs.clone().argmax(1).expand([n, classes]);
    let ids = Tensor::<1, Int>::arange(0..classes as i64, &device)
        .reshape([1, classes])
        .expand([n, classes]);
    let counts = predicted.equal(ids).float().sum_dim(0).reshape([classes]);
    let top = probs.max_dim(1);
    let confidence = top.clone().mean();
    let unconfident = top.lower_elem(CONFIDENT).float().mean();
    let values = to_host(Tensor::cat(vec![counts, confidence, unconfident], 0));
    let counts: Vec<u64> = values[..classes].iter().map(|&c| c as u64).collect();
    let total = n.max(1) as f64;
    let frequencies: Vec<f64> = counts.iter().map(|&c| c as f64 / total).collect();
    // Rust's float `sum` of only zeros (one class left: -1 * ln 1) is -0.0;
    // adding 0.0 turns that into 0.0 and leaves every other value as it is.
    let entropy: f64 = frequencies
        .iter()
        .filter(|&&p| p > 0.0)
        .map(|&p| -p * p.ln())
        .sum::<f64>()
        + 0.0;
    let (rarest_class, rarest_share) = frequencies
        .iter()
        .copied()
        .enumerate()
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .unwrap_or((0, f64::NAN));
    ClassStats {
        counts,
        frequencies,
        entropy_nats: entropy,
        entropy_normalised: entropy / (classes as f64).ln(),
        rarest_class,
        rarest_share,
        mean_confidence: f64::from(values[classes]),
        unconfident_share: f64::from(values[classes + 1]),
    }
}

/// Mean and covariance (divisor n − 1) of the rows of `x` (`[n, d]`),
/// computed on the device and returned in f64.
pub fn moments(x: &Tensor<2>) -> (Vec<f64>, Matrix) {
    let [n, d] = x.dims();
    let mean = x.clone().mean_dim(0);
    let centred = x.clone() - mean.clone().expand([n, d]);
    let cov = centred.clone().transpose().matmul(centred) / (n.max(2) - 1) as f64;
    let values = to_host(Tensor::cat(
        vec![mean.reshape([d]), cov.reshape([d * d])],
        0,
    ));
    let values: Vec<f64> = values.into_iter().map(f64::from).collect();
    (values[..d].to_vec(), Matrix::new(d, values[d..].to_vec()))
}

/// The mean (`[1, d]`) and the two leading principal axes (`[d, 2]`) of the rows of `x`.
fn principal_axes(x: &Tensor<2>) -> (Tensor<2>, Tensor<2>) {
    let d = x.dims()[1];
    let device = x.device();
    let (mean, cov) = moments(x);
    let (_, vectors) = symmetric_eigen(&cov);
    let vectors = &vectors;
    let axes: Vec<f32> = (0..d)
        .flat_map(|i| (0..2).map(move |a| vectors.get(a).map_or(0.0, |v| v[i] as f32)))
        .collect();
    let mean: Vec<f32> = mean.iter().map(|&m| m as f32).collect();
    (
        Tensor::from_data(TensorData::new(mean, [1, d]), &device),
        Tensor::from_data(TensorData::new(axes, [d, 2]), &device),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probs(rows: &[[f32; 3]]) -> Tensor<2> {
        let flat: Vec<f32> = rows.iter().flatten().copied().collect();
        Tensor::from_data(TensorData::new(flat, [rows.len(), 3]), &Device::flex())
    }

    #[test]
    fn uniform_classes_have_full_entropy() {
        let s = class_stats(probs(&[
            [0.9, 0.05, 0.05],
            [0.1, 0.8, 0.1],
            [0.2, 0.2, 0.6],
        ]));
        assert_eq!(s.counts, vec![1, 1, 1]);
        assert!((s.entropy_normalised - 1.0).abs() < 1e-12);
        assert!((s.mean_confidence - (0.9 + 0.8 + 0.6) / 3.0).abs() < 1e-6);
        assert_eq!(s.unconfident_share, 0.0);
    }

    #[test]
    fn a_single_class_has_zero_entropy_not_negative_zero() {
        let s = class_stats(probs(&[[0.1, 0.8, 0.1], [0.2, 0.7, 0.1]]));
        assert_eq!(s.counts, vec![0, 2, 0]);
        assert!(
            s.entropy_nats == 0.0 && s.entropy_nats.is_sign_positive(),
            "{}",
            s.entropy_nats
        );
        assert!(s.entropy_normalised.is_sign_positive());
    }

    #[test]
    fn a_removed_class_gives_the_expected_entropy() {
        // Two of three classes, equally often: entropy ln 2, normalised ln 2 / ln 3.
        let s = class_stats(probs(&[
            [0.9, 0.05, 0.05],
            [0.4, 0.3, 0.3],
            [0.1, 0.8, 0.1],
            [0.2, 0.7, 0.1],
        ]));
        assert_eq!(s.counts, vec![2, 2, 0]);
        assert!((s.entropy_nats - 2f64.ln()).abs() < 1e-12);
        assert!((s.entropy_normalised - 2f64.ln() / 3f64.ln()).abs() < 1e-12);
        assert_eq!((s.rarest_class, s.rarest_share), (2, 0.0));
        assert_eq!(s.unconfident_share, 0.25);
    }

    #[test]
    fn moments_of_a_known_set() {
        let x = Tensor::<2>::from_data(
            TensorData::new(vec![1.0f32, 2.0, 3.0, 6.0, 5.0, 10.0], [3, 2]),
            &Device::flex(),
        );
        let (mean, cov) = moments(&x);
        assert_eq!(mean, vec![3.0, 6.0]);
        // var(1, 3, 5) = 4, var(2, 6, 10) = 16, cov = 8.
        assert_eq!(cov.data, vec![4.0, 8.0, 8.0, 16.0]);
    }
}
