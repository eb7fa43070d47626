//! `collapse sample`: a sample grid decoded from a saved generation on any
//! backend, or a generation's training set drawn again from its run.

use std::path::{Path, PathBuf};

use anyhow::anyhow;
use collapse_chain::{ModelFamily, VaeFamily};
use collapse_vae::SampleMode;

use crate::backend::{self, Backend};
use crate::flags::SampleArgs;
use crate::runner::chain::read_recorded;
use crate::usage;

/// `collapse sample`.
pub fn sample(args: SampleArgs) -> anyhow::Result<()> {
    if args.training_set {
        return training_set(&args.generation, args.device, args.out);
    }
    if args.count == 0 {
        return Err(usage(anyhow!("--count: must be at least 1")));
    }
    let out = args
        .out
        .expect("clap requires --out without --training-set");
    let backend = args.device.unwrap_or(Backend::Flex);
    let selected = backend::select(backend).map_err(usage)?;
    let device = &selected.device;
    let (model, config) = collapse_vae::load_checkpoint(&args.generation, device).map_err(usage)?;
    device.seed(args.seed);
    let images = collapse_vae::sample_images(
        &model,
        config.latent_dim,
        args.count,
        1_000,
        1.0,
        SampleMode::Mean,
        device,
    );
    let pixels = collapse_vae::to_host(images);
    let grid = collapse_report::grid::grid_image(&pixels, config.image_dims, 10, 2);
    collapse_report::grid::save_png(&out, &grid)?;
    println!(
        "{} images from {} on {} ({}) -> {}",
        args.count,
        args.generation.display(),
        selected.record.backend,
        selected.record.adapter,
        out.display()
    );
    Ok(())
}

/// `collapse sample GEN --training-set`: the synthetic training set of
/// generation `dir`, drawn again from the generation before it.
fn training_set(dir: &Path, device: Option<Backend>, out: Option<PathBuf>) -> anyhow::Result<()> {
    let bad = |why: String| usage(anyhow!("{}: {why}", dir.display()));
    let g = collapse_records::generation_of(dir)
        .ok_or_else(|| bad("not a generation folder of a run (gen-NNN)".into()))?;
    let run = dir.parent().unwrap_or(Path::new("."));
    let (_, config) = read_recorded(run).map_err(|e| bad(crate::one_line(&e)))?;
    if g == 0 {
        return Err(bad(
            "generation 0 trains on the real training set; there is no set to draw".into(),
        ));
    }
    if g > config.generations {
        return Err(bad(format!(
            "the run has generations 0 to {}",
            config.generations
        )));
    }
    if config.stream {
        return Err(bad(
            "the run streamed fresh batches from the previous decoder (--stream); it drew no set"
                .into(),
        ));
    }
    let recorded = Backend::from_name(&config.device).ok_or_else(|| {
        bad(format!(
            "the run's device {:?} is no backend this build knows; pass --device",
            config.device
        ))
    })?;
    let backend = device.unwrap_or(recorded);
    // The run's convolution implementation on its own backend, as the chain drew.
    let selected = backend::select(backend).map_err(usage)?;
    let family = VaeFamily::new(&config, &selected.device);
    let previous_dir = collapse_records::generation_dir(run, g - 1);
    let previous = family.load(&previous_dir).map_err(usage)?;
    let out = out.unwrap_or_else(|| dir.join(collapse_chain::training_set_name(config.sample)));
    let Some(images) = collapse_chain::synthetic_set(&family, &config, g, &previous)? else {
        return Err(bad(format!(
            "its training set is all real images (real fraction {}); there is nothing to draw",
            config.real_fraction
        )));
    };
    collapse_chain::write_training_set(&out, &images, config.sample, config.model.image_dims)?;
    println!(
        "generation {g}'s training set: {} images drawn from {} on {} -> {}",
        images.dims()[0],
        previous_dir.display(),
        selected.record.backend,
        out.display()
    );
    Ok(())
}
