//! A theory run's folder: made empty for a new run, its manifest begun and
//! finished.

use std::path::Path;

use collapse_records::{Experiment, RunFolder, TheoryManifest, time::now_rfc3339};

use crate::error::TheoryError;

/// What the caller says about the run: the tool and the command line, for the manifest.
#[derive(Clone, Debug)]
pub struct RunInfo {
    /// Tool name and version (`collapse 0.1.0`).
    pub tool: String,
    /// The command line as given.
    pub command_line: Vec<String>,
}

impl RunInfo {
    /// The manifest of a run of `experiment` with `config` and `seed`, started now.
    pub(crate) fn manifest(
        &self,
        experiment: Experiment,
        config: serde_json::Value,
        seed: u64,
    ) -> TheoryManifest {
        TheoryManifest {
            format_version: collapse_records::FORMAT_VERSION,
            tool: self.tool.clone(),
            experiment,
            started: now_rfc3339(),
            finished: None,
            command_line: self.command_line.clone(),
            config,
            seed,
            seconds: 0.0,
            resumed: Vec::new(),
        }
    }
}

/// Makes `out` an empty folder for a new run and takes its lock: created if
/// missing; one that holds files is refused unless `force`, which empties it
/// (never while another process writes it).
pub(crate) fn fresh_folder(out: &Path, force: bool) -> Result<RunFolder, TheoryError> {
    let io = |e| TheoryError::Record(collapse_records::RecordError::io(out, e));
    if let Some(holder) = collapse_records::lock::holder(out) {
        return Err(TheoryError::Folder {
            folder: out.to_path_buf(),
            reason: format!("is in use by {holder}"),
        });
    }
    if out.is_file() {
        return Err(TheoryError::Folder {
            folder: out.to_path_buf(),
            reason: "is a file, not a folder".into(),
        });
    }
    if out.is_dir() && std::fs::read_dir(out).map_err(io)?.next().is_some() {
        if !force {
            return Err(TheoryError::Folder {
                folder: out.to_path_buf(),
                reason: "already holds files".into(),
            });
        }
        std::fs::remove_dir_all(out).map_err(io)?;
    }
    Ok(RunFolder::create(out)?)
}
