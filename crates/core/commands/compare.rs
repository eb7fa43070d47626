//! `collapse compare`: the headline metrics of several runs side by side.

use std::path::Path;

use anyhow::anyhow;

use crate::flags::{CompareArgs, timestamp};
use crate::usage;

/// `collapse compare`.
pub fn compare(args: CompareArgs) -> anyhow::Result<()> {
    for run in &args.runs {
        if !run.join("metrics.csv").is_file() {
            return Err(usage(anyhow!(
                "{}: not a run folder (no metrics.csv)",
                run.display()
            )));
        }
    }
    let out = args
        .out
        .unwrap_or_else(|| Path::new("outputs").join(format!("compare-{}", timestamp())));
    let groups = collapse_report::each_run(&args.runs)?;
    let title = format!("model collapse: {} runs compared", groups.len());
    let compared = collapse_report::report_groups(&out, &title, &groups)?;
    for label in &compared.labels {
        println!("run: {label}");
    }
    for f in &compared.files {
        println!("{}", out.join(f).display());
    }
    Ok(())
}
