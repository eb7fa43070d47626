//! Test harness: temporary folders, a wrapper over the built binary,
//! and assertions that print the command's output when they fail.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

/// A test's temporary folder (tempfile's), removed when dropped unless
/// `COLLAPSE_KEEP_TEST_DIRS` is set, for looking at what a failed test left.
pub struct TempDir(pub PathBuf, tempfile::TempDir);

impl TempDir {
    /// A new empty folder named after the test.
    pub fn new(name: &str) -> TempDir {
        let mut dir = tempfile::Builder::new()
            .prefix(&format!("collapse-it-{name}-"))
            .tempdir()
            .expect("create temp dir");
        dir.disable_cleanup(std::env::var_os("COLLAPSE_KEEP_TEST_DIRS").is_some());
        TempDir(dir.path().to_path_buf(), dir)
    }

    /// A path inside the folder.
    pub fn join(&self, p: &str) -> PathBuf {
        self.1.path().join(p)
    }
}

/// The real MNIST files: `$MNIST_DIR`, else `datasets/mnist` of the checkout.
pub fn mnist_dir() -> PathBuf {
    let dir = std::env::var_os("MNIST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("datasets/mnist"));
    assert!(
        dir.join("train-images-idx3-ubyte.gz").is_file(),
        "the tests need real MNIST in {} (set MNIST_DIR, or link the four .gz files there)",
        dir.display()
    );
    dir
}

/// The `collapse` binary with `args`, run in `cwd`.
pub fn collapse(cwd: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_collapse"))
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("run collapse")
}

fn describe(out: &Output) -> String {
    format!(
        "status: {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// `collapse run` on real MNIST writing `out`, quietly, with `extra` flags.
pub fn run_into(tmp: &TempDir, out: &Path, extra: &[&str]) -> Output {
    let args = run_args(out, extra);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    collapse(&tmp.0, &args)
}

/// A small frozen classifier for the tests (one epoch on 3,000 images, a few
/// seconds): the evaluators' numbers are checked for their contract, not their
/// quality; `evaluate.rs` checks the full classifier's accuracy.
pub const TEST_EVALUATOR: [&str; 4] = ["--evaluator-epochs", "1", "--evaluator-images", "3000"];

/// The arguments of `collapse run` on real MNIST writing `out`, quietly, with
/// the test classifier and `extra` flags.
pub fn run_args(out: &Path, extra: &[&str]) -> Vec<String> {
    let data = mnist_dir();
    let mut args = vec![
        "run",
        "--data",
        data.to_str().expect("utf-8 path"),
        "--out",
        out.to_str().expect("utf-8 path"),
        "--quiet",
    ];
    args.extend_from_slice(&TEST_EVALUATOR);
    args.extend_from_slice(extra);
    args.into_iter().map(String::from).collect()
}

/// `collapse sample` of the checkpoint in `generation` on `device` into
/// `tmp/DEVICE.png`; returns the PNG's path and stdout.
pub fn sample_checkpoint(tmp: &TempDir, generation: &Path, device: &str) -> (PathBuf, String) {
    let png = tmp.join(&format!("{device}.png"));
    let args = [
        "sample",
        generation.to_str().expect("utf-8 path"),
        "--device",
        device,
        "--out",
        png.to_str().expect("utf-8 path"),
    ];
    let stdout = assert_ok(&collapse(&tmp.0, &args));
    (png, stdout)
}

/// Asserts success and returns stdout.
pub fn assert_ok(out: &Output) -> String {
    assert!(out.status.success(), "expected success\n{}", describe(out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Asserts exit code `code` with a one-line error on stderr containing every one of `needles`.
pub fn assert_fails(out: &Output, code: i32, needles: &[&str]) {
    assert_eq!(
        out.status.code(),
        Some(code),
        "wrong exit code\n{}",
        describe(out)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    let error_lines: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error")).collect();
    assert_eq!(
        error_lines.len(),
        1,
        "expected one error line\n{}",
        describe(out)
    );
    for n in needles {
        assert!(
            error_lines[0].contains(n),
            "error line lacks {n:?}\n{}",
            describe(out)
        );
    }
    assert!(!stderr.contains("panicked"), "panic\n{}", describe(out));
}

/// The flags of a command line written as one string, split at white space.
pub fn flags(line: &str) -> Vec<&str> {
    line.split_whitespace().collect()
}

/// Starts `collapse args` and kills it with SIGKILL after `delay`; true if it
/// finished by itself first (successfully).
pub fn run_and_kill(cwd: &Path, args: &[&str], delay: Duration) -> bool {
    let mut child = Command::new(env!("CARGO_BIN_EXE_collapse"))
        .args(args)
        .current_dir(cwd)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + delay;
    while std::time::Instant::now() < deadline {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "{args:?} failed by itself: {status}");
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    false
}
