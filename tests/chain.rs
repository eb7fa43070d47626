//! Whole chains on real MNIST through the binary, checking every file of the
//! output contract and that its numbers are finite and in range.

use std::path::Path;

use collapse_data::{IdxData, read_idx};
use collapse_records::{LatentStats, Manifest, ProbeStats, read_json, read_metrics_csv};

use crate::util::{TempDir, assert_fails, assert_ok, collapse, flags, run_into, sample_checkpoint};

/// Flags of the smallest useful chain: 256 images, one epoch, generation 0 and
/// 1, scored against 1,000 test images.
pub const TINY: [&str; 10] = [
    "--train-size",
    "256",
    "--test-size",
    "1000",
    "--generations",
    "1",
    "--epochs",
    "1",
    "--probe-samples",
    "100",
];

/// Runs a chain with `extra` flags into `tmp/run` and returns that folder.
pub fn short_chain(tmp: &TempDir, extra: &[&str]) -> std::path::PathBuf {
    let out = tmp.join("run");
    assert_ok(&run_into(tmp, &out, extra));
    out
}

fn check_png(path: &Path, width: u32, height: u32) {
    let img = image::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(
        (img.width(), img.height()),
        (width, height),
        "{}",
        path.display()
    );
}

fn finite(values: &[f64], what: &str) {
    assert!(values.iter().all(|v| v.is_finite()), "{what}: {values:?}");
}

