//! The collapse profile of a chain: when the tails go, how fast, and how
//! sure the figures are, from the per-sample evidence the frozen evaluators
//! leave in every generation (`collapse_eval::Evidence`).
//!
//! - Every headline figure gets a bootstrap interval over the set it
//!   averages over ([`bootstrap`]), and its change from generation 0 an
//!   interval and a p-value from the paired replicates.
//! - Every generation's samples are tested against the real test set,
//!   generation 0 and their parent: the kernel test (MMD, permutation
//!   p-value, [`kernel`]) on the classifier's features, Kolmogorov-Smirnov
//!   and Mann-Whitney on each per-sample scalar (`collapse_stats`).
//! - The share of samples beyond the real test set's 1 % and 99 % quantiles
//!   of each scalar, and per rarity band of the real test images the share
//!   the samples still reach (the tail-survival curve: inside some sample's
//!   k-NN ball, the per-image term of recall), with exact binomial intervals.
//! - Over the chain: Holm's correction across generations, the onset (the
//!   first significant change from generation 0) and the per-generation rate
//!   of each figure (`collapse_stats::trend`).
//!
//! The [`Profiler`] takes the generations in order, keeping what later ones
//! are compared with; [`Profiler::profile`] gives the record at any point.

#![deny(missing_docs)]

pub mod bootstrap;
mod fd;
pub mod kernel;
pub mod run;

pub use run::{ProfileError, profile_run, record_profile};

use burn::prelude::*;
use collapse_eval::{Evidence, Scalar};
use collapse_records::profile::{
    Exceedance, GenerationProfile, MetricEstimate, Profile, ProfileSettings, Survival, Trend,
    TwoSampleTest, baseline, test_name,
};
use collapse_records::seeds::mix;
use collapse_records::stats::mean_sample_std;
use rand::SeedableRng;
use rand::rngs::Xoshiro256PlusPlus;

use crate::bootstrap::{HEADLINE, Prepared, resample};
use collapse_stats::interval::{self, clopper_pearson, normal, normal_p, percentile};
use collapse_stats::trend;
use collapse_stats::two_sample::{kolmogorov_smirnov, mann_whitney};

use crate::fd::{FdSide, RealMoments, fd_to_real};
use crate::kernel::{median_distance, mmd};

/// Bootstrap replicates of a headline figure.
pub const BOOTSTRAP: usize = 1000;
/// Bootstrap replicates of the Fréchet distance, each an eigensolve: enough
/// for its standard error, so its interval is the normal one.
pub const FD_BOOTSTRAP: usize = 50;
/// Permutations of the MMD test.
pub const PERMUTATIONS: usize = 500;
/// Rows of each set in the MMD test.
pub const MMD_IMAGES: usize = 1000;
/// Real test images whose distances give the MMD's bandwidth.
const BANDWIDTH_IMAGES: usize = 1000;
/// Level of the intervals.
pub const CONFIDENCE: f64 = 0.95;
/// Family-wise error rate of an onset.
pub const ALPHA: f64 = 0.05;
/// Rarity bands (deciles) of the survival curves.
pub const BANDS: usize = 10;

/// What each random stream of the profile is for.
#[derive(Clone, Copy)]
enum Stream {
    /// A generation's resamples of its samples.
    Samples = 1,
    /// The resamples of the real test images, the same for every generation.
    Real = 2,
    /// A generation's permutations.
    Permutations = 3,
    /// A generation's resamples for the Fréchet distance.
    Fd = 4,
}

fn stream(seed: u64, what: Stream, generation: usize) -> Xoshiro256PlusPlus {
    Xoshiro256PlusPlus::seed_from_u64(mix(mix(mix(seed) ^ what as u64) ^ generation as u64))
}

/// What a set's two-sample tests read of another set.
#[derive(Clone)]
struct Tested {
    /// Per scalar, its values.
    scalars: Vec<Vec<f32>>,
    /// The first [`MMD_IMAGES`] feature rows, on the device.
    mmd_rows: Tensor<2>,
}

impl Tested {
    fn new(evidence: &Evidence, device: &Device) -> Self {
        Tested {
            scalars: Scalar::all()
                .into_iter()
                .map(|q| evidence.scalar(q))
                .collect(),
            mmd_rows: feature_rows(evidence, MMD_IMAGES, device),
        }
    }
}

