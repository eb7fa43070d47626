//! Interrupted chains: SIGKILL at arbitrary moments, `--resume`, and the
//! result must equal an uninterrupted run of the same seed.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::util::{
    TempDir, assert_fails, assert_ok, collapse, mnist_source, run_and_kill, run_args, run_into,
};

/// A chain of four generations that takes a few seconds, keeping its training
/// sets so that a kill can land in their writes too.
const CHAIN: [&str; 14] = [
    "--keep-sets",
    "all",
    "--test-size",
    "1000",
    "--train-size",
    "1000",
    "--generations",
    "3",
    "--epochs",
    "2",
    "--probe-samples",
    "500",
    "--seed",
    "9",
];

/// Files whose bytes must equal the uninterrupted run's (weights are checked
/// through everything computed from them; burnpack files carry random parameter ids).
fn compare_runs(reference: &Path, resumed: &Path) {
    let strip = crate::chain::metrics_without_seconds;
    assert_eq!(strip(reference), strip(resumed));
    let same = |file: &Path| {
        assert!(
            std::fs::read(reference.join(file)).unwrap()
                == std::fs::read(resumed.join(file)).unwrap(),
            "{} differs",
            file.display()
        )
    };
    same(Path::new("reference.json"));
    same(Path::new("profile.json"));
    for array in ["features.npy", "nelbo0.npy", "radius.npy"] {
        same(&Path::new("per-sample").join(array));
    }
    for g in 0..=3 {
        let gen_dir = format!("gen-{g:03}");
        for f in [
            "probe.json",
            "eval.json",
            "latents.json",
            "samples.png",
            "reconstructions.png",
            "vae.json",
            "per-sample/features.npy",
            "per-sample/real-recalled.npy",
            "per-sample/probe-mu.npy",
        ] {
            let (a, b) = (
                reference.join(&gen_dir).join(f),
                resumed.join(&gen_dir).join(f),
            );
            assert!(
                std::fs::read(&a).unwrap() == std::fs::read(&b).unwrap(),
                "{} differs",
                b.display()
            );
        }
        if g > 0 {
            let set = Path::new(&gen_dir).join("train-images-idx3-float.gz");
            let (a, b) = (
                collapse_data::read_idx(&reference.join(&set)),
                collapse_data::read_idx(&resumed.join(&set)),
            );
            assert!(a.unwrap() == b.unwrap(), "{} differs", set.display());
        }
    }
}

/// Kills the chain at `delays` (one per attempt), resuming after each, until
/// it finishes; returns its folder and how many times it was killed.
fn interrupted_run(tmp: &TempDir, name: &str, delays: &[u64]) -> (std::path::PathBuf, usize) {
    let out = tmp.join(name);
    let fresh = run_args(&out, &CHAIN);
    let fresh: Vec<&str> = fresh.iter().map(String::as_str).collect();
    let resume = ["run", "--resume", out.to_str().unwrap(), "--quiet"];
    let mut kills = 0;
    for &ms in delays.iter().chain(std::iter::repeat(&600_000)) {
        let args: &[&str] = if out.join("manifest.json").is_file() {
            &resume
        } else {
            &fresh
        };
        if run_and_kill(&tmp.0, args, Duration::from_millis(ms)) {
            break;
        }
        kills += 1;
    }
    (out, kills)
}

/// Deterministic "random" delays in [50, 3000) ms.
fn delays(seed: u64, n: usize) -> Vec<u64> {
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            50 + (x >> 33) % 2950
        })
        .collect()
}

/// Interrupts chains until `points` kills have happened, checking each result.
fn kill_and_resume(points: usize) {
    let tmp = TempDir::new("kill");
    let reference = tmp.join("reference");
    assert_ok(&run_into(&tmp, &reference, &CHAIN));
    let mut kills = 0;
    for trial in 0.. {
        if kills >= points {
            break;
        }
        let (resumed, n) = interrupted_run(&tmp, &format!("killed-{trial}"), &delays(trial, 3));
        compare_runs(&reference, &resumed);
        std::fs::remove_dir_all(&resumed).unwrap();
        kills += n;
        eprintln!("trial {trial}: killed {n} times, result identical ({kills} kills so far)");
    }
}

#[test]
fn killed_chains_resume_to_the_uninterrupted_result() {
    kill_and_resume(3);
}

/// The stress version (CI runs it with `--ignored`): at least 20 kill points.
#[test]
#[ignore = "long: 20 kills and resumes"]
fn killed_chains_resume_to_the_uninterrupted_result_20_times() {
    kill_and_resume(20);
}

