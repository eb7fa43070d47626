//! `collapse theory`: the paper's closed-form experiments, each into a run
//! folder of the same contract as a chain's.

use collapse_report::Report;
use std::path::{Path, PathBuf};

use anyhow::anyhow;
use collapse_theory::{
    GaussianConfig, GmmConfig, GmmStart, RunInfo, TheoryError, mixture::EmSettings, run_gaussian,
    run_gmm,
};

use crate::flags::{GaussianArgs, GmmArgs, OutputFlags, TheoryCommand, timestamp};
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

/// The runs of `output`: one folder and seed, or one per seed under the folder.
fn runs(output: &OutputFlags, experiment: &str, seed: u64) -> (PathBuf, Vec<(u64, PathBuf)>) {
    let out = output
        .out
        .clone()
        .unwrap_or_else(|| Path::new("outputs").join(format!("{experiment}-{}", timestamp())));
    let runs = match &output.seeds {
        Some(seeds) => seeds
            .iter()
            .map(|&s| (s, out.join(format!("seed-{s}"))))
            .collect(),
        None => vec![(seed, out.clone())],
    };
    (out, runs)
}

/// With several seeds, their aggregate in `out`.
fn aggregate(output: &OutputFlags, out: &Path, runs: &[(u64, PathBuf)]) -> anyhow::Result<()> {
    if output.seeds.is_some() {
        crate::commands::report_seeds(out, runs)?;
    }
    Ok(())
}

/// `collapse theory gaussian`.
fn gaussian(args: GaussianArgs) -> anyhow::Result<()> {
    let (out, runs) = runs(&args.output, "gaussian", args.config.seed);
    let config = |seed| GaussianConfig {
        seed,
        ..args.config.clone()
    };
    config(0).validate().map_err(|e| failure(e.into()))?;
    for (seed, folder) in &runs {
        let (rows, _) =
            run_gaussian(&config(*seed), folder, args.output.force, &info()).map_err(failure)?;
        collapse_report::redraw_run(folder)?;
        if !args.output.quiet {
            let last = rows.last().expect("generation 0 at least");
            eprintln!(
                "seed {seed}: generation {}: |μ − μ_n| {:.4}, |σ − σ_n| {:.4}, W2 {:.4}, Var(X^n) {:.4}",
                last.generation, last.mu_error, last.sigma_error, last.w2, last.variance
            );
        }
        println!("{}", folder.join("index.html").display());
    }
    aggregate(&args.output, &out, &runs)
}

/// `collapse theory gmm`.
fn gmm(args: GmmArgs) -> anyhow::Result<()> {
    if let Some(run) = &args.resume {
        let start = GmmStart::Resume {
            generations: args.generations,
        };
        return gmm_run(start, run, args.output.quiet);
    }
    let (out, runs) = runs(&args.output, "gmm", args.seed);
    let config = |seed| GmmConfig {
        samples: args.samples,
        generations: args.generations.unwrap_or(GmmConfig::default().generations),
        std: args.std,
        em: EmSettings {
            tol: args.tol,
            max_iter: args.max_iter,
            ..EmSettings::default()
        },
        snapshots: args.snapshots.clone(),
        seed,
    };
    config(0).validate().map_err(|e| failure(e.into()))?;
    for (seed, folder) in &runs {
        if !args.output.quiet {
            eprintln!("seed {seed}: {}", folder.display());
        }
        let start = GmmStart::New {
            config: config(*seed),
            force: args.output.force,
        };
        gmm_run(start, folder, args.output.quiet)?;
    }
    aggregate(&args.output, &out, &runs)
}

/// One mixture run into `folder` (new or resumed), its progress every 50
/// generations unless `quiet`, then its page.
fn gmm_run(start: GmmStart, folder: &Path, quiet: bool) -> anyhow::Result<()> {
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
