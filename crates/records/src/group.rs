//! Runs grouped for a page of several runs.

use std::path::PathBuf;

/// Runs that a multi-run page summarises together: a study's condition (its
/// seeds), the seeds of `--seeds`, or one run of a comparison.
#[derive(Clone, Debug)]
pub struct Group {
    /// Its name (a study's folder names without the seed).
    pub name: String,
    /// Its settings, in words.
    pub settings: String,
    /// Its runs with at least one generation: name and folder.
    pub runs: Vec<(String, PathBuf)>,
}
