//! The run folders of the paper's closed-form experiments: a Gaussian and a
//! Gaussian mixture refitted to their own samples. Their per-generation
//! records and column tables (written and read by the same CSV writer and
//! reader as a chain's `metrics.csv`, compared and aggregated by the same
//! `compare` and seed aggregate), their manifest, and their report pages.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::contract::{Experiment, read_json};
use crate::error::ReportError;
use crate::html;
use crate::plots::{Axes, Scale, Series, palette, scaled_line_plot};
use crate::redraw::Redrawn;
use crate::table::{Cell, Column, Format, Metric, read_table, uncharted, write_table};

/// `manifest.json` of a theory run: what ran and how long it took.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TheoryManifest {
    /// Tool name and version (`collapse 0.1.0`).
    pub tool: String,
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
    #[serde(default)]
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
            optional: false,
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
            optional: true,
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
            optional: false,
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
pub(crate) fn charted<R>(columns: &'static [Column<R>]) -> Vec<&'static Metric> {
    let mut charted: Vec<&'static Metric> = columns
        .iter()
        .map(|c| &c.metric)
        .filter(|m| m.charted())
        .collect();
    charted.sort_by_key(|m| m.rank);
    charted
}

/// Generations shown in a report's table: powers of ten and their halves and
/// doubles up to the last, and the last.
fn shown(last: usize) -> Vec<usize> {
    let mut shown: Vec<usize> = std::iter::successors(Some(1usize), |g| g.checked_mul(10))
        .take_while(|&g| g <= last)
        .flat_map(|g| [g, 2 * g, 5 * g])
        .filter(|&g| g <= last)
        .collect();
    shown.insert(0, 0);
    shown.push(last);
    shown.dedup();
    shown
}

/// The points `(generation, value)` of `rows`.
fn points<R>(
    rows: &[R],
    generation: fn(&R) -> usize,
    value: impl Fn(&R) -> Option<f64>,
) -> Vec<(f64, f64)> {
    rows.iter()
        .filter_map(|r| Some((generation(r) as f64, value(r)?)))
        .collect()
}

/// A measured series with a band: `value` gives each row's (line, low, high).
fn banded(
    label: &str,
    color: usize,
    rows: &[GaussianRow],
    value: fn(&GaussianRow) -> (f64, f64, f64),
) -> Series {
    let mut s = measured(label, color, rows, |r| value(r).0);
    s.band = rows
        .iter()
        .map(|r| {
            let (_, low, high) = value(r);
            (r.generation as f64, low, high)
        })
        .collect();
    s
}

/// A measured series of the Gaussian experiment.
fn measured(
    label: &str,
    color: usize,
    rows: &[GaussianRow],
    value: impl Fn(&GaussianRow) -> f64,
) -> Series {
    Series::new(
        label,
        palette(color),
        points(rows, |r| r.generation, |r| Some(value(r))),
    )
}

/// A closed form as a dashed series.
fn closed_form(label: &str, rows: &[GaussianRow], value: fn(&GaussianTheory) -> f64) -> Series {
    let points = points(rows, |r| r.generation, |r| r.theory.as_ref().map(value));
    Series::new(label, palette(7), points).dashed()
}

/// One chart of a report: file stem, axes, scale, series.
struct Chart<'a> {
    stem: &'static str,
    axes: Axes<'a>,
    scale: Scale,
    series: Vec<Series>,
}

const LOG_X: Scale = Scale {
    log_x: true,
    log_y: false,
};
const LOG_XY: Scale = Scale {
    log_x: true,
    log_y: true,
};
const LOG_Y: Scale = Scale {
    log_x: false,
    log_y: true,
};

/// Draws `charts` into `run/plots/`, returning their paths relative to `run`.
fn draw(run: &Path, charts: &[Chart<'_>]) -> Result<Vec<String>, ReportError> {
    let plots = run.join("plots");
    std::fs::create_dir_all(&plots).map_err(|e| ReportError::io(&plots, e))?;
    charts
        .iter()
        .filter(|c| c.series.iter().any(|s| !s.points.is_empty()))
        .map(|c| {
            let rel = format!("plots/{}.png", c.stem);
            scaled_line_plot(&run.join(&rel), &c.axes, c.scale, &c.series)?;
            Ok(rel)
        })
        .collect()
}

/// A chart of `stem`.png against generation.
fn chart(
    stem: &'static str,
    title: &'static str,
    y_label: &'static str,
    scale: Scale,
    series: Vec<Series>,
) -> Chart<'static> {
    let axes = Axes {
        title,
        x_label: "generation",
        y_label,
    };
    Chart {
        stem,
        axes,
        scale,
        series,
    }
}

