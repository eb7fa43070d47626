//! One theory run here: the Gaussian fit or the mixture fit (new or
//! resumed), its progress on stderr, then its page.

use std::path::Path;

use anyhow::anyhow;
use collapse_report::Report;
use collapse_theory::{GaussianConfig, GmmStart, RunInfo, TheoryError, run_gaussian, run_gmm};

use crate::usage;

/// The tool and command line, for the manifest.
fn info() -> RunInfo {
    RunInfo {
        tool: format!("collapse {}", env!("CARGO_PKG_VERSION")),
        command_line: std::env::args().collect(),
    }
}

/// A theory error as the user's mistake (a setting, the folder) or a failed run,
/// with a refused setting named by its flag.
pub fn failure(e: TheoryError) -> anyhow::Error {
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