#[test]
fn resume_refuses_science_flags_and_extends_generations() {
    let tmp = TempDir::new("resume-flags");
    let out = tmp.join("run");
    assert_ok(&run_into(&tmp, &out, &crate::chain::TINY));
    let dir = out.to_str().unwrap();
    let refused = collapse(
        &tmp.0,
        &["run", "--resume", dir, "--epochs", "3", "--seed", "2"],
    );
    assert_fails(&refused, 2, &["--epochs", "--seed", "recorded config"]);
    let lower = collapse(&tmp.0, &["run", "--resume", dir, "--generations", "0"]);
    assert_fails(&lower, 2, &["--generations"]);
    assert_ok(&collapse(
        &tmp.0,
        &["run", "--resume", dir, "--generations", "2", "--quiet"],
    ));
    let rows = collapse_records::read_metrics_csv(&out.join("metrics.csv")).unwrap();
    assert_eq!(rows.len(), 3);
    assert!(out.join("gen-002/COMPLETE").is_file());
    let nowhere = collapse(
        &tmp.0,
        &["run", "--resume", tmp.join("nothing").to_str().unwrap()],
    );
    assert_fails(&nowhere, 2, &["cannot read the run's manifest"]);
    // --break-lock never breaks a lock a live process holds (here flock(1)'s)...
    let mut holder = std::process::Command::new("flock")
        .arg("-F")
        .arg(out.join(".lock"))
        .args(["sleep", "60"])
        .spawn()
        .expect("flock(1) from util-linux");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while collapse_records::lock::holder(&out).is_none() {
        assert!(
            std::time::Instant::now() < deadline,
            "flock never took the lock"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let held = collapse(&tmp.0, &["run", "--resume", dir, "--break-lock"]);
    assert_fails(&held, 2, &["--break-lock: ", "in use by"]);
    holder.kill().unwrap();
    holder.wait().unwrap();
    // ...and removes one whose writer is gone.
    std::fs::write(out.join(".lock"), "77 node-b\n").unwrap();
    assert_ok(&collapse(
        &tmp.0,
        &["run", "--resume", dir, "--break-lock", "--quiet"],
    ));
    assert!(!out.join(".lock").exists());
}

/// `--mode accumulate` keeps its sets in host memory while it runs and reads
/// them back from the generation folders on resume: both give the same chain.
/// An accumulating chain keeps its real set on the host and reads its
/// earlier synthetic sets back on a resume; with a tail cut, the resume
/// leaves out the images its `tail-cut.json` names, without the reference
/// VAE that chose them.
#[test]
fn an_accumulating_chain_with_a_tail_cut_resumes_from_its_sets_on_disk() {
    let tmp = TempDir::new("resume-accumulate");
    let common = [
        "--cut-tail",
        "0.1",
        "--mode",
        "accumulate",
        "--test-size",
        "1000",
        "--train-size",
        "300",
        "--epochs",
        "1",
        "--batch-size",
        "64",
        "--probe-samples",
        "200",
        "--seed",
        "4",
    ];
    let whole = tmp.join("whole");
    let mut args = common.to_vec();
    args.extend(["--generations", "3"]);
    assert_ok(&run_into(&tmp, &whole, &args));
    let parts = tmp.join("parts");
    let mut args = common.to_vec();
    args.extend(["--generations", "1"]);
    assert_ok(&run_into(&tmp, &parts, &args));
    let record = parts.join("tail-cut.json");
    let cut: serde_json::Value = collapse_records::read_json(&record).unwrap();
    assert_eq!(cut["removed"].as_array().unwrap().len(), 30);
    let written = std::fs::read(&record).unwrap();
    assert_eq!(written, std::fs::read(whole.join("tail-cut.json")).unwrap());
    // The resume needs the record alone: the reference VAE's cache entry is gone.
    let entry = crate::util::mnist_dir()
        .join("evaluators")
        .join(cut["reference"].as_str().unwrap());
    std::fs::remove_dir_all(&entry).unwrap();
    let dir = parts.to_str().unwrap();
    assert_ok(&collapse(
        &tmp.0,
        &["run", "--resume", dir, "--generations", "3", "--quiet"],
    ));
    assert!(
        !entry.exists(),
        "the resume trained the reference VAE again"
    );
    assert_eq!(std::fs::read(&record).unwrap(), written);
    let strip = crate::chain::metrics_without_seconds;
    assert_eq!(strip(&whole), strip(&parts));
    let rows = collapse_records::read_metrics_csv(&parts.join("metrics.csv")).unwrap();
    let sizes: Vec<usize> = rows.iter().map(|r| r.train_size).collect();
    assert_eq!(sizes, vec![270, 540, 810, 1080]);

    // A record that does not fit the run is refused in one line, nothing lost.
    let mut wrong = cut.clone();
    wrong["removed"].as_array_mut().unwrap().pop();
    std::fs::write(&record, serde_json::to_string(&wrong).unwrap()).unwrap();
    let refused = collapse(
        &tmp.0,
        &["run", "--resume", dir, "--generations", "4", "--quiet"],
    );
    assert_fails(
        &refused,
        2,
        &[
            "tail-cut.json",
            "names 29 of 300 images cut, the run cuts 30 of 300",
        ],
    );
    assert!(parts.join("gen-003/COMPLETE").is_file());
}

#[test]
fn one_writer_per_run_folder_and_force_replaces_a_finished_run() {
    let tmp = TempDir::new("lock");
    let out = tmp.join("run");
    let args = run_args(
        &out,
        &[
            "--train-size",
            "4000",
            "--generations",
            "5",
            "--epochs",
            "3",
        ],
    );
    let mut first = Command::new(env!("CARGO_BIN_EXE_collapse"))
        .args(&args)
        .current_dir(&tmp.0)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    while !out.join("manifest.json").is_file() {
        std::thread::sleep(Duration::from_millis(20));
    }
    let pid = format!("process {}", first.id());
    let dir = out.to_str().unwrap();
    assert_fails(
        &collapse(&tmp.0, &["run", "--resume", dir]),
        2,
        &["in use by", &pid],
    );
    let forced = run_into(&tmp, &out, &["--force"]);
    assert_fails(&forced, 2, &["in use by", &pid]);
    first.kill().unwrap();
    first.wait().unwrap();
    // The dead writer's lock is taken over; a plain run is refused, --force replaces.
    assert_fails(
        &run_into(&tmp, &out, &crate::chain::TINY),
        2,
        &["--resume", "--force"],
    );
    let mut replace = crate::chain::TINY.to_vec();
    replace.push("--force");
    assert_ok(&run_into(&tmp, &out, &replace));
    assert!(out.join("gen-001/COMPLETE").is_file() && !out.join("gen-002").exists());
    assert!(
        !out.join(".lock").exists(),
        "the lock is released at the end"
    );
}

#[test]
fn a_diverging_loss_stops_with_where_it_happened_or_is_retried_once() {
    let tmp = TempDir::new("diverge");
    let args = [
        "--train-size",
        "1000",
        "--generations",
        "1",
        "--epochs",
        "2",
        "--lr",
        "100",
    ];
    let out = tmp.join("stop");
    assert_fails(
        &run_into(&tmp, &out, &args),
        1,
        &["generation 0", "epoch 1, step", "diverged"],
    );
    assert!(!out.join("gen-000/COMPLETE").exists());
    let out = tmp.join("retry");
    let mut retry = args.to_vec();
    retry.extend(["--on-divergence", "retry"]);
    assert_fails(&run_into(&tmp, &out, &retry), 1, &["again after a retry"]);
    let manifest: collapse_records::Manifest =
        collapse_records::read_json(&out.join("manifest.json")).unwrap();
    assert_eq!(manifest.retries.len(), 1);
    assert_eq!(
        (manifest.retries[0].generation, manifest.retries[0].lr),
        (0, 50.0)
    );
}

#[test]
fn broken_run_folders_and_data_are_answered_in_one_line_and_lose_nothing() {
    let tmp = TempDir::new("broken");
    let out = tmp.join("run");
    assert_ok(&run_into(&tmp, &out, &crate::chain::TINY));
    let dir = out.to_str().unwrap();
    // A truncated checkpoint of a complete generation.
    let weights = out.join("gen-001/model.bpk");
    let bytes = std::fs::read(&weights).unwrap();
    std::fs::write(&weights, &bytes[..bytes.len() / 2]).unwrap();
    let resumed = collapse(
        &tmp.0,
        &["run", "--resume", dir, "--generations", "2", "--quiet"],
    );
    assert_fails(&resumed, 2, &["model.bpk", "cannot read checkpoint"]);
    assert!(out.join("gen-000/COMPLETE").is_file() && out.join("gen-001/COMPLETE").is_file());
    // A run recorded (before format versions) with a convolution path no
    // build since 3e2cbdd has: the migration names the build that has it.
    let manifest = std::fs::read_to_string(out.join("manifest.json")).unwrap();
    let mut hybrid: serde_json::Value = serde_json::from_str(&manifest).unwrap();
    hybrid.as_object_mut().unwrap().remove("format_version");
    hybrid["config"]["model"]["conv_impl"] = "hybrid".into();
    std::fs::write(out.join("manifest.json"), hybrid.to_string()).unwrap();
    let resumed = collapse(&tmp.0, &["run", "--resume", dir, "--generations", "2"]);
    assert_fails(&resumed, 2, &["manifest.json", "\"hybrid\"", "3e2cbdd"]);
    std::fs::write(out.join("manifest.json"), manifest).unwrap();
    // A generation saved by a build that recorded its convolution path in
    // vae.json: the path is the kernels' choice now, and the weights load.
    let vae = std::fs::read_to_string(out.join("gen-001/vae.json")).unwrap();
    assert!(
        !vae.contains("conv_impl"),
        "vae.json names no convolution path"
    );
    let older = vae.replacen('{', "{\n  \"conv_impl\": \"hybrid\",", 1);
    let generation = tmp.join("older-gen");
    std::fs::create_dir_all(&generation).unwrap();
    std::fs::write(generation.join("vae.json"), older).unwrap();
    // gen-001's weights were truncated above; gen-000's have the same shapes.
    std::fs::copy(out.join("gen-000/model.bpk"), generation.join("model.bpk")).unwrap();
    let g = generation.to_str().unwrap();
    assert_ok(&collapse(&tmp.0, &["sample", g, "--out", "grid.png"]));
    assert!(tmp.join("grid.png").is_file());
    // A manifest edited into nonsense.
    std::fs::write(out.join("manifest.json"), "{\"tool\": 42").unwrap();
    let resumed = collapse(&tmp.0, &["run", "--resume", dir]);
    assert_fails(&resumed, 2, &["manifest.json"]);
    assert!(out.join("gen-001/probe.json").is_file());
    // An output folder that cannot be created.
    std::fs::write(tmp.join("blocker"), "a file").unwrap();
    let blocked = run_into(&tmp, &tmp.join("blocker/run"), &crate::chain::TINY);
    assert_fails(&blocked, 1, &["blocker/run"]);
    // A dataset file whose contents are not the catalogue's.
    let data = tmp.join("altered");
    std::fs::create_dir_all(&data).unwrap();
    for f in [
        "train-images-idx3-ubyte.gz",
        "train-labels-idx1-ubyte.gz",
        "t10k-images-idx3-ubyte.gz",
    ] {
        std::fs::copy(mnist_source().join(f), data.join(f)).unwrap();
    }
    let mut labels = Vec::new();
    use std::io::Read;
    flate2::read::GzDecoder::new(
        std::fs::File::open(mnist_source().join("t10k-labels-idx1-ubyte.gz")).unwrap(),
    )
    .read_to_end(&mut labels)
    .unwrap();
    labels[8] = (labels[8] + 1) % 10;
    std::fs::write(data.join("t10k-labels-idx1-ubyte"), &labels).unwrap();
    let d = data.to_str().unwrap();
    let altered = collapse(&tmp.0, &["run", "--data", d, "--out", "x", "--quiet"]);
    assert_fails(
        &altered,
        2,
        &[
            "t10k-labels-idx1-ubyte",
            "not the catalogue's",
            "--no-verify",
        ],
    );
    let mut accepted = vec![
        "run",
        "--data",
        d,
        "--out",
        "accepted",
        "--quiet",
        "--no-verify",
    ];
    accepted.extend(crate::chain::TINY);
    accepted.extend(crate::util::TEST_EVALUATOR);
    assert_ok(&collapse(&tmp.0, &accepted));
    let manifest: collapse_records::Manifest =
        collapse_records::read_json(&tmp.join("accepted/manifest.json")).unwrap();
    assert_eq!(
        manifest
            .dataset
            .files
            .iter()
            .filter(|f| !f.matches_catalogue)
            .count(),
        1
    );
}

/// A run folder of format 0 (written before manifests carried a format
/// version, and before the fields later builds added) opens through the
/// migration: `collapse report` redraws it, and `--resume` extends it and
/// writes its manifest in the current format.
#[test]
fn a_run_folder_of_format_0_opens_and_resumes_through_the_migration() {
    let tmp = TempDir::new("format-0");
    let out = tmp.join("run");
    assert_ok(&run_into(&tmp, &out, &crate::chain::TINY));
    let path = out.join("manifest.json");
    let mut manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let top = manifest.as_object_mut().unwrap();
    for field in ["format_version", "experiment", "resumed", "retries"] {
        assert!(top.remove(field).is_some(), "{field}");
    }
    let device = top["device"].as_object_mut().unwrap();
    for field in ["runtime", "precision", "kernels"] {
        assert!(device.remove(field).is_some(), "{field}");
    }
    let config = top["config"].as_object_mut().unwrap();
    for field in ["profile", "cut_tail"] {
        assert!(config.remove(field).is_some(), "{field}");
    }
    std::fs::write(&path, serde_json::to_string_pretty(&manifest).unwrap()).unwrap();
    // Nor did a run of that format keep per-sample evidence or a profile.
    for evidence in ["per-sample", "gen-000/per-sample", "gen-001/per-sample"] {
        std::fs::remove_dir_all(out.join(evidence)).unwrap();
    }
    for profile in ["profile.json", "profile.csv"] {
        std::fs::remove_file(out.join(profile)).unwrap();
    }
    let dir = out.to_str().unwrap();
    assert_ok(&collapse(&tmp.0, &["profile", dir]));
    assert!(out.join("gen-001/per-sample/features.npy").is_file());
    assert_ok(&collapse(&tmp.0, &["report", dir]));
    let page = std::fs::read_to_string(out.join("index.html")).unwrap();
    assert!(
        page.contains("not recorded"),
        "the page says what the old run lacks"
    );
    assert_ok(&collapse(
        &tmp.0,
        &["run", "--resume", dir, "--generations", "2", "--quiet"],
    ));
    let resumed: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(resumed["format_version"], collapse_records::FORMAT_VERSION);
    assert_eq!(resumed["experiment"], "chain");
    assert!(out.join("gen-002/COMPLETE").is_file());
    let profile: collapse_records::profile::Profile =
        collapse_records::read_json(&out.join("profile.json")).unwrap();
    assert_eq!(profile.generations.len(), 3, "the resume profiles on");
}

/// Size in bytes of every file under `dir`.
fn tree_size(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let path = e.unwrap().path();
            if path.is_dir() {
                tree_size(&path)
            } else {
                path.metadata().unwrap().len()
            }
        })
        .sum()
}

