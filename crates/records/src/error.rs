//! The records crate's error: what failed, and on which file.

use std::path::PathBuf;

/// An error writing or reading a record of a run folder.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RecordError {
    /// Reading or writing the file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The file holds JSON that does not match the record.
    #[error("{}: {source}", path.display())]
    Json {
        /// The file.
        path: PathBuf,
        /// The error.
        source: serde_json::Error,
    },
    /// A CSV file is malformed.
    #[error("{}: line {line}: {message}", path.display())]
    Csv {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// A manifest of a format this build cannot read, or a record whose
    /// contents do not fit its run.
    #[error("{}: {message}", path.display())]
    Format {
        /// The manifest.
        path: PathBuf,
        /// Why, in one line.
        message: String,
    },
}

impl RecordError {
    /// Wraps an I/O error with its path.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        RecordError::Io {
            path: path.into(),
            source,
        }
    }
}
