//! Why a chain stopped, in the chain's words.

use collapse_data::IdxError;
use collapse_eval::EvalError;
use collapse_records::{FolderError, RecordError, RenderError};
use collapse_vae::{CheckpointError, Divergence};

use crate::config::ConfigError;

/// Why a chain stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ChainError {
    /// The run folder already holds a run, another process writes it, or a
    /// folder of it could not be made.
    #[error(transparent)]
    Folder(#[from] FolderError),
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
    /// The frozen classifier could not be loaded or stored.
    #[error(transparent)]
    Eval(#[from] EvalError),
    /// A setting refused against the dataset (more test images than it has).
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// An external model's command failed, or wrote samples the chain refuses.
    #[error(
        "generation {generation}: the external model's {command} command: {message}; completed generations are kept"
    )]
    External {
        /// The generation.
        generation: usize,
        /// `train` or `sample`.
        command: &'static str,
        /// What went wrong.
        message: String,
    },
    /// An image set could not be written.
    #[error(transparent)]
    Npy(collapse_data::NpyError),
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
