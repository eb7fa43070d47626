//! The collapse profile through the binary: the per-sample evidence every
//! scored set leaves, `profile.json` and `profile.csv` as generations
//! complete, `collapse profile` computing the same from the files, and its
//! refusals.

use std::path::Path;

use collapse_data::npy::read_array;
use collapse_records::profile::{Profile, baseline};
use collapse_records::{MetricsRow, read_json, read_metrics_csv};

use crate::chain::{TINY, short_chain};
use crate::util::{TempDir, assert_fails, assert_ok, collapse, flags};

/// The `metrics.csv` value of a headline figure the profile bootstraps.
fn column(row: &MetricsRow, name: &str) -> f64 {
    let e = row.eval.as_ref().expect("an evaluated row");
    match name {
        "precision" => e.precision,
        "recall" => e.recall,
        "density" => e.density,
        "coverage" => e.coverage,
        "fd" => e.fd,
        "class_entropy_norm" => e.class_entropy_norm,
        "rarest_class_share" => e.rarest_class_share,
        "probe_mu_std" => row.probe_mu_std,
        "probe_tail_mass" => row.probe_tail_mass,
        "nelbo0_median" => e.nelbo0_median,
        "nelbo0_spread" => e.nelbo0_spread,
        "ink_spread" => e.ink_spread,
        "slant_spread" => e.slant_spread,
        "width_spread" => e.width_spread,
        "height_spread" => e.height_spread,
        "thickness_spread" => e.thickness_spread,
        other => panic!("no column {other}"),
    }
}

/// The shape of the `.npy` array `name` in `dir`, of `dims` dimensions.
fn shape(dir: &Path, name: &str, dims: usize) -> Vec<usize> {
    read_array(&dir.join(name), dims)
        .unwrap_or_else(|e| panic!("{e}"))
        .1
}

