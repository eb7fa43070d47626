//! The profile of a run folder from its files: the real test set's evidence
//! in `per-sample/` and each complete generation's in `gen-NNN/per-sample/`.

use std::path::{Path, PathBuf};

use burn::prelude::*;
use collapse_data::npy::NpyError;
use collapse_eval::prdc::K;
use collapse_eval::{Evidence, PER_SAMPLE};
use collapse_records::profile::{Profile, own_encoder};
use collapse_records::{
    EvalRecord, Manifest, RecordError, complete_generations, generation_dir, read_json,
    read_metrics_csv, write_json, write_metrics_csv,
};

use crate::Profiler;

/// A run folder whose profile cannot be computed.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    /// The folder holds no complete generation.
    #[error("{}: not a run folder with a complete generation", .0.display())]
    NotARun(PathBuf),
    /// The run was not scored by the evaluators (`--no-eval`).
    #[error("{}: the run was not evaluated (no reference.json); a profile needs the evaluators", .0.display())]
    NotEvaluated(PathBuf),
    /// A generation has no per-sample evidence.
    #[error("{}: no per-sample evidence (a run of an earlier build)", .0.display())]
    NoEvidence(PathBuf),
    /// A record could not be read or written.
    #[error(transparent)]
    Record(#[from] RecordError),
    /// An evidence array could not be read.
    #[error(transparent)]
    Npy(#[from] NpyError),
}

/// Writes `profile` into the run folder `dir`: `profile.json`, `profile.csv`,
/// and each profiled generation's intervals into `metrics.csv` and its
/// `metrics.json` (for a run profiled after it ran), each file atomically.
pub fn record_profile(dir: &Path, profile: &Profile) -> Result<(), ProfileError> {
    profile.write(dir)?;
    let csv = dir.join("metrics.csv");
    let mut rows = read_metrics_csv(&csv)?;
    for row in &mut rows {
        let profiled = profile
            .generations
            .iter()
            .find(|g| g.generation == row.generation);
        if let Some(g) = profiled {
            row.intervals = g.intervals();
            write_json(
                &generation_dir(dir, row.generation).join("metrics.json"),
                row,
            )?;
        }
    }
    write_metrics_csv(&csv, &rows)?;
    Ok(())
}

/// The profile of the complete generations of the run in `dir`, computed on
/// `device` with the run's seed.
pub fn profile_run(dir: &Path, device: &Device) -> Result<Profile, ProfileError> {
    let complete = complete_generations(dir);
    if complete == 0 {
        return Err(ProfileError::NotARun(dir.to_path_buf()));
    }
    let reference = dir.join("reference.json");
    if !reference.is_file() {
        return Err(ProfileError::NotEvaluated(dir.to_path_buf()));
    }
    let record: EvalRecord = read_json(&reference)?;
    let manifest: Manifest = collapse_records::migrate::read_manifest(dir)?;
    let evidence = |folder: PathBuf, samples: bool| match folder.is_dir() {
        true => Ok(Evidence::read(&folder, samples)?),
        false => Err(ProfileError::NoEvidence(folder)),
    };
    let real = evidence(dir.join(PER_SAMPLE), false)?;
    let classes = record.classes.counts.len();
    let own_encoder = own_encoder(&manifest.config);
    let mut profiler = Profiler::new(&real, classes, K, manifest.seed, own_encoder, device);
    for g in 0..complete {
        profiler.add(&evidence(generation_dir(dir, g).join(PER_SAMPLE), true)?);
    }
    Ok(profiler.profile())
}
