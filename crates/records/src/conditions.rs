//! The conditions of a study, as its report groups its runs.

use std::path::PathBuf;

/// One condition of a study and the runs (seeds) that share it.
#[derive(Clone, Debug)]
pub struct Condition {
    /// Its name (the study's folder names without the seed).
    pub name: String,
    /// Its settings, in words.
    pub settings: String,
    /// Its runs with at least one generation: name and folder.
    pub runs: Vec<(String, PathBuf)>,
}
