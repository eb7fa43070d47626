//! Bootstrap replicates of a generation's headline figures.
//!
//! A replicate draws the set a figure averages over again, with replacement,
//! as multinomial counts per item; every figure is then a function of the
//! counts: a weighted mean, a quantile of the values repeated by their
//! counts, class frequencies, weighted feature moments. Precision, density,
//! the Fréchet distance and every per-sample figure resample the samples;
//! recall and coverage, which average over the real test images, resample
//! those (one draw shared by every generation, so changes are paired).

use collapse_eval::{Evidence, Scalar};
use rand::RngExt;
use rand::rngs::Xoshiro256PlusPlus;

/// What a headline figure averages over, and so what its bootstrap draws.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// The generation's samples.
    Samples,
    /// The real test images.
    Real,
}

/// The headline figures the profile bootstraps (their `metrics.csv` columns),
/// with the side each resamples, but the Fréchet distance (see `fd`).
pub const HEADLINE: [(&str, Side); 15] = [
    ("precision", Side::Samples),
    ("recall", Side::Real),
    ("density", Side::Samples),
    ("coverage", Side::Real),
    ("class_entropy_norm", Side::Samples),
    ("rarest_class_share", Side::Samples),
    ("probe_mu_std", Side::Samples),
    ("probe_tail_mass", Side::Samples),
    ("nelbo0_median", Side::Samples),
    ("nelbo0_spread", Side::Samples),
    ("ink_spread", Side::Samples),
    ("slant_spread", Side::Samples),
    ("width_spread", Side::Samples),
    ("height_spread", Side::Samples),
    ("thickness_spread", Side::Samples),
];

/// |μ| above this counts towards the probe's tail mass (as `probe.json`).
const TAIL: f32 = 2.0;

/// How often each of `n` items is drawn in `n` draws with replacement.
pub fn resample(n: usize, rng: &mut Xoshiro256PlusPlus) -> Vec<u32> {
    let mut counts = vec![0u32; n];
    for _ in 0..n {
        counts[rng.random_range(0..n)] += 1;
    }
    counts
}

/// One per-sample scalar sorted once, so a replicate's quantiles are a walk
/// over its counts in that order.
struct Sorted {
    values: Vec<f32>,
    order: Vec<u32>,
}

impl Sorted {
    fn new(values: Vec<f32>) -> Self {
        let mut order: Vec<u32> = (0..values.len() as u32).collect();
        order.sort_by(|&a, &b| values[a as usize].total_cmp(&values[b as usize]));
        let values = order.iter().map(|&i| values[i as usize]).collect();
        Sorted { values, order }
    }

    /// Type-7 quantiles at ascending `levels` of the values repeated by
    /// `counts` (indexed by item; `None`: each once).
    fn quantiles(&self, counts: Option<&[u32]>, levels: &[f64]) -> Vec<f64> {
        let n = self.values.len();
        let mut out = Vec::with_capacity(levels.len());
        // Ranks wanted: floor and ceil of q (n − 1) for each level, ascending.
        let mut cumulative = 0usize;
        let mut at = 0usize;
        let value_at = |rank: usize, at: &mut usize, cumulative: &mut usize| -> f64 {
            while *at < n {
                let c = counts.map_or(1, |c| c[self.order[*at] as usize] as usize);
                if *cumulative + c > rank {
                    return f64::from(self.values[*at]);
                }
                *cumulative += c;
                *at += 1;
            }
            f64::from(self.values[n - 1])
        };
        for &q in levels {
            let pos = q * (n - 1) as f64;
            let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
            let frac = pos - lo as f64;
            let a = value_at(lo, &mut at, &mut cumulative);
            let b = value_at(hi, &mut at, &mut cumulative);
            out.push(a * (1.0 - frac) + b * frac);
        }
        out
    }
}

/// A generation's evidence arranged for fast replicates.
pub struct Prepared {
    samples: usize,
    real: usize,
    precise: Vec<f32>,
    density: Vec<f32>,
    recalled: Vec<f32>,
    covered: Vec<f32>,
    classes: Vec<u8>,
    class_count: usize,
    /// Per sample: Σ μ, Σ μ², and the entries with |μ| > 2.
    mu_sums: Vec<[f64; 3]>,
    latent_dim: usize,
    nelbo0: Sorted,
    style: Vec<Sorted>,
    k: usize,
}

/// Levels read for a median and a 1–99 % spread.
const LEVELS: [f64; 3] = [0.01, 0.5, 0.99];

