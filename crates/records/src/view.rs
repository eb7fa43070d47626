//! A chain's run as the report shows it: its manifest and the records of its
//! complete generations. The chain extends one in memory as each generation
//! completes; `collapse report` loads one from the folder, and a resume
//! starts from one.

use std::path::{Path, PathBuf};

use crate::columns::read_metrics_csv;
use crate::contract::{Manifest, MetricsRow, ProbeStats, generation_dir, read_json, read_optional};
use crate::error::RecordError;
use crate::evaluation::EvalRecord;
use crate::profile::Profile;

/// Name of the marker written last into a generation's folder.
pub const COMPLETE: &str = "COMPLETE";

/// The records of a chain's run that its report draws.
#[derive(Clone, Debug, PartialEq)]
pub struct RunView {
    /// The run folder.
    pub dir: PathBuf,
    /// Its manifest.
    pub manifest: Manifest,
    /// One row per complete generation, in order.
    pub rows: Vec<MetricsRow>,
    /// The probe of each complete generation, in order.
    pub probes: Vec<ProbeStats>,
    /// The evaluators' record of each complete generation, in order (none
    /// for a run without evaluators).
    pub evals: Vec<EvalRecord>,
    /// The evaluators' record of the real test set.
    pub reference: Option<EvalRecord>,
    /// The collapse profile, where the run has one.
    pub profile: Option<Profile>,
}

impl RunView {
    /// A run in `dir` with no complete generation yet.
    pub fn new(dir: &Path, manifest: Manifest) -> Self {
        RunView {
            dir: dir.to_path_buf(),
            manifest,
            rows: Vec::new(),
            probes: Vec::new(),
            evals: Vec::new(),
            reference: None,
            profile: None,
        }
    }

    /// The chain's run in `dir` as its `metrics.csv` has it (which holds
    /// non-finite values as they are), with each generation's probe and
    /// evaluation.
    pub fn load(dir: &Path) -> Result<Self, RecordError> {
        let rows = read_metrics_csv(&dir.join("metrics.csv"))?;
        RunView::with_rows(dir, rows)
    }

    /// The first `complete` generations of the chain's run in `dir` (what a
    /// resume continues from): their rows as `metrics.csv` has them, which
    /// keeps non-finite values (JSON has none), and from a generation's own
    /// `metrics.json` any row the CSV lacks (a chain stopped between the two
    /// writes).
    pub fn load_generations(dir: &Path, complete: usize) -> Result<Self, RecordError> {
        let csv = dir.join("metrics.csv");
        let mut rows = match csv.is_file() {
            true => read_metrics_csv(&csv)?,
            false => Vec::new(),
        };
        rows.truncate(complete);
        for g in rows.len()..complete {
            rows.push(read_json(&generation_dir(dir, g).join("metrics.json"))?);
        }
        RunView::with_rows(dir, rows)
    }

    /// The run in `dir` with `rows`, and the probe and evaluation of each.
    fn with_rows(dir: &Path, rows: Vec<MetricsRow>) -> Result<Self, RecordError> {
        let mut view = RunView::new(dir, crate::migrate::read_manifest(dir)?);
        view.reference = read_optional(&dir.join("reference.json"))?;
        view.profile = read_optional(&dir.join("profile.json"))?;
        for row in rows {
            let gen_dir = generation_dir(dir, row.generation);
            let probe = read_json(&gen_dir.join("probe.json"))?;
            let eval = read_optional(&gen_dir.join("eval.json"))?;
            view.push(row, probe, eval);
        }
        Ok(view)
    }

    /// Adds a complete generation's records.
    pub fn push(&mut self, row: MetricsRow, probe: ProbeStats, eval: Option<EvalRecord>) {
        self.rows.push(row);
        self.probes.push(probe);
        self.evals.extend(eval);
    }
}

/// How many generations of the run in `dir` are complete, from generation 0 on.
pub fn complete_generations(dir: &Path) -> usize {
    (0..)
        .take_while(|&g| generation_dir(dir, g).join(COMPLETE).is_file())
        .count()
}

