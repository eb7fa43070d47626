//! Bad input answered with one clear line and exit code 2, before any work.

use std::path::Path;

use crate::util::{TempDir, assert_fails, collapse, run_into};

fn run_with(tmp: &TempDir, extra: &[&str]) -> std::process::Output {
    run_into(tmp, &tmp.join("run"), extra)
}

#[test]
fn bad_values_name_their_flag() {
    let tmp = TempDir::new("bad-values");
    let cases: &[(&[&str], &str)] = &[
        (&["--real-fraction", "1.5"], "--real-fraction"),
        (&["--real-fraction", "-0.1"], "--real-fraction"),
        (&["--epochs", "0"], "--epochs"),
        (&["--batch-size", "0"], "--batch-size"),
        (&["--train-size", "0"], "--train-size"),
        (&["--synthetic-size", "0"], "--synthetic-size"),
        (&["--latent-dim", "0"], "--latent-dim"),
        (&["--probe-samples", "0"], "--probe-samples"),
        (&["--eval-batch", "0"], "--eval-batch"),
        (&["--lr", "-1"], "--lr"),
        (&["--prior-scale", "0"], "--prior-scale"),
        (&["--train-size", "70000"], "--train-size"),
        (&["--test-size", "0"], "--test-size"),
        (&["--test-size", "5"], "--test-size"),
        (&["--test-size", "20000"], "--test-size"),
        (&["--preset", "huge"], "--preset"),
        (&["--dataset", "cifar"], "--dataset"),
        (&["--batch-size", "-3"], "--batch-size"),
        (&["--threads", "0"], "--threads"),
        (&["--threads", "100000"], "--threads"),
        (
            &["--mode", "accumulate", "--real-fraction", "0.1"],
            "--real-fraction",
        ),
    ];
    for (args, flag) in cases {
        let out = run_with(&tmp, args);
        assert_fails(&out, 2, &[flag]);
        assert!(
            !tmp.join("run").exists(),
            "{args:?} did work before refusing"
        );
    }
}

/// The lowering (`--conv-impl matmul`) is a CPU path; forcing it on a GPU
/// backend is refused before the backend starts.
#[test]
fn the_lowering_is_refused_on_a_gpu_backend() {
    let tmp = TempDir::new("conv-impl");
    let out = collapse(
        &tmp.0,
        &["bench", "--device", "wgpu", "--conv-impl", "matmul"],
    );
    assert_fails(&out, 2, &["--conv-impl matmul runs on the CPU backends"]);
}

#[test]
fn bad_config_files_name_the_file_and_the_key() {
    let tmp = TempDir::new("bad-config");
    let file = tmp.join("run.toml");
    let path = file.to_str().unwrap();
    let cases: &[(&str, &[&str])] = &[
        ("epoch = 3", &["run.toml: epoch: not a chain setting"]),
        (
            "epochs = \"ten\"",
            &["run.toml: epochs: invalid type: string \"ten\", expected usize"],
        ),
        (
            "stream = 1",
            &["run.toml: stream: invalid type: integer `1`, expected a boolean"],
        ),
        (
            "real_fraction = 1.5",
            &["run.toml: real_fraction: must be within [0, 1]"],
        ),
        (
            "preset = \"huge\"",
            &["run.toml: preset: unknown variant `huge`, expected `quick` or `paper`"],
        ),
        ("epochs = [", &["run.toml: "]),
    ];
    for (text, needles) in cases {
        std::fs::write(&file, text).unwrap();
        assert_fails(&run_with(&tmp, &["--config", path]), 2, needles);
    }
    // The command line's value replaces the file's refused one.
    std::fs::write(&file, "real_fraction = 1.5").unwrap();
    assert_fails(
        &run_with(&tmp, &["--config", path, "--real-fraction", "2"]),
        2,
        &["--real-fraction: must be within [0, 1]"],
    );
    assert!(!tmp.join("run").exists(), "nothing written");
    assert_fails(
        &run_with(&tmp, &["--config", "/nonexistent.toml"]),
        2,
        &["/nonexistent.toml: "],
    );
}

