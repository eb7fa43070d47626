//! The records of the frozen evaluators (issue "measure the vanishing tails"):
//! `gen-NNN/eval.json` per generation and `reference.json` for the real test
//! set, both [`EvalRecord`]s, and the headline figures that go into
//! `metrics.csv` ([`EvalSummary`]).

use serde::{Deserialize, Serialize};

use crate::stats::{Histogram, Quantile};

/// The frozen digit classifier that scored a record.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClassifierInfo {
    /// Cache key: dataset checksum and evaluator config, hashed.
    pub key: String,
    /// Accuracy on the dataset's real test set, in `[0, 1]`.
    pub test_accuracy: f64,
}

/// What the frozen classifier reads in a set of images.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClassStats {
    /// Images per predicted class (argmax), one entry per class.
    pub counts: Vec<u64>,
    /// `counts` as fractions of the images.
    pub frequencies: Vec<f64>,
    /// Entropy of `frequencies`, nats.
    pub entropy_nats: f64,
    /// The entropy divided by ln(classes): 1 for a uniform spread, 0 for one class.
    pub entropy_normalised: f64,
    /// The class predicted least often.
    pub rarest_class: usize,
    /// Its share of the images.
    pub rarest_share: f64,
    /// Mean of the largest softmax probability.
    pub mean_confidence: f64,
    /// Share of images whose largest softmax probability is below 0.5.
    pub unconfident_share: f64,
}

/// Distances between a set's classifier features and the real test set's.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FeatureDistances {
    /// Fréchet distance between Gaussians fitted to the two feature sets
    /// (an MNIST "FID" in a LeNet feature space; not comparable to Inception FID).
    pub fd: f64,
    /// Share of samples inside the k-NN manifold of the real features (Kynkäänniemi et al. 2019).
    pub precision: f64,
    /// Share of real features inside the k-NN manifold of the samples.
    pub recall: f64,
    /// Mean count of real k-NN balls containing a sample, over k (Naeem et al. 2020).
    pub density: f64,
    /// Share of real features whose k-NN ball contains a sample (Naeem et al. 2020).
    pub coverage: f64,
    /// The k of the k-NN radii.
    pub k: usize,
    /// Real features used as reference.
    pub reference: usize,
}

/// A per-image statistic summarised over a set.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Distribution {
    /// Mean.
    pub mean: f64,
    /// Quantiles 1/5/25/50/75/95/99 %.
    pub quantiles: Vec<Quantile>,
    /// Histogram with bins fixed for every generation and the reference.
    pub histogram: Histogram,
}

impl Distribution {
    /// The value at quantile level `q`, if recorded.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        self.quantiles
            .iter()
            .find(|x| (x.q - q).abs() < 1e-9)
            .map(|x| x.value)
    }

    /// The spread between the 1 % and 99 % quantiles (a classifier-free tail width).
    pub fn spread_1_99(&self) -> f64 {
        match (self.quantile(0.01), self.quantile(0.99)) {
            (Some(lo), Some(hi)) => hi - lo,
            _ => f64::NAN,
        }
    }
}

/// One image-moment style statistic over a set.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StyleStat {
    /// `ink`, `slant`, `width`, `height` or `thickness`.
    pub name: String,
    /// Unit, in words.
    pub unit: String,
    /// Its distribution.
    pub distribution: Distribution,
}

/// `eval.json` (one generation's samples) or `reference.json` (the real test
/// set), scored by the frozen evaluators.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EvalRecord {
    /// `real test set` or `generation N`.
    pub label: String,
    /// The generation whose samples these are; `None` for the real test set.
    pub generation: Option<usize>,
    /// Images scored.
    pub images: usize,
    /// The classifier.
    pub classifier: ClassifierInfo,
    /// Predicted classes.
    pub classes: ClassStats,
    /// Feature-space distances to the real test set; `None` for the test set itself.
    pub distances: Option<FeatureDistances>,
    /// Negative ELBO per image under the frozen generation-0 VAE, nats.
    pub nelbo0: Distribution,
    /// Image-moment style statistics.
    pub style: Vec<StyleStat>,
    /// The generation-0 encoder's μ of the first images, projected on the two
    /// principal axes of the real test set's μ.
    pub pca: Vec<[f64; 2]>,
}

impl EvalRecord {
    /// A style statistic by name.
    pub fn style(&self, name: &str) -> Option<&StyleStat> {
        self.style.iter().find(|s| s.name == name)
    }

    /// The headline figures of this record for `metrics.csv`.
    pub fn summary(&self) -> EvalSummary {
        let d = self.distances.as_ref();
        let spread = |name: &str| {
            self.style(name)
                .map_or(f64::NAN, |s| s.distribution.spread_1_99())
        };
        EvalSummary {
            class_entropy: self.classes.entropy_nats,
            class_entropy_norm: self.classes.entropy_normalised,
            rarest_class_share: self.classes.rarest_share,
            mean_confidence: self.classes.mean_confidence,
            unconfident_share: self.classes.unconfident_share,
            fd: d.map_or(f64::NAN, |d| d.fd),
            precision: d.map_or(f64::NAN, |d| d.precision),
            recall: d.map_or(f64::NAN, |d| d.recall),
            density: d.map_or(f64::NAN, |d| d.density),
            coverage: d.map_or(f64::NAN, |d| d.coverage),
            nelbo0_median: self.nelbo0.quantile(0.5).unwrap_or(f64::NAN),
            nelbo0_spread: self.nelbo0.spread_1_99(),
            ink_spread: spread("ink"),
            slant_spread: spread("slant"),
            width_spread: spread("width"),
            height_spread: spread("height"),
            thickness_spread: spread("thickness"),
        }
    }
}

/// The headline evaluation figures of one generation, appended to its
/// `metrics.csv` row (its columns are in [`crate::columns::COLUMNS`]).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct EvalSummary {
    /// Entropy of the predicted class frequencies, nats.
    pub class_entropy: f64,
    /// That entropy over ln 10.
    pub class_entropy_norm: f64,
    /// Share of the rarest predicted class.
    pub rarest_class_share: f64,
    /// Mean largest softmax probability.
    pub mean_confidence: f64,
    /// Share of samples with largest softmax probability < 0.5.
    pub unconfident_share: f64,
    /// Fréchet distance in the classifier's feature space.
    pub fd: f64,
    /// Precision (k = 5).
    pub precision: f64,
    /// Recall (k = 5): the tail signal.
    pub recall: f64,
    /// Density.
    pub density: f64,
    /// Coverage.
    pub coverage: f64,
    /// Median negative ELBO of the samples under the generation-0 VAE.
    pub nelbo0_median: f64,
    /// Its 1–99 % spread.
    pub nelbo0_spread: f64,
    /// 1–99 % spread of ink mass.
    pub ink_spread: f64,
    /// 1–99 % spread of slant.
    pub slant_spread: f64,
    /// 1–99 % spread of bounding-box width.
    pub width_spread: f64,
    /// 1–99 % spread of bounding-box height.
    pub height_spread: f64,
    /// 1–99 % spread of stroke thickness.
    pub thickness_spread: f64,
}
