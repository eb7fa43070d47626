//! A chain's run as the report shows it: its manifest and the records of its
//! complete generations. The chain extends one in memory as each generation
//! completes; `collapse report` loads one from the folder, and a resume
//! starts from one.

use std::path::{Path, PathBuf};

use crate::columns::read_metrics_csv;
use crate::contract::{Manifest, MetricsRow, ProbeStats, generation_dir, read_json, read_optional};
use crate::error::RecordError;
use crate::evaluation::EvalRecord;

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
        }
    }

    /// The chain's run in `dir` as its `metrics.csv` has it (which holds
    /// non-finite values as they are), with each generation's probe and
    /// evaluation.
    pub fn load(dir: &Path) -> Result<Self, RecordError> {
        let rows = read_metrics_csv(&dir.join("metrics.csv"))?;
        RunView::with_rows(dir, rows)
    }

    /// The first `complete` generations of the chain's run in `dir`, each
    /// from its own folder (what a resume continues from).
    pub fn load_generations(dir: &Path, complete: usize) -> Result<Self, RecordError> {
        let rows = (0..complete)
            .map(|g| read_json(&generation_dir(dir, g).join("metrics.json")))
            .collect::<Result<Vec<MetricsRow>, _>>()?;
        RunView::with_rows(dir, rows)
    }

    /// The run in `dir` with `rows`, and the probe and evaluation of each.
    fn with_rows(dir: &Path, rows: Vec<MetricsRow>) -> Result<Self, RecordError> {
        let mut view = RunView::new(dir, crate::migrate::read_manifest(dir)?);
        view.reference = read_optional(&dir.join("reference.json"))?;
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
    /// The samples of fixed latents, row-major `[images, pixels]`.
    pub samples: Vec<f32>,
    /// Test images, then their reconstructions, row-major `[images, pixels]`.
    pub reconstructions: Vec<f32>,
}
