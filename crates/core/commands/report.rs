//! `collapse report`: redraw a run folder's plots and pages from its files.

use anyhow::anyhow;

use crate::Failure;
use crate::flags::ReportArgs;

/// `collapse report`.
pub fn report(args: ReportArgs) -> Result<(), Failure> {
    if !args.run.join("metrics.csv").is_file() {
        return Err(Failure::input(anyhow!(
            "{}: not a run folder (no metrics.csv)",
            args.run.display()
        )));
    }
    let redrawn = collapse_report::redraw_run(&args.run).map_err(Failure::run)?;
    for f in &redrawn.files {
        println!("{}", args.run.join(f).display());
    }
    println!("redrew {} generations", redrawn.generations);
    Ok(())
}
