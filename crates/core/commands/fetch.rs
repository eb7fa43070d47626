//! `collapse fetch`: download a dataset and verify its checksums.

use anyhow::Context;
use collapse_data::fetch::default_mirrors;
use collapse_data::{Dataset, fetch_dataset};

use crate::datasets::dataset_spec;
use crate::flags::FetchArgs;

/// `collapse fetch`.
pub fn fetch(args: FetchArgs) -> anyhow::Result<()> {
    let spec = dataset_spec(&args.dataset)?;
    let dir = args.dir.unwrap_or_else(|| spec.default_dir());
    let mirrors = if args.mirror.is_empty() {
        default_mirrors(&spec)
    } else {
        args.mirror
            .iter()
            .map(|m| {
                if m.ends_with('/') {
                    m.clone()
                } else {
                    format!("{m}/")
                }
            })
            .collect()
    };
    fetch_dataset(&spec, &dir, &mirrors, &mut |line| println!("{line}"))
        .with_context(|| format!("fetching {} into {}", spec.name, dir.display()))?;
    Dataset::load(spec, &dir)
        .with_context(|| format!("checking the fetched files in {}", dir.display()))?;
    println!("{} ready in {}", spec.name, dir.display());
    Ok(())
}
