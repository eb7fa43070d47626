//! The frozen evaluators through the binary: every generation scored into
//! `eval.json` and `metrics.csv`, the classifier cache, `--seeds` with its
//! aggregate, `collapse compare`, and (long, `--ignored`) the full
//! classifier's accuracy on MNIST and Fashion-MNIST.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use collapse_records::{EvalRecord, read_json, read_metrics_csv};

use crate::chain::{TINY, short_chain};
use crate::util::{
    TEST_EVALUATOR, TempDir, assert_fails, assert_ok, collapse, flags, mnist_source,
};

fn in_unit(v: f64, what: &str) {
    assert!((0.0..=1.0).contains(&v), "{what}: {v}");
}

fn check_record(r: &EvalRecord, images: usize) {
    assert_eq!(r.images, images, "{}", r.label);
    assert_eq!(r.classes.counts.len(), 10);
    assert_eq!(r.classes.counts.iter().sum::<u64>(), images as u64);
    let total: f64 = r.classes.frequencies.iter().sum();
    assert!((total - 1.0).abs() < 1e-9, "{total}");
    in_unit(r.classes.entropy_normalised, "normalised entropy");
    in_unit(r.classes.mean_confidence, "confidence");
    in_unit(r.classes.unconfident_share, "unconfident share");
    assert_eq!(r.nelbo0.histogram.total(), images as u64);
    assert_eq!(r.nelbo0.histogram.counts.len(), 60);
    assert_eq!(r.nelbo0.quantiles.len(), 7);
    let names: Vec<&str> = r.style.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["ink", "slant", "width", "height", "thickness"]);
    for s in &r.style {
        assert_eq!(
            s.distribution.histogram.total(),
            images as u64,
            "{}",
            s.name
        );
        let q = &s.distribution.quantiles;
        assert!(q.windows(2).all(|w| w[0].value <= w[1].value), "{}", s.name);
    }
    assert_eq!(r.pca.len(), images.min(1000));
    assert!(r.pca.iter().flatten().all(|v| v.is_finite()));
}

#[test]
fn every_generation_is_scored_against_the_real_test_set() {
    let tmp = TempDir::new("eval");
    let args =
        flags("--train-size 512 --generations 2 --epochs 2 --probe-samples 500 --test-size 2000");
    let out = short_chain(&tmp, &args);
    let reference: EvalRecord = read_json(&out.join("reference.json")).unwrap();
    assert_eq!((reference.generation, &reference.distances), (None, &None));
    check_record(&reference, 2_000);
    // MNIST's test set is nearly balanced, and even the small test classifier reads most of it.
    assert!(
        reference.classes.entropy_normalised > 0.98,
        "{:?}",
        reference.classes
    );
    assert!(
        reference.classifier.test_accuracy > 0.8,
        "{:?}",
        reference.classifier
    );
    let real_width = reference.style("width").unwrap().distribution.spread_1_99();
    assert!((5.0..=28.0).contains(&real_width), "{real_width}");

    let rows = read_metrics_csv(&out.join("metrics.csv")).unwrap();
    assert_eq!(rows.len(), 3);
    let mut bins = None;
    for row in &rows {
        let path = out.join(format!("gen-{:03}/eval.json", row.generation));
        let record: EvalRecord = read_json(&path).unwrap();
        assert_eq!(record.generation, Some(row.generation));
        assert_eq!(record.classifier, reference.classifier);
        check_record(&record, 500);
        let d = record.distances.as_ref().unwrap();
        assert_eq!((d.k, d.reference), (5, 2_000));
        for (v, what) in [
            (d.precision, "precision"),
            (d.recall, "recall"),
            (d.coverage, "coverage"),
        ] {
            in_unit(v, what);
        }
        assert!(d.fd.is_finite() && d.fd > 0.0 && d.density >= 0.0, "{d:?}");
        // The row of metrics.csv is the record's summary, and every bin is shared.
        assert_eq!(row.eval.as_ref(), Some(&record.summary()));
        let h = &record.nelbo0.histogram;
        assert_eq!(*bins.get_or_insert((h.lo, h.hi)), (h.lo, h.hi));
    }
}