/// Draws a chain's report as the chain goes: the grids of each generation
/// into its folder, the plots and the page after each, and what only a
/// finished run shows at its end. The chain calls it; the report crate
/// implements it.
pub trait Render {
    /// Writes the sample grid and the reconstructions of a generation into
    /// its folder `dir`.
    fn grids(&mut self, dir: &Path, grids: &Grids) -> Result<(), RenderError>;

    /// Brings the run's plots and page up to date with `view`.
    fn progress(&mut self, view: &RunView) -> Result<(), RenderError>;

    /// Draws what a finished run shows besides (the samples' GIF).
    fn finish(&mut self, view: &RunView) -> Result<(), RenderError>;
}

/// Draws the scatter snapshots a closed-form experiment takes as it goes.
pub trait Snapshots {
    /// Draws the point groups `groups` (each a label and its `(x, y)`
    /// points; the first one is the background the others stand out from)
    /// into the PNG file `path`, under `title`.
    fn snapshot(
        &mut self,
        path: &Path,
        title: &str,
        groups: &[(String, Vec<(f64, f64)>)],
    ) -> Result<(), RenderError>;
}

/// Why drawing failed, in the renderer's words.
pub type RenderError = Box<dyn std::error::Error + Send + Sync>;

/// A generation's image grids, as grey values in `[0, 1]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Grids {
    /// Height and width of one image.
    pub dims: [usize; 2],
    /// Images per row.
    pub columns: usize,
    /// The samples, row-major `[images, pixels]`: of fixed latents for a
    /// VAE, the first probe samples for a model without an encoder.
    pub samples: Vec<f32>,
    /// Test images, then their reconstructions, row-major `[images, pixels]`;
    /// none for a model without an encoder.
    pub reconstructions: Option<Vec<f32>>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::{MetricsRow, write_json};
    use crate::stats::{histogram, quantiles};

    fn probe(g: usize) -> ProbeStats {
        let mu = [-1.0, 0.0, 1.0];
        ProbeStats {
            generation: g,
            samples: 3,
            mu_mean: 0.0,
            mu_std: 1.0,
            per_dim_std: vec![1.0],
            quantiles: quantiles(&mu, &[0.5]),
            histogram: histogram(&mu, -2.0, 2.0, 4),
            tail_mass: 0.0,
        }
    }

    /// A resume reads a non-finite metric back from `metrics.csv` (its
    /// `metrics.json` holds `null`), and a row the CSV lacks from the
    /// generation's own file.
    #[test]
    fn a_resume_gets_non_finite_rows_from_the_csv_and_missing_ones_from_their_generation() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let manifest = serde_json::json!({
            "format_version": 1, "experiment": "chain", "tool": "collapse", "started": "",
            "finished": null, "command_line": [], "config": {}, "seed": 0,
            "device": { "backend": "flex", "adapter": "", "kind": "cpu", "runtime": "flex",
                        "precision": "f32", "kernels": [] },
            "parameters": 1, "dataset": { "name": "mnist", "dir": "d", "files": [] },
            "generations": [], "resumed": [], "retries": []
        });
        write_json(&dir.join("manifest.json"), &manifest).unwrap();
        let row = |g: usize, loss: f64| MetricsRow {
            generation: g,
            train_loss: Some(loss),
            ..MetricsRow::default()
        };
        let rows = [row(0, f64::NAN), row(1, 2.0), row(2, 3.0)];
        for r in &rows {
            let gen_dir = generation_dir(dir, r.generation);
            std::fs::create_dir_all(&gen_dir).unwrap();
            write_json(&gen_dir.join("metrics.json"), r).unwrap();
            write_json(&gen_dir.join("probe.json"), &probe(r.generation)).unwrap();
        }
        crate::columns::write_metrics_csv(&dir.join("metrics.csv"), &rows[..2]).unwrap();
        let view = RunView::load_generations(dir, 3).unwrap();
        assert!(
            view.rows[0].train_loss.is_some_and(f64::is_nan),
            "from the CSV"
        );
        assert_eq!(view.rows[2].train_loss, Some(3.0), "from its metrics.json");
        assert_eq!(view.probes.len(), 3);
    }
}