/// A row's measured variance and its ±2 standard errors.
fn variance_band(r: &GaussianRow) -> (f64, f64, f64) {
    (
        r.variance,
        r.variance - 2.0 * r.variance_se,
        r.variance + 2.0 * r.variance_se,
    )
}

/// The Gaussian experiment's charts: errors with their 5–95 % bands, and the
/// measured variance, σ_n² and W2² beside their closed forms (dashed).
fn gaussian_charts(rows: &[GaussianRow]) -> Vec<Chart<'static>> {
    let band = "mean over trials (band: 5–95 %)";
    let variance_title = "Var(X^n): measured (band: ±2 standard errors) and σ²(1 + n/M)";
    vec![
        chart(
            "mu_error",
            "Mean error |μ − μ_n|",
            "|μ − μ_n|",
            LOG_X,
            vec![banded(band, 0, rows, |r| {
                (r.mu_error, r.mu_error_p05, r.mu_error_p95)
            })],
        ),
        chart(
            "sigma_error",
            "Std error |σ − σ_n|",
            "|σ − σ_n|",
            LOG_X,
            vec![banded(band, 1, rows, |r| {
                (r.sigma_error, r.sigma_error_p05, r.sigma_error_p95)
            })],
        ),
        chart(
            "variance",
            variance_title,
            "Var(X^n)",
            LOG_X,
            vec![
                banded("measured", 0, rows, variance_band),
                closed_form("closed form", rows, |t| t.variance),
            ],
        ),
        chart(
            "sigma_sq",
            "σ_n²: its mean stays, its median falls to 0",
            "σ_n²",
            LOG_XY,
            vec![
                measured("mean of σ_n²", 0, rows, |r| r.sigma_sq),
                measured("median of σ_n, squared", 3, rows, |r| {
                    r.sigma_p50 * r.sigma_p50
                }),
                closed_form("E[σ_n²]", rows, |t| t.sigma_sq),
            ],
        ),
        chart(
            "w2_sq",
            "Squared Wasserstein-2 distance to the original",
            "W2²",
            LOG_XY,
            vec![
                measured("mean over trials", 0, rows, |r| r.w2_sq),
                closed_form("E[W2²]", rows, |t| t.w2_sq),
            ],
        ),
    ]
}

/// The Gaussian-mixture experiment's charts.
fn gmm_charts(rows: &[GmmRow]) -> Vec<Chart<'static>> {
    let series = |label: &str, color, value: fn(&GmmRow) -> f64| {
        Series::new(
            label,
            palette(color),
            points(rows, |r| r.generation, |r| Some(value(r))),
        )
    };
    vec![
        chart(
            "std",
            "Component std √(trace Σ_k / 2)",
            "std",
            LOG_X,
            vec![
                series("component 0", 0, |r| r.std_0),
                series("component 1", 1, |r| r.std_1),
            ],
        ),
        chart(
            "l2_sq",
            "Squared L2 distance to generation 0's mixture",
            "∫ (p_0 − p_t)²",
            LOG_Y,
            vec![series("L2²", 0, |r| r.l2_sq)],
        ),
        chart(
            "loglik_real",
            "Mean log-likelihood of the original samples",
            "nats per point",
            LOG_X,
            vec![series("original samples", 0, |r| r.loglik_real)],
        ),
        chart(
            "means",
            "Component means",
            "coordinate",
            LOG_X,
            vec![
                series("component 0, x", 0, |r| r.mean_0_x),
                series("component 0, y", 2, |r| r.mean_0_y),
                series("component 1, x", 1, |r| r.mean_1_x),
                series("component 1, y", 3, |r| r.mean_1_y),
            ],
        ),
    ]
}

