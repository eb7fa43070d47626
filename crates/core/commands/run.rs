//! `collapse run`: a new chain, several seeds of one (a study), or an
//! interrupted one resumed.

use collapse_records::Experiment;
use collapse_study::StudyFolder;

use crate::datasets::{dataset_spec, load_dataset};
use crate::flags::{GivenSettings, RunArgs};
use crate::runner::{chain, study};

/// `collapse run`.
pub fn run(args: RunArgs) -> anyhow::Result<()> {
    if let Some(run) = args.resume.clone() {
        return chain::resume(args, run);
    }
    let given = GivenSettings::of(&args)?;
    match &args.seeds {
        Some(seeds) => seeds_study(&given, seeds, &args),
        None => chain::start(&given, &args),
    }
}

/// `--seeds`: the given settings under each seed, a study of one seed axis
/// in `--out` (its runs under `runs/seed-N/`, its page under `report/`), run
/// in this process. A folder that holds the same study continues it.
fn seeds_study(given: &GivenSettings, seeds: &[u64], args: &RunArgs) -> anyhow::Result<()> {
    let config = given.resolve()?;
    // Fetched on first use, as a single run would, before the study reads its size.
    let spec = dataset_spec(&config.dataset)?;
    load_dataset(
        spec,
        &config.data,
        given.settings.data.is_some(),
        args.quiet,
    )?;
    if args.break_lock {
        let study = StudyFolder::new(&config.out);
        for run in study.run_dirs() {
            chain::break_lock(&run)?;
        }
    }
    let base = toml::Table::try_from(&given.settings).expect("settings serialise to a TOML table");
    study::seeds_study(&config.out, Experiment::Chain, base, seeds, args)
}
