//! The theory experiments' errors, in the experiments' words.

use std::path::PathBuf;

/// A setting of an experiment that cannot be run, and why.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{setting}: {reason}")]
pub struct SettingError {
    /// The setting, by its name in the configuration.
    pub setting: &'static str,
    /// Why its value is refused.
    pub reason: String,
}

impl SettingError {
    /// `setting` refused for `reason`.
    pub fn new(setting: &'static str, reason: impl Into<String>) -> Self {
        SettingError {
            setting,
            reason: reason.into(),
        }
    }
}

/// A theory run that could not be done.
#[derive(Debug, thiserror::Error)]
pub enum TheoryError {
    /// The configuration is refused.
    #[error(transparent)]
    Setting(#[from] SettingError),
    /// The run folder could not be made, or another process writes it.
    #[error(transparent)]
    RunFolder(#[from] collapse_records::FolderError),
    /// Drawing a snapshot failed.
    #[error("{0}")]
    Render(collapse_records::RenderError),
    /// Writing or reading a record of the run folder failed.
    #[error(transparent)]
    Record(#[from] collapse_records::RecordError),
    /// The folder holds something other than this experiment's run, or a run
    /// of another configuration.
    #[error("{}: {reason}", folder.display())]
    Folder {
        /// The run folder.
        folder: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
}