#[test]
fn every_run_gets_its_profile_and_collapse_profile_computes_the_same() {
    let tmp = TempDir::new("profile");
    let args =
        flags("--train-size 512 --generations 2 --epochs 2 --probe-samples 500 --test-size 2000");
    let out = short_chain(&tmp, &args);

    let real = out.join("per-sample");
    assert_eq!(shape(&real, "features.npy", 2), [2000, 128]);
    assert_eq!(shape(&real, "style.npy", 2), [2000, 5]);
    for one in ["class.npy", "nelbo0.npy", "nearest-real.npy", "radius.npy"] {
        assert_eq!(shape(&real, one, 1), [2000], "{one}");
    }
    for g in 0..=2 {
        let dir = out.join(format!("gen-{g:03}/per-sample"));
        assert_eq!(shape(&dir, "features.npy", 2), [500, 128]);
        assert_eq!(shape(&dir, "probe-mu.npy", 2), [500, 20]);
        for one in ["precise.npy", "density.npy", "nelbo0.npy", "class.npy"] {
            assert_eq!(shape(&dir, one, 1), [500], "{one}");
        }
        for per_real in ["real-recalled.npy", "real-covered.npy"] {
            assert_eq!(shape(&dir, per_real, 1), [2000], "{per_real}");
        }
    }

    let profile: Profile = read_json(&out.join("profile.json")).unwrap();
    let rows = read_metrics_csv(&out.join("metrics.csv")).unwrap();
    assert_eq!(profile.generations.len(), 3);
    assert_eq!(profile.real_images, 2000);
    for (generation, row) in profile.generations.iter().zip(&rows) {
        assert_eq!(generation.images, 500);
        for m in &generation.metrics {
            let (e, expected) = (m.estimate, column(row, &m.metric));
            // The figures recomputed from the evidence are metrics.csv's, the
            // Fréchet distance up to its f32 products.
            let tolerance = if m.metric == "fd" { 1e-3 } else { 1e-6 };
            assert!(
                (e.value - expected).abs() <= tolerance * expected.abs().max(1.0),
                "generation {}: {} {} against {expected}",
                generation.generation,
                m.metric,
                e.value
            );
            assert!(e.lo <= e.value && e.value <= e.hi, "{m:?}");
            // metrics.csv holds the interval's ends as they are.
            let bounds = row.intervals.get(&m.metric).expect("an interval");
            assert_eq!((bounds.lo, bounds.hi), (e.lo, e.hi), "{}", m.metric);
            // Changes from generation 0, or from 1 for a figure read
            // through generation 0's own VAE.
            let from = baseline(&m.metric, true);
            assert_eq!(m.change.is_some(), generation.generation > from, "{m:?}");
        }
        // Against the real set, generation 0 and (from generation 2) the parent:
        // one MMD and a KS and a Mann-Whitney test per scalar each.
        let compared =
            1 + usize::from(generation.generation > 0) + usize::from(generation.generation > 1);
        assert_eq!(generation.tests.len(), compared * (1 + 2 * 7));
        assert!(generation.tests.iter().all(|t| (0.0..=1.0).contains(&t.p)));
        assert_eq!(generation.exceedance.len(), 7);
        for s in &generation.survival {
            assert_eq!(s.bands.len(), 10, "{}", s.rarity);
        }
    }
    let trend = profile.metrics.iter().find(|t| t.name == "fd").unwrap();
    assert_eq!(trend.p_holm.len(), 3);
    assert!(
        trend.p_holm[0].is_none() && trend.p_holm[1].is_some(),
        "{trend:?}"
    );
    assert!(trend.rate.is_some(), "three generations give a rate");
    let csv = std::fs::read_to_string(out.join("profile.csv")).unwrap();
    assert!(csv.starts_with("generation,kind,name,detail,value,lo,hi,p,p_holm\n"));
    assert!(csv.contains("\n1,change,fd,vs 0,"), "{csv}");
    assert!(csv.contains("\n2,change,probe_mu_std,vs 1,"), "{csv}");
    assert!(!csv.contains("\n1,change,probe_mu_std,"), "{csv}");
    assert!(csv.contains("\n2,test,mmd features,vs 1,"), "{csv}");
    let header = std::fs::read_to_string(out.join("metrics.csv")).unwrap();
    assert!(header.contains(",recall_lo,recall_hi,") && header.contains(",fd_lo,fd_hi,"));

    // The same profile from the files alone, the table printed.
    let json = std::fs::read(out.join("profile.json")).unwrap();
    let table = assert_ok(&collapse(&tmp.0, &["profile", out.to_str().unwrap()]));
    assert!(
        table.contains("recall") && table.contains("mmd features"),
        "{table}"
    );
    assert!(
        table.contains("survival at generation 2 by nelbo0"),
        "{table}"
    );
    assert_eq!(std::fs::read(out.join("profile.json")).unwrap(), json);
}

