//! A Gaussian refitted to its own samples (the paper's section 4.1 and its
//! notebook's single-normal cells): draw M samples from N(μ, σ²), fit the
//! unbiased mean and variance, draw the next generation's M samples from the
//! fit, for n generations, in many independent trials at once.
//!
//! Each trial keeps only the moments of its sets (count, mean and the sum of
//! squared deviations, merged exactly as Chan et al.'s parallel update
//! does), so a generation costs its M normal draws and nothing else. Trials
//! run in parallel, each on its own random stream: the results do not depend
//! on the thread count.

use std::path::Path;
use std::time::Instant;

use collapse_records::time::now_rfc3339;
use collapse_records::{
    Experiment, GAUSSIAN_COLUMNS, GaussianRow, GaussianTheory, write_json, write_table,
};
use rand::Rng;
use rand_distr::{Distribution, StandardNormal};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::closed;
use crate::error::{SettingError, TheoryError};
use crate::folder::{RunInfo, fresh_folder};
use crate::rng::{Purpose, stream};

/// What a generation is fitted to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// The previous generation's samples only.
    Replace,
    /// Every sample drawn so far, the original ones included (Gerstgrasser et al.).
    Accumulate,
}

/// The recursive Gaussian fit: its record in the manifest, a study's run
/// settings (a key left out is [`GaussianConfig::default`]'s), and (with the
/// crate's `clap` feature) the flags of `collapse theory gaussian`, each
/// defaulting to the same value.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
#[serde(default, deny_unknown_fields)]
pub struct GaussianConfig {
    /// Samples per generation (M).
    #[cfg_attr(feature = "clap", arg(long, default_value_t = GaussianConfig::default().samples))]
    pub samples: usize,
    /// Independent trials.
    #[cfg_attr(feature = "clap", arg(long, default_value_t = GaussianConfig::default().trials))]
    pub trials: usize,
    /// Generations after the original one.
    #[cfg_attr(
        feature = "clap",
        arg(long, default_value_t = GaussianConfig::default().generations)
    )]
    pub generations: usize,
    /// The original mean μ.
    #[cfg_attr(
        feature = "clap",
        arg(long, allow_negative_numbers = true, default_value_t = GaussianConfig::default().mean)
    )]
    pub mean: f64,
    /// The original standard deviation σ.
    #[cfg_attr(feature = "clap", arg(long, default_value_t = GaussianConfig::default().std))]
    pub std: f64,
    /// What each fit sees.
    #[cfg_attr(
        feature = "clap",
        arg(long, value_enum, default_value_t = GaussianConfig::default().mode)
    )]
    pub mode: Mode,
    /// Share of each later generation's samples that are original samples
    /// (the first round(f M) of generation 0's), the rest drawn from the fit.
    #[cfg_attr(
        feature = "clap",
        arg(long, default_value_t = GaussianConfig::default().real_fraction)
    )]
    pub real_fraction: f64,
    /// λ: later generations sample N(μ_n, λ σ_n²) (Alemohammad et al.'s sampling bias).
    #[cfg_attr(
        feature = "clap",
        arg(long, allow_negative_numbers = true, default_value_t = GaussianConfig::default().bias)
    )]
    pub bias: f64,
    /// Seed of every trial's stream.
    #[cfg_attr(feature = "clap", arg(long, default_value_t = GaussianConfig::default().seed))]
    pub seed: u64,
}

impl Default for GaussianConfig {
    /// The notebook's chain at M = 1,000: 1,000 generations, here in 100 trials.
    fn default() -> Self {
        GaussianConfig {
            samples: 1000,
            trials: 100,
            generations: 1000,
            mean: 0.0,
            std: 1.0,
            mode: Mode::Replace,
            real_fraction: 0.0,
            bias: 1.0,
            seed: 0,
        }
    }
}

impl GaussianConfig {
    /// Refuses a configuration that cannot run, naming the setting.
    pub fn validate(&self) -> Result<(), SettingError> {
        if self.samples < 2 {
            return Err(SettingError::new(
                "samples",
                "an unbiased variance needs at least 2 samples per generation",
            ));
        }
        if self.trials < 2 {
            return Err(SettingError::new(
                "trials",
                "a spread over trials needs at least 2 trials",
            ));
        }
        if !self.mean.is_finite() {
            return Err(SettingError::new(
                "mean",
                format!("must be finite, got {}", self.mean),
            ));
        }
        if !(self.std.is_finite() && self.std > 0.0) {
            return Err(SettingError::new(
                "std",
                format!("must be positive, got {}", self.std),
            ));
        }
        if !(0.0..=1.0).contains(&self.real_fraction) {
            return Err(SettingError::new(
                "real_fraction",
                format!("must be within [0, 1], got {}", self.real_fraction),
            ));
        }
        if self.mode == Mode::Accumulate && self.real_fraction > 0.0 {
            return Err(SettingError::new(
                "real_fraction",
                "an accumulating fit already sees every original sample",
            ));
        }
        if !(self.bias.is_finite() && self.bias > 0.0) {
            return Err(SettingError::new(
                "bias",
                format!("must be positive, got {}", self.bias),
            ));
        }
        Ok(())
    }

