//! `collapse theory`: the paper's closed-form experiments, each into a run
//! folder of the same contract as a chain's, or several seeds of one (a study).

use std::path::{Path, PathBuf};

use anyhow::anyhow;
use collapse_records::Experiment;
use collapse_theory::GmmStart;

use crate::flags::{GaussianArgs, GmmArgs, OutputFlags, RunArgs, TheoryCommand, timestamp};
use crate::runner::{study, theory};
use crate::usage;

/// `collapse theory`.
pub fn theory(command: TheoryCommand) -> anyhow::Result<()> {
    match command {
        TheoryCommand::Gaussian(args) => gaussian(args),
        TheoryCommand::Gmm(args) => gmm(args),
    }
}

/// The run folder of `output`, by default `outputs/EXPERIMENT-YYYYMMDD-HHMMSS`.
fn out_dir(output: &OutputFlags, experiment: Experiment) -> PathBuf {
    output.out.clone().unwrap_or_else(|| {
        Path::new("outputs").join(format!("{}-{}", experiment.key(), timestamp()))
    })
}

/// `--seeds`: the settings `base` of `experiment` under each seed, a study of
/// one seed axis in `out`, run in this process.
fn seeds_study(
    output: &OutputFlags,
    experiment: Experiment,
    base: toml::Table,
    seeds: &[u64],
) -> anyhow::Result<()> {
    let args = RunArgs {
        quiet: output.quiet,
        force: output.force,
        ..RunArgs::default()
    };
    let out = out_dir(output, experiment);
    study::seeds_study(&out, experiment, base, seeds, &args)
}

/// `collapse theory gaussian`.
fn gaussian(args: GaussianArgs) -> anyhow::Result<()> {
    args.config
        .validate()
        .map_err(|e| theory::failure(e.into()))?;
    if let Some(seeds) = &args.output.seeds {
        let base = toml::Table::try_from(&args.config).expect("a config serialises");
        return seeds_study(&args.output, Experiment::Gaussian, base, seeds);
    }
    let out = out_dir(&args.output, Experiment::Gaussian);
    theory::gaussian_run(&args.config, &out, args.output.force, args.output.quiet)
}

/// `collapse theory gmm`.
fn gmm(args: GmmArgs) -> anyhow::Result<()> {
    if let Some(run) = &args.resume {
        let refused: Vec<String> = args
            .settings
            .given()
            .into_iter()
            .filter(|k| k != "generations")
            .map(|k| format!("--{}", k.replace('_', "-")))
            .collect();
        if !refused.is_empty() {
            return Err(usage(anyhow!(
                "--resume continues {} with its recorded config; {} would change it (only --generations may be given)",
                run.display(),
                refused.join(", ")
            )));
        }
        let start = GmmStart::Resume {
            generations: args.settings.generations,
        };
        return theory::gmm_run(start, run, args.output.quiet);
    }
    let config = args
        .settings
        .resolve()
        .map_err(|e| theory::failure(e.into()))?;
    if let Some(seeds) = &args.output.seeds {
        let base = toml::Table::try_from(&args.settings).expect("settings serialise");
        return seeds_study(&args.output, Experiment::Gmm, base, seeds);
    }
    let start = GmmStart::New {
        config,
        force: args.output.force,
    };
    theory::gmm_run(
        start,
        &out_dir(&args.output, Experiment::Gmm),
        args.output.quiet,
    )
}