/// A run that did not keep its evidence (an earlier build's, or one with
/// `--no-profile`) gets it drawn again from its checkpoints by `collapse
/// profile`: the same arrays and the same profile, byte for byte, as the
/// same chain profiled as it ran. An external model's run cannot be drawn
/// again here and is refused in one line, as is a folder that is no run.
#[test]
fn a_run_without_evidence_gets_it_drawn_again_from_its_checkpoints() {
    let tmp = TempDir::new("no-profile");
    let kept = tmp.join("kept");
    assert_ok(&crate::util::run_into(&tmp, &kept, &TINY));
    let mut args = TINY.to_vec();
    args.push("--no-profile");
    let out = short_chain(&tmp, &args);
    assert!(out.join("reference.json").is_file());
    assert!(!out.join("per-sample").exists());
    assert!(!out.join("gen-001/per-sample").exists());
    assert!(!out.join("profile.json").exists());

    // Data other than the run's own would give other evidence: refused.
    let manifest = out.join("manifest.json");
    let recorded = std::fs::read_to_string(&manifest).unwrap();
    let mut other: serde_json::Value = serde_json::from_str(&recorded).unwrap();
    other["dataset"]["files"][0]["sha256"] = "0".repeat(64).into();
    std::fs::write(&manifest, other.to_string()).unwrap();
    let refused = collapse(&tmp.0, &["profile", out.to_str().unwrap()]);
    assert_fails(&refused, 2, &["SHA-256", "the run recorded"]);
    assert!(!out.join("per-sample").exists());
    std::fs::write(&manifest, recorded).unwrap();

    let drawn = collapse(&tmp.0, &["profile", out.to_str().unwrap()]);
    assert_ok(&drawn);
    let said = String::from_utf8_lossy(&drawn.stderr).to_string();
    assert!(
        said.contains("drawing it again from the checkpoints"),
        "{said}"
    );
    for file in [
        "profile.json",
        "per-sample/features.npy",
        "per-sample/radius.npy",
        "gen-000/per-sample/features.npy",
        "gen-001/per-sample/nelbo0.npy",
        "gen-001/per-sample/probe-mu.npy",
        "gen-001/per-sample/real-recalled.npy",
    ] {
        let bytes = |run: &Path| std::fs::read(run.join(file)).unwrap();
        assert!(bytes(&kept) == bytes(&out), "{file} differs");
    }
    assert!(!out.join("gen-001/per-sample.partial").exists());
    // The intervals in metrics.csv and the report's profile section come with it.
    let strip = crate::chain::metrics_without_seconds;
    assert_eq!(strip(&kept), strip(&out));
    let page = std::fs::read_to_string(out.join("index.html")).unwrap();
    assert!(page.contains("Collapse profile"));
    let again = collapse(&tmp.0, &["profile", out.to_str().unwrap()]);
    assert_ok(&again);
    assert!(!String::from_utf8_lossy(&again.stderr).contains("drawing"));

    let nothing = collapse(&tmp.0, &["profile", tmp.0.to_str().unwrap()]);
    assert_fails(&nothing, 2, &["not a run folder"]);

    std::fs::write(tmp.join("model.toml"), "epochs = 1\n").unwrap();
    let (train, sample) = crate::model::vae_commands(&tmp.join("model.toml"), "");
    let external = tmp.join("external");
    let mut args = TINY.to_vec();
    args.extend(["--no-profile", "--external-train", &train]);
    args.extend(["--external-sample", &sample]);
    assert_ok(&crate::util::run_into(&tmp, &external, &args));
    let refused = collapse(&tmp.0, &["profile", external.to_str().unwrap()]);
    assert_fails(&refused, 2, &["per-sample", "an external model's samples"]);
}

/// The rows of the grouped page's `summary.csv` as maps from its header.
fn summary(path: &Path) -> Vec<std::collections::HashMap<String, String>> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    lines
        .map(|l| {
            header
                .iter()
                .zip(l.split(','))
                .map(|(h, v)| (h.to_string(), v.to_string()))
                .collect()
        })
        .collect()
}

/// The negative control: chains that train every generation on the real
/// images alone differ from generation to generation only by their seed
/// streams, so the seed-level tests of a change from generation 0 must
/// reject at about their level: at most α plus two standard errors over
/// every metric and generation, and no onset.
#[test]
fn the_negative_control_changes_nothing_over_seeds() {
    let tmp = TempDir::new("negative");
    let out = tmp.join("negative");
    let args = flags(
        "--seeds 1,2,3,4,5,6 --real-fraction 1 --train-size 2000 --generations 2 --epochs 3 \
         --probe-samples 1000 --test-size 2000",
    );
    assert_ok(&crate::util::run_into(&tmp, &out, &args));
    let rows = summary(&out.join("report/summary.csv"));
    let p: Vec<f64> = rows
        .iter()
        .filter_map(|r| r["change_p"].parse::<f64>().ok())
        .collect();
    assert!(p.len() >= 2 * 10, "{} tests", p.len());
    let rejected = p.iter().filter(|&&p| p <= 0.05).count();
    let rate = rejected as f64 / p.len() as f64;
    let bound = 0.05 + 2.0 * (0.05 * 0.95 / p.len() as f64).sqrt();
    eprintln!(
        "negative control: {rejected} of {} seed-level tests reject at 0.05 ({rate:.3}; bound {bound:.3})",
        p.len()
    );
    assert!(rate <= bound, "{rate} > {bound}");
    let onsets: Vec<String> = rows
        .iter()
        .filter(|r| r["change_p_holm"].parse::<f64>().is_ok_and(|p| p <= 0.05))
        .map(|r| format!("{} at {}", r["metric"], r["generation"]))
        .collect();
    assert!(
        onsets.is_empty(),
        "onsets in the negative control: {onsets:?}"
    );
}

