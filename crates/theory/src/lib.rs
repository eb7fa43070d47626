//! The paper's closed-form experiments, as first-class runs: a Gaussian and
//! a Gaussian mixture refitted, generation after generation, to samples of
//! their own previous fit (Shumailov et al., section 4 and the supplement's
//! section 3; the authors' `Normals_GMM_experiments.ipynb`).
//!
//! - [`gaussian`]: many independent trials of the recursive fit of one
//!   Gaussian (replace, accumulate, a real fraction, a sampling bias), summed
//!   per generation and set beside the [`closed`] forms.
//! - [`mixture`]: a full-covariance Gaussian mixture in the plane and its EM
//!   fit; [`gmm`]: the recursive fit of one, resumable after a kill.
//!
//! Both write a run folder in the same contract as a chain (manifest,
//! `metrics.csv`, plots, `index.html`), so `collapse compare` and the seed
//! aggregate read them. No Burn: everything runs on the host in f64.

#![deny(missing_docs)]

pub mod closed;
mod error;
pub mod estimate;
mod folder;
pub mod gaussian;
pub mod gmm;
pub mod mixture;
mod rng;

pub use error::{SettingError, TheoryError};
pub use folder::RunInfo;
pub use gaussian::{GaussianConfig, Mode, run_gaussian};
pub use gmm::{GmmConfig, GmmSettings, GmmStart, run_gmm};