impl Prepared {
    /// Arranges a generation's `evidence` (with its hits) for replicates; `k`
    /// is the k of the k-NN balls and `class_count` the classifier's classes.
    pub fn new(evidence: &Evidence, k: usize, class_count: usize) -> Self {
        let hits = evidence
            .hits
            .as_ref()
            .expect("a generation's evidence has hits");
        let d = evidence.latent_dim;
        let mu_sums = evidence
            .mu
            .chunks(d.max(1))
            .map(|row| {
                let s: f64 = row.iter().map(|&v| f64::from(v)).sum();
                let s2: f64 = row.iter().map(|&v| f64::from(v).powi(2)).sum();
                let tail = row.iter().filter(|v| v.abs() > TAIL).count() as f64;
                [s, s2, tail]
            })
            .collect();
        let style_columns = Scalar::all()
            .into_iter()
            .filter(|s| matches!(s, Scalar::Style(_)))
            .map(|s| Sorted::new(evidence.scalar(s)))
            .collect();
        Prepared {
            samples: evidence.images,
            real: hits.recalled.len(),
            precise: hits.precise.clone(),
            density: hits.density.clone(),
            recalled: hits.recalled.clone(),
            covered: hits.covered.clone(),
            classes: evidence.classes.iter().map(|&c| c as u8).collect(),
            class_count,
            mu_sums,
            latent_dim: d,
            nelbo0: Sorted::new(evidence.nelbo0.clone()),
            style: style_columns,
            k,
        }
    }

    /// Samples in the generation.
    pub fn samples(&self) -> usize {
        self.samples
    }

    /// Real test images it was compared with.
    pub fn real(&self) -> usize {
        self.real
    }

    /// Every [`HEADLINE`] figure of one replicate: the samples drawn with
    /// `samples` counts and the real images with `real` counts (`None`: the
    /// sets as they are, which gives the figures of `metrics.csv`).
    pub fn figures(&self, samples: Option<&[u32]>, real: Option<&[u32]>) -> Vec<f64> {
        let weight = |counts: Option<&[u32]>, i: usize| counts.map_or(1.0, |c| f64::from(c[i]));
        let mean = |values: &[f32], counts: Option<&[u32]>| {
            let total: f64 = values
                .iter()
                .enumerate()
                .map(|(i, &v)| weight(counts, i) * f64::from(v))
                .sum();
            total / values.len().max(1) as f64
        };
        let mut class_counts = vec![0.0f64; self.class_count];
        for (i, &c) in self.classes.iter().enumerate() {
            class_counts[c as usize] += weight(samples, i);
        }
        let n = self.samples.max(1) as f64;
        let entropy: f64 = class_counts
            .iter()
            .map(|&c| c / n)
            .filter(|&p| p > 0.0)
            .map(|p| -p * p.ln())
            .sum::<f64>()
            + 0.0;
        let rarest = class_counts.iter().copied().fold(f64::INFINITY, f64::min) / n;
        let mut sums = [0.0f64; 3];
        for (i, row) in self.mu_sums.iter().enumerate() {
            let w = weight(samples, i);
            for (s, v) in sums.iter_mut().zip(row) {
                *s += w * v;
            }
        }
        let entries = n * self.latent_dim as f64;
        let mu_mean = sums[0] / entries;
        let mu_std = (sums[1] / entries - mu_mean * mu_mean).max(0.0).sqrt();
        let nelbo = self.nelbo0.quantiles(samples, &LEVELS);
        let mut figures = vec![
            mean(&self.precise, samples),
            mean(&self.recalled, real),
            mean(&self.density, samples) / self.k as f64,
            mean(&self.covered, real),
            entropy / (self.class_count as f64).ln(),
            rarest,
            mu_std,
            sums[2] / entries,
            nelbo[1],
            nelbo[2] - nelbo[0],
        ];
        figures.extend(self.style.iter().map(|s| {
            let q = s.quantiles(samples, &LEVELS);
            q[2] - q[0]
        }));
        figures
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use collapse_records::stats::quantiles;
    use rand::SeedableRng;

    #[test]
    fn quantiles_of_counts_match_the_expanded_set() {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(7);
        let values: Vec<f32> = (0..101).map(|_| rng.random::<f32>() * 10.0).collect();
        let sorted = Sorted::new(values.clone());
        let direct: Vec<f64> = quantiles(&values, &LEVELS)
            .iter()
            .map(|q| q.value)
            .collect();
        assert_eq!(sorted.quantiles(None, &LEVELS), direct);
        for _ in 0..20 {
            let counts = resample(values.len(), &mut rng);
            let expanded: Vec<f32> = values
                .iter()
                .zip(&counts)
                .flat_map(|(&v, &c)| std::iter::repeat_n(v, c as usize))
                .collect();
            let direct: Vec<f64> = quantiles(&expanded, &LEVELS)
                .iter()
                .map(|q| q.value)
                .collect();
            assert_eq!(sorted.quantiles(Some(&counts), &LEVELS), direct);
        }
    }

    #[test]
    fn a_resample_draws_every_item_n_times_in_all() {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(1);
        let counts = resample(1000, &mut rng);
        assert_eq!(counts.iter().sum::<u32>(), 1000);
        // About 1 − 1/e of the items are drawn at least once.
        let drawn = counts.iter().filter(|&&c| c > 0).count();
        assert!((600..660).contains(&drawn), "{drawn}");
    }
}