/// Runs a short chain of `model` and checks every file of the contract; with
/// `keep_sets` the chain keeps its generated training sets, and each is drawn
/// again, bit for bit, by `collapse sample --training-set`.
fn check_contract(model: &str, parameters: usize, keep_sets: &str, test_size: usize) {
    let tmp = TempDir::new(model);
    let args = flags(
        "--train-size 512 --generations 2 --epochs 2 --batch-size 64 --probe-samples 1000 --seed 7",
    );
    // All 10,000 test images where --test-size is left at its default.
    let test_flag = match test_size {
        10_000 => Vec::new(),
        n => vec!["--test-size".to_string(), n.to_string()],
    };
    let test_flag: Vec<&str> = test_flag.iter().map(String::as_str).collect();
    let model_flags = ["--model", model, "--keep-sets", keep_sets];
    let out = short_chain(&tmp, &[&model_flags[..], &args, &test_flag].concat());
    let manifest: Manifest = read_json(&out.join("manifest.json")).unwrap();
    assert!(manifest.tool.starts_with("collapse "));
    assert!(manifest.finished.is_some());
    assert_eq!(manifest.seed, 7);
    assert_eq!(manifest.device.backend, "flex");
    assert_eq!(manifest.parameters, parameters);
    assert_eq!(manifest.config["train_size"], 512);
    assert_eq!(manifest.config["model"]["architecture"], model);
    assert!(manifest.command_line.iter().any(|a| a == "--train-size"));
    assert_eq!(manifest.dataset.files.len(), 4);
    assert!(manifest.dataset.files.iter().all(|f| f.matches_catalogue));
    assert_eq!(manifest.generations.len(), 3);

    let rows = read_metrics_csv(&out.join("metrics.csv")).unwrap();
    assert_eq!(rows.len(), 3);
    for (g, r) in rows.iter().enumerate() {
        assert_eq!(r.generation, g);
        assert_eq!(r.train_size, 512);
        assert_eq!(r.real_fraction, if g == 0 { 1.0 } else { 0.0 });
        let fit = r.fit.expect("a VAE's fit of the test set");
        finite(
            &[
                r.train_loss.expect("the VAE's training loss"),
                fit.test_nelbo,
                fit.test_recon,
                fit.test_kl,
                r.probe_mu_mean,
                r.probe_mu_std,
            ],
            "metrics",
        );
        assert!(fit.test_nelbo > 30.0 && fit.test_nelbo < 600.0, "{r:?}");
        assert!((fit.test_recon + fit.test_kl - fit.test_nelbo).abs() < 1e-3 * fit.test_nelbo);
        assert!(fit.test_kl >= 0.0 && fit.active_units <= 20, "{r:?}");
        assert!(
            r.probe_mu_std > 0.0 && (0.0..=1.0).contains(&r.probe_tail_mass),
            "{r:?}"
        );
        assert!(r.seconds > 0.0);

        let dir = out.join(format!("gen-{g:03}"));
        // 10 × 10 cells of 56 px (28 px enlarged twice) with 2 px padding.
        check_png(&dir.join("samples.png"), 582, 582);
        check_png(&dir.join("reconstructions.png"), 582, 118);
        let latents: LatentStats = read_json(&dir.join("latents.json")).unwrap();
        assert_eq!(latents.images, test_size);
        assert_eq!(latents.mu_var.len(), 20);
        assert_eq!(latents.kl_per_dim.len(), 20);
        assert_eq!(latents.active_units, fit.active_units);
        assert_eq!(latents.active_threshold, 0.01);
        finite(&latents.mean_sigma2, "mean sigma2");
        assert!(latents.aggregate.cov_trace > 0.0 && latents.aggregate.cov_logdet.is_finite());
        let kl_sum: f64 = latents.kl_per_dim.iter().sum();
        assert!(
            (kl_sum - fit.test_kl).abs() < 0.05 * fit.test_kl.max(1.0),
            "{kl_sum} vs {}",
            fit.test_kl
        );
        let probe: ProbeStats = read_json(&dir.join("probe.json")).unwrap();
        assert_eq!(probe.generation, g);
        assert_eq!(probe.samples, 1000);
        assert_eq!(probe.histogram.counts.len(), 80);
        assert_eq!(probe.histogram.total(), 1000 * 20);
        assert_eq!(probe.quantiles.len(), 7);
        assert!(probe.quantiles.windows(2).all(|w| w[0].value <= w[1].value));
        assert_eq!(probe.mu_std, r.probe_mu_std);
        assert!(dir.join("model.bpk").metadata().unwrap().len() > 4 * parameters as u64);
        assert!(dir.join("vae.json").is_file());
        let set = dir.join("train-images-idx3-float.gz");
        if g == 0 || keep_sets == "needed" {
            assert!(!set.exists(), "{}: kept", set.display());
        }
        if g > 0 {
            let drawn = tmp.join(&format!("drawn-{g}.gz"));
            let args = ["sample", dir.to_str().unwrap(), "--training-set", "--out"];
            assert_ok(&collapse(
                &tmp.0,
                &[&args[..], &[drawn.to_str().unwrap()]].concat(),
            ));
            let array = read_idx(&drawn).unwrap();
            assert_eq!(array.dims, vec![512, 28, 28]);
            if keep_sets == "all" {
                assert!(
                    read_idx(&set).unwrap() == array,
                    "{} drawn again",
                    set.display()
                );
            }
            let IdxData::F32(values) = array.data else {
                panic!("decoder means are stored as float32")
            };
            assert!(values.iter().all(|v| (0.0..=1.0).contains(v)));
        }
    }
    for plot in [
        "probe_mu_std",
        "probe_tail_mass",
        "test_nelbo",
        "active_units",
        "probe_histograms",
    ] {
        check_png(&out.join(format!("plots/{plot}.png")), 900, 560);
    }
    assert!(
        std::fs::read(out.join("samples.gif"))
            .unwrap()
            .starts_with(b"GIF89a")
    );
}

#[test]
fn mlp_chain_writes_the_whole_contract() {
    // 784·400+400 + 2·(400·20+20) + 20·400+400 + 400·784+784
    check_contract("mlp", 652_824, "all", 10_000);
}

#[test]
fn conv_chain_writes_the_whole_contract() {
    // The authors' network: 647,081 parameters.
    check_contract("conv", 647_081, "needed", 1_000);
}

/// Every row of the run's metrics.csv but its wall time, as text.
pub fn metrics_without_seconds(run: &Path) -> Vec<String> {
    read_metrics_csv(&run.join("metrics.csv"))
        .unwrap()
        .into_iter()
        .map(|mut r| {
            r.seconds = 0.0;
            format!("{r:?}")
        })
        .collect()
}

#[test]
fn same_seed_gives_identical_metrics_on_flex() {
    let args = flags(
        "--train-size 256 --test-size 1000 --generations 1 --epochs 1 --batch-size 64 --probe-samples 500 --seed 11",
    );
    let (a, b) = (TempDir::new("seed-a"), TempDir::new("seed-b"));
    let (ra, rb) = (short_chain(&a, &args), short_chain(&b, &args));
    assert_eq!(metrics_without_seconds(&ra), metrics_without_seconds(&rb));
    let c = TempDir::new("seed-c");
    let mut other = args.to_vec();
    let last = other.len() - 1;
    other[last] = "12";
    let rc = short_chain(&c, &other);
    assert_ne!(metrics_without_seconds(&ra), metrics_without_seconds(&rc));
}

