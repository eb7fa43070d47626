//! The report pages of the paper's closed-form experiments: their charts,
//! tables and `index.html`, from the rows their run folders hold.

use std::path::Path;

use collapse_records::closed_form::charted;
use collapse_records::table::{Column, read_table};
use collapse_records::{
    Experiment, GAUSSIAN_COLUMNS, GMM_COLUMNS, GaussianRow, GaussianTheory, GmmRow, TheoryManifest,
};

use crate::error::ReportError;
use crate::html;
use crate::plots::{Axes, Scale, Series, palette, scaled_line_plot};

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

/// Writes a Gaussian run's plots and `index.html` into `run`;
/// returns the files written, relative to `run`.
fn write_gaussian_report(
    run: &Path,
    manifest: &TheoryManifest,
    rows: &[GaussianRow],
) -> Result<Vec<String>, ReportError> {
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
    Ok([plots, vec![html::INDEX.to_string()]].concat())
}

/// Writes a mixture run's plots and `index.html` into `run` (its
/// `metrics.csv` is written as it goes); `snapshots` are its sample
/// scatters, relative to `run`. Returns the files written.
fn write_gmm_report(
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
/// Returns the generations drawn and the files written.
pub(crate) fn redraw(
    run: &Path,
    experiment: Experiment,
) -> Result<(usize, Vec<String>), ReportError> {
    let manifest: TheoryManifest = collapse_records::read_manifest(run)?;
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
    Ok((generations, files))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shown_generations() {
        assert_eq!(shown(0), [0]);
        assert_eq!(shown(7), [0, 1, 2, 5, 7]);
        assert_eq!(shown(1000), [0, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000]);
    }
}
