//! The collapse profile of a run (`profile.json`, `profile.csv`): how sure
//! each headline figure is, which generations differ from generation 0 and
//! from their parent beyond sampling noise, when each change starts, how
//! fast it goes, and which rarity band of the real test set survives.

use std::path::Path;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::RecordError;
use crate::table::write_csv;

/// A figure that can be undefined (a statistic not computed, an interval
/// of no replicates): written as `null` where it is not finite, read back
/// as NaN.
pub(crate) mod undefined {
    use super::*;

    pub fn serialize<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
        match v.is_finite() {
            true => s.serialize_f64(*v),
            false => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
    }
}

/// How a profile was computed: every count and seed, so a rerun matches.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProfileSettings {
    /// Bootstrap replicates of each headline figure but the Fréchet distance.
    pub bootstrap: usize,
    /// Bootstrap replicates of the Fréchet distance (each needs an eigensolve).
    pub fd_bootstrap: usize,
    /// Permutations of the MMD test.
    pub permutations: usize,
    /// Images of each set in the MMD test (a fixed subsample, the first ones).
    pub mmd_images: usize,
    /// Bandwidth σ of the MMD's Gaussian kernel `exp(−‖x − y‖² / 2σ²)`: the
    /// median feature distance between real test images.
    pub mmd_bandwidth: f64,
    /// Level of every interval (0.95).
    pub confidence: f64,
    /// Family-wise error rate of every onset, after Holm's correction (0.05).
    pub alpha: f64,
    /// Seed of the resamples and permutations.
    pub seed: u64,
    /// Rarity bands of the real test set in the survival curves.
    pub bands: usize,
}

/// A figure with its interval.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Estimate {
    /// The figure.
    #[serde(with = "undefined")]
    pub value: f64,
    /// Lower end of the interval.
    #[serde(with = "undefined")]
    pub lo: f64,
    /// Upper end of the interval.
    #[serde(with = "undefined")]
    pub hi: f64,
}

/// The ends of a headline figure's interval, as a row of `metrics.csv`
/// holds them (NaN where undefined).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Interval {
    /// Lower end.
    #[serde(with = "undefined")]
    pub lo: f64,
    /// Upper end.
    #[serde(with = "undefined")]
    pub hi: f64,
}

impl Default for Interval {
    fn default() -> Self {
        Interval {
            lo: f64::NAN,
            hi: f64::NAN,
        }
    }
}

/// A headline figure of one generation with its bootstrap interval.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MetricEstimate {
    /// The `metrics.csv` column.
    pub metric: String,
    /// The figure and its percentile interval.
    pub estimate: Estimate,
    /// The change from the figure's baseline generation ([`baseline`]) and
    /// its interval (`None` up to the baseline).
    pub change: Option<Estimate>,
    /// Two-sided p-value of that change, before correction.
    pub p: Option<f64>,
}

/// A two-sample test between a generation's samples and another set's.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TwoSampleTest {
    /// The quantity compared: `features` or a per-sample scalar.
    pub quantity: String,
    /// `mmd`, `ks` (Kolmogorov-Smirnov) or `mann_whitney`.
    pub test: String,
    /// The generation compared against; `None` for the real test set.
    pub against: Option<usize>,
    /// The test statistic (MMD², D, or U).
    #[serde(with = "undefined")]
    pub statistic: f64,
    /// Its p-value, before correction.
    #[serde(with = "undefined")]
    pub p: f64,
}

/// The share of a generation's samples beyond the real test set's 1 % and
/// 99 % quantiles of a per-sample quantity (1 % each where nothing changed).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Exceedance {
    /// The per-sample scalar.
    pub quantity: String,
    /// Share below the real 1 % quantile, with its Clopper-Pearson interval.
    pub below: Estimate,
    /// Share above the real 99 % quantile, with its Clopper-Pearson interval.
    pub above: Estimate,
}

/// Per rarity band of the real test set, the share of its images the
/// generation's samples still reach: inside some sample's k-NN ball, the
/// per-image term of recall. (Coverage's term, a sample inside the real
/// image's own ball, is not used: a common image's ball is small, so that
/// term falls with the ball's size rather than with the image's rarity.)
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Survival {
    /// What orders the real images from common to rare: `nelbo0` (their
    /// negative ELBO under generation 0) or `radius` (their k-NN radius in
    /// feature space).
    pub rarity: String,
    /// One entry per band, commonest first, with Clopper-Pearson intervals.
    pub bands: Vec<Estimate>,
}