/// What every generation is compared with on the real side.
struct RealSide {
    images: usize,
    tested: Tested,
    /// Per scalar: the real 1 % and 99 % quantiles.
    tails: Vec<(f64, f64)>,
    /// Per rarity: its name and the real images of each band.
    bands: Vec<(&'static str, Vec<Vec<usize>>)>,
    /// The real features' moments for the Fréchet distance.
    moments: RealMoments,
}

/// What later generations are compared with from an earlier one.
#[derive(Clone)]
struct Kept {
    tested: Tested,
    figures: Vec<f64>,
    /// Per figure, its bootstrap replicates.
    replicates: Vec<Vec<f64>>,
}

/// Builds a chain's profile one generation at a time.
pub struct Profiler {
    settings: ProfileSettings,
    /// Whether the probe's encoder is generation 0's own model.
    own_encoder: bool,
    classes: usize,
    k: usize,
    real: RealSide,
    first: Option<Kept>,
    /// Generation 1, the baseline of the figures read through generation
    /// 0's own model.
    second: Option<Kept>,
    previous: Option<Kept>,
    generations: Vec<GenerationProfile>,
}

/// The names of every headline figure, the Fréchet distance last.
fn figure_names() -> Vec<&'static str> {
    HEADLINE
        .iter()
        .map(|(name, _)| *name)
        .chain(["fd"])
        .collect()
}

/// The first `rows` rows of `evidence`'s features on `device`.
fn feature_rows(evidence: &Evidence, rows: usize, device: &Device) -> Tensor<2> {
    let rows = rows.min(evidence.images);
    let d = evidence.feature_dim;
    Tensor::from_data(
        TensorData::new(evidence.features[..rows * d].to_vec(), [rows, d]),
        device,
    )
}

/// The real images of each of `bands` bands of ascending `values`
/// (equal counts, the commonest, lowest values first).
fn bands_of(values: &[f32], bands: usize) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
    let n = values.len();
    (0..bands)
        .map(|b| order[b * n / bands..(b + 1) * n / bands].to_vec())
        .collect()
}

impl Profiler {
    /// Starts the profile of a chain scored against the real test set's
    /// `real` evidence, with the classifier's `classes`, the evaluators'
    /// k-NN `k` and the chain's `seed`, computing on `device`;
    /// `own_encoder`: the probe's encoder is generation 0's own model (a VAE
    /// chain's, not the reference VAE of an external model).
    pub fn new(
        real: &Evidence,
        classes: usize,
        k: usize,
        seed: u64,
        own_encoder: bool,
        device: &Device,
    ) -> Self {
        let bandwidth = median_distance(&feature_rows(real, BANDWIDTH_IMAGES, device));
        let tested = Tested::new(real, device);
        let tails = tested
            .scalars
            .iter()
            .map(|values| {
                let mut sorted: Vec<f64> = values.iter().map(|&v| f64::from(v)).collect();
                sorted.sort_by(f64::total_cmp);
                let q = |level| interval::quantile_sorted(&sorted, level);
                (q(0.01), q(0.99))
            })
            .collect();
        let radius = real
            .radius
            .clone()
            .expect("the real set's evidence has its radii");
        let moments = RealMoments::new(&feature_rows(real, real.images, device));
        Profiler {
            settings: ProfileSettings {
                bootstrap: BOOTSTRAP,
                fd_bootstrap: FD_BOOTSTRAP,
                permutations: PERMUTATIONS,
                mmd_images: MMD_IMAGES,
                mmd_bandwidth: bandwidth,
                confidence: CONFIDENCE,
                alpha: ALPHA,
                seed,
                bands: BANDS,
            },
            own_encoder,
            classes,
            k,
            real: RealSide {
                images: real.images,
                tested,
                tails,
                bands: vec![
                    ("nelbo0", bands_of(&real.nelbo0, BANDS)),
                    ("radius", bands_of(&radius, BANDS)),
                ],
                moments,
            },
            first: None,
            second: None,
            previous: None,
            generations: Vec::new(),
        }
    }

    /// The generations profiled so far.
    pub fn len(&self) -> usize {
        self.generations.len()
    }

    /// Whether no generation has been profiled yet.
    pub fn is_empty(&self) -> bool {
        self.generations.is_empty()
    }

    /// Profiles the next generation from its samples' `evidence`.
    pub fn add(&mut self, evidence: &Evidence) {
        let g = self.generations.len();
        let device = self.real.tested.mmd_rows.device();
        let (figures, replicates) = self.bootstrap(g, evidence, &device);
        let metrics = self.metrics(&figures, &replicates);
        let tested = Tested::new(evidence, &device);
        let tests = self.tests(g, &tested);
        let exceedance = self.exceedance(&tested);
        let recalled = &evidence
            .hits
            .as_ref()
            .expect("a generation's hits")
            .recalled;
        let survival = self.survival(recalled);
        self.generations.push(GenerationProfile {
            generation: g,
            images: evidence.images,
            metrics,
            tests,
            exceedance,
            survival,
        });
        let kept = Kept {
            tested,
            figures,
            replicates,
        };
        match g {
            0 => self.first = Some(kept.clone()),
            1 => self.second = Some(kept.clone()),
            _ => {}
        }
        self.previous = Some(kept);
    }

