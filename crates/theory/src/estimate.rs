//! What a theory run needs before it runs, from its configuration alone: the
//! disk its run folder holds at the end and its running time, for a study's
//! plan. A first-order model whose constants are this project's measurements
//! on 2 cores of the CI machine; a faster CPU runs in less.

use collapse_records::Footprint;

use crate::{GaussianConfig, GmmConfig};

/// Bytes of a theory run's plots, page and manifest.
const RUN_FILES: u64 = 600_000;
/// Bytes of a row of `metrics.csv`, one per generation.
const ROW_BYTES: u64 = 300;
/// Bytes of one drawn snapshot of the mixture's samples.
const SNAPSHOT_BYTES: u64 = 230_000;
/// Seconds per run to start and to draw its plots.
const START_SECONDS: f64 = 0.15;
/// Seconds on one thread per sample drawn and fitted by the Gaussian fit.
const GAUSSIAN_SECONDS_PER_SAMPLE: f64 = 5.6e-9;
/// Seconds per point and generation of the mixture's EM fit (one thread).
const GMM_SECONDS_PER_POINT: f64 = 1.5e-6;

/// The estimated footprint of the Gaussian fit `c` on `threads` threads
/// (its trials run in parallel).
pub fn gaussian(c: &GaussianConfig, threads: usize) -> Footprint {
    let generations = c.generations as u64 + 1;
    let samples = (c.samples * c.trials) as f64 * generations as f64;
    Footprint {
        bytes: RUN_FILES + generations * ROW_BYTES,
        seconds: START_SECONDS + samples * GAUSSIAN_SECONDS_PER_SAMPLE / threads.max(1) as f64,
    }
}

/// The estimated footprint of the mixture fit `c` (one thread).
pub fn gmm(c: &GmmConfig) -> Footprint {
    let generations = c.generations as u64 + 1;
    Footprint {
        bytes: RUN_FILES + generations * ROW_BYTES + c.snapshots.len() as u64 * SNAPSHOT_BYTES,
        seconds: START_SECONDS + (c.samples as u64 * generations) as f64 * GMM_SECONDS_PER_POINT,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn estimates_grow_with_the_work_and_the_threads_share_the_trials() {
        let small = GaussianConfig::default();
        let large = GaussianConfig {
            samples: 10 * small.samples,
            ..small.clone()
        };
        assert!(gaussian(&large, 2).seconds > 5.0 * gaussian(&small, 2).seconds);
        assert!(gaussian(&small, 1).seconds > gaussian(&small, 2).seconds);
        let mixture = GmmConfig::default();
        let fewer = GmmConfig {
            snapshots: vec![0],
            ..mixture.clone()
        };
        assert!(gmm(&fewer).bytes < gmm(&mixture).bytes);
        assert_eq!(gmm(&mixture).seconds, gmm(&fewer).seconds);
    }
}
