//! Run folders read back for the page of several runs, whatever
//! experiment wrote them: the manifest fields they share, and the headline
//! metrics of their experiment per generation.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::contract::{DeviceRecord, Experiment};
use crate::error::ReportError;
use crate::profile::Profile;
use crate::table::{Metric, NamedRow, read_named};

/// The fields every experiment's `manifest.json` has.
#[derive(Deserialize)]
pub(crate) struct RunHeader {
    /// Tool name and version.
    pub tool: String,
    /// The seed.
    pub seed: u64,
    /// The resolved configuration.
    pub config: serde_json::Value,
    /// The experiment.
    pub experiment: Experiment,
    /// The device a chain ran on; the theory experiments run on the host.
    #[serde(default)]
    pub device: Option<DeviceRecord>,
}

impl RunHeader {
    /// What ran where, for a legend: the backend, or the experiment.
    pub fn runs_on(&self) -> &str {
        match &self.device {
            Some(d) => &d.backend,
            None => self.experiment.words(),
        }
    }
}

/// A finished or partial run folder, read for a page of several runs.
pub(crate) struct ReadRun {
    /// The folder.
    pub path: PathBuf,
    /// Its manifest.
    pub manifest: RunHeader,
    /// Its experiment's headline metrics, in report order.
    pub metrics: Vec<&'static Metric>,
    /// Their values, one row per generation.
    pub rows: Vec<NamedRow>,
    /// Its collapse profile, where it has one.
    pub profile: Option<Profile>,
}

impl ReadRun {
    /// Reads the run in `path`; a folder without `metrics.csv` is refused.
    pub fn read(path: &Path) -> Result<Self, ReportError> {
        let csv = path.join("metrics.csv");
        if !csv.is_file() {
            return Err(ReportError::NotARun {
                path: path.to_path_buf(),
            });
        }
        let manifest: RunHeader = collapse_records::read_manifest(path)?;
        let metrics = collapse_records::headline::headline(manifest.experiment);
        let names: Vec<&str> = metrics.iter().map(|m| m.column).collect();
        let profile = path.join("profile.json");
        let profile = match profile.is_file() {
            true => Some(collapse_records::read_json(&profile)?),
            false => None,
        };
        Ok(ReadRun {
            path: path.to_path_buf(),
            rows: read_named(&csv, &names)?,
            profile,
            manifest,
            metrics,
        })
    }

    /// The value of `column` in generation `generation`, if the run has both.
    pub fn value_at(&self, generation: usize, column: &str) -> Option<f64> {
        let i = self.metrics.iter().position(|m| m.column == column)?;
        self.rows
            .iter()
            .find(|r| r.generation == generation)
            .and_then(|r| r.values[i])
    }
}

/// Reads every run of `paths`, refusing fewer than `needed` for `operation`
/// and runs of different experiments.
pub(crate) fn read_runs(
    paths: &[&Path],
    needed: usize,
    operation: &'static str,
) -> Result<Vec<ReadRun>, ReportError> {
    if paths.len() < needed {
        return Err(ReportError::TooFewRuns {
            operation,
            needed,
            given: paths.len(),
        });
    }
    let runs: Vec<ReadRun> = paths
        .iter()
        .map(|p| ReadRun::read(p))
        .collect::<Result<_, _>>()?;
    if let Some(other) = runs
        .iter()
        .find(|r| r.manifest.experiment != runs[0].manifest.experiment)
    {
        return Err(ReportError::MixedExperiments {
            operation,
            first: runs[0].path.clone(),
            first_kind: runs[0].manifest.experiment.words(),
            other: other.path.clone(),
            other_kind: other.manifest.experiment.words(),
        });
    }
    Ok(runs)
}

/// Every generation that any of `runs` has, in order.
pub(crate) fn generations(runs: &[&ReadRun]) -> Vec<usize> {
    let all: BTreeSet<usize> = runs
        .iter()
        .flat_map(|r| r.rows.iter().map(|row| row.generation))
        .collect();
    all.into_iter().collect()
}

/// The headline metrics that at least one row of `runs` holds (a chain's
/// evaluation metrics only where some run was evaluated).
pub(crate) fn present_headline(runs: &[&ReadRun]) -> Vec<&'static Metric> {
    let Some(first) = runs.first() else {
        return Vec::new();
    };
    first
        .metrics
        .iter()
        .enumerate()
        .filter(|&(i, _)| {
            runs.iter()
                .flat_map(|r| &r.rows)
                .any(|row| row.values[i].is_some())
        })
        .map(|(_, m)| *m)
        .collect()
}