#[test]
fn no_eval_leaves_the_evaluation_out() {
    let tmp = TempDir::new("no-eval");
    let mut flags = TINY.to_vec();
    flags.push("--no-eval");
    let out = short_chain(&tmp, &flags);
    assert!(!out.join("reference.json").exists());
    assert!(!out.join("gen-001/eval.json").exists());
    let rows = read_metrics_csv(&out.join("metrics.csv")).unwrap();
    assert!(rows.iter().all(|r| r.eval.is_none()));
}

/// A fresh folder linking the four files of `source`, so the classifier
/// cache is created inside the test's temporary folder.
fn linked_data(tmp: &TempDir, source: &Path) -> PathBuf {
    let dir = tmp.join("data");
    std::fs::create_dir_all(&dir).unwrap();
    for entry in std::fs::read_dir(source).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "gz") {
            std::os::unix::fs::symlink(&path, dir.join(path.file_name().unwrap())).unwrap();
        }
    }
    dir
}

fn train_evaluator(tmp: &TempDir, dataset: &str, data: &Path, extra: &[&str]) -> String {
    let mut args = vec![
        "evaluator",
        "train",
        "--dataset",
        dataset,
        "--data",
        data.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    assert_ok(&collapse(&tmp.0, &args))
}

/// The accuracy printed by `collapse evaluator train`, in percent.
fn accuracy(stdout: &str) -> f64 {
    let after = stdout.split("test accuracy ").nth(1).expect(stdout);
    after.split(' ').next().unwrap().parse().unwrap()
}

#[test]
fn the_classifier_is_trained_once_and_then_loaded() {
    let tmp = TempDir::new("evaluator-cache");
    let data = linked_data(&tmp, &mnist_source());
    let first = train_evaluator(&tmp, "mnist", &data, &TEST_EVALUATOR);
    let cached = train_evaluator(&tmp, "mnist", &data, &TEST_EVALUATOR);
    assert_eq!(first, cached, "the second call reports the cached record");
    let entries: Vec<_> = std::fs::read_dir(data.join("evaluators"))
        .unwrap()
        .collect();
    assert_eq!(entries.len(), 1);
    // Another recipe is another cache entry.
    train_evaluator(
        &tmp,
        "mnist",
        &data,
        &["--evaluator-epochs", "1", "--evaluator-images", "2000"],
    );
    assert_eq!(
        std::fs::read_dir(data.join("evaluators")).unwrap().count(),
        2
    );
    assert!(accuracy(&first) > 80.0, "{first}");
}

#[test]
fn a_run_that_finds_the_classifier_in_training_waits_for_it_and_loads_it() {
    let tmp = TempDir::new("evaluator-wait");
    let data = linked_data(&tmp, &mnist_source());
    let trained = train_evaluator(&tmp, "mnist", &data, &TEST_EVALUATOR);
    let entries: Vec<_> = std::fs::read_dir(data.join("evaluators"))
        .unwrap()
        .collect();
    let [entry] = &entries[..] else {
        panic!("{entries:?}")
    };
    let entry = entry.as_ref().unwrap().path();
    // Take the finished entry away and hold its training lock, as a process
    // still training it would.
    let aside = tmp.join("aside");
    std::fs::create_dir(&aside).unwrap();
    for file in ["classifier.json", "model.bpk"] {
        std::fs::rename(entry.join(file), aside.join(file)).unwrap();
    }
    let lock = std::fs::File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(entry.join("training.lock"))
        .unwrap();
    lock.lock().unwrap();
    let mut waiting = Command::new(env!("CARGO_BIN_EXE_collapse"))
        .args(["evaluator", "train", "--dataset", "mnist", "--data"])
        .arg(&data)
        .args(TEST_EVALUATOR)
        .current_dir(&tmp.0)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(waiting.stderr.take().unwrap());
    let mut before = String::new();
    while !before.contains("waiting for the frozen classifier") {
        assert_ne!(stderr.read_line(&mut before).unwrap(), 0, "{before}");
    }
    // The other process finishes: the entry, its record last, then the lock.
    for file in ["model.bpk", "classifier.json"] {
        std::fs::rename(aside.join(file), entry.join(file)).unwrap();
    }
    drop(lock);
    let mut after = String::new();
    stderr.read_to_string(&mut after).unwrap();
    let out = waiting.wait_with_output().unwrap();
    assert!(out.status.success(), "{before}{after}");
    let both = format!("{before}{after}");
    assert!(!both.contains("training the frozen classifier"), "{both}");
    assert!(after.contains("frozen classifier: "), "{after}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), trained);
}

#[test]
#[ignore = "long: trains the full classifier on all of MNIST (a few minutes)"]
fn the_mnist_classifier_reaches_99_percent() {
    let tmp = TempDir::new("evaluator-mnist");
    let data = linked_data(&tmp, &mnist_source());
    let stdout = train_evaluator(&tmp, "mnist", &data, &[]);
    assert!(accuracy(&stdout) >= 99.0, "{stdout}");
}

#[test]
#[ignore = "long: trains the full classifier on all of Fashion-MNIST (a few minutes)"]
fn the_fashion_classifier_reaches_90_percent() {
    let source = Path::new("/usr/share/datasets/fashion-mnist");
    let present = source.join("train-images-idx3-ubyte.gz").is_file();
    if !crate::util::have("Fashion-MNIST", present, "Debian's dataset-fashion-mnist") {
        return;
    }
    let tmp = TempDir::new("evaluator-fashion");
    let data = linked_data(&tmp, source);
    let stdout = train_evaluator(&tmp, "fashion-mnist", &data, &[]);
    assert!(accuracy(&stdout) >= 90.0, "{stdout}");
}

#[test]
fn seeds_run_one_chain_each_and_aggregate_them() {
    let tmp = TempDir::new("seeds");
    let out = tmp.join("seeds");
    let mut flags = TINY.to_vec();
    flags.extend(["--seeds", "1,2"]);
    assert_ok(&crate::util::run_into(&tmp, &out, &flags));
    for seed in [1u64, 2] {
        let manifest: collapse_records::Manifest =
            read_json(&out.join(format!("runs/seed-{seed}/manifest.json"))).unwrap();
        assert_eq!(manifest.seed, seed);
    }
    let csv = std::fs::read_to_string(out.join("report/summary.csv")).unwrap();
    let recall: Vec<Vec<&str>> = csv
        .lines()
        .map(|l| l.split(',').collect::<Vec<_>>())
        .filter(|r| r[2] == "recall")
        .collect();
    assert_eq!(recall.len(), 2, "generations 0 and 1: {csv}");
    assert!(
        recall.iter().all(|r| r[3] == "2" && !r[5].is_empty()),
        "a mean and a deviation over both seeds: {csv}"
    );
    assert!(out.join("report/index.html").is_file());
    assert!(out.join("study.toml").is_file(), "a study of one seed axis");

    // The same command again finds both runs complete; other settings are refused.
    let again = crate::util::run_into(&tmp, &out, &flags);
    let stdout = assert_ok(&again);
    assert!(!stdout.contains("generation 0 trains"), "{stdout}");
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(stderr.contains("0 of 2 runs to do"), "{stderr}");
    let mut other = flags.clone();
    other.extend(["--lr", "0.002"]);
    assert_fails(
        &crate::util::run_into(&tmp, &out, &other),
        2,
        &["holds a study whose run seed-1 has other settings"],
    );

    let repeated = ["--seeds", "3,3"];
    let mut flags = TINY.to_vec();
    flags.extend(repeated);
    assert_fails(
        &crate::util::run_into(&tmp, &tmp.join("again"), &flags),
        2,
        &["--seeds", "3 is given twice"],
    );

    let compared = tmp.join("compared");
    let seed1 = out.join("runs/seed-1");
    let seed2 = out.join("runs/seed-2");
    let stdout = assert_ok(&collapse(
        &tmp.0,
        &[
            "compare",
            seed1.to_str().unwrap(),
            seed2.to_str().unwrap(),
            "--out",
            compared.to_str().unwrap(),
        ],
    ));
    assert!(stdout.contains("index.html"), "{stdout}");
    let csv = std::fs::read_to_string(compared.join("summary.csv")).unwrap();
    assert!(csv.lines().any(|l| l.contains("recall")), "{csv}");
    assert!(compared.join("index.html").is_file());
    assert_fails(
        &collapse(
            &tmp.0,
            &["compare", seed1.to_str().unwrap(), tmp.0.to_str().unwrap()],
        ),
        2,
        &["not a run folder"],
    );
}
