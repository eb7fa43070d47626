//! Redrawing every plot and the GIF of a run folder from the files on disk.

use std::path::Path;

use crate::contract::{ProbeStats, generation_dir, read_json, read_metrics_csv};
use crate::error::ReportError;
use crate::grid::{read_png, save_gif};
use crate::plots::{Series, histogram_overlay, line_plot};

/// Milliseconds each generation's grid shows in `samples.gif`.
const GIF_FRAME_MS: u32 = 700;

/// What [`redraw_run`] wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct Redrawn {
    /// Generations found in `metrics.csv`.
    pub generations: usize,
    /// Files written, relative to the run folder.
    pub files: Vec<String>,
}

/// Redraws `plots/*.png` and `samples.gif` of the run in `run` from its
/// `metrics.csv`, `gen-NNN/probe.json` and `gen-NNN/samples.png`.
pub fn redraw_run(run: &Path) -> Result<Redrawn, ReportError> {
    let rows = read_metrics_csv(&run.join("metrics.csv"))?;
    let plots = run.join("plots");
    std::fs::create_dir_all(&plots).map_err(|e| ReportError::io(&plots, e))?;
    let mut files = Vec::new();
    let mut line = |name: &str, title: &str, y: &str, f: fn(&crate::MetricsRow) -> f64| {
        let series = [Series {
            label: y,
            points: rows.iter().map(|r| (r.generation as f64, f(r))).collect(),
        }];
        let rel = format!("plots/{name}.png");
        line_plot(&run.join(&rel), title, "generation", y, &series)?;
        files.push(rel);
        Ok::<(), ReportError>(())
    };
    line(
        "probe_mu_std",
        "Spread of the generation-0 encoder's μ on each generation's samples",
        "probe μ std",
        |r| r.probe_mu_std,
    )?;
    line(
        "probe_tail_mass",
        "Tail mass |μ| > 2 of the probe",
        "fraction of |μ| > 2",
        |r| r.probe_tail_mass,
    )?;
    line(
        "test_nelbo",
        "Negative ELBO on the real test set",
        "nats per image",
        |r| r.test_nelbo,
    )?;
    line(
        "active_units",
        "Active latent units on the real test set",
        "active units",
        |r| r.active_units as f64,
    )?;
    let probes = rows
        .iter()
        .map(|r| read_json::<ProbeStats>(&generation_dir(run, r.generation).join("probe.json")))
        .collect::<Result<Vec<_>, _>>()?;
    let items: Vec<(String, &crate::Histogram)> = probes
        .iter()
        .map(|p| (format!("gen {}", p.generation), &p.histogram))
        .collect();
    let rel = "plots/probe_histograms.png".to_string();
    histogram_overlay(
        &run.join(&rel),
        "Probe μ (generation-0 encoder), all generations",
        "μ",
        &items,
    )?;
    files.push(rel);
    let frames = rows
        .iter()
        .map(|r| read_png(&generation_dir(run, r.generation).join("samples.png")))
        .collect::<Result<Vec<_>, _>>()?;
    save_gif(&run.join("samples.gif"), &frames, GIF_FRAME_MS)?;
    files.push("samples.gif".to_string());
    Ok(Redrawn {
        generations: rows.len(),
        files,
    })
}
