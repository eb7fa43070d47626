//! The records of the paper's closed-form experiments: a Gaussian and a
//! Gaussian mixture refitted to their own samples. Their per-generation rows
//! and column tables (written and read by the same CSV writer and reader as a
//! chain's `metrics.csv`) and their manifest.

use serde::{Deserialize, Serialize};

use crate::contract::Experiment;
use crate::table::{Cell, Column, Format, Metric, uncharted};

/// `manifest.json` of a theory run: what ran and how long it took.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TheoryManifest {
    /// Tool name and version (`collapse 0.1.0`).
    pub tool: String,
    /// The run-folder format ([`FORMAT_VERSION`](crate::FORMAT_VERSION) when written).
    pub format_version: u64,
    /// Which experiment.
    pub experiment: Experiment,
    /// Start time, RFC 3339 UTC.
    pub started: String,
    /// End time, RFC 3339 UTC; `None` while the run is in progress.
    pub finished: Option<String>,
    /// The command line as given.
    pub command_line: Vec<String>,
    /// The experiment's configuration.
    pub config: serde_json::Value,
    /// The seed.
    pub seed: u64,
    /// Wall time of the work so far, seconds (summed over resumes).
    pub seconds: f64,
    /// When the run was resumed after an interruption, RFC 3339 UTC, one entry per resume.
    pub resumed: Vec<String>,
}

/// One generation of the recursive Gaussian fit, over all trials.
///
/// Generation `n`'s model is N(μ_n, σ_n²): generation 0 is the original
/// distribution, generation n + 1 is fitted (unbiased mean and variance) to
/// generation n's samples. Errors are against the original μ and σ.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct GaussianRow {
    /// The generation.
    pub generation: usize,
    /// Mean over trials of |μ − μ_n|.
    pub mu_error: f64,
    /// Its 5 % quantile over trials.
    pub mu_error_p05: f64,
    /// Its median.
    pub mu_error_p50: f64,
    /// Its 95 % quantile.
    pub mu_error_p95: f64,
    /// Mean over trials of |σ − σ_n|.
    pub sigma_error: f64,
    /// Its 5 % quantile over trials.
    pub sigma_error_p05: f64,
    /// Its median.
    pub sigma_error_p50: f64,
    /// Its 95 % quantile.
    pub sigma_error_p95: f64,
    /// Mean over trials of the Wasserstein-2 distance between N(μ_n, σ_n²) and N(μ, σ²).
    pub w2: f64,
    /// Mean over trials of its square.
    pub w2_sq: f64,
    /// Var(X^n): mean over trials of the mean squared deviation of generation
    /// n's samples from μ.
    pub variance: f64,
    /// The standard error of that mean (sample std over trials / √trials).
    pub variance_se: f64,
    /// Mean over trials of σ_n².
    pub sigma_sq: f64,
    /// Median over trials of σ_n.
    pub sigma_p50: f64,
    /// The closed forms, where the variant has them.
    pub theory: Option<GaussianTheory>,
}

/// The closed forms of one generation (replacing fits, no real data; any bias λ).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct GaussianTheory {
    /// E[Var(X^n)].
    pub variance: f64,
    /// E[σ_n²].
    pub sigma_sq: f64,
    /// E[W2²(N(μ_n, σ_n²), N(μ, σ²))].
    pub w2_sq: f64,
}

/// A column of a [`GaussianRow`] field.
macro_rules! gaussian {
    ($field:ident, $format:ident) => {
        Column::<GaussianRow> {
            format: Format::$format,
            group: None,
            get: |r| Some(Cell::to_cell(r.$field)),
            set: |r, v| r.$field = Cell::from_cell(v),
            metric: uncharted(stringify!($field)),
        }
    };
}

/// A column of the row's closed forms, named `theory_FIELD`.
macro_rules! closed {
    ($field:ident) => {
        Column::<GaussianRow> {
            format: Format::Real,
            group: Some("theory"),
            get: |r| r.theory.as_ref().map(|t| t.$field),
            set: |r, v| r.theory.get_or_insert_with(GaussianTheory::default).$field = v,
            metric: uncharted(concat!("theory_", stringify!($field))),
        }
    };
}

/// Every column of a Gaussian run's `metrics.csv`, in file order.
#[rustfmt::skip]
pub const GAUSSIAN_COLUMNS: &[Column<GaussianRow>] = &[
    gaussian!(generation, Count),
    gaussian!(mu_error, Real).chart(0, "Mean error |μ − μ_n| (mean over trials)", "|μ − μ_n|", true),
    gaussian!(mu_error_p05, Real),
    gaussian!(mu_error_p50, Real),
    gaussian!(mu_error_p95, Real),
    gaussian!(sigma_error, Real).chart(1, "Std error |σ − σ_n| (mean over trials)", "|σ − σ_n|", true),
    gaussian!(sigma_error_p05, Real),
    gaussian!(sigma_error_p50, Real),
    gaussian!(sigma_error_p95, Real),
    gaussian!(w2, Real).chart(2, "Wasserstein-2 distance to the original (mean over trials)", "W2", true),
    gaussian!(w2_sq, Real),
    gaussian!(variance, Real).chart(3, "Variance of each generation's samples about μ", "Var(X^n)", true),
    gaussian!(variance_se, Real),
    gaussian!(sigma_sq, Real),
    gaussian!(sigma_p50, Real).chart(4, "Median σ_n over trials", "σ_n", true),
    closed!(variance),
    closed!(sigma_sq),
    closed!(w2_sq),
];

