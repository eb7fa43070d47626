//! A study's errors, in the study's words: the spec file and the key at fault,
//! the run, the scheduler's own answer.

use std::path::PathBuf;

/// A study that cannot be planned, run or read.
#[derive(Debug, thiserror::Error)]
pub enum StudyError {
    /// The spec file is unreadable, not TOML, or has a bad key or value.
    #[error("{}: {key}{reason}", file.display(), key = key_prefix(key))]
    Spec {
        /// The spec file.
        file: PathBuf,
        /// The key at fault (`axes.mode`, `base.epochs`), empty for the whole file.
        key: String,
        /// Why.
        reason: String,
    },
    /// A run's settings are refused (`origin` names the spec and the run).
    #[error("{origin}: {message}")]
    Run {
        /// The spec file and the run.
        origin: String,
        /// The key and why.
        message: String,
    },
    /// Two conditions of the spec map to one run folder.
    #[error("{}: conditions {first} and {second} both map to the run folder {name}", file.display())]
    SameFolder {
        /// The spec file.
        file: PathBuf,
        /// The folder name.
        name: String,
        /// The first condition, in words.
        first: String,
        /// The second condition, in words.
        second: String,
    },
    /// The study folder holds another study, or is not a study folder.
    #[error("{}: {reason}", dir.display())]
    Folder {
        /// The study folder.
        dir: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A file of the study folder could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The study folder cannot be held for writing (another process runs the
    /// study, or the folder cannot be made).
    #[error(transparent)]
    Held(#[from] collapse_records::FolderError),
    /// A study record could not be read or written.
    #[error(transparent)]
    Record(#[from] collapse_records::RecordError),
    /// A Slurm command is missing, or refused what it was given.
    #[error("{command}: {reason}")]
    Slurm {
        /// The command (`sbatch`, `squeue`).
        command: &'static str,
        /// Its error line, or why it could not run.
        reason: String,
    },
}

fn key_prefix(key: &str) -> String {
    if key.is_empty() {
        String::new()
    } else {
        format!("{key}: ")
    }
}

impl StudyError {
    /// `key` of the spec `file` refused for `reason`.
    pub fn spec(file: &std::path::Path, key: impl Into<String>, reason: impl Into<String>) -> Self {
        StudyError::Spec {
            file: file.to_path_buf(),
            key: key.into(),
            reason: reason.into(),
        }
    }

    /// An I/O error on `path`.
    pub fn io(path: &std::path::Path, source: std::io::Error) -> Self {
        StudyError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}