impl GenerationProfile {
    /// Each headline figure's interval, by its `metrics.csv` column.
    pub fn intervals(&self) -> std::collections::BTreeMap<String, Interval> {
        self.metrics
            .iter()
            .map(|m| {
                let e = m.estimate;
                (m.metric.clone(), Interval { lo: e.lo, hi: e.hi })
            })
            .collect()
    }
}

/// What the profile found in one generation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GenerationProfile {
    /// The generation.
    pub generation: usize,
    /// Samples it was measured on.
    pub images: usize,
    /// Every headline figure with its interval.
    pub metrics: Vec<MetricEstimate>,
    /// Its tests against generation 0 and against its parent.
    pub tests: Vec<TwoSampleTest>,
    /// Its tail exceedance per quantity.
    pub exceedance: Vec<Exceedance>,
    /// Its survival curves.
    pub survival: Vec<Survival>,
}

/// A per-generation rate of change fitted over a whole chain.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Rate {
    /// `log-linear` (the figure is multiplied by `1 + rate` each
    /// generation) or `linear` (it changes by `rate` each generation, for a
    /// figure that is not positive throughout).
    pub fit: String,
    /// The rate and its interval (t interval of the fitted slope).
    pub rate: Estimate,
}

impl Estimate {
    /// The figure with its interval, `value [lo, hi]` with `number` writing
    /// each; the figure alone where the interval is undefined.
    pub fn words(&self, number: impl Fn(f64) -> String) -> String {
        match self.lo.is_finite() && self.hi.is_finite() {
            true => format!(
                "{} [{}, {}]",
                number(self.value),
                number(self.lo),
                number(self.hi)
            ),
            false => number(self.value),
        }
    }
}

/// A p-value in a table: three decimals, `<0.001` below that.
pub fn p_words(p: f64) -> String {
    match p < 0.001 {
        true => "<0.001".to_string(),
        false => format!("{p:.3}"),
    }
}

impl Rate {
    /// The rate in words: a log-linear one as a percentage per generation
    /// with its interval (`-12.0 % [-12.7, -11.3]`), a linear one as
    /// `value [lo, hi] (linear)` with `number` writing each figure.
    pub fn words(&self, number: impl Fn(f64) -> String) -> String {
        let r = &self.rate;
        match self.fit.as_str() {
            "log-linear" => format!(
                "{:+.1} % [{:+.1}, {:+.1}]",
                100.0 * r.value,
                100.0 * r.lo,
                100.0 * r.hi
            ),
            _ => format!("{} (linear)", r.words(number)),
        }
    }
}

/// One line of the profile's table: a figure or test over the whole chain.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Trend {
    /// The headline metric, or `TEST QUANTITY vs generation 0` for a test.
    pub name: String,
    /// Its generation-0 value (the statistic for a test: NaN).
    #[serde(with = "undefined")]
    pub first: f64,
    /// The generation its changes are measured from ([`baseline`]).
    #[serde(default)]
    pub baseline: usize,
    /// Its value at the last generation.
    #[serde(with = "undefined")]
    pub last: f64,
    /// The first generation whose difference from the baseline is
    /// significant after Holm's correction across the generations.
    pub onset: Option<usize>,
    /// Its rate of change, where three generations or more allow a fit.
    pub rate: Option<Rate>,
    /// The p-value against the baseline per generation after Holm's
    /// correction (`None` up to the baseline).
    pub p_holm: Vec<Option<f64>>,
}

impl Trend {
    /// Its onset in words: the generation, or `none`.
    pub fn onset_words(&self) -> String {
        self.onset.map_or("none".to_string(), |g| g.to_string())
    }
}

/// A row of `profile.csv` before its figures are written out.
struct CsvLine {
    kind: &'static str,
    name: String,
    detail: String,
    estimate: Estimate,
    p: Option<f64>,
    p_holm: Option<f64>,
}

