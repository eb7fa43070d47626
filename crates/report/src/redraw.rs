//! A chain's report: its grids, plots, GIF and `index.html`, drawn from a
//! [`RunView`] of its records, the chain's in memory or one loaded from the
//! folder.

use std::path::Path;

use collapse_records::{Grids, Render, RenderError, RunView, Snapshots, read_manifest};

use crate::columns::{charted, summary_value, value};
use crate::contract::{Experiment, MetricsRow, ProbeStats, generation_dir};
use crate::error::ReportError;
use crate::evaluation::EvalRecord;
use crate::grid::{grid_image, read_png, save_gif, save_png};
use crate::html;
use crate::plots::{
    Axes, BACKGROUND_COLOR, REFERENCE_LABEL, Series, histogram_overlay, line_plot, metric_axes,
    palette, ramp, scatter, stacked_area,
};
use crate::profile::Profile;
use crate::runs::RunHeader;
use crate::stats::Histogram;

/// Pixel enlargement of saved grids.
const GRID_SCALE: u32 = 2;
/// Milliseconds each generation's grid shows in `samples.gif`.
const GIF_FRAME_MS: u32 = 700;
/// The feature-space metrics drawn together in `plots/distances.png`.
const DISTANCES: [&str; 4] = ["precision", "recall", "density", "coverage"];

/// What [`redraw_run`] wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct Redrawn {
    /// Complete generations drawn.
    pub generations: usize,
    /// Files written, relative to the run folder.
    pub files: Vec<String>,
}

/// Redraws `plots/*.png`, `samples.gif` and `index.html` of the run in `run`
/// from its records on disk: the manifest and the complete generations'
/// `metrics.json`, `probe.json`, `eval.json` and `samples.png`, with
/// `reference.json` where the run has evaluators.
///
/// A run of the theory experiments gets its own plots and page redrawn
/// from its `manifest.json` and `metrics.csv` instead.
pub fn redraw_run(run: &Path) -> Result<Redrawn, ReportError> {
    let experiment = read_manifest::<RunHeader>(run)?.experiment;
    if experiment != Experiment::Chain {
        let (generations, files) = crate::closed_form::redraw(run, experiment)?;
        return Ok(Redrawn { generations, files });
    }
    let view = RunView::load(run)?;
    let mut files = draw_plots(&view)?;
    files.push(draw_gif(&view)?);
    write_run_page(&view, &files)?;
    files.push(html::INDEX.to_string());
    Ok(Redrawn {
        generations: view.rows.len(),
        files,
    })
}

/// The chain's renderer: grids as each generation completes, the plots and
/// the page from the chain's records in memory, the GIF at the end.
#[derive(Debug, Default)]
pub struct Report;

impl Render for Report {
    fn grids(&mut self, dir: &Path, grids: &Grids) -> Result<(), RenderError> {
        let images = std::iter::once(("samples.png", &grids.samples)).chain(
            grids
                .reconstructions
                .iter()
                .map(|r| ("reconstructions.png", r)),
        );
        for (name, pixels) in images {
            let image = grid_image(pixels, grids.dims, grids.columns, GRID_SCALE);
            save_png(&dir.join(name), &image)?;
        }
        Ok(())
    }

    fn progress(&mut self, view: &RunView) -> Result<(), RenderError> {
        let files = draw_plots(view)?;
        write_run_page(view, &files)?;
        Ok(())
    }

    fn finish(&mut self, view: &RunView) -> Result<(), RenderError> {
        draw_gif(view)?;
        Ok(())
    }
}

impl Snapshots for Report {
    fn snapshot(
        &mut self,
        path: &Path,
        title: &str,
        groups: &[(String, Vec<(f64, f64)>)],
    ) -> Result<(), RenderError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| ReportError::io(dir, e))?;
        }
        let series: Vec<Series> = groups
            .iter()
            .enumerate()
            .map(|(i, (label, points))| {
                let color = match i {
                    0 => BACKGROUND_COLOR,
                    i => palette(i - 1),
                };
                Series::new(label.clone(), color, points.clone())
            })
            .collect();
        let axes = Axes {
            title,
            x_label: "x",
            y_label: "y",
        };
        scatter(path, &axes, &series)?;
        Ok(())
    }
}