    /// Original samples in each later generation's set.
    pub fn kept_real(&self) -> usize {
        (self.samples as f64 * self.real_fraction).round() as usize
    }

    /// Whether the closed forms hold for this variant (replacing, no original samples kept).
    pub fn has_closed_forms(&self) -> bool {
        self.mode == Mode::Replace && self.kept_real() == 0
    }
}

/// Count, mean and sum of squared deviations of a set of numbers.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Moments {
    count: f64,
    mean: f64,
    m2: f64,
}

impl Moments {
    /// The moments of `count` draws from N(`loc`, `scale`²).
    fn draw(rng: &mut impl Rng, count: usize, loc: f64, scale: f64) -> Moments {
        let (mut sum, mut sum_sq) = (0.0f64, 0.0f64);
        for _ in 0..count {
            let z: f64 = StandardNormal.sample(rng);
            sum += z;
            sum_sq += z * z;
        }
        let n = count as f64;
        let z_mean = if count == 0 { 0.0 } else { sum / n };
        Moments {
            count: n,
            mean: loc + scale * z_mean,
            m2: scale * scale * (sum_sq - sum * z_mean).max(0.0),
        }
    }

    /// The moments of the union of two sets.
    fn merge(self, other: Moments) -> Moments {
        let count = self.count + other.count;
        if count == 0.0 {
            return self;
        }
        let delta = other.mean - self.mean;
        Moments {
            count,
            mean: self.mean + delta * other.count / count,
            m2: self.m2 + other.m2 + delta * delta * self.count * other.count / count,
        }
    }

    /// The unbiased variance.
    fn variance(self) -> f64 {
        self.m2 / (self.count - 1.0)
    }

    /// The mean squared deviation from `centre`.
    fn spread_about(self, centre: f64) -> f64 {
        self.m2 / self.count + (self.mean - centre).powi(2)
    }
}

/// One generation of one trial.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Step {
    /// μ_n.
    pub mean: f64,
    /// σ_n.
    pub std: f64,
    /// Mean squared deviation of generation n's samples from the original μ.
    pub spread: f64,
}

/// Trial `t`: generations 0 to `generations` of one chain.
fn trial(c: &GaussianConfig, t: usize) -> Vec<Step> {
    let mut rng = stream(c.seed, Purpose::GaussianTrial, t as u64);
    let kept = c.kept_real();
    let real_kept = Moments::draw(&mut rng, kept, c.mean, c.std);
    let mut set = real_kept.merge(Moments::draw(&mut rng, c.samples - kept, c.mean, c.std));
    let (mut mean, mut std) = (c.mean, c.std);
    let mut seen = Moments::default();
    let mut steps = Vec::with_capacity(c.generations + 1);
    for n in 0..=c.generations {
        if n > 0 {
            let drawn = Moments::draw(&mut rng, c.samples - kept, mean, std * c.bias.sqrt());
            set = real_kept.merge(drawn);
        }
        steps.push(Step {
            mean,
            std,
            spread: set.spread_about(c.mean),
        });
        let fitted = match c.mode {
            Mode::Replace => set,
            Mode::Accumulate => {
                seen = seen.merge(set);
                seen
            }
        };
        mean = fitted.mean;
        std = fitted.variance().sqrt();
    }
    steps
}

/// Every trial's chain, trial by trial (`[trial][generation]`).
pub fn simulate(c: &GaussianConfig) -> Vec<Vec<Step>> {
    (0..c.trials).into_par_iter().map(|t| trial(c, t)).collect()
}

/// The `q` quantile of sorted `values` (linear between order statistics).
fn quantile(sorted: &[f64], q: f64) -> f64 {
    let at = q * (sorted.len() - 1) as f64;
    let (lo, hi) = (at.floor() as usize, at.ceil() as usize);
    sorted[lo] + (sorted[hi] - sorted[lo]) * (at - lo as f64)
}