    /// Every headline figure of generation `g` and, per figure, its
    /// bootstrap replicates (the Fréchet distance last).
    fn bootstrap(
        &self,
        g: usize,
        evidence: &Evidence,
        device: &Device,
    ) -> (Vec<f64>, Vec<Vec<f64>>) {
        let s = &self.settings;
        let prepared = Prepared::new(evidence, self.k, self.classes);
        let mut figures = prepared.figures(None, None);
        let mut replicates = vec![Vec::with_capacity(s.bootstrap); HEADLINE.len() + 1];
        let (mut samples_rng, mut real_rng) = (
            stream(s.seed, Stream::Samples, g),
            stream(s.seed, Stream::Real, 0),
        );
        for _ in 0..s.bootstrap {
            let samples = resample(prepared.samples(), &mut samples_rng);
            let real = resample(prepared.real(), &mut real_rng);
            let values = prepared.figures(Some(&samples), Some(&real));
            for (r, v) in replicates.iter_mut().zip(values) {
                r.push(v);
            }
        }
        let features = feature_rows(evidence, evidence.images, device);
        let fd_side = FdSide::new(&self.real.moments, features);
        figures.push(fd_to_real(&self.real.moments, &fd_side, None));
        let mut fd_rng = stream(s.seed, Stream::Fd, g);
        let fd = replicates.last_mut().expect("the FD's replicates");
        for _ in 0..s.fd_bootstrap {
            let counts = resample(prepared.samples(), &mut fd_rng);
            fd.push(fd_to_real(&self.real.moments, &fd_side, Some(&counts)));
        }
        (figures, replicates)
    }

    /// Each figure with its interval, and its change from its baseline
    /// generation (paired replicates) with the change's interval and p-value.
    fn metrics(&self, figures: &[f64], replicates: &[Vec<f64>]) -> Vec<MetricEstimate> {
        let s = &self.settings;
        // Percentile intervals, but the Fréchet distance's normal one.
        let interval = |name: &str, value: f64, replicates: &[f64]| match name {
            "fd" => normal(value, replicates, s.confidence),
            _ => percentile(value, replicates, s.confidence),
        };
        figure_names()
            .into_iter()
            .enumerate()
            .map(|(i, name)| {
                let from = match baseline(name, self.own_encoder) {
                    0 => self.first.as_ref(),
                    _ => self.second.as_ref(),
                };
                let (change, p) = match from {
                    Some(first) => {
                        let diffs: Vec<f64> = replicates[i]
                            .iter()
                            .zip(&first.replicates[i])
                            .map(|(a, b)| a - b)
                            .collect();
                        let change = figures[i] - first.figures[i];
                        let sd = mean_sample_std(&diffs).1.unwrap_or(f64::NAN);
                        let p = normal_p(change / sd);
                        (Some(interval(name, change, &diffs)), Some(p))
                    }
                    None => (None, None),
                };
                MetricEstimate {
                    metric: name.to_string(),
                    estimate: interval(name, figures[i], &replicates[i]),
                    change,
                    p,
                }
            })
            .collect()
    }

    /// Generation `g`'s samples (`tested`) against the real set, generation
    /// 0 and their parent: MMD on the features, Kolmogorov-Smirnov and
    /// Mann-Whitney on each scalar.
    fn tests(&self, g: usize, tested: &Tested) -> Vec<TwoSampleTest> {
        let s = &self.settings;
        let mut permutations = stream(s.seed, Stream::Permutations, g);
        let mut tests = Vec::new();
        let against = [
            Some((None, &self.real.tested)),
            self.first.as_ref().map(|k| (Some(0), &k.tested)),
            self.previous
                .as_ref()
                .filter(|_| g > 1)
                .map(|k| (Some(g - 1), &k.tested)),
        ];
        for (other, theirs) in against.into_iter().flatten() {
            let (stat, p) = mmd(
                &tested.mmd_rows,
                &theirs.mmd_rows,
                s.mmd_bandwidth,
                s.permutations,
                &mut permutations,
            );
            tests.push(test("mmd", "features", other, stat, p));
            for (q, (mine, theirs)) in Scalar::all()
                .into_iter()
                .zip(tested.scalars.iter().zip(&theirs.scalars))
            {
                let (d, p) = kolmogorov_smirnov(mine, theirs);
                tests.push(test("ks", q.name(), other, d, p));
                let (u, p) = mann_whitney(mine, theirs);
                tests.push(test("mann_whitney", q.name(), other, u, p));
            }
        }
        tests
    }