/// Every plot of the run's records, as files relative to the run folder.
fn draw_plots(view: &RunView) -> Result<Vec<String>, ReportError> {
    let run = &view.dir;
    let plots = run.join("plots");
    std::fs::create_dir_all(&plots).map_err(|e| ReportError::io(&plots, e))?;
    let reference = view.reference.as_ref();
    let profile = view.profile.as_ref();
    let mut files = metric_plots(run, &view.rows, reference, profile)?;
    files.push(probe_histograms(run, &view.probes)?);
    files.extend(evaluation_plots(run, reference, &view.evals)?);
    files.extend(profile.map(|p| survival_plot(run, p)).transpose()?);
    Ok(files)
}

/// `samples.gif`: the complete generations' sample grids in turn.
fn draw_gif(view: &RunView) -> Result<String, ReportError> {
    let frames = view
        .rows
        .iter()
        .map(|r| read_png(&generation_dir(&view.dir, r.generation).join("samples.png")))
        .collect::<Result<Vec<_>, _>>()?;
    save_gif(&view.dir.join("samples.gif"), &frames, GIF_FRAME_MS)?;
    Ok("samples.gif".to_string())
}

/// Writes `index.html` of the run linking the plots among `files`.
fn write_run_page(view: &RunView, files: &[String]) -> Result<(), ReportError> {
    let run = &view.dir;
    let name = run
        .canonicalize()
        .map_err(|e| ReportError::io(run, e))?
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let plot_files: Vec<String> = files
        .iter()
        .filter(|f| f.starts_with("plots/"))
        .cloned()
        .collect();
    let page = html::run_page(
        &name,
        &view.manifest,
        &view.rows,
        &plot_files,
        view.reference.as_ref(),
        view.profile.as_ref(),
    );
    html::write(&run.join(html::INDEX), &page)
}

/// One line plot per metric that `rows` hold (evaluation metrics only for
/// evaluated runs), the real test set's value dashed and the profile's
/// interval as a band where it has one; the feature-space distances
/// together in one chart.
fn metric_plots(
    run: &Path,
    rows: &[MetricsRow],
    reference: Option<&EvalRecord>,
    profile: Option<&Profile>,
) -> Result<Vec<String>, ReportError> {
    let reference = reference.map(EvalRecord::summary);
    let line = |column: &str| -> Vec<(f64, f64)> {
        rows.iter()
            .filter_map(|r| Some((r.generation as f64, value(r, column)?)))
            .collect()
    };
    let band = |column: &str| -> Vec<(f64, f64, f64)> {
        let generations = profile.map_or(&[][..], |p| &p.generations[..]);
        generations
            .iter()
            .filter(|g| rows.iter().any(|r| r.generation == g.generation))
            .filter_map(|g| {
                let e = g.metrics.iter().find(|m| m.metric == column)?.estimate;
                (e.lo.is_finite() && e.hi.is_finite()).then_some((g.generation as f64, e.lo, e.hi))
            })
            .collect()
    };
    let banded = |label: &str, color, column: &str| Series {
        band: band(column),
        ..Series::new(label, color, line(column))
    };
    let mut files = Vec::new();
    for metric in charted().filter(|m| !DISTANCES.contains(&m.column)) {
        let points = line(metric.column);
        if points.is_empty() {
            continue;
        }
        let rel = format!("plots/{}.png", metric.column);
        let series = [Series {
            points,
            ..banded(metric.axis, ramp(0, 1), metric.column)
        }];
        let reference_value = reference
            .as_ref()
            .and_then(|s| summary_value(s, metric.column));
        line_plot(
            &run.join(&rel),
            &metric_axes(metric),
            &series,
            reference_value,
        )?;
        files.push(rel);
    }
    let series: Vec<Series> = DISTANCES
        .iter()
        .enumerate()
        .map(|(i, column)| banded(column, palette(i), column))
        .filter(|s| !s.points.is_empty())
        .collect();
    if !series.is_empty() {
        let rel = "plots/distances.png".to_string();
        let axes = Axes {
            title: "Samples against the real test set in the classifier's feature space",
            x_label: "generation",
            y_label: "share (density: mean count / k)",
        };
        line_plot(&run.join(&rel), &axes, &series, None)?;
        files.push(rel);
    }
    Ok(files)
}