/// One generation of the recursive Gaussian-mixture fit: the mixture fitted
/// by EM to the previous generation's samples (generation 0: to the original
/// samples), its two components ordered by the first coordinate of their means.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct GmmRow {
    /// The generation.
    pub generation: usize,
    /// Weight of component 0.
    pub weight_0: f64,
    /// Weight of component 1.
    pub weight_1: f64,
    /// First coordinate of component 0's mean.
    pub mean_0_x: f64,
    /// Second coordinate of component 0's mean.
    pub mean_0_y: f64,
    /// First coordinate of component 1's mean.
    pub mean_1_x: f64,
    /// Second coordinate of component 1's mean.
    pub mean_1_y: f64,
    /// √(trace Σ_0 / 2).
    pub std_0: f64,
    /// √(trace Σ_1 / 2).
    pub std_1: f64,
    /// Squared L2 distance ∫ (p_0 − p_t)² between generation 0's mixture and this one.
    pub l2_sq: f64,
    /// Mean log-likelihood of the original samples under this mixture.
    pub loglik_real: f64,
    /// EM iterations of this fit.
    pub em_iterations: usize,
    /// 1 when EM met its tolerance, 0 when it stopped at its iteration limit.
    pub converged: usize,
}

/// A column of a [`GmmRow`] field.
macro_rules! gmm {
    ($field:ident, $format:ident) => {
        Column::<GmmRow> {
            format: Format::$format,
            group: None,
            get: |r| Some(Cell::to_cell(r.$field)),
            set: |r, v| r.$field = Cell::from_cell(v),
            metric: uncharted(stringify!($field)),
        }
    };
}

/// Every column of a Gaussian-mixture run's `metrics.csv`, in file order.
#[rustfmt::skip]
pub const GMM_COLUMNS: &[Column<GmmRow>] = &[
    gmm!(generation, Count),
    gmm!(weight_0, Real),
    gmm!(weight_1, Real),
    gmm!(mean_0_x, Real),
    gmm!(mean_0_y, Real),
    gmm!(mean_1_x, Real),
    gmm!(mean_1_y, Real),
    gmm!(std_0, Real).chart(0, "Std of component 0: √(trace Σ / 2)", "std", true),
    gmm!(std_1, Real).chart(1, "Std of component 1: √(trace Σ / 2)", "std", true),
    gmm!(l2_sq, Real).chart(2, "Squared L2 distance to generation 0's mixture", "∫ (p_0 − p_t)²", true),
    gmm!(loglik_real, Real).chart(3, "Mean log-likelihood of the original samples", "nats per point", true),
    gmm!(em_iterations, Count),
    gmm!(converged, Count),
];

/// The columns of `columns` charted against generation, in report order.
pub fn charted<R>(columns: &'static [Column<R>]) -> Vec<&'static Metric> {
    let mut charted: Vec<&'static Metric> = columns
        .iter()
        .map(|c| &c.metric)
        .filter(|m| m.charted())
        .collect();
    charted.sort_by_key(|m| m.rank);
    charted
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::{read_table, write_table};

    #[test]
    fn every_field_has_one_column() {
        let mut g = GaussianRow {
            theory: Some(GaussianTheory::default()),
            ..GaussianRow::default()
        };
        for (i, c) in GAUSSIAN_COLUMNS.iter().enumerate() {
            (c.set)(&mut g, i as f64);
        }
        for (i, c) in GAUSSIAN_COLUMNS.iter().enumerate() {
            assert_eq!((c.get)(&g), Some(i as f64), "{}", c.metric.column);
        }
        let json = serde_json::to_value(&g).unwrap();
        let fields =
            json.as_object().unwrap().len() - 1 + json["theory"].as_object().unwrap().len();
        assert_eq!(fields, GAUSSIAN_COLUMNS.len());
        let mut m = GmmRow::default();
        for (i, c) in GMM_COLUMNS.iter().enumerate() {
            (c.set)(&mut m, i as f64);
        }
        for (i, c) in GMM_COLUMNS.iter().enumerate() {
            assert_eq!((c.get)(&m), Some(i as f64), "{}", c.metric.column);
        }
        assert_eq!(
            serde_json::to_value(&m).unwrap().as_object().unwrap().len(),
            GMM_COLUMNS.len()
        );
    }

    #[test]
    fn rows_without_closed_forms_round_trip() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("metrics.csv");
        let rows = vec![
            GaussianRow {
                generation: 0,
                variance: 1.0,
                theory: Some(GaussianTheory {
                    variance: 1.0,
                    sigma_sq: 1.0,
                    w2_sq: 0.0,
                }),
                ..GaussianRow::default()
            },
            GaussianRow {
                generation: 1,
                mu_error: 0.125,
                ..GaussianRow::default()
            },
        ];
        write_table(&path, GAUSSIAN_COLUMNS, &rows).unwrap();
        assert_eq!(read_table(&path, GAUSSIAN_COLUMNS).unwrap(), rows);
    }
}