#[test]
fn threads_size_the_cpu_backends_pool() {
    let tmp = TempDir::new("threads");
    let out = collapse(&tmp.0, &["devices", "--threads", "3"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    for backend in ["flex", "ndarray"] {
        assert!(
            text.lines()
                .any(|l| l.starts_with(backend) && l.contains("host CPU, 3 threads")),
            "{text}"
        );
    }
}

#[test]
fn an_out_that_is_a_file_is_refused_once_and_kept() {
    let tmp = TempDir::new("out-file");
    let file = tmp.join("notes.txt");
    std::fs::write(&file, b"keep me").unwrap();
    let out = run_into(&tmp, &file, &[]);
    assert_fails(&out, 2, &["--out", "is a file"]);
    assert_eq!(std::fs::read(&file).unwrap(), b"keep me");
    // Below a file: the OS's reason, said once.
    let below = run_into(&tmp, &file.join("run"), &[]);
    let stderr = String::from_utf8_lossy(&below.stderr);
    assert_eq!(stderr.matches("Not a directory").count(), 1, "{stderr}");
}

#[test]
fn missing_data_names_the_folder_and_the_fetch_command() {
    let tmp = TempDir::new("missing");
    let out = collapse(&tmp.0, &["run", "--data", "nowhere/mnist", "--quiet"]);
    assert_fails(&out, 2, &["nowhere/mnist", "collapse fetch mnist"]);
}

#[test]
fn unavailable_backend_is_an_error_not_a_fallback() {
    let tmp = TempDir::new("backend");
    // A backend this build lacks names the build that has it; a CUDA build on a
    // machine without an NVIDIA driver says so.
    let cases = [
        ("cuda", cfg!(feature = "cuda"), "no CUDA device"),
        ("vulkan", cfg!(feature = "vulkan"), ""),
        ("wgpu", cfg!(feature = "wgpu"), ""),
    ];
    for (backend, compiled, absent) in cases {
        let flag = format!("--device {backend}");
        let needles = match compiled {
            false => vec![flag.as_str(), "built without", "--features"],
            true if backend == "cuda" && !Path::new("/dev/nvidiactl").exists() => {
                vec![flag.as_str(), absent]
            }
            // The backend is built in and this machine may run it.
            true => continue,
        };
        let out = run_with(&tmp, &["--device", backend]);
        assert_fails(&out, 2, &needles);
        assert!(
            !tmp.join("run").exists(),
            "{backend}: did work before refusing"
        );
    }
}

/// Writes an IDX file with the given type code, dims and payload.
fn idx(path: &Path, code: u8, dims: &[u32], payload: &[u8]) {
    let mut b = vec![0, 0, code, dims.len() as u8];
    dims.iter()
        .for_each(|d| b.extend_from_slice(&d.to_be_bytes()));
    b.extend_from_slice(payload);
    std::fs::write(path, b).unwrap();
}

/// A tiny valid dataset folder (5 train, 3 test images of 28×28).
fn tiny_dataset(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    idx(
        &dir.join("train-images-idx3-ubyte"),
        8,
        &[5, 28, 28],
        &[7; 5 * 784],
    );
    idx(
        &dir.join("train-labels-idx1-ubyte"),
        8,
        &[5],
        &[0, 1, 2, 3, 4],
    );
    idx(
        &dir.join("t10k-images-idx3-ubyte"),
        8,
        &[3, 28, 28],
        &[9; 3 * 784],
    );
    idx(&dir.join("t10k-labels-idx1-ubyte"), 8, &[3], &[5, 6, 7]);
}

#[test]
fn malformed_idx_files_are_refused_naming_the_file() {
    let tmp = TempDir::new("idx");
    let images = "train-images-idx3-ubyte";
    let labels = "train-labels-idx1-ubyte";
    type Breaker = fn(&Path);
    let cases: &[(&str, Breaker, &[&str])] = &[
        (
            "magic",
            |d| std::fs::write(d.join("train-images-idx3-ubyte"), b"\x1f\x8b\x08\x00junk").unwrap(),
            &["not an IDX file"],
        ),
        (
            "type",
            |d| {
                idx(
                    &d.join("train-images-idx3-ubyte"),
                    0x0B,
                    &[5, 28, 28],
                    &[0; 5 * 784 * 2],
                )
            },
            &["type code 0x0b"],
        ),
        (
            "truncated",
            |d| {
                idx(
                    &d.join("train-images-idx3-ubyte"),
                    8,
                    &[5, 28, 28],
                    &[0; 100],
                )
            },
            &["truncated"],
        ),
        (
            "trailing",
            |d| {
                idx(
                    &d.join("train-labels-idx1-ubyte"),
                    8,
                    &[5],
                    &[0, 1, 2, 3, 4, 5],
                )
            },
            &["trailing bytes"],
        ),
        (
            "counts",
            |d| idx(&d.join("train-labels-idx1-ubyte"), 8, &[4], &[0, 1, 2, 3]),
            &["5 images", "4 labels"],
        ),
        (
            "dims",
            |d| {
                idx(
                    &d.join("train-images-idx3-ubyte"),
                    8,
                    &[5, 32, 32],
                    &[0; 5 * 1024],
                )
            },
            &["[5, 32, 32]", "28, 28"],
        ),
        (
            "label",
            |d| {
                idx(
                    &d.join("train-labels-idx1-ubyte"),
                    8,
                    &[5],
                    &[0, 1, 2, 3, 12],
                )
            },
            &["label 4 is 12"],
        ),
        (
            "float",
            |d| idx(&d.join("train-labels-idx1-ubyte"), 0x0D, &[5], &[0; 20]),
            &["unsigned bytes"],
        ),
    ];
    for (name, breaker, needles) in cases {
        let dir = tmp.join(name);
        tiny_dataset(&dir);
        breaker(&dir);
        let out = collapse(&tmp.0, &["run", "--data", dir.to_str().unwrap(), "--quiet"]);
        let file = if ["trailing", "label", "float"].contains(name) {
            labels
        } else {
            images
        };
        let mut all = needles.to_vec();
        all.push(file);
        assert_fails(&out, 2, &all);
    }
}