/// Mean, 5 %, 50 % and 95 % quantiles of `values`.
fn summary(mut values: Vec<f64>) -> [f64; 4] {
    let mean = values.iter().sum::<f64>() / values.len() as f64;
    values.sort_by(f64::total_cmp);
    [
        mean,
        quantile(&values, 0.05),
        quantile(&values, 0.5),
        quantile(&values, 0.95),
    ]
}

/// Generation `n` summed over the trials.
fn row(c: &GaussianConfig, trials: &[Vec<Step>], n: usize) -> GaussianRow {
    let steps = || trials.iter().map(move |t| t[n]);
    let [mu_error, mu_error_p05, mu_error_p50, mu_error_p95] =
        summary(steps().map(|s| (s.mean - c.mean).abs()).collect());
    let [
        sigma_error,
        sigma_error_p05,
        sigma_error_p50,
        sigma_error_p95,
    ] = summary(steps().map(|s| (s.std - c.std).abs()).collect());
    let t = trials.len() as f64;
    let w2_sq: Vec<f64> = steps()
        .map(|s| (s.mean - c.mean).powi(2) + (s.std - c.std).powi(2))
        .collect();
    let variance = steps().map(|s| s.spread).sum::<f64>() / t;
    let variance_var = steps().map(|s| (s.spread - variance).powi(2)).sum::<f64>() / (t - 1.0);
    let [_, _, sigma_p50, _] = summary(steps().map(|s| s.std).collect());
    let theory = c.has_closed_forms().then(|| {
        let e = closed::expected(n, c.samples, c.std, c.bias);
        GaussianTheory {
            variance: e.variance,
            sigma_sq: e.sigma_sq,
            w2_sq: e.w2_sq,
        }
    });
    GaussianRow {
        generation: n,
        mu_error,
        mu_error_p05,
        mu_error_p50,
        mu_error_p95,
        sigma_error,
        sigma_error_p05,
        sigma_error_p50,
        sigma_error_p95,
        w2: w2_sq.iter().map(|v| v.sqrt()).sum::<f64>() / t,
        w2_sq: w2_sq.iter().sum::<f64>() / t,
        variance,
        variance_se: (variance_var / t).sqrt(),
        sigma_sq: steps().map(|s| s.std * s.std).sum::<f64>() / t,
        sigma_p50,
        theory,
    }
}

/// The per-generation rows of the experiment.
pub fn rows(c: &GaussianConfig) -> Vec<GaussianRow> {
    let trials = simulate(c);
    (0..=c.generations)
        .into_par_iter()
        .map(|n| row(c, &trials, n))
        .collect()
}

