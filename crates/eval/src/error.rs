//! Errors of the evaluators, each naming the file at fault.

use std::path::{Path, PathBuf};

/// The classifier cache could not be read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EvalError {
    /// A file operation failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The cache folder cannot be created next to the dataset.
    #[error("{}: cannot store the evaluator next to the dataset ({source}); make the dataset folder writable or copy the dataset to a writable folder", path.display())]
    UnwritableCache {
        /// The folder.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// A cached file is damaged or does not fit the config.
    #[error("{}: damaged evaluator cache ({message}); delete the folder to retrain it", path.display())]
    Cache {
        /// The file.
        path: PathBuf,
        /// Why.
        message: String,
    },
}

impl EvalError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        EvalError::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    pub(crate) fn unwritable_cache(path: &Path, source: std::io::Error) -> Self {
        EvalError::UnwritableCache {
            path: path.to_path_buf(),
            source,
        }
    }

    pub(crate) fn cache(path: &Path, message: String) -> Self {
        EvalError::Cache {
            path: path.to_path_buf(),
            message,
        }
    }
}
