//! Run folders read back for comparison and seed aggregation: their
//! manifest and metrics, and the generations and headline metrics they hold.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::columns::read_metrics_csv;
use crate::columns::{headline, value};
use crate::contract::{Manifest, MetricsRow, read_json};
use crate::error::ReportError;
use crate::table::Metric;

/// A finished or partial run folder.
pub(crate) struct RunFolder {
    /// The folder.
    pub path: PathBuf,
    /// Its manifest.
    pub manifest: Manifest,
    /// Its metrics, one row per generation.
    pub rows: Vec<MetricsRow>,
}

impl RunFolder {
    /// Reads the run in `path`; a folder without `metrics.csv` is refused.
    pub fn read(path: &Path) -> Result<Self, ReportError> {
        let csv = path.join("metrics.csv");
        if !csv.is_file() {
            return Err(ReportError::NotARun {
                path: path.to_path_buf(),
            });
        }
        Ok(RunFolder {
            path: path.to_path_buf(),
            manifest: read_json(&path.join("manifest.json"))?,
            rows: read_metrics_csv(&csv)?,
        })
    }

    /// The value of `column` in generation `generation`, if the run has both.
    pub fn value_at(&self, generation: usize, column: &str) -> Option<f64> {
        self.rows
            .iter()
            .find(|r| r.generation == generation)
            .and_then(|r| value(r, column))
    }
}

/// Reads every run of `paths`, refusing fewer than `needed` for `operation`.
pub(crate) fn read_runs(
    paths: &[&Path],
    needed: usize,
    operation: &'static str,
) -> Result<Vec<RunFolder>, ReportError> {
    if paths.len() < needed {
        return Err(ReportError::TooFewRuns {
            operation,
            needed,
            given: paths.len(),
        });
    }
    paths.iter().map(|p| RunFolder::read(p)).collect()
}

/// Every generation that any of `runs` has, in order.
pub(crate) fn generations(runs: &[RunFolder]) -> Vec<usize> {
    let all: BTreeSet<usize> = runs
        .iter()
        .flat_map(|r| r.rows.iter().map(|row| row.generation))
        .collect();
    all.into_iter().collect()
}

/// The headline metrics that at least one row of `runs` holds (the
/// evaluation metrics only where some run was evaluated).
pub(crate) fn present_headline(runs: &[RunFolder]) -> Vec<&'static Metric> {
    headline()
        .filter(|m| {
            runs.iter()
                .flat_map(|r| &r.rows)
                .any(|row| value(row, m.column).is_some())
        })
        .collect()
}
