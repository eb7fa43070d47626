//! One module per command: each takes its parsed flags and does the work.

pub mod bench;
pub mod compare;
pub mod devices;
pub mod evaluator;
pub mod fetch;
pub mod parity;
pub mod report;
pub mod run;
pub mod sample;
pub mod sweep;
pub mod theory;

use std::path::{Path, PathBuf};

/// The page of the seeds `runs` (`(seed, folder)`) of one setting, written
/// into their parent `out`.
pub fn report_seeds(out: &Path, runs: &[(u64, PathBuf)]) -> anyhow::Result<()> {
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "seeds".to_string());
    let group = collapse_records::Group::seeds(&name, runs);
    let title = format!("model collapse: {name}, {} seeds", runs.len());
    collapse_report::report_groups(out, &title, &[group])?;
    println!(
        "{} seeds summarised: {}",
        runs.len(),
        out.join(collapse_report::grouped::SUMMARY).display()
    );
    Ok(())
}
