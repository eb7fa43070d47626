//! `collapse model`: the chain's VAE on its own, over `.npy` image sets. It
//! trains and samples exactly as the chain trains and samples a generation
//! (`VaeFamily`), so a chain can drive it as a model of its own from outside.

use std::path::Path;

use anyhow::anyhow;
use burn::prelude::*;
use collapse_chain::{Attempt, ChainConfig, ModelFamily, TrainError, VaeFamily};
use collapse_vae::{ShuffledImages, TrainEvent};

use crate::backend;
use crate::flags::{GivenSettings, ModelCommand, ModelSampleArgs, ModelTrainArgs, RunArgs};
use crate::usage;

/// `collapse model`.
pub fn model(command: ModelCommand) -> anyhow::Result<()> {
    match command {
        ModelCommand::Train(args) => train(args),
        ModelCommand::Sample(args) => sample(args),
    }
}

/// The chain configuration of the settings in `file` (or the quick
/// preset's), and the device it names.
fn config(file: Option<&Path>) -> anyhow::Result<(ChainConfig, backend::Selected)> {
    let given = GivenSettings::of(&RunArgs {
        config: file.map(Path::to_path_buf),
        ..RunArgs::default()
    })?;
    let config = given.resolve()?;
    let selected = backend::select(given.settings.backend()).map_err(usage)?;
    Ok((config, selected))
}

/// `collapse model train`.
fn train(args: ModelTrainArgs) -> anyhow::Result<()> {
    let (count, dims) = collapse_data::npy::shape_of(&args.data).map_err(usage)?;
    let pixels = collapse_data::read_images(&args.data, dims, Some(count)).map_err(usage)?;
    let (mut config, selected) = config(args.config.as_deref())?;
    config.model.image_dims = dims;
    let device = &selected.device;
    let images = Tensor::from_data(TensorData::new(pixels, [count, dims[0] * dims[1]]), device);
    let family = VaeFamily::new(&config, device);
    let attempt = Attempt {
        generation: 0,
        lr: config.train.lr,
        init_seed: args.init_seed.unwrap_or(args.seed),
        train_seed: args.seed,
    };
    let quiet = args.quiet;
    let on_event = &mut |event| {
        if let TrainEvent::Epoch(r) = event
            && !quiet
        {
            eprintln!(
                "epoch {}/{} loss {:.2} ({:.0} images/s)",
                r.epoch, r.epochs, r.mean_loss, r.images_per_sec
            );
        }
    };
    let (model, loss) = family
        .train(&mut ShuffledImages::new(images), attempt, on_event)
        .map_err(|e| match e {
            TrainError::Diverged(divergence) => anyhow!("{}: {divergence}", args.data.display()),
            TrainError::Failed(e) => e.into(),
        })?;
    std::fs::create_dir_all(&args.out)
        .map_err(|e| usage(anyhow!("--out: {}: {e}", args.out.display())))?;
    family.save(&model, &args.out)?;
    println!(
        "{count} images of {}x{}, {} epochs: mean loss {:.2}; checkpoint in {}",
        dims[0],
        dims[1],
        config.train.epochs,
        loss.unwrap_or(f64::NAN),
        args.out.display()
    );
    Ok(())
}

/// `collapse model sample`.
fn sample(args: ModelSampleArgs) -> anyhow::Result<()> {
    if args.count == 0 {
        return Err(usage(anyhow!("--count: must be at least 1")));
    }
    let (mut config, selected) = config(args.config.as_deref())?;
    let (model, recorded) =
        collapse_vae::load_checkpoint(&args.from, &selected.device).map_err(usage)?;
    config.model = recorded;
    let family = VaeFamily::new(&config, &selected.device);
    let images = family.sample(&model, args.count, args.seed)?;
    let pixels = collapse_vae::to_host(images);
    collapse_data::write_images(&args.out, &pixels, args.count, config.model.image_dims)?;
    println!(
        "{} images from {} -> {}",
        args.count,
        args.from.display(),
        args.out.display()
    );
    Ok(())
}
