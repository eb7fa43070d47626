//! The dataset a command reads: its catalogue entry by name, its default
//! folder, loading it (fetching it on first use) and checking its checksums.

use std::path::Path;

use anyhow::anyhow;
use collapse_data::catalogue::DatasetSpec;
use collapse_data::fetch::default_mirrors;
use collapse_data::{Catalogue, Dataset, DatasetError, fetch_dataset};

use crate::usage;

/// The catalogue entry named `name`, or a usage error listing the known ones.
pub fn dataset_spec(name: &str) -> anyhow::Result<DatasetSpec> {
    Catalogue::get(name).ok_or_else(|| usage(anyhow!("--dataset: {}", unknown_dataset(name))))
}

/// Why `name` is no dataset, with the known ones.
pub fn unknown_dataset(name: &str) -> String {
    format!(
        "unknown dataset {name:?}; known: {}",
        Catalogue::names().join(", ")
    )
}

/// Loads the dataset; without `--data`, fetches it on first use.
pub fn load_dataset(
    spec: DatasetSpec,
    data: &Path,
    explicit: bool,
    quiet: bool,
) -> anyhow::Result<Dataset> {
    match Dataset::load(spec, data) {
        Err(DatasetError::Missing { .. }) if !explicit => {
            if !quiet {
                eprintln!(
                    "{} is not in {}/ yet: fetching it",
                    spec.name,
                    data.display()
                );
            }
            fetch_dataset(&spec, data, &default_mirrors(&spec), &mut |line| {
                if !quiet {
                    eprintln!("{line}")
                }
            })
            .map_err(|e| {
                usage(anyhow!(
                    "no {} data in {}/ and the download failed ({e}); run `collapse fetch {}` when online, or pass --data DIR",
                    spec.name,
                    data.display(),
                    spec.name
                ))
            })?;
            Dataset::load(spec, data).map_err(dataset_failure)
        }
        other => other.map_err(dataset_failure),
    }
}

/// A dataset that cannot be loaded, with the commands that provide one.
fn dataset_failure(e: DatasetError) -> anyhow::Error {
    match e {
        DatasetError::Missing { dataset, .. } => usage(anyhow!(
            "{e}: run `collapse fetch {dataset}`, or pass --data DIR with the IDX files"
        )),
        e => usage(e),
    }
}

/// Refuses a dataset whose files are not the catalogue's, unless `accept`.
pub fn verified(dataset: Dataset, accept: bool) -> anyhow::Result<Dataset> {
    match dataset.provenance.iter().find(|p| !p.matches_catalogue) {
        Some(p) if !accept => Err(usage(anyhow!(
            "{}: contents have SHA-256 {}, not the catalogue's for {}; pass --no-verify to use it anyway",
            p.path.display(),
            p.sha256,
            dataset.spec.name
        ))),
        _ => Ok(dataset),
    }
}
