//! The scripts of a GPU build, run for real where they need no GPU: the LLVM
//! installer refuses what it cannot trust and leaves the bundler's folder alone.

use std::path::Path;
use std::process::{Command, Output};

use crate::util::TempDir;

/// `scripts/cuda-llvm.sh` with its wheels in `wheels` and `data` as XDG_DATA_HOME.
fn cuda_llvm(wheels: &Path, data: &Path) -> Output {
    Command::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/cuda-llvm.sh"))
        .env("WHEELS", wheels)
        .env("XDG_DATA_HOME", data)
        // A pip that cannot run: nothing may be downloaded.
        .env("PIP", "false")
        .output()
        .expect("run scripts/cuda-llvm.sh")
}

#[test]
fn cuda_llvm_refuses_wheels_that_differ_from_their_pinned_checksums() {
    let tmp = TempDir::new("cuda-llvm");
    let (wheels, data) = (tmp.join("wheels"), tmp.join("data"));
    std::fs::create_dir_all(&wheels).unwrap();
    let version = "23.1.1.post0";
    for name in ["mlc_llvm_static", "mlc_llvm_static_extra_targets"] {
        let wheel = wheels.join(format!(
            "{name}-{version}-py3-none-manylinux_2_28_x86_64.whl"
        ));
        std::fs::write(wheel, b"not the published wheel").unwrap();
    }
    let out = cuda_llvm(&wheels, &data);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("does not match its pinned SHA-256"),
        "{stderr}"
    );
    let bundle = data.join("tracel/tracel-llvm-23.1.0-4");
    assert!(!bundle.exists(), "{} was written", bundle.display());
}

#[test]
fn cuda_llvm_without_its_wheels_or_pip_says_where_to_put_them() {
    let tmp = TempDir::new("cuda-llvm-offline");
    let (wheels, data) = (tmp.join("wheels"), tmp.join("data"));
    let out = cuda_llvm(&wheels, &data);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("could not download") && stderr.contains("WHEELS=DIR"),
        "{stderr}"
    );
    assert!(!data.join("tracel").exists());
}