/// `profile.json`: a run's collapse profile.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    /// How it was computed.
    pub settings: ProfileSettings,
    /// Real test images it was measured against.
    pub real_images: usize,
    /// Every generation profiled, in order.
    pub generations: Vec<GenerationProfile>,
    /// The headline metrics over the chain.
    pub metrics: Vec<Trend>,
    /// The tests against generation 0 over the chain.
    pub tests: Vec<Trend>,
}

/// The figures read through generation 0's own model: the probe (its
/// encoder) and the NELBO under it. Generation 0's own samples fit that
/// model better than any retrained model's samples do, so where generation
/// 0's model is the chain's own (a VAE chain, not an external model probed
/// by the reference VAE) these figures' changes are measured from
/// generation 1, the first generation whose model is not the probe's.
pub const SELF_REFERENCED: [&str; 5] = [
    "probe_mu_mean",
    "probe_mu_std",
    "probe_tail_mass",
    "nelbo0_median",
    "nelbo0_spread",
];

/// The generation a figure's changes are measured from: 1 for a figure in
/// [`SELF_REFERENCED`] where the probe's encoder is generation 0's own
/// model (`own_encoder`), else 0.
pub fn baseline(metric: &str, own_encoder: bool) -> usize {
    usize::from(own_encoder && SELF_REFERENCED.contains(&metric))
}

/// Whether a chain whose resolved config (the manifest's) is `config` is
/// probed by its own generation 0: a VAE chain, not an external model's
/// (which the reference VAE probes).
pub fn own_encoder(config: &serde_json::Value) -> bool {
    config.get("external").is_none_or(|e| e.is_null())
}

/// The columns of `profile.csv`, one row per figure of a generation.
pub const PROFILE_COLUMNS: [&str; 9] = [
    "generation",
    "kind",
    "name",
    "detail",
    "value",
    "lo",
    "hi",
    "p",
    "p_holm",
];

impl Profile {
    /// `profile.csv`'s rows, in long form: `metric` (detail empty), `change`
    /// (from generation 0), `test` (detail `vs real` or `vs N`), `below_q01` and
    /// `above_q99` (exceedance), `survival` (detail `RARITY band B`).
    pub fn csv_rows(&self) -> Vec<Vec<String>> {
        // An undefined figure is an empty cell.
        let number = |v: f64| match v.is_finite() {
            true => format!("{v}"),
            false => String::new(),
        };
        let maybe = |v: Option<f64>| v.map(number).unwrap_or_default();
        let mut rows = Vec::new();
        for generation in &self.generations {
            for line in self.csv_lines(generation) {
                rows.push(vec![
                    generation.generation.to_string(),
                    line.kind.to_string(),
                    line.name,
                    line.detail,
                    number(line.estimate.value),
                    number(line.estimate.lo),
                    number(line.estimate.hi),
                    maybe(line.p),
                    maybe(line.p_holm),
                ]);
            }
        }
        rows
    }

    /// The rows of `profile.csv` one generation gives, in order.
    fn csv_lines(&self, generation: &GenerationProfile) -> Vec<CsvLine> {
        let g = generation.generation;
        let holm = |trends: &[Trend], name: &str| {
            trends
                .iter()
                .find(|t| t.name == name)
                .and_then(|t| t.p_holm.get(g).copied().flatten())
        };
        let mut lines = Vec::new();
        let mut line = |kind, name: &str, detail: String, estimate, p, p_holm| {
            lines.push(CsvLine {
                kind,
                name: name.to_string(),
                detail,
                estimate,
                p,
                p_holm,
            })
        };
        for m in &generation.metrics {
            line("metric", &m.metric, String::new(), m.estimate, None, None);
            if let Some(change) = m.change {
                let trend = self.metrics.iter().find(|t| t.name == m.metric);
                let from = trend.map_or(0, |t| t.baseline);
                let p_holm = holm(&self.metrics, &m.metric);
                line(
                    "change",
                    &m.metric,
                    format!("vs {from}"),
                    change,
                    m.p,
                    p_holm,
                );
            }
        }
        for t in &generation.tests {
            let name = test_name(&t.test, &t.quantity);
            let p_holm = (t.against == Some(0))
                .then(|| holm(&self.tests, &name))
                .flatten();
            let against = t.against.map_or("real".to_string(), |a| a.to_string());
            let e = Estimate {
                value: t.statistic,
                lo: f64::NAN,
                hi: f64::NAN,
            };
            line("test", &name, format!("vs {against}"), e, Some(t.p), p_holm);
        }
        for x in &generation.exceedance {
            line("below_q01", &x.quantity, String::new(), x.below, None, None);
            line("above_q99", &x.quantity, String::new(), x.above, None, None);
        }
        for s in &generation.survival {
            for (b, e) in s.bands.iter().enumerate() {
                line("survival", &s.rarity, format!("band {b}"), *e, None, None);
            }
        }
        lines
    }

