//! The files a model outside this tool reads and writes: NumPy loads the
//! `.npy` image sets this tool writes bit for bit, and this tool reads what
//! `np.save` writes, refusing what a set must not be in one line.

use std::path::Path;
use std::process::Command;

use crate::util::{TempDir, have};

/// Whether this machine's `python3` imports NumPy.
pub fn have_numpy() -> bool {
    let present = Command::new("python3")
        .args(["-c", "import numpy"])
        .output()
        .is_ok_and(|o| o.status.success());
    have("NumPy for python3", present, "numpy from PyPI")
}

/// Runs `script` with python3 in `dir`; its stdout.
fn python(dir: &Path, script: &str) -> String {
    let out = Command::new("python3")
        .args(["-c", script])
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn numpy_and_this_tool_read_each_others_image_sets() {
    if !have_numpy() {
        return;
    }
    let tmp = TempDir::new("npy");
    let dims = [28, 28];
    let pixels: Vec<f32> = (0..3 * 784).map(|i| (i % 997) as f32 / 996.0).collect();
    collapse_data::write_images(&tmp.join("ours.npy"), &pixels, 3, dims).unwrap();
    let sum: f64 = pixels.iter().map(|&v| v as f64).sum();
    let checked = python(
        &tmp.0,
        "import numpy as np\na = np.load('ours.npy')\nprint(a.dtype, a.shape, repr(float(a.astype(np.float64).sum())))",
    );
    assert_eq!(checked.trim(), format!("float32 (3, 28, 28) {sum:?}"));

    python(
        &tmp.0,
        "import numpy as np\n\
         a = (np.arange(2 * 784, dtype=np.float32) / 1567).reshape(2, 28, 28)\n\
         np.save('theirs.npy', a)\n\
         np.save('f64.npy', a.astype(np.float64))\n\
         np.save('fortran.npy', np.asfortranarray(a))\n\
         b = a.copy(); b[1, 3, 4] = np.nan; np.save('nan.npy', b)",
    );
    let theirs = collapse_data::read_images(&tmp.join("theirs.npy"), dims, Some(2)).unwrap();
    let expected: Vec<f32> = (0..2 * 784).map(|i| i as f32 / 1567.0).collect();
    assert_eq!(theirs, expected);
    let refused = |name: &str| {
        collapse_data::read_images(&tmp.join(name), dims, None)
            .unwrap_err()
            .to_string()
    };
    assert!(refused("f64.npy").contains("dtype <f8 is not float32"));
    assert!(refused("fortran.npy").contains("Fortran order"));
    assert!(refused("nan.npy").ends_with("image 1 holds NaN"));
}
