//! Every backend this build has: the device listing, one training step
//! compared across backends, and the benchmark's record (wgpu's own tests
//! are in wgpu.rs).

use std::path::Path;

#[cfg(feature = "wgpu")]
use crate::util::have_wgpu;
use crate::util::{TempDir, assert_ok, collapse};

#[test]
fn devices_lists_every_backend_compiled_in() {
    let tmp = TempDir::new("devices");
    let stdout = assert_ok(&collapse(&tmp.0, &["devices"]));
    #[cfg(feature = "wgpu")]
    let wgpu = have_wgpu().then_some("wgpu");
    #[cfg(not(feature = "wgpu"))]
    let wgpu = None;
    for backend in ["flex", "ndarray"].into_iter().chain(wgpu) {
        assert!(
            stdout
                .lines()
                .any(|l| l.starts_with(backend) && l.contains("available")),
            "{backend} missing\n{stdout}"
        );
    }
    // The GPU backends of other builds are listed with the feature that builds them.
    for (backend, compiled) in [
        ("wgpu", cfg!(feature = "wgpu")),
        ("cuda", cfg!(feature = "cuda")),
        ("vulkan", cfg!(feature = "vulkan")),
    ] {
        let line = stdout.lines().find(|l| l.starts_with(backend));
        let line = line.unwrap_or_else(|| panic!("{backend} not listed\n{stdout}"));
        if !compiled {
            assert!(
                line.contains("missing") && line.contains(&format!("--features {backend}")),
                "{line}"
            );
        }
    }
}

#[test]
fn parity_holds_across_the_backends_for_both_architectures() {
    let tmp = TempDir::new("parity");
    for model in ["mlp", "conv"] {
        let json = tmp.join(&format!("{model}.json"));
        let args = [
            "parity",
            "--model",
            model,
            "--batch",
            "16",
            "--json",
            json.to_str().unwrap(),
        ];
        let stdout = assert_ok(&collapse(&tmp.0, &args));
        assert!(
            stdout.contains("grad.") && stdout.contains("adam_step."),
            "{stdout}"
        );
        let doc: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
        let backends = doc["backends"].as_array().unwrap();
        // The reference computes with Burn's own operations; for the conv VAE
        // flex's own path (the lowering) is compared with it too.
        // Then every GPU backend the build has that starts here (vulkan on lavapipe; cuda
        // only where an NVIDIA driver is).
        let mut gpu = Vec::new();
        #[cfg(feature = "wgpu")]
        if have_wgpu() {
            gpu.push("wgpu");
        }
        if cfg!(feature = "vulkan") {
            gpu.push("vulkan");
        }
        if cfg!(feature = "cuda") && std::path::Path::new("/dev/nvidiactl").exists() {
            gpu.push("cuda");
        }
        let compared: Vec<_> = backends.iter().map(|b| b["backend"].clone()).collect();
        match model {
            "mlp" => assert_eq!(compared, [&["ndarray"][..], &gpu].concat(), "{doc}"),
            _ => {
                let expected = [&["flex", "ndarray"][..], &gpu].concat();
                assert_eq!(compared, expected, "{doc}");
                let impls: Vec<_> = backends.iter().map(|b| b["conv_impl"].clone()).collect();
                let burn = vec!["burn"; gpu.len()];
                assert_eq!(impls, [&["matmul", "matmul"][..], &burn].concat(), "{doc}");
            }
        }
        for b in backends {
            // Each row says what it ran on and the tolerance it was held to.
            let precision = b["precision"].as_str().unwrap();
            let tolerance = if precision == "tf32" { 1e-2 } else { 1e-4 };
            assert_eq!(b["tolerance"].as_f64(), Some(tolerance), "{b}");
            assert_eq!(b["within"].as_bool(), Some(true), "{b}");
            assert!(!b["runtime"].as_str().unwrap().is_empty(), "{b}");
            let tensors = b["tensors"].as_array().unwrap();
            // 6 forward/loss tensors, then one gradient and one stepped weight per parameter tensor.
            let params = if model == "mlp" { 10 } else { 14 };
            assert_eq!(tensors.len(), 6 + 2 * params, "{b}");
            assert!(b["worst_rel"].as_f64().unwrap() < tolerance, "{b}");
        }
    }
}

#[test]
fn parity_fails_when_the_tolerance_is_not_met() {
    let tmp = TempDir::new("parity-strict");
    let out = collapse(
        &tmp.0,
        &["parity", "--backends", "ndarray", "--tolerance", "0"],
    );
    crate::util::assert_fails(&out, 1, &["exceeds", "tolerance"]);
}

/// `bench --conv-impl` forces the conv VAE's path on every convolution, and
/// the row says which path it measured: the lowering by default on flex.
#[test]
fn bench_forces_the_convolution_path_it_is_given() {
    let tmp = TempDir::new("bench-conv");
    let path_of = |extra: &[&str]| {
        let json = tmp.join("conv.json");
        let mut args = vec![
            "bench",
            "--model",
            "conv",
            "--batch-size",
            "8",
            "--steps",
            "1",
            "--repeats",
            "1",
            "--samples",
            "16",
            "--no-classifier",
            "--json",
            json.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        assert_ok(&collapse(&tmp.0, &args));
        let doc: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
        doc["rows"][0]["conv_impl"].as_str().unwrap().to_string()
    };
    assert_eq!(path_of(&[]), "matmul");
    assert_eq!(path_of(&["--conv-impl", "burn"]), "burn");
}

#[test]
fn bench_json_records_its_rows_and_the_build_that_measured_them() {
    let tmp = TempDir::new("bench-json");
    let json = tmp.join("bench.json");
    let args = [
        "bench",
        "--model",
        "mlp",
        "--batch-size",
        "32",
        "--steps",
        "2",
        "--repeats",
        "2",
        "--samples",
        "64",
        "--no-classifier",
        "--json",
        json.to_str().unwrap(),
    ];
    assert_ok(&collapse(&tmp.0, &args));
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let rows = doc["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "{doc}");
    assert_eq!(
        (rows[0]["model"].as_str(), rows[0]["batch"].as_u64()),
        (Some("mlp"), Some(32))
    );
    assert_eq!(
        rows[0]["train_runs_images_per_sec"]
            .as_array()
            .unwrap()
            .len(),
        2,
        "{doc}"
    );
    for rate in [
        "train_images_per_sec",
        "sample_images_per_sec",
        "probe_images_per_sec",
    ] {
        assert!(rows[0][rate].as_f64().unwrap() > 0.0, "{rate}: {doc}");
    }
    assert!(doc["classifier_images_per_sec"].is_null(), "{doc}");
    // The build: Burn's version as this checkout's Cargo.lock has it, the compiler, the features.
    let lock: toml::Table =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.lock"))
            .unwrap()
            .parse()
            .unwrap();
    let burn = lock["package"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"].as_str() == Some("burn"))
        .unwrap();
    assert_eq!(
        doc["burn_version"].as_str(),
        burn["version"].as_str(),
        "{doc}"
    );
    assert!(
        doc["rustc"].as_str().unwrap().starts_with("rustc 1."),
        "{doc}"
    );
    let features = doc["features"].as_array().unwrap();
    assert!(
        features
            .iter()
            .all(|f| f.as_str().is_some_and(|f| !f.is_empty())),
        "{doc}"
    );
    for (feature, on) in [
        ("cuda", cfg!(feature = "cuda")),
        ("vulkan", cfg!(feature = "vulkan")),
    ] {
        assert_eq!(features.iter().any(|f| f == feature), on, "{doc}");
    }
}