#[test]
fn a_full_disk_stops_the_chain_in_one_line_and_loses_nothing() {
    let tmp = TempDir::new("full-disk");
    // How much generation 0 alone writes.
    let probe = tmp.join("probe");
    let mut one = crate::chain::TINY.to_vec();
    let g = one.iter().position(|a| *a == "--generations").unwrap();
    one[g + 1] = "0";
    assert_ok(&run_into(&tmp, &probe, &one));
    let size_kb = tree_size(&probe) / 1024 + 1024;
    // The real run goes to a tmpfs of that size plus 1 MiB, mounted in a
    // private user and mount namespace: generation 0 fits, generation 1's
    // checkpoint (2.6 MB) does not. Then the tmpfs is enlarged and the run resumed.
    let disk = tmp.join("disk");
    std::fs::create_dir_all(&disk).unwrap();
    let out = disk.join("run");
    let run = run_args(&out, &crate::chain::TINY).join(" ");
    let bin = env!("CARGO_BIN_EXE_collapse");
    let logs = tmp.0.display();
    let script = format!(
        "set -u
mount -t tmpfs -o size={size_kb}k none {disk}
{bin} {run} >{logs}/full.out 2>{logs}/full.err; echo $? >{logs}/full.rc
ls -R {out} >{logs}/after-full.txt
cat {out}/metrics.csv >{logs}/metrics-full.csv
mount -o remount,size=64m {disk}
{bin} run --resume {out} --quiet >{logs}/resume.out 2>{logs}/resume.err; echo $? >{logs}/resume.rc
cat {out}/metrics.csv >{logs}/metrics-resumed.csv",
        disk = disk.display(),
        out = out.display(),
    );
    let status = Command::new("unshare")
        .args(["--user", "--map-root-user", "--mount", "sh", "-c", &script])
        .status()
        .expect(
            "this test needs util-linux's unshare (a private mount namespace for a tiny tmpfs)",
        );
    assert!(status.success(), "the namespace script failed: {status}");
    let read = |name: &str| std::fs::read_to_string(tmp.join(name)).unwrap();
    assert_eq!(read("full.rc").trim(), "1", "stderr: {}", read("full.err"));
    let err = read("full.err");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("No space left on device") && err.contains("gen-001"),
        "{err}"
    );
    let listing = read("after-full.txt");
    assert!(
        listing.contains("COMPLETE"),
        "generation 0 is kept: {listing}"
    );
    assert!(
        !listing.contains(".tmp-"),
        "no temporary file is left: {listing}"
    );
    assert_eq!(
        read("metrics-full.csv").lines().count(),
        2,
        "header and generation 0"
    );
    assert_eq!(
        read("resume.rc").trim(),
        "0",
        "stderr: {}",
        read("resume.err")
    );
    assert_eq!(read("metrics-resumed.csv").lines().count(), 3);
}
