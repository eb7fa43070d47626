//! The per-sample evidence of a VAE chain that did not keep it (a run of an
//! earlier build, or one run with `--no-profile`), drawn again from the run
//! folder. Every random stream of a chain depends only on (seed,
//! generation, purpose), so each generation's probe is sampled again from
//! its checkpoint and scored as the chain scored it: on a CPU backend these
//! are the very samples, and the very figures, the chain had.

use std::path::{Path, PathBuf};

use burn::prelude::*;
use collapse_data::Dataset;
use collapse_eval::{CacheEvent, Evaluator, Evidence, PER_SAMPLE};
use collapse_records::generation_dir;
use collapse_vae::encode_all;

use crate::config::ChainConfig;
use crate::error::ChainError;
use crate::generations::{frozen_classifier, images_tensor};
use crate::model::{ModelFamily, VaeFamily};
use crate::seeds::{Purpose, stream_seed};

/// What [`score_again`] reports.
#[derive(Clone, Copy, Debug)]
pub enum RescoreEvent<'a> {
    /// The frozen classifier is not cached: training it into this folder.
    TrainingClassifier(&'a Path),
    /// The real test set is being scored.
    Reference,
    /// Generation `g`'s probe is being drawn again and scored.
    Generation(usize),
}

/// The folders of the run in `config.out` (its first `complete` generations
/// and the real test set's) that hold no evidence.
pub fn missing_evidence(config: &ChainConfig, complete: usize) -> Vec<PathBuf> {
    let out = &config.out;
    std::iter::once(out.join(PER_SAMPLE))
        .chain((0..complete).map(|g| generation_dir(out, g).join(PER_SAMPLE)))
        .filter(|dir| !dir.is_dir())
        .collect()
}

/// Writes the `missing` evidence folders ([`missing_evidence`]) of the run
/// in `config.out` (a VAE chain that was evaluated) among the real test
/// set's and its first `complete` generations', on `device`. Each folder is
/// written whole under another name and then renamed, so an interrupted
/// call leaves no partial evidence.
pub fn score_again(
    config: &ChainConfig,
    complete: usize,
    missing: &[PathBuf],
    dataset: &Dataset,
    device: &Device,
    on_event: &mut dyn FnMut(RescoreEvent<'_>),
) -> Result<(), ChainError> {
    if missing.is_empty() {
        return Ok(());
    }
    let (classifier, info) = frozen_classifier(config, dataset, device, &mut |e| {
        if let CacheEvent::Training(dir) = e {
            on_event(RescoreEvent::TrainingClassifier(dir));
        }
    })?;
    let family = VaeFamily::new(config, device);
    let gen0 = family.load(&generation_dir(&config.out, 0))?;
    let pixels = dataset.pixels();
    let tests = config.test_count(dataset.test.len())?;
    let test = images_tensor(&dataset.test.images[..tests * pixels], pixels, device);
    let seed = |g: usize, purpose: Purpose| device.seed(stream_seed(config.seed, g, purpose));

    on_event(RescoreEvent::Reference);
    seed(0, Purpose::Reference);
    let (evaluator, _, real) = Evaluator::new(
        classifier,
        info,
        &gen0,
        &test,
        config.model.image_dims,
        config.eval_batch,
    );
    let real_dir = config.out.join(PER_SAMPLE);
    if missing.contains(&real_dir) {
        write_whole(&real, &real_dir)?;
    }
    for g in 0..complete {
        let dir = generation_dir(&config.out, g).join(PER_SAMPLE);
        if !missing.contains(&dir) {
            continue;
        }
        on_event(RescoreEvent::Generation(g));
        let model = family.load(&generation_dir(&config.out, g))?;
        let probe_seed = stream_seed(config.seed, g, Purpose::Probe);
        let images = family.sample(&model, config.probe_samples, probe_seed)?;
        let mu = encode_all(&gen0, &images, config.eval_batch).mu;
        seed(g, Purpose::Score);
        let (_, evidence) = evaluator.evaluate(&gen0, &images, &mu, g);
        write_whole(&evidence, &dir)?;
    }
    Ok(())
}

/// Writes `evidence` into `dir` through a sibling folder renamed at the end.
fn write_whole(evidence: &Evidence, dir: &Path) -> Result<(), ChainError> {
    let partial = dir.with_extension("partial");
    let io = |path: &Path, source| {
        ChainError::Npy(collapse_data::NpyError::Io {
            path: path.to_path_buf(),
            source,
        })
    };
    if partial.exists() {
        std::fs::remove_dir_all(&partial).map_err(|e| io(&partial, e))?;
    }
    evidence.write(&partial).map_err(ChainError::Npy)?;
    std::fs::rename(&partial, dir).map_err(|e| io(dir, e))?;
    collapse_records::atomic::sync_folder_of(dir).map_err(|e| io(dir, e))?;
    Ok(())
}
