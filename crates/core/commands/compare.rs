//! `collapse compare`: the headline metrics of several runs side by side.

use std::path::Path;

use anyhow::anyhow;

use crate::Failure;
use crate::flags::{CompareArgs, timestamp};

/// `collapse compare`.
pub fn compare(args: CompareArgs) -> Result<(), Failure> {
    for run in &args.runs {
        if !run.join("metrics.csv").is_file() {
            return Err(Failure::input(anyhow!(
                "{}: not a run folder (no metrics.csv)",
                run.display()
            )));
        }
    }
    let out = args
        .out
        .unwrap_or_else(|| Path::new("outputs").join(format!("compare-{}", timestamp())));
    let compared = collapse_report::compare_runs(&args.runs, &out).map_err(|e| match e {
        collapse_report::ReportError::MixedExperiments { .. } => Failure::input(e),
        e => Failure::run(e),
    })?;
    for label in &compared.labels {
        println!("run: {label}");
    }
    for f in &compared.files {
        println!("{}", out.join(f).display());
    }
    Ok(())
}
