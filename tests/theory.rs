//! `collapse theory`: the Gaussian and Gaussian-mixture experiments write the
//! run-folder contract, compare and run as studies (`--seeds`, `sweep`) like
//! chains, refuse bad settings in one line, and a killed mixture run, alone
//! or in a study, resumes to the same result.

use std::path::Path;

use crate::util::{TempDir, assert_fails, assert_ok, collapse, flags, run_and_kill};

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn gaussian_runs_write_the_contract_and_compare_and_aggregate() {
    let tmp = TempDir::new("gaussian");
    for m in ["100", "1000"] {
        let out = tmp.join(&format!("m{m}"));
        let args = [
            "theory",
            "gaussian",
            "--samples",
            m,
            "--trials",
            "50",
            "--generations",
            "100",
            "-q",
            "--out",
        ];
        let mut args: Vec<&str> = args.to_vec();
        args.push(out.to_str().unwrap());
        assert_ok(&collapse(&tmp.0, &args));
        for f in [
            "manifest.json",
            "metrics.csv",
            "index.html",
            "plots/variance.png",
            "plots/w2_sq.png",
            "plots/mu_error.png",
        ] {
            assert!(out.join(f).is_file(), "{f}");
        }
        let manifest: serde_json::Value =
            serde_json::from_str(&read(&out.join("manifest.json"))).unwrap();
        assert_eq!(manifest["experiment"], "gaussian");
        assert_eq!(manifest["config"]["samples"], m.parse::<u64>().unwrap());
        assert!(manifest["finished"].is_string());
        let csv = read(&out.join("metrics.csv"));
        let header = csv.lines().next().unwrap();
        assert!(header.starts_with("generation,mu_error,"), "{header}");
        assert!(
            header.ends_with("theory_variance,theory_sigma_sq,theory_w2_sq"),
            "{header}"
        );
        assert_eq!(csv.lines().count(), 102);
        // Generation 0 is the original: no error, the closed form's variance σ².
        assert!(
            csv.lines()
                .nth(1)
                .unwrap()
                .starts_with("0,0,0,0,0,0,0,0,0,0,0,"),
            "{csv}"
        );
    }
    let cmp = tmp.join("cmp");
    let out = collapse(
        &tmp.0,
        &["compare", "m100", "m1000", "--out", cmp.to_str().unwrap()],
    );
    let stdout = assert_ok(&out);
    assert!(
        stdout.contains("m100 (recursive Gaussian fit, M 100)"),
        "{stdout}"
    );
    let compared = read(&cmp.join("summary.csv"));
    assert!(
        compared.starts_with("group,generation,metric,n,mean,std,lo,hi,change,"),
        "{compared}"
    );
    assert!(compared.contains("\nm100,100,mu_error,1,"), "{compared}");
    assert!(compared.contains("\nm1000,100,mu_error,1,"), "{compared}");
    assert!(cmp.join("plots/variance.png").is_file());

    let seeds = tmp.join("seeds");
    let line = "theory gaussian --samples 100 --trials 20 --generations 30 --seeds 1,2 -q --out";
    let mut args = flags(line);
    args.push(seeds.to_str().unwrap());
    assert_ok(&collapse(&tmp.0, &args));
    let summary = read(&seeds.join("report/summary.csv"));
    let mu_error: Vec<&str> = summary
        .lines()
        .filter(|l| l.split(',').nth(2) == Some("mu_error"))
        .collect();
    assert_eq!(mu_error.len(), 31, "{summary}");
    assert!(
        mu_error.iter().all(|l| l.split(',').nth(3) == Some("2")),
        "{summary}"
    );
    assert_ne!(
        read(&seeds.join("runs/seed-1/metrics.csv")),
        read(&seeds.join("runs/seed-2/metrics.csv"))
    );
}

