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

impl Group {
    /// The runs of one setting under several seeds, `(seed, folder)`, named
    /// `seed-N`.
    pub fn seeds(name: &str, runs: &[(u64, PathBuf)]) -> Group {
        let seeds: Vec<String> = runs.iter().map(|(s, _)| s.to_string()).collect();
        Group {
            name: name.to_string(),
            settings: format!("seeds {}", seeds.join(", ")),
            runs: runs
                .iter()
                .map(|(s, p)| (format!("seed-{s}"), p.clone()))
                .collect(),
        }
    }
}
