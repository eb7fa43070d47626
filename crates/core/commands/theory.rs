//! `collapse theory`: the paper's closed-form experiments, each into a run
//! folder of the same contract as a chain's.

use collapse_report::Report;
use std::path::{Path, PathBuf};

use anyhow::anyhow;
use collapse_records::Experiment;
use collapse_theory::{GaussianConfig, GmmStart, RunInfo, TheoryError, run_gaussian, run_gmm};

use crate::flags::{GaussianArgs, GmmArgs, OutputFlags, RunArgs, TheoryCommand, timestamp};
use crate::usage;

/// `collapse theory`.
pub fn theory(command: TheoryCommand) -> anyhow::Result<()> {
    match command {
        TheoryCommand::Gaussian(args) => gaussian(args),
        TheoryCommand::Gmm(args) => gmm(args),
    }
}

/// The tool and command line, for the manifest.
fn info() -> RunInfo {
    RunInfo {
        tool: format!("collapse {}", env!("CARGO_PKG_VERSION")),
        command_line: std::env::args().collect(),
    }
}

/// A theory error as the user's mistake (a setting, the folder) or a failed run,
/// with a refused setting named by its flag.
fn failure(e: TheoryError) -> anyhow::Error {
    match e {
        TheoryError::Setting(s) => {
            usage(anyhow!("--{}: {}", s.setting.replace('_', "-"), s.reason))
        }
        TheoryError::Folder { ref reason, .. } if reason == "already holds files" => {
            usage(anyhow!("{e} (--force replaces them)"))
        }
        e => e.into(),
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
    crate::commands::sweep::seeds_study(&out, experiment, base, seeds, &args)
}

/// `collapse theory gaussian`.
fn gaussian(args: GaussianArgs) -> anyhow::Result<()> {
    args.config.validate().map_err(|e| failure(e.into()))?;
    if let Some(seeds) = &args.output.seeds {
        let mut base = toml::Table::try_from(&args.config).expect("a config serialises");
        base.remove("seed");
        return seeds_study(&args.output, Experiment::Gaussian, base, seeds);
    }
    let out = out_dir(&args.output, Experiment::Gaussian);
    gaussian_run(&args.config, &out, args.output.force, args.output.quiet)
}

/// One Gaussian run into `folder` (emptied with `force`), its last
/// generation's errors unless `quiet`, then its page.
pub fn gaussian_run(
    config: &GaussianConfig,
    folder: &Path,
    force: bool,
    quiet: bool,
) -> anyhow::Result<()> {
    let (rows, _) = run_gaussian(config, folder, force, &info()).map_err(failure)?;
    collapse_report::redraw_run(folder)?;
    if !quiet {
        let last = rows.last().expect("generation 0 at least");
        eprintln!(
            "seed {}: generation {}: |μ − μ_n| {:.4}, |σ − σ_n| {:.4}, W2 {:.4}, Var(X^n) {:.4}",
            config.seed, last.generation, last.mu_error, last.sigma_error, last.w2, last.variance
        );
    }
    println!("{}", folder.join("index.html").display());
    Ok(())
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
        return gmm_run(start, run, args.output.quiet);
    }
    let config = args.settings.resolve().map_err(|e| failure(e.into()))?;
    if let Some(seeds) = &args.output.seeds {
        let mut base = toml::Table::try_from(&args.settings).expect("settings serialise");
        base.remove("seed");
        return seeds_study(&args.output, Experiment::Gmm, base, seeds);
    }
    let start = GmmStart::New {
        config,
        force: args.output.force,
    };
    gmm_run(
        start,
        &out_dir(&args.output, Experiment::Gmm),
        args.output.quiet,
    )
}

/// One mixture run into `folder` (new or resumed), its progress every 50
/// generations unless `quiet`, then its page.
pub fn gmm_run(start: GmmStart, folder: &Path, quiet: bool) -> anyhow::Result<()> {
    let progress = |r: &collapse_records::GmmRow| {
        if !quiet && r.generation.is_multiple_of(50) {
            eprintln!(
                "  generation {}: std {:.4} {:.4}, L2² {:.4e}, log-likelihood of the original {:.4}",
                r.generation, r.std_0, r.std_1, r.l2_sq, r.loglik_real
            );
        }
    };
    run_gmm(start, folder, &info(), &mut Report, progress).map_err(failure)?;
    collapse_report::redraw_run(folder)?;
    println!("{}", folder.join("index.html").display());
    Ok(())
}
