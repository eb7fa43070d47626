//! The wgpu backend, in a build with `--features wgpu` (on lavapipe, Mesa's
//! software Vulkan driver, where no GPU is): a chain and its record, the
//! device listing without a display session, and flex against wgpu over seeds.

use collapse_records::{Manifest, read_json, read_metrics_csv};

use crate::chain::{TINY, short_chain};
use crate::util::{TempDir, assert_ok, flags, have_wgpu, sample_checkpoint};

#[test]
fn wgpu_chain_records_its_adapter_and_its_checkpoint_loads_on_the_cpu() {
    if !have_wgpu() {
        return;
    }
    let tmp = TempDir::new("wgpu");
    let mut args = TINY.to_vec();
    args.extend(["--device", "wgpu"]);
    let out = short_chain(&tmp, &args);
    let manifest: Manifest = read_json(&out.join("manifest.json")).unwrap();
    assert_eq!(manifest.device.backend, "wgpu");
    assert!(!manifest.device.adapter.is_empty());
    assert!(["gpu", "software"].contains(&manifest.device.kind.as_str()));
    // What compiled and ran the kernels, in what precision, with which kernel features.
    let d = &manifest.device;
    assert!(d.runtime.starts_with("wgpu<"), "{d:?}");
    assert!(["f32", "tf32"].contains(&d.precision.as_str()), "{d:?}");
    let gpu_kernels = cfg!(feature = "gpu-kernels");
    let expected: &[&str] = if gpu_kernels {
        &["fusion", "autotune"]
    } else {
        &[]
    };
    assert_eq!(d.kernels, expected, "{d:?}");
    // Where autotune runs, its measured kernel choices are kept in the run folder.
    let tuning = gpu_kernels.then(|| "tuning".to_string());
    assert_eq!(d.tuning_cache, tuning, "{d:?}");
    assert_eq!(out.join("tuning").is_dir(), gpu_kernels, "{d:?}");
    let rows = read_metrics_csv(&out.join("metrics.csv")).unwrap();
    assert!(
        rows.iter()
            .all(|r| r.fit.is_some_and(|f| f.test_nelbo.is_finite()) && r.probe_mu_std > 0.0)
    );
    for device in ["flex", "ndarray"] {
        let (png, stdout) = sample_checkpoint(&tmp, &out.join("gen-001"), device);
        assert!(stdout.contains(&format!("on {device}")), "{stdout}");
        assert!(png.is_file());
    }
}

/// Without a session's runtime folder (a login over ssh, a batch job) the
/// listing is the table alone: no error lines from the Vulkan stack.
#[test]
fn devices_prints_no_errors_without_a_display_session() {
    if !have_wgpu() {
        return;
    }
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_collapse"))
        .arg("devices")
        .env_remove("XDG_RUNTIME_DIR")
        .env_remove("NODEVICE_SELECT")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && stderr.trim().is_empty(), "{stderr}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!stdout.contains("error"), "{stdout}");
}

/// Mean (test NELBO, probe μ std) of the last generation over three seeds.
/// The evaluators are left out: they change neither figure, and on lavapipe
/// they are four fifths of a chain's time (the evaluators on wgpu are run by
/// `wgpu_chain_records_its_adapter_and_its_checkpoint_loads_on_the_cpu`).
fn chain_means(tmp: &TempDir, device: &str) -> (f64, f64) {
    let (mut nelbo, mut spread) = (0.0, 0.0);
    for seed in ["1", "2", "3"] {
        let out = tmp.join(&format!("{device}-{seed}"));
        let small = flags(
            "--train-size 1024 --test-size 1000 --generations 1 --epochs 2 --batch-size 64 --probe-samples 1000 --no-eval",
        );
        let args = [&["--device", device, "--seed", seed][..], &small].concat();
        assert_ok(&crate::util::run_into(tmp, &out, &args));
        let rows = read_metrics_csv(&out.join("metrics.csv")).unwrap();
        let last = rows.last().unwrap();
        nelbo += last.fit.expect("a VAE's fit").test_nelbo / 3.0;
        spread += last.probe_mu_std / 3.0;
    }
    (nelbo, spread)
}

/// The same seed draws different random numbers on different backends, so
/// chains are compared statistically: over seeds 1–3 (measured spread between
/// seeds on flex: test NELBO ±1.7 %, probe μ std ±0.12), the means of flex and
/// wgpu must lie within 3 % (NELBO) and 0.2 (probe std) of each other.
#[test]
#[ignore = "long: six chains, three of them on wgpu"]
fn flex_and_wgpu_chains_agree_within_the_seed_spread() {
    if !have_wgpu() {
        return;
    }
    let tmp = TempDir::new("backend-band");
    let (flex_nelbo, flex_std) = chain_means(&tmp, "flex");
    let (wgpu_nelbo, wgpu_std) = chain_means(&tmp, "wgpu");
    assert!(
        (flex_nelbo - wgpu_nelbo).abs() / flex_nelbo < 0.03,
        "test NELBO: flex {flex_nelbo}, wgpu {wgpu_nelbo}"
    );
    assert!(
        (flex_std - wgpu_std).abs() < 0.2,
        "probe std: flex {flex_std}, wgpu {wgpu_std}"
    );
}
