//! `collapse bench`: training and sampling throughput of each architecture.
//!
//! Training runs the chain's own loop ([`collapse_vae::train`]) on uniform
//! random images held as one tensor on the device: one warm-up epoch, then
//! `repeats` timed epochs of `steps` batches, reporting the median. Sampling
//! decodes `samples` images in batches of 1,000 and waits for the result.

use std::time::Instant;

use burn::module::Module;
use burn::prelude::*;
use burn::tensor::Distribution;
use collapse_vae::{
    Architecture, SampleMode, ShuffledImages, TrainConfig, TrainEvent, VaeConfig, sample_images,
    train,
};

use crate::Failure;
use crate::args::{BenchArgs, Model};
use crate::backend;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// `collapse bench`.
pub fn bench(args: BenchArgs) -> Result<(), Failure> {
    if args.batch_size == 0 || args.steps == 0 || args.repeats == 0 || args.samples == 0 {
        return Err(Failure::input(anyhow::anyhow!(
            "--batch-size, --steps, --repeats and --samples must each be at least 1"
        )));
    }
    let selected = backend::select(args.device).map_err(Failure::input)?;
    let device = &selected.device;
    println!(
        "device: {} ({}, {}); batch {}, {} steps x {} timed epochs after 1 warm-up; sampling {} images in batches of 1000",
        selected.record.backend,
        selected.record.adapter,
        selected.record.kind,
        args.batch_size,
        args.steps,
        args.repeats,
        args.samples
    );
    println!(
        "{:<6} {:>10} {:>18} {:>18}",
        "model", "params", "train images/s", "sample images/s"
    );
    for model in &args.model {
        let architecture = match model {
            Model::Mlp => Architecture::Mlp,
            Model::Conv => Architecture::Conv,
        };
        let config = VaeConfig::new(architecture).with_conv_impl(args.device.conv_impl());
        device.seed(0);
        let images = Tensor::<2>::random(
            [args.batch_size * args.steps, config.pixels()],
            Distribution::Default,
            device,
        );
        let vae = config.init(&device.clone().autodiff());
        let params = vae.num_params();
        let train_config = TrainConfig::new()
            .with_epochs(args.repeats + 1)
            .with_batch_size(args.batch_size);
        let mut rates = Vec::new();
        let (vae, _) = train(
            vae,
            &mut ShuffledImages::new(images),
            &train_config,
            &mut |e| {
                if let TrainEvent::Epoch(r) = e
                    && r.epoch > 1
                {
                    rates.push(r.images_per_sec)
                }
            },
        )
        .map_err(Failure::run)?;
        let decoder = vae.valid();
        let _ = sample_images(
            &decoder,
            config.latent_dim,
            1_000,
            1_000,
            1.0,
            SampleMode::Mean,
            device,
        )
        .into_data();
        device
            .sync()
            .map_err(|e| Failure::run(anyhow::anyhow!("{e:?}")))?;
        let started = Instant::now();
        let samples = sample_images(
            &decoder,
            config.latent_dim,
            args.samples,
            1_000,
            1.0,
            SampleMode::Mean,
            device,
        );
        let _ = samples.into_data();
        let sampling = args.samples as f64 / started.elapsed().as_secs_f64();
        println!(
            "{:<6} {:>10} {:>18.0} {:>18.0}",
            architecture.to_string(),
            params,
            median(rates),
            sampling
        );
    }
    Ok(())
}
