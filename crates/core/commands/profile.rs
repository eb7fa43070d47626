//! `collapse profile`: a run's collapse profile computed from its evidence
//! (drawn again from the checkpoints where the run did not keep it),
//! written into its folder (with the intervals in `metrics.csv` and the
//! report redrawn) and printed as a table.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::anyhow;
use burn::prelude::Device;
use collapse_chain::rescore::{RescoreEvent, missing_evidence, score_again};
use collapse_records::profile::{GenerationProfile, Profile, p_words};

use crate::backend;
use crate::datasets::{dataset_spec, load_dataset};
use crate::flags::ProfileArgs;
use crate::runner::chain::read_recorded;
use crate::usage;

/// `collapse profile`.
pub fn profile(args: ProfileArgs) -> anyhow::Result<()> {
    let selected = backend::select(args.device).map_err(usage)?;
    for run in &args.runs {
        draw_evidence(run, args.data.as_deref(), &selected.device)?;
        let profile = collapse_profile::profile_run(run, &selected.device)?;
        collapse_profile::record_profile(run, &profile)?;
        collapse_report::redraw_run(run)?;
        println!("{}", table(&run.display().to_string(), &profile));
        println!(
            "{} and {}, the intervals in {}; the report {}",
            run.join("profile.json").display(),
            run.join("profile.csv").display(),
            run.join("metrics.csv").display(),
            run.join("index.html").display()
        );
    }
    Ok(())
}

/// Draws again, from its checkpoints, the per-sample evidence an evaluated
/// VAE chain in `run` did not keep (a run of an earlier build, or one with
/// `--no-profile`), reading the dataset from `data` or the run's recorded
/// folder. Nothing where the run has all of it, or is not an evaluated
/// chain (the profile refuses that in its own words).
fn draw_evidence(run: &Path, data: Option<&Path>, device: &Device) -> anyhow::Result<()> {
    let complete = collapse_records::complete_generations(run);
    if complete == 0 || !run.join("reference.json").is_file() {
        return Ok(());
    }
    let (manifest, mut config) = read_recorded(run).map_err(usage)?;
    let missing = missing_evidence(&config, complete);
    if missing.is_empty() {
        return Ok(());
    }
    if config.external.is_some() {
        return Err(usage(anyhow!(
            "{}: no per-sample evidence, and an external model's samples come from its own command; run the chain again with the profile on",
            missing[0].display()
        )));
    }
    if let Some(data) = data {
        config.data = data.to_path_buf();
    }
    let dataset = load_dataset(dataset_spec(&config.dataset)?, &config.data, true, true)?;
    for file in &dataset.provenance {
        let name = file.path.file_name();
        let recorded = manifest.dataset.files.iter();
        if let Some(r) = recorded
            .filter(|r| r.path.file_name() == name)
            .find(|r| r.sha256 != file.sha256)
        {
            return Err(usage(anyhow!(
                "{}: SHA-256 {}, not the {} the run recorded; the evidence drawn from it would not be the run's",
                file.path.display(),
                file.sha256,
                r.sha256
            )));
        }
    }
    eprintln!(
        "{}: no per-sample evidence in {} folders (a run of an earlier build, or --no-profile); drawing it again from the checkpoints",
        run.display(),
        missing.len()
    );
    score_again(
        &config,
        complete,
        &missing,
        &dataset,
        device,
        &mut |e| match e {
            RescoreEvent::TrainingClassifier(dir) => {
                eprintln!("training the frozen classifier into {}", dir.display())
            }
            RescoreEvent::Reference => eprintln!("  scoring the real test set"),
            RescoreEvent::Generation(g) => eprintln!("  drawing generation {g}'s probe again"),
        },
    )?;
    Ok(())
}

/// A figure in three significant digits.
fn figure(v: f64) -> String {
    if !v.is_finite() {
        return "-".to_string();
    }
    let digits = if v == 0.0 {
        0
    } else {
        (2 - v.abs().log10().floor() as i32).clamp(0, 6) as usize
    };
    format!("{v:.digits$}")
}

/// The profile's table: each headline figure at the first and last
/// generations with its interval, its onset and rate; each test's
/// Holm-adjusted p-value against generation 0 per generation; and the
/// tail survival of the last generation per rarity band.
pub fn table(name: &str, profile: &Profile) -> String {
    let s = &profile.settings;
    let (Some(first), Some(last)) = (profile.generations.first(), profile.generations.last())
    else {
        return format!("{name}: no generation profiled");
    };
    let mut out = String::new();
    let level = s.confidence * 100.0;
    let _ = writeln!(
        out,
        "{name}: generations {}-{}, {level:.0} % intervals, onsets at family-wise α = {} (Holm)",
        first.generation, last.generation, s.alpha
    );
    figures_table(&mut out, profile, first, last);
    if !profile.tests.is_empty() {
        tests_table(&mut out, profile);
    }
    for survival in &last.survival {
        let _ = write!(
            out,
            "\nsurvival at generation {} by {} (bands commonest to rarest):",
            last.generation, survival.rarity
        );
        for band in &survival.bands {
            let _ = write!(out, " {}", figure(band.value));
        }
    }
    out
}

/// Each headline figure at the `first` and `last` generations with its
/// interval, its onset and its rate, a line each after a header.
fn figures_table(
    out: &mut String,
    profile: &Profile,
    first: &GenerationProfile,
    last: &GenerationProfile,
) {
    let _ = writeln!(
        out,
        "{:<20} {:<28} {:<28} {:<6} rate per generation",
        "metric",
        format!("generation {}", first.generation),
        format!("generation {}", last.generation),
        "onset"
    );
    for (i, trend) in profile.metrics.iter().enumerate() {
        let rate = trend
            .rate
            .as_ref()
            .map_or("-".to_string(), |r| r.words(figure));
        let _ = writeln!(
            out,
            "{:<20} {:<28} {:<28} {:<6} {rate}",
            trend.name,
            first.metrics[i].estimate.words(figure),
            last.metrics[i].estimate.words(figure),
            trend.onset_words()
        );
    }
}

/// Each test against generation 0: its Holm-adjusted p-value per generation
/// and its onset, a line each after a header.
fn tests_table(out: &mut String, profile: &Profile) {
    let _ = writeln!(
        out,
        "\ntests against generation 0, p after Holm's correction:"
    );
    let shown: Vec<usize> = (1..profile.generations.len()).collect();
    let mut header = format!("{:<28}", "test");
    for g in &shown {
        let _ = write!(header, " {:>6}", format!("g{g}"));
    }
    let _ = writeln!(out, "{header}  onset");
    for t in &profile.tests {
        let mut line = format!("{:<28}", t.name);
        for &g in &shown {
            let p = t.p_holm.get(g).copied().flatten();
            let _ = write!(line, " {:>6}", p.map_or("-".to_string(), p_words));
        }
        let _ = writeln!(out, "{line}  {}", t.onset_words());
    }
}