/// `plots/survival.png`: per generation of the profile, the share of each
/// rarity band of the real test images (by their NELBO under generation 0,
/// commonest first) that its samples still reach.
fn survival_plot(run: &Path, profile: &Profile) -> Result<String, ReportError> {
    let n = profile.generations.len();
    let series: Vec<Series> = profile
        .generations
        .iter()
        .enumerate()
        .filter_map(|(i, g)| {
            let survival = g.survival.iter().find(|s| s.rarity == "nelbo0")?;
            let points = survival
                .bands
                .iter()
                .enumerate()
                .map(|(b, e)| (b as f64, e.value))
                .collect();
            Some(Series::new(
                format!("gen {}", g.generation),
                ramp(i, n),
                points,
            ))
        })
        .collect();
    let rel = "plots/survival.png".to_string();
    let axes = Axes {
        title: crate::survival::TITLE,
        x_label: "band of NELBO under generation 0 (0 commonest, 9 rarest)",
        y_label: crate::survival::AXIS,
    };
    line_plot(&run.join(&rel), &axes, &series, None)?;
    Ok(rel)
}

/// The probe histograms of all generations overlaid.
fn probe_histograms(run: &Path, probes: &[ProbeStats]) -> Result<String, ReportError> {
    let items: Vec<(String, &Histogram)> = probes
        .iter()
        .map(|p| (format!("gen {}", p.generation), &p.histogram))
        .collect();
    let rel = "plots/probe_histograms.png".to_string();
    let axes = Axes {
        title: "Probe μ (generation-0 encoder), all generations",
        x_label: "μ",
        y_label: "density",
    };
    histogram_overlay(&run.join(&rel), &axes, &items, None)?;
    Ok(rel)
}

/// The label of an evaluated generation in a legend.
fn generation_label(record: &EvalRecord) -> String {
    record
        .generation
        .map_or_else(|| record.label.clone(), |g| format!("gen {g}"))
}

/// The plots drawn from the evaluation records: histograms of the
/// generation-0 NELBO and of each style statistic, class frequencies, and the
/// PCA scatter. Nothing for a run without `eval.json` files.
fn evaluation_plots(
    run: &Path,
    reference: Option<&EvalRecord>,
    evals: &[EvalRecord],
) -> Result<Vec<String>, ReportError> {
    if evals.is_empty() {
        return Ok(Vec::new());
    }
    let mut files = Vec::new();
    let rel = "plots/nelbo0_histograms.png".to_string();
    let items: Vec<(String, &Histogram)> = evals
        .iter()
        .map(|e| (generation_label(e), &e.nelbo0.histogram))
        .collect();
    let axes = Axes {
        title: "Negative ELBO of the samples under the generation-0 VAE",
        x_label: "nats per image",
        y_label: "density",
    };
    histogram_overlay(
        &run.join(&rel),
        &axes,
        &items,
        reference.map(|r| &r.nelbo0.histogram),
    )?;
    files.push(rel);

    for style in &evals[0].style {
        let rel = format!("plots/style_{}.png", file_stem(&style.name));
        let items: Vec<(String, &Histogram)> = evals
            .iter()
            .filter_map(|e| {
                Some((
                    generation_label(e),
                    &e.style(&style.name)?.distribution.histogram,
                ))
            })
            .collect();
        let title = format!("Style: {} of the samples, all generations", style.name);
        let axes = Axes {
            title: &title,
            x_label: &style.unit,
            y_label: "density",
        };
        let real = reference
            .and_then(|r| r.style(&style.name))
            .map(|s| &s.distribution.histogram);
        histogram_overlay(&run.join(&rel), &axes, &items, real)?;
        files.push(rel);
    }

    files.push(class_frequencies(run, evals)?);
    files.push(pca_scatter(run, reference, evals)?);
    Ok(files)
}