    /// Writes `profile.json` and `profile.csv` into `dir`, each atomically.
    pub fn write(&self, dir: &Path) -> Result<(), RecordError> {
        crate::write_json(&dir.join("profile.json"), self)?;
        let header: Vec<String> = PROFILE_COLUMNS.iter().map(|c| c.to_string()).collect();
        write_csv(&dir.join("profile.csv"), &header, &self.csv_rows())
    }
}

/// The name of a test in the profile's table: `TEST QUANTITY`.
pub fn test_name(test: &str, quantity: &str) -> String {
    format!("{test} {quantity}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn estimate(value: f64) -> Estimate {
        Estimate {
            value,
            lo: value - 1.0,
            hi: value + 1.0,
        }
    }

    fn profile() -> Profile {
        let generation = |g: usize| GenerationProfile {
            generation: g,
            images: 10,
            metrics: vec![MetricEstimate {
                metric: "recall".into(),
                estimate: estimate(0.5),
                change: (g > 0).then(|| estimate(-0.25)),
                p: (g > 0).then_some(0.01),
            }],
            tests: vec![TwoSampleTest {
                quantity: "features".into(),
                test: "mmd".into(),
                against: if g > 0 { Some(0) } else { None },
                statistic: 0.5,
                p: 0.002,
            }],
            exceedance: Vec::new(),
            survival: vec![Survival {
                rarity: "nelbo0".into(),
                bands: vec![estimate(0.75)],
            }],
        };
        Profile {
            settings: ProfileSettings {
                bootstrap: 10,
                fd_bootstrap: 5,
                permutations: 9,
                mmd_images: 10,
                mmd_bandwidth: 1.5,
                confidence: 0.95,
                alpha: 0.05,
                seed: 3,
                bands: 1,
            },
            real_images: 20,
            generations: vec![generation(0), generation(1)],
            metrics: vec![Trend {
                name: "recall".into(),
                first: 0.5,
                baseline: 0,
                last: 0.5,
                onset: Some(1),
                rate: None,
                p_holm: vec![None, Some(0.01)],
            }],
            tests: vec![Trend {
                name: "mmd features".into(),
                first: f64::NAN,
                baseline: 0,
                last: 0.5,
                onset: Some(1),
                rate: None,
                p_holm: vec![None, Some(0.002)],
            }],
        }
    }

    #[test]
    fn an_undefined_figure_is_null_and_reads_back_as_nan() {
        let tmp = tempfile::tempdir().unwrap();
        let written = profile();
        written.write(tmp.path()).unwrap();
        let text = std::fs::read_to_string(tmp.path().join("profile.json")).unwrap();
        assert!(text.contains("\"first\": null"), "{text}");
        let back: Profile = crate::read_json(&tmp.path().join("profile.json")).unwrap();
        assert!(back.tests[0].first.is_nan());
        assert_eq!(back.metrics, written.metrics);
        assert_eq!(back.generations, written.generations);
    }

    #[test]
    fn the_csv_has_a_row_per_figure_with_its_corrected_p() {
        let rows = profile().csv_rows();
        let lines: Vec<String> = rows.iter().map(|r| r.join(",")).collect();
        assert_eq!(
            lines,
            [
                "0,metric,recall,,0.5,-0.5,1.5,,",
                "0,test,mmd features,vs real,0.5,,,0.002,",
                "0,survival,nelbo0,band 0,0.75,-0.25,1.75,,",
                "1,metric,recall,,0.5,-0.5,1.5,,",
                "1,change,recall,vs 0,-0.25,-1.25,0.75,0.01,0.01",
                "1,test,mmd features,vs 0,0.5,,,0.002,0.002",
                "1,survival,nelbo0,band 0,0.75,-0.25,1.75,,",
            ]
        );
    }
}