/// Runs the experiment into the run folder `out` (new, or replaced with
/// `force`): `manifest.json`, `metrics.csv`, plots and `index.html`.
/// Returns the rows and the files written, relative to `out`.
pub fn run_gaussian(
    c: &GaussianConfig,
    out: &Path,
    force: bool,
    info: &RunInfo,
) -> Result<(Vec<GaussianRow>, Vec<String>), TheoryError> {
    c.validate()?;
    let _folder = fresh_folder(out, force)?;
    let config = serde_json::to_value(c).expect("a config serialises");
    let mut manifest = info.manifest(Experiment::Gaussian, config, c.seed);
    let manifest_path = out.join("manifest.json");
    write_json(&manifest_path, &manifest)?;
    let start = Instant::now();
    let rows = rows(c);
    manifest.seconds = start.elapsed().as_secs_f64();
    manifest.finished = Some(now_rfc3339());
    write_table(&out.join("metrics.csv"), GAUSSIAN_COLUMNS, &rows)?;
    write_json(&manifest_path, &manifest)?;
    Ok((
        rows,
        vec!["manifest.json".to_string(), "metrics.csv".to_string()],
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(samples: usize, trials: usize, generations: usize) -> GaussianConfig {
        GaussianConfig {
            samples,
            trials,
            generations,
            ..GaussianConfig::default()
        }
    }

    #[test]
    fn moments_merge_as_one_set() {
        let mut rng = stream(7, Purpose::GaussianTrial, 0);
        let a = Moments::draw(&mut rng, 10, 1.0, 2.0);
        let b = Moments::draw(&mut rng, 30, -1.0, 0.5);
        let ab = a.merge(b);
        assert_eq!(ab.count, 40.0);
        assert!((ab.mean - (10.0 * a.mean + 30.0 * b.mean) / 40.0).abs() < 1e-12);
        // Σ(x − m)² of the union = both parts' own sums plus their means' spread.
        let spread =
            a.m2 + b.m2 + 10.0 * (a.mean - ab.mean).powi(2) + 30.0 * (b.mean - ab.mean).powi(2);
        assert!((ab.m2 - spread).abs() < 1e-9);
        assert_eq!(Moments::default().merge(a), a);
    }

    /// Var(X^n) = σ²(1 + n/M) within 4 standard errors of the trials' mean,
    /// for every n up to M/10, at each of the notebook's M.
    #[test]
    fn measured_variance_follows_the_closed_form_up_to_a_tenth_of_m() {
        for (samples, trials) in [(100, 400), (500, 200), (1000, 100), (10_000, 20)] {
            let c = config(samples, trials, samples / 10);
            for r in rows(&c) {
                let theory = r.theory.as_ref().unwrap().variance;
                let n = r.generation as f64;
                assert!((theory - (1.0 + n / samples as f64)).abs() < 1e-12);
                let z = (r.variance - theory) / r.variance_se;
                assert!(
                    z.abs() < 4.0,
                    "M {samples}, n {}: {} against {theory} (z {z:.2})",
                    r.generation,
                    r.variance
                );
            }
        }
    }

    #[test]
    fn sigma_collapses_while_its_mean_stays() {
        let c = config(20, 2000, 200);
        let rows = rows(&c);
        let last = rows.last().unwrap();
        // The median σ_n is far below σ (log σ_n² drifts by about −n/M) …
        assert!(last.sigma_p50 < 0.05, "{}", last.sigma_p50);
        // … while E[σ_n²] = σ² still holds at the first generations.
        let early = &rows[5];
        let se = 0.15;
        assert!((early.sigma_sq - 1.0).abs() < se, "{}", early.sigma_sq);
        // W2² grows with n as its closed form says while n ≪ M.
        let e = rows[2].theory.as_ref().unwrap().w2_sq;
        assert!(
            (rows[2].w2_sq - e).abs() < 0.3 * e,
            "{} against {e}",
            rows[2].w2_sq
        );
    }

    #[test]
    fn accumulating_stays_bounded_and_replacing_does_not() {
        let replace = rows(&config(50, 200, 300));
        let accumulate = rows(&GaussianConfig {
            mode: Mode::Accumulate,
            ..config(50, 200, 300)
        });
        assert!(accumulate[0].theory.is_none());
        assert!(accumulate[300].w2 < 0.2, "{}", accumulate[300].w2);
        assert!(replace[300].w2 > 3.0 * accumulate[300].w2);
    }

    #[test]
    fn biased_sampling_shrinks_sigma_like_lambda_to_the_n() {
        let c = GaussianConfig {
            bias: 0.8,
            ..config(1000, 50, 10)
        };
        let rows = rows(&c);
        for r in &rows[1..] {
            let e = r.theory.as_ref().unwrap().sigma_sq;
            assert!((e - 0.8f64.powi(r.generation as i32 - 1)).abs() < 1e-12);
            assert!(
                (r.sigma_sq - e).abs() < 0.05 * e,
                "{}: {} against {e}",
                r.generation,
                r.sigma_sq
            );
        }
    }

    #[test]
    fn a_real_fraction_holds_the_fit_near_the_original() {
        let c = GaussianConfig {
            real_fraction: 0.5,
            ..config(100, 100, 200)
        };
        let mixed = rows(&c);
        let replaced = rows(&config(100, 100, 200));
        assert!(mixed[0].theory.is_none());
        assert!(mixed[200].sigma_error < replaced[200].sigma_error / 2.0);
    }

    #[test]
    fn results_do_not_depend_on_the_thread_count() {
        let c = config(100, 8, 20);
        let one = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        let two = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        assert_eq!(one.install(|| rows(&c)), two.install(|| rows(&c)));
    }

    #[test]
    fn refused_settings_name_themselves() {
        let bad = |f: fn(&mut GaussianConfig)| {
            let mut c = GaussianConfig::default();
            f(&mut c);
            c.validate().unwrap_err().setting
        };
        assert_eq!(bad(|c| c.samples = 1), "samples");
        assert_eq!(bad(|c| c.trials = 1), "trials");
        assert_eq!(bad(|c| c.std = 0.0), "std");
        assert_eq!(bad(|c| c.real_fraction = 1.5), "real_fraction");
        assert_eq!(
            bad(|c| {
                c.mode = Mode::Accumulate;
                c.real_fraction = 0.1;
            }),
            "real_fraction"
        );
        assert_eq!(bad(|c| c.bias = -1.0), "bias");
        assert!(GaussianConfig::default().validate().is_ok());
    }
}
