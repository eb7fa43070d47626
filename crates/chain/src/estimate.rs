//! What a chain needs before it runs, from its configuration alone: the disk
//! its run folder holds at the end, and its running time on the CPU.
//!
//! The time is a first-order model: training costs images × epochs × a cost
//! per image (proportional to the parameters for the MLP, one figure for the
//! paper's conv VAE), divided over the threads; each generation adds the
//! sampling and scoring of its probe and the scoring of the test set (its
//! likelihood and latents), and the run scores the test set once more for the
//! evaluators' reference. Its
//! constants are this project's measurements on 2 cores of the CI machine
//! (`bench/results/`); a GPU or a faster CPU runs in less.

use burn::module::Module;
use burn::prelude::*;
use collapse_vae::{Architecture, SampleMode};

use collapse_records::Footprint;

use crate::config::ChainConfig;

/// Bytes of a generation's records besides its weights and training set: the
/// sample and reconstruction grids, latents, probe, evaluation and metrics.
const GENERATION_RECORDS: u64 = 160_000;
/// Bytes of the run's own files (plots, GIF, pages, manifest, metrics.csv)
/// for each generation they show.
const RUN_FILES_PER_GENERATION: u64 = 200_000;
/// Bytes of a run folder's files that do not grow with its generations.
const RUN_FILES: u64 = 2_700_000;
/// Bytes of a profiled chain's per-sample evidence per probe sample and
/// generation (features, scalars, the per-point terms).
const EVIDENCE_BYTES_PER_SAMPLE: f64 = 640.0;
/// Bytes of the real test set's evidence per test image, once per run.
const EVIDENCE_BYTES_PER_TEST_IMAGE: f64 = 630.0;
/// Compressed bytes per pixel of a kept synthetic set: float32 grey values
/// (decoder means) and bytes of Bernoulli draws.
const SET_BYTES_PER_PIXEL: [f64; 2] = [3.6, 0.15];
/// Seconds per image, parameter and epoch on one thread of the MLP's training step.
const MLP_SECONDS_PER_IMAGE_PARAMETER: f64 = 6.5e-11;
/// Seconds per image and epoch on one thread of the conv VAE's training step.
const CONV_SECONDS_PER_IMAGE: f64 = 8.0e-4;
/// Seconds per probe sample on one thread to sample, encode and score it.
const SCORED_SAMPLE_SECONDS: f64 = 1.2e-3;
/// Seconds per probe sample and generation on one thread for the profile's
/// resamples and tests.
const PROFILED_SAMPLE_SECONDS: f64 = 1.8e-4;
/// Seconds per test image and generation on one thread: its likelihood and latents.
const TEST_IMAGE_SECONDS: f64 = 3.5e-5;
/// Seconds per generation on one thread that do not grow with its sizes
/// (grids, records, plots).
const GENERATION_SECONDS: f64 = 0.15;
/// Seconds per test image on one thread for the evaluators' reference statistics of
/// the real test set, once per run.
const REFERENCE_IMAGE_SECONDS: f64 = 3.0e-4;
/// Seconds per run to load the dataset and the frozen classifier.
const START_SECONDS: f64 = 1.0;
/// Test images where the run scores the whole test set: MNIST's and Fashion-MNIST's 10,000.
const WHOLE_TEST_SET: usize = 10_000;

/// The estimated footprint of `config` (its sizes resolved) on `threads`
/// CPU threads; `device` only builds the model to count its parameters.
pub fn estimate(config: &ChainConfig, device: &Device, threads: usize) -> Footprint {
    let parameters = config.model.init(device).num_params() as f64;
    let generations = config.generations as u64 + 1;
    let pixels = (config.model.image_dims[0] * config.model.image_dims[1]) as f64;
    let synthetic = config.synthetic_count().saturating_sub(config.kept_real()) as f64;
    let kept_sets = match !config.stream && config.keep_sets.writes(config.mode) {
        true => config.generations as f64,
        false => 0.0,
    };
    let per_pixel = match config.sample {
        SampleMode::Mean => SET_BYTES_PER_PIXEL[0],
        SampleMode::Bernoulli => SET_BYTES_PER_PIXEL[1],
    };
    let tests = config.test_size.unwrap_or(WHOLE_TEST_SET) as f64;
    let (scored, reference) = match config.evaluate {
        true => (config.probe_samples as f64, 1.0),
        false => (0.0, 0.0),
    };
    // Evidence and the profile come with the evaluators alone.
    let profiled = match config.evaluate && config.profile {
        true => 1.0,
        false => 0.0,
    };
    let evidence = profiled
        * (generations as f64 * scored * EVIDENCE_BYTES_PER_SAMPLE
            + tests * EVIDENCE_BYTES_PER_TEST_IMAGE);
    let bytes = RUN_FILES
        + generations * (4 * parameters as u64 + GENERATION_RECORDS + RUN_FILES_PER_GENERATION)
        + (kept_sets * synthetic * pixels * per_pixel + evidence) as u64;
    let per_image = match config.model.architecture {
        Architecture::Mlp => MLP_SECONDS_PER_IMAGE_PARAMETER * parameters,
        Architecture::Conv => CONV_SECONDS_PER_IMAGE,
    };
    let real = (config.real_size() - config.tail_cut_count()) as f64;
    let trained: f64 = (0..=config.generations)
        .map(|g| match (g, config.mode) {
            (0, _) => real,
            (_, crate::LoopMode::Accumulate) => real + g as f64 * synthetic,
            _ => config.synthetic_count() as f64,
        })
        .sum();
    let per_generation = scored * (SCORED_SAMPLE_SECONDS + profiled * PROFILED_SAMPLE_SECONDS)
        + tests * TEST_IMAGE_SECONDS
        + GENERATION_SECONDS;
    let thread_seconds = trained * config.train.epochs as f64 * per_image
        + generations as f64 * per_generation
        + reference * tests * REFERENCE_IMAGE_SECONDS;
    Footprint {
        bytes,
        seconds: START_SECONDS + thread_seconds / threads.max(1) as f64,
    }
}
