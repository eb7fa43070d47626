//! `collapse sample`: a sample grid decoded from a saved generation, on any backend.

use anyhow::anyhow;
use collapse_vae::SampleMode;

use crate::Failure;
use crate::backend;
use crate::flags::SampleArgs;

/// `collapse sample`.
pub fn sample(args: SampleArgs) -> Result<(), Failure> {
    if args.count == 0 {
        return Err(Failure::input(anyhow!("--count: must be at least 1")));
    }
    let selected = backend::select(args.device).map_err(Failure::input)?;
    let device = &selected.device;
    let (model, config) =
        collapse_vae::load_checkpoint(&args.checkpoint, device, args.device.conv_impl())
            .map_err(Failure::input)?;
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
    collapse_report::grid::save_png(&args.out, &grid).map_err(Failure::run)?;
    println!(
        "{} images from {} on {} ({}) -> {}",
        args.count,
        args.checkpoint.display(),
        selected.record.backend,
        selected.record.adapter,
        args.out.display()
    );
    Ok(())
}
