//! Why a chain stopped, in the chain's words.

use std::path::PathBuf;

use collapse_data::IdxError;
use collapse_eval::EvalError;
use collapse_records::lock::LockError;
use collapse_records::{FolderError, RecordError, RenderError};
use collapse_vae::{CheckpointError, Divergence};

use crate::config::ConfigError;

/// Why a chain stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ChainError {
    /// The run folder already holds a run.
    #[error("{}: already holds a run (manifest.json)", .0.display())]
    Exists(PathBuf),
    /// A folder could not be created.
    #[error("{}: {source}", path.display())]
    Io {
        /// The folder.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// Writing or reading a record failed.
    #[error(transparent)]
    Record(#[from] RecordError),
    /// Drawing a grid, a plot or the report failed.
    #[error("{0}")]
    Render(RenderError),
    /// Writing a checkpoint failed.
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    /// Writing a generated training set failed.
    #[error(transparent)]
    Idx(#[from] IdxError),
    /// Another process writes this run folder.
    #[error(transparent)]
    Lock(#[from] LockError),
    /// The frozen classifier could not be loaded or stored.
    #[error(transparent)]
    Eval(#[from] EvalError),
    /// A setting refused against the dataset (more test images than it has).
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A generation's loss diverged (after its retry, if one was allowed).
    #[error("generation {generation}: {divergence}{}; completed generations are kept", if *retried { " again after a retry at half the learning rate" } else { "" })]
    Diverged {
        /// The generation.
        generation: usize,
        /// Where and how.
        divergence: Divergence,
        /// Whether it already was the retry.
        retried: bool,
    },
}

impl From<FolderError> for ChainError {
    fn from(e: FolderError) -> Self {
        match e {
            FolderError::Exists(dir) => ChainError::Exists(dir),
            FolderError::Io { path, source } => ChainError::Io { path, source },
            FolderError::Lock(e) => ChainError::Lock(e),
        }
    }
}