/// The page of a theory run: what ran, the data, plots, snapshots, and the
/// shown generations' values of every charted column.
fn page<R>(
    manifest: &TheoryManifest,
    columns: &'static [Column<R>],
    rows: &[R],
    generation: fn(&R) -> usize,
    plots: &[String],
    snapshots: &[String],
) -> String {
    let metrics = charted(columns);
    let last = rows.last().map_or(0, generation);
    let mut header = vec!["generation".to_string()];
    header.extend(metrics.iter().map(|m| m.column.to_string()));
    let table: Vec<Vec<String>> = shown(last)
        .into_iter()
        .filter_map(|g| rows.iter().find(|r| generation(r) == g))
        .map(|r| {
            let mut row = vec![generation(r).to_string()];
            for m in &metrics {
                let column = columns.iter().find(|c| c.metric.column == m.column);
                row.push(html::number(column.and_then(|c| (c.get)(r))));
            }
            row
        })
        .collect();
    let config = serde_json::to_string_pretty(&manifest.config).unwrap_or_default();
    let body = maud::html! {
        p {
            (manifest.tool) ", seed " (manifest.seed) ", " (rows.len()) " generations, "
            (format!("{:.1}", manifest.seconds)) " s"
            @if manifest.finished.is_none() { " (not finished)" }
        }
        p { "Data: " a href="metrics.csv" { "metrics.csv" } ", " a href="manifest.json" { "manifest.json" } }
        h2 { "Plots" }
        (html::plots(plots))
        @if !snapshots.is_empty() {
            h2 { "Samples" }
            (html::plots(snapshots))
        }
        h2 { "Values" }
        div class="scroll" { (html::table(&header, &table)) }
        h2 { "Configuration" }
        pre { (config) }
    };
    let title = match manifest.experiment {
        Experiment::Gaussian => "model collapse: a Gaussian refitted to its own samples",
        _ => "model collapse: a Gaussian mixture refitted to its own samples",
    };
    html::page(title, body)
}

/// Writes a Gaussian run's `metrics.csv`, plots and `index.html` into `run`;
/// returns the files written, relative to `run`.
pub fn write_gaussian_report(
    run: &Path,
    manifest: &TheoryManifest,
    rows: &[GaussianRow],
) -> Result<Vec<String>, ReportError> {
    write_table(&run.join("metrics.csv"), GAUSSIAN_COLUMNS, rows)?;
    let plots = draw(run, &gaussian_charts(rows))?;
    let page = page(
        manifest,
        GAUSSIAN_COLUMNS,
        rows,
        |r| r.generation,
        &plots,
        &[],
    );
    html::write(&run.join(html::INDEX), &page)?;
    Ok([
        vec!["metrics.csv".to_string()],
        plots,
        vec![html::INDEX.to_string()],
    ]
    .concat())
}

/// Writes a mixture run's plots and `index.html` into `run` (its
/// `metrics.csv` is written as it goes); `snapshots` are its sample
/// scatters, relative to `run`. Returns the files written.
pub fn write_gmm_report(
    run: &Path,
    manifest: &TheoryManifest,
    rows: &[GmmRow],
    snapshots: &[String],
) -> Result<Vec<String>, ReportError> {
    let plots = draw(run, &gmm_charts(rows))?;
    let page = page(
        manifest,
        GMM_COLUMNS,
        rows,
        |r| r.generation,
        &plots,
        snapshots,
    );
    html::write(&run.join(html::INDEX), &page)?;
    Ok([plots, vec![html::INDEX.to_string()]].concat())
}

/// Redraws the plots and page of the theory run in `run` from its
/// `manifest.json` and `metrics.csv` (and the mixture's `snapshots/`).
pub(crate) fn redraw(run: &Path, experiment: Experiment) -> Result<Redrawn, ReportError> {
    let manifest: TheoryManifest = read_json(&run.join("manifest.json"))?;
    let csv = run.join("metrics.csv");
    let (generations, files) = match experiment {
        Experiment::Gmm => {
            let rows = read_table(&csv, GMM_COLUMNS)?;
            let dir = run.join("snapshots");
            let mut snapshots: Vec<String> = match std::fs::read_dir(&dir) {
                Ok(entries) => entries
                    .filter_map(|e| e.ok()?.file_name().into_string().ok())
                    .filter(|name| name.ends_with(".png"))
                    .map(|name| format!("snapshots/{name}"))
                    .collect(),
                Err(_) => Vec::new(),
            };
            snapshots.sort();
            (
                rows.len(),
                write_gmm_report(run, &manifest, &rows, &snapshots)?,
            )
        }
        _ => {
            let rows = read_table(&csv, GAUSSIAN_COLUMNS)?;
            (rows.len(), write_gaussian_report(run, &manifest, &rows)?)
        }
    };
    Ok(Redrawn { generations, files })
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn shown_generations() {
        assert_eq!(shown(0), [0]);
        assert_eq!(shown(7), [0, 1, 2, 5, 7]);
        assert_eq!(shown(1000), [0, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000]);
    }
}