/// The positive control: a chain whose real training set lacks the share
/// the reference VAE finds least likely shows the cut at generation 0
/// against the same chain without it: its samples reach fewer of the real
/// test images (recall, bootstrap intervals apart), fewer of the rarest
/// tenth's by either rarity, and fewer of its samples lie beyond the real
/// test set's 99 % NELBO quantile (Clopper-Pearson intervals apart); its
/// training set is the rest of the real images, recorded in `tail-cut.json`.
#[test]
fn the_positive_control_shows_its_cut_tail_at_generation_zero() {
    let tmp = TempDir::new("positive");
    let common = "--train-size 5000 --generations 0 --epochs 8 --probe-samples 3000 \
                  --test-size 5000 --seed 3";
    let uncut = tmp.join("uncut");
    assert_ok(&crate::util::run_into(&tmp, &uncut, &flags(common)));
    let cut = tmp.join("cut");
    let mut args = flags(common);
    args.extend(["--cut-tail", "0.2"]);
    assert_ok(&crate::util::run_into(&tmp, &cut, &args));

    let record: serde_json::Value = read_json(&cut.join("tail-cut.json")).unwrap();
    let removed: Vec<u64> = record["removed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i.as_u64().unwrap())
        .collect();
    assert_eq!(removed.len(), 1000);
    assert!(removed.windows(2).all(|w| w[0] < w[1]) && removed[999] < 5000);
    let rows = read_metrics_csv(&cut.join("metrics.csv")).unwrap();
    assert_eq!(rows[0].train_size, 4000);

    let generation_0 = |run: &Path| {
        let profile: Profile = read_json(&run.join("profile.json")).unwrap();
        profile.generations.into_iter().next().unwrap()
    };
    let (uncut, cut) = (generation_0(&uncut), generation_0(&cut));
    let recall = |g: &collapse_records::profile::GenerationProfile| {
        g.metrics
            .iter()
            .find(|m| m.metric == "recall")
            .unwrap()
            .estimate
    };
    let rarest = |g: &collapse_records::profile::GenerationProfile, rarity: &str| {
        *g.survival
            .iter()
            .find(|s| s.rarity == rarity)
            .unwrap()
            .bands
            .last()
            .unwrap()
    };
    let (a, b) = (recall(&uncut), recall(&cut));
    eprintln!("recall at generation 0: uncut {a:?}, cut {b:?}");
    assert!(b.hi < a.lo, "recall: cut {b:?} not below uncut {a:?}");
    for rarity in ["nelbo0", "radius"] {
        let (a, b) = (rarest(&uncut, rarity), rarest(&cut, rarity));
        eprintln!("rarest {rarity} band: uncut {a:?}, cut {b:?}");
        assert!(
            b.hi < a.lo,
            "rarest {rarity} band: cut {b:?} not below uncut {a:?}"
        );
    }
    let above = |g: &collapse_records::profile::GenerationProfile| {
        let nelbo = g.exceedance.iter().find(|e| e.quantity == "nelbo0");
        nelbo.unwrap().above
    };
    let (a, b) = (above(&uncut), above(&cut));
    eprintln!("beyond the real 99 % NELBO quantile: uncut {a:?}, cut {b:?}");
    assert!(b.hi < a.lo, "exceedance: cut {b:?} not below uncut {a:?}");

    // The page comparing them draws both runs' survival curves per rarity.
    let page = tmp.join("compared");
    let (uncut, cut) = (tmp.join("uncut"), tmp.join("cut"));
    let path = |p: &Path| p.to_str().unwrap().to_string();
    let (uncut, cut, out) = (path(&uncut), path(&cut), path(&page));
    assert_ok(&collapse(&tmp.0, &["compare", &uncut, &cut, "--out", &out]));
    let html = std::fs::read_to_string(page.join("index.html")).unwrap();
    assert!(html.contains("Tail survival") && html.contains("rarest band"));
    for rarity in ["nelbo0", "radius"] {
        assert!(page.join(format!("plots/survival-{rarity}.png")).is_file());
    }
}