/// `name` with every character but ASCII letters, digits, `-` and `_` replaced by `_`.
fn file_stem(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The predicted class frequencies stacked against generation.
fn class_frequencies(run: &Path, evals: &[EvalRecord]) -> Result<String, ReportError> {
    let classes = evals
        .iter()
        .map(|e| e.classes.frequencies.len())
        .max()
        .unwrap_or(0);
    let xs: Vec<f64> = evals
        .iter()
        .map(|e| e.generation.map_or(f64::NAN, |g| g as f64))
        .collect();
    let layers: Vec<(String, Vec<f64>)> = (0..classes)
        .map(|c| {
            let shares = evals
                .iter()
                .map(|e| e.classes.frequencies.get(c).copied().unwrap_or(f64::NAN))
                .collect();
            (format!("class {c}"), shares)
        })
        .collect();
    let rel = "plots/class_frequencies.png".to_string();
    let axes = Axes {
        title: "Predicted classes of the samples",
        x_label: "generation",
        y_label: "share of samples",
    };
    stacked_area(&run.join(&rel), &axes, &xs, &layers)?;
    Ok(rel)
}

/// The real test set's PCA points in grey and those of the first, middle and
/// last evaluated generation, ramp-coloured.
fn pca_scatter(
    run: &Path,
    reference: Option<&EvalRecord>,
    evals: &[EvalRecord],
) -> Result<String, ReportError> {
    let mut picked = vec![0, evals.len() / 2, evals.len() - 1];
    picked.dedup();
    let points = |pca: &[[f64; 2]]| pca.iter().map(|p| (p[0], p[1])).collect();
    let mut groups: Vec<Series> = reference
        .map(|r| Series::new(REFERENCE_LABEL, BACKGROUND_COLOR, points(&r.pca)))
        .into_iter()
        .collect();
    groups.extend(picked.into_iter().map(|i| {
        let e = &evals[i];
        Series::new(generation_label(e), ramp(i, evals.len()), points(&e.pca))
    }));
    let rel = "plots/pca.png".to_string();
    let axes = Axes {
        title: "Generation-0 encoder μ on the real test set's two principal axes",
        x_label: "principal axis 1",
        y_label: "principal axis 2",
    };
    scatter(&run.join(&rel), &axes, &groups)?;
    Ok(rel)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{eval_record, row, write_run};

    fn page(run: &Path) -> String {
        std::fs::read_to_string(run.join("index.html")).unwrap()
    }

    #[test]
    fn an_old_run_without_evaluation_redraws_and_writes_its_page() {
        let tmp = tempfile::tempdir().unwrap();
        let run = tmp.path().join("old");
        let rows = [row(0, 0.9, None), row(1, 0.7, None)];
        write_run(&run, &rows, serde_json::json!({}), false);
        let redrawn = redraw_run(&run).unwrap();
        assert_eq!(redrawn.generations, 2);
        assert_eq!(
            redrawn.files,
            [
                "plots/probe_mu_std.png",
                "plots/probe_tail_mass.png",
                "plots/test_nelbo.png",
                "plots/active_units.png",
                "plots/probe_histograms.png",
                "samples.gif",
                "index.html",
            ]
        );
        for f in &redrawn.files {
            assert!(run.join(f).is_file(), "{f}");
        }
        let html = page(&run);
        for needle in [
            "id=\"gen-slider\"",
            "id=\"gen-next\"",
            "src=\"gen-001/samples.png\"",
            "src=\"plots/probe_histograms.png\"",
            "<td>host CPU, 2 threads</td>",
            "--out 'a &lt;b&gt;'",
            "all 1 checksums match",
        ] {
            assert!(html.contains(needle), "{needle}\n{html}");
        }
        assert!(!html.contains("<b>"), "unescaped text");
    }

    #[test]
    fn an_evaluated_run_gets_every_evaluation_plot() {
        let tmp = tempfile::tempdir().unwrap();
        let run = tmp.path().join("new");
        let rows: Vec<MetricsRow> = (0..3)
            .map(|g| row(g, 0.9, Some(eval_record(Some(g)).summary())))
            .collect();
        write_run(&run, &rows, serde_json::json!({}), true);
        let files = redraw_run(&run).unwrap().files;
        for f in [
            "plots/class_entropy_norm.png",
            "plots/rarest_class_share.png",
            "plots/unconfident_share.png",
            "plots/fd.png",
            "plots/distances.png",
            "plots/nelbo0_median.png",
            "plots/ink_spread.png",
            "plots/thickness_spread.png",
            "plots/nelbo0_histograms.png",
            "plots/style_slant.png",
            "plots/class_frequencies.png",
            "plots/pca.png",
        ] {
            assert!(files.iter().any(|x| x == f), "{f} in {files:?}");
            assert!(run.join(f).is_file(), "{f}");
        }
        let html = page(&run);
        assert!(html.contains("src=\"plots/pca.png\""));
        assert!(html.contains("test accuracy 99.00 %"));
    }

    #[test]
    fn non_finite_values_do_not_break_the_plots() {
        let tmp = tempfile::tempdir().unwrap();
        let run = tmp.path().join("nan");
        let mut summary = eval_record(Some(1)).summary();
        summary.fd = f64::NAN;
        summary.recall = f64::INFINITY;
        let rows = [row(0, f64::NAN, None), row(1, 0.5, Some(summary))];
        write_run(&run, &rows, serde_json::json!({}), false);
        let files = redraw_run(&run).unwrap().files;
        assert!(files.iter().any(|f| f == "plots/fd.png"));
    }

    #[test]
    fn file_stems_keep_only_safe_characters() {
        assert_eq!(file_stem("ink"), "ink");
        assert_eq!(file_stem("../a b"), "___a_b");
    }
}