#[test]
fn a_killed_mixture_run_resumes_to_the_uninterrupted_result() {
    let tmp = TempDir::new("gmm-kill");
    let setup = "theory gmm --samples 500 --generations 1500 --snapshots 0,700,1500 -q --out";
    let whole = tmp.join("whole");
    let mut args = flags(setup);
    args.push(whole.to_str().unwrap());
    let started = std::time::Instant::now();
    assert_ok(&collapse(&tmp.0, &args));
    let took = started.elapsed();

    let part = tmp.join("part");
    let part_str = part.to_str().unwrap();
    let mut args = flags(setup);
    args.extend([part_str, "--force"]);
    let resume = ["theory", "gmm", "-q", "--resume", part_str];
    let mut kills = 0;
    // Kill at a third of a whole run's time, then resume and kill again, until it finishes.
    let mut finished = run_and_kill(&tmp.0, &args, took / 3);
    while !finished {
        kills += 1;
        assert!(kills < 50, "never finished");
        finished = if part.join("state.json").is_file() {
            run_and_kill(&tmp.0, &resume, took / 3)
        } else {
            run_and_kill(&tmp.0, &args, took / 2)
        };
    }
    assert!(
        kills >= 1,
        "the run was never interrupted ({took:?} for a whole run)"
    );
    assert_eq!(
        read(&part.join("metrics.csv")),
        read(&whole.join("metrics.csv"))
    );
    for f in ["snapshots/gen-0700.png", "snapshots/gen-1500.png"] {
        assert_eq!(
            std::fs::read(part.join(f)).unwrap(),
            std::fs::read(whole.join(f)).unwrap(),
            "{f}"
        );
    }
    let manifest: serde_json::Value =
        serde_json::from_str(&read(&part.join("manifest.json"))).unwrap();
    assert!(manifest["finished"].is_string());
    assert!(!manifest["resumed"].as_array().unwrap().is_empty());

    // As a study of one seed (--seeds 0, the default seed), killed the same
    // way: the same command again continues its run.
    let study = tmp.join("study");
    let mut args = flags(setup);
    args.extend([study.to_str().unwrap(), "--seeds", "0"]);
    let mut kills = 0;
    while !run_and_kill(&tmp.0, &args, took / 3) {
        kills += 1;
        assert!(kills < 50, "never finished");
    }
    assert!(kills >= 1, "the study was never interrupted");
    assert_eq!(
        read(&study.join("runs/seed-0/metrics.csv")),
        read(&whole.join("metrics.csv"))
    );
    assert!(study.join("report/summary.csv").is_file());
}

#[test]
fn bad_settings_and_folders_are_one_line_and_report_redraws() {
    let tmp = TempDir::new("theory-bad");
    assert_fails(
        &collapse(&tmp.0, &flags("theory gaussian --samples 1")),
        2,
        &["--samples", "at least 2"],
    );
    assert_fails(
        &collapse(
            &tmp.0,
            &flags("theory gaussian --mode accumulate --real-fraction 0.5"),
        ),
        2,
        &["--real-fraction"],
    );
    assert_fails(
        &collapse(&tmp.0, &flags("theory gaussian --bias 0")),
        2,
        &["--bias", "positive"],
    );
    assert_fails(
        &collapse(
            &tmp.0,
            &flags("theory gmm --generations 10 --snapshots 0,50"),
        ),
        2,
        &["--snapshots", "generation 50 is past the last, 10"],
    );
    assert_fails(
        &collapse(&tmp.0, &flags("theory gmm --resume nowhere")),
        2,
        &["nowhere", "no manifest.json"],
    );
    std::fs::create_dir_all(tmp.join("full")).unwrap();
    std::fs::write(tmp.join("full/x"), "").unwrap();
    assert_fails(
        &collapse(&tmp.0, &flags("theory gaussian --generations 3 --out full")),
        2,
        &["full", "already holds files (--force replaces them)"],
    );
    assert_ok(&collapse(
        &tmp.0,
        &flags("theory gaussian --generations 3 --trials 4 -q --out g"),
    ));
    assert_ok(&collapse(
        &tmp.0,
        &flags("theory gmm --generations 3 --snapshots 0 -q --out m"),
    ));
    assert_fails(
        &collapse(&tmp.0, &flags("compare g m --out c")),
        2,
        &[
            "is a recursive Gaussian fit but",
            "is a recursive Gaussian-mixture fit",
        ],
    );
    assert_fails(
        &collapse(&tmp.0, &flags("theory gmm --resume g")),
        2,
        &["holds a recursive Gaussian fit"],
    );
}
