//! Integration tests of the `collapse` binary. One binary; each module one concern.

#![allow(clippy::unwrap_used)]

// Shared harness: temporary folders, running the binary, MNIST location.
mod util;

// Backends: `collapse devices`, parity across the backends of the build, bench's record.
mod backends;
// A run's index.html in headless Chromium over WebDriver: images load, the viewer steps.
mod browser;
// `collapse run`: whole chains on real MNIST and every file of the output contract.
mod chain;
// Bad input on the command line and in data folders: one clear line, exit code 2.
mod cli;
// The frozen evaluators: eval.json per generation, the classifier cache, --seeds, compare.
mod evaluate;
// The .npy image sets a model outside this tool reads and writes, against NumPy.
mod external;
// `collapse fetch` against a local HTTP server started by the test.
mod fetch;
// `collapse model`: the chain's VAE behind .npy files, the same model and draws as the chain's.
mod model;
// The collapse profile: per-sample evidence, profile.json and .csv, `collapse profile`.
mod profile;
// The command protocol's reliability: bad outputs, kills and resume, the manifest's records.
mod protocol;
// `collapse report` redraws plots and the GIF from disk.
mod report;
// Interrupted chains: kill at random moments, resume, same result.
mod resume;
// The GPU build's scripts where they need no GPU: scripts/cuda-llvm.sh's refusals
// (its pinned wheels are for x86_64 Linux).
#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
mod scripts;
// `collapse sweep`: a study run here and on a real one-node Slurm cluster; bad specs.
mod sweep;
// `collapse theory`: the Gaussian and Gaussian-mixture experiments' run folders, compare, resume.
mod theory;
// The wgpu backend, in a build that has it (`--features wgpu`).
#[cfg(feature = "wgpu")]
mod wgpu;
