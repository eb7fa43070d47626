//! Test harness: temporary folders, a wrapper over the built binary,
//! and assertions that print the command's output when they fail.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
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
pub fn mnist_source() -> PathBuf {
    let dir = std::env::var_os("MNIST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("datasets/mnist"));
    assert!(
        dir.join("train-images-idx3-ubyte.gz").is_file(),
        "the tests need real MNIST in {} (scripts/test.sh links or fetches it; or set MNIST_DIR)",
        dir.display()
    );
    dir
}

/// The four MNIST files.
pub const MNIST_FILES: [&str; 4] = [
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
];

/// How old a test run's data folder must be before a later run removes it.
const STALE: Duration = Duration::from_secs(3600);

/// The MNIST folder the tests' chains read: links to [`mnist_source`] in a
/// folder of this test run's own (one per process, or per nextest run) under
/// cargo's target/tmp. The frozen evaluators are cached beside the data, so
/// each test run trains its test classifier once, here, before the first
/// test that needs it goes on: no test's time depends on the order they run
/// in, nor on what an earlier run left.
pub fn mnist_dir() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let source = mnist_source();
        let root = Path::new(env!("CARGO_TARGET_TMPDIR"));
        let run =
            std::env::var("NEXTEST_RUN_ID").unwrap_or_else(|_| std::process::id().to_string());
        let dir = root.join(format!("mnist-{run}"));
        remove_stale(root, &dir);
        std::fs::create_dir_all(&dir).expect("create the test run's data folder");
        for name in MNIST_FILES {
            let link = dir.join(name);
            match std::os::unix::fs::symlink(source.join(name), &link) {
                Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => {
                    panic!("link {}: {e}", link.display())
                }
                _ => {}
            }
        }
        // A run that runs at the same time waits for this training and loads it.
        let data = dir.to_str().expect("utf-8 path");
        let train = [&["evaluator", "train", "--data", data][..], &TEST_EVALUATOR].concat();
        assert_ok(&collapse(root, &train));
        dir
    })
    .clone()
}

/// Removes the data folders of earlier test runs, other than `keep`.
fn remove_stale(root: &Path, keep: &Path) {
    let Ok(entries) = std::fs::read_dir(root) else {
        return;
    };
    for path in entries.flatten().map(|e| e.path()) {
        let earlier = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("mnist-"));
        let old = path
            .metadata()
            .and_then(|m| m.modified())
            .is_ok_and(|t| t.elapsed().is_ok_and(|age| age > STALE));
        if earlier && old && path != keep {
            let _ = std::fs::remove_dir_all(&path);
        }
    }
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

/// Whether this machine has `what`, which a test needs and `scripts/test.sh
/// --long` installs from `source` (Debian's packages, or PyPI). Where it has
/// not, the test says so in one line and is skipped; under CI (`CI=true`),
/// which installs everything, it fails.
pub fn have(what: &str, present: bool, source: &str) -> bool {
    if !present {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{what} is missing ({source}); CI installs it"
        );
        eprintln!("skipped: {what} is missing here (scripts/test.sh --long installs {source})");
    }
    present
}

/// Whether wgpu finds an adapter here: a GPU, or lavapipe, Mesa's software Vulkan.
#[cfg(feature = "wgpu")]
pub fn have_wgpu() -> bool {
    static ADAPTER: OnceLock<bool> = OnceLock::new();
    let present = *ADAPTER.get_or_init(|| {
        let out = collapse(Path::new("."), &["devices"]);
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .any(|l| l.starts_with("wgpu") && l.contains("available"))
    });
    have("a wgpu adapter", present, "Debian's mesa-vulkan-drivers")
}