    /// The shares of `tested`'s samples beyond the real 1 % and 99 %
    /// quantiles of each scalar.
    fn exceedance(&self, tested: &Tested) -> Vec<Exceedance> {
        let confidence = self.settings.confidence;
        Scalar::all()
            .into_iter()
            .zip(&tested.scalars)
            .zip(&self.real.tails)
            .map(|((q, values), (lo, hi))| {
                let below = values.iter().filter(|&&v| f64::from(v) < *lo).count();
                let above = values.iter().filter(|&&v| f64::from(v) > *hi).count();
                Exceedance {
                    quantity: q.name().to_string(),
                    below: clopper_pearson(below, values.len(), confidence),
                    above: clopper_pearson(above, values.len(), confidence),
                }
            })
            .collect()
    }

    /// Per rarity and band of the real test images, the share `recalled`
    /// (inside some sample's ball).
    fn survival(&self, recalled: &[f32]) -> Vec<Survival> {
        let confidence = self.settings.confidence;
        self.real
            .bands
            .iter()
            .map(|(rarity, bands)| Survival {
                rarity: rarity.to_string(),
                bands: bands
                    .iter()
                    .map(|band| {
                        let hit = band.iter().filter(|&&i| recalled[i] > 0.5).count();
                        clopper_pearson(hit, band.len(), confidence)
                    })
                    .collect(),
            })
            .collect()
    }

    /// The profile of the generations added so far.
    pub fn profile(&self) -> Profile {
        let s = &self.settings;
        let metrics = figure_names()
            .into_iter()
            .enumerate()
            .map(|(i, name)| {
                let values: Vec<f64> = self
                    .generations
                    .iter()
                    .map(|g| g.metrics[i].estimate.value)
                    .collect();
                let p: Vec<f64> = self
                    .generations
                    .iter()
                    .map(|g| g.metrics[i].p.unwrap_or(f64::NAN))
                    .collect();
                let mut trend = trend_of(name.to_string(), &values, &p, s);
                trend.baseline = baseline(name, self.own_encoder);
                trend
            })
            .collect();
        let mut tests = Vec::new();
        if let Some(first) = self.generations.get(1) {
            for t in first.tests.iter().filter(|t| t.against == Some(0)) {
                let name = test_name(&t.test, &t.quantity);
                let pick = |g: &GenerationProfile| {
                    g.tests
                        .iter()
                        .find(|u| {
                            u.against == Some(0) && u.test == t.test && u.quantity == t.quantity
                        })
                        .map(|u| (u.statistic, u.p))
                };
                let (statistic, p): (Vec<f64>, Vec<f64>) = self
                    .generations
                    .iter()
                    .map(|g| pick(g).unwrap_or((f64::NAN, f64::NAN)))
                    .unzip();
                let mut trend = trend_of(name, &statistic, &p, s);
                trend.rate = None;
                tests.push(trend);
            }
        }
        Profile {
            settings: s.clone(),
            real_images: self.real.images,
            generations: self.generations.clone(),
            metrics,
            tests,
        }
    }
}

fn test(
    kind: &str,
    quantity: &str,
    against: Option<usize>,
    statistic: f64,
    p: f64,
) -> TwoSampleTest {
    TwoSampleTest {
        quantity: quantity.to_string(),
        test: kind.to_string(),
        against,
        statistic,
        p,
    }
}

/// A line of the table: `values` and raw p-values against generation 0 per
/// generation (NaN at generation 0).
fn trend_of(name: String, values: &[f64], p: &[f64], s: &ProfileSettings) -> Trend {
    let adjusted = trend::holm(p);
    let p_holm: Vec<Option<f64>> = adjusted
        .iter()
        .map(|&p| (!p.is_nan()).then_some(p))
        .collect();
    Trend {
        name,
        first: values.first().copied().unwrap_or(f64::NAN),
        baseline: 0,
        last: values.last().copied().unwrap_or(f64::NAN),
        onset: trend::onset(&p_holm, s.alpha),
        rate: trend::rate(values, s.confidence),
        p_holm,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_figure_has_its_interval_in_metrics_csv() {
        let header = collapse_records::MetricsRow::header();
        for name in figure_names() {
            for end in ["lo", "hi"] {
                let column = format!("{name}_{end}");
                assert!(header.contains(&column.as_str()), "{column}");
                assert!(collapse_records::columns::is_bound(&column));
            }
        }
        assert!(!collapse_records::columns::is_bound("recall"));
    }
}
