//! `collapse report`: redraw a run folder's plots and pages from its files.

use anyhow::anyhow;

use crate::flags::ReportArgs;
use crate::usage;

/// `collapse report`.
pub fn report(args: ReportArgs) -> anyhow::Result<()> {
    if !args.run.join("metrics.csv").is_file() {
        return Err(usage(anyhow!(
            "{}: not a run folder (no metrics.csv)",
            args.run.display()
        )));
    }
    let redrawn = collapse_report::redraw_run(&args.run)?;
    for f in &redrawn.files {
        println!("{}", args.run.join(f).display());
    }
    println!("redrew {} generations", redrawn.generations);
    Ok(())
}