#[test]
fn real_fraction_bernoulli_and_accumulate_variants_run() {
    let common = [
        "--train-size",
        "256",
        "--test-size",
        "1000",
        "--generations",
        "2",
        "--epochs",
        "1",
        "--batch-size",
        "64",
        "--probe-samples",
        "200",
    ];
    let tmp = TempDir::new("variants");
    let mut args = common.to_vec();
    args.extend([
        "--keep-sets",
        "all",
        "--real-fraction",
        "0.25",
        "--sample",
        "bernoulli",
        "--prior-scale",
        "0.8",
    ]);
    let out = short_chain(&tmp, &args);
    let rows = read_metrics_csv(&out.join("metrics.csv")).unwrap();
    assert_eq!(rows[1].real_fraction, 0.25);
    let set = read_idx(&out.join("gen-002/train-images-idx3-ubyte.gz")).unwrap();
    assert_eq!(
        set.dims,
        vec![192, 28, 28],
        "256 minus the 64 real images kept"
    );
    let IdxData::U8(bytes) = set.data else {
        panic!("Bernoulli draws are bytes")
    };
    assert!(bytes.iter().all(|&b| b == 0 || b == 255));

    let tmp = TempDir::new("accumulate");
    let mut args = common.to_vec();
    args.extend(["--mode", "accumulate"]);
    let rows = read_metrics_csv(&short_chain(&tmp, &args).join("metrics.csv")).unwrap();
    let sizes: Vec<usize> = rows.iter().map(|r| r.train_size).collect();
    assert_eq!(sizes, vec![256, 512, 768]);
    assert!((rows[2].real_fraction - 1.0 / 3.0).abs() < 1e-9);

    let tmp = TempDir::new("stream");
    let mut args = common.to_vec();
    args.extend(["--stream", "--synthetic-size", "128"]);
    let out = short_chain(&tmp, &args);
    let rows = read_metrics_csv(&out.join("metrics.csv")).unwrap();
    assert_eq!(rows[1].train_size, 128);
    assert!(
        !out.join("gen-001/train-images-idx3-float.gz").exists(),
        "streaming writes no set"
    );
}

#[test]
fn checkpoint_samples_on_every_backend() {
    let tmp = TempDir::new("checkpoint");
    let out = short_chain(&tmp, &TINY);
    // A second run into the same folder is refused and leaves it alone.
    let metrics = std::fs::read(out.join("metrics.csv")).unwrap();
    assert_fails(&run_into(&tmp, &out, &[]), 2, &["already holds a run"]);
    assert_eq!(std::fs::read(out.join("metrics.csv")).unwrap(), metrics);
    let wgpu = cfg!(feature = "wgpu").then_some("wgpu");
    for device in ["flex", "ndarray"].into_iter().chain(wgpu) {
        let (png, _) = sample_checkpoint(&tmp, &out.join("gen-001"), device);
        check_png(&png, 582, 582);
    }
}

#[test]
fn a_config_file_sets_the_run_and_the_command_line_overrides_it() {
    let tmp = TempDir::new("config");
    let config = tmp.join("run.toml");
    std::fs::write(
        &config,
        "train_size = 256\ngenerations = 3\nepochs = 1\nprobe-samples = 100\nseed = 11\nno_eval = true\n",
    )
    .unwrap();
    let out = tmp.join("run");
    let config_arg = config.to_str().unwrap();
    assert_ok(&run_into(
        &tmp,
        &out,
        &["--config", config_arg, "--generations", "1"],
    ));
    let manifest: Manifest = read_json(&out.join("manifest.json")).unwrap();
    assert_eq!(manifest.config["generations"], 1, "the command line wins");
    assert_eq!(manifest.config["train_size"], 256);
    assert_eq!(manifest.config["seed"], 11);
    assert_eq!(manifest.config["probe_samples"], 100);
    assert_eq!(manifest.config["evaluate"], false);
    assert!(manifest.command_line.iter().any(|a| a == config_arg));
    assert_eq!(read_metrics_csv(&out.join("metrics.csv")).unwrap().len(), 2);
}
