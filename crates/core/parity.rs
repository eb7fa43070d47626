//! `collapse parity`: one training step on every backend with identical
//! weights, inputs and noise, each tensor compared with the reference backend.

use std::path::Path;

use anyhow::anyhow;
use burn::module::Module;
use collapse_vae::parity::{STEP_PREFIX, StepInputs, TensorDiff, compare};
use collapse_vae::{Architecture, ConvImpl, TrainConfig, VaeConfig, load_checkpoint};
use serde_json::json;

use crate::Failure;
use crate::args::{Model, ParityArgs};
use crate::backend;

/// `collapse parity`.
pub fn parity(args: ParityArgs) -> Result<(), Failure> {
    if args.batch == 0 || !(args.tolerance >= 0.0 && args.step_tolerance >= 0.0) {
        return Err(Failure::input(anyhow!(
            "--batch must be at least 1, --tolerance and --step-tolerance 0 or more"
        )));
    }
    let reference = backend::select(args.reference).map_err(Failure::input)?;
    let (model, config) = match &args.checkpoint {
        Some(dir) => {
            load_checkpoint(dir, &reference.device, ConvImpl::Burn).map_err(Failure::input)?
        }
        None => {
            let architecture = match args.model {
                Model::Mlp => Architecture::Mlp,
                Model::Conv => Architecture::Conv,
            };
            let config = VaeConfig::new(architecture);
            reference.device.seed(args.seed);
            (config.init(&reference.device), config)
        }
    };
    let inputs = StepInputs::new(
        &model,
        config.clone(),
        TrainConfig::new(),
        args.batch,
        args.seed,
        &reference.device,
    )
    .map_err(|e| Failure::run(anyhow!("{e}")))?;
    // The reference computes the convolutions with Burn's own (the plain
    // path); the project's lowering is one of the things compared with it.
    let base = inputs
        .run(&reference.device, ConvImpl::Burn)
        .map_err(|e| Failure::run(anyhow!("{e}")))?;
    println!(
        "{} VAE, {} parameters, batch {}; reference {} ({}, Burn's own convolutions); tolerance {:e} relative, {:e} after the Adam step",
        config.architecture,
        model.num_params(),
        args.batch,
        reference.record.backend,
        reference.record.adapter,
        args.tolerance,
        args.step_tolerance
    );
    let mut report = Vec::new();
    let mut worst_overall = 0.0f64;
    let mut worst_step_overall = 0.0f64;
    let conv = config.architecture == Architecture::Conv;
    // Each backend with its own convolutions; the reference backend too where
    // the conv VAE computes them otherwise there (flex's lowering).
    let compared = args
        .backends
        .iter()
        .filter(|b| **b != args.reference || (conv && b.conv_impl() != ConvImpl::Burn));
    for backend in compared {
        let selected = backend::select(*backend).map_err(Failure::input)?;
        let conv_impl = backend.conv_impl();
        let snapshot = inputs
            .run(&selected.device, conv_impl)
            .map_err(|e| Failure::run(anyhow!("{e}")))?;
        let diffs = compare(&base, &snapshot);
        let name = match conv {
            true => format!("{}, {conv_impl} convolutions", backend.name()),
            false => backend.name().to_string(),
        };
        print_table(&name, &selected.record.adapter, &diffs);
        let worst = worst_of(&diffs, false);
        let worst_step = worst_of(&diffs, true);
        worst_overall = worst_overall.max(worst);
        worst_step_overall = worst_step_overall.max(worst_step);
        report.push(json!({
            "backend": backend.name(),
            "conv_impl": conv.then(|| conv_impl.to_string()),
            "adapter": selected.record.adapter,
            "kind": selected.record.kind,
            "worst_rel": worst,
            "worst_step_rel": worst_step,
            "tensors": diffs.iter().map(|d| json!({
                "name": d.name, "max_abs": d.max_abs, "max_rel": d.max_rel,
            })).collect::<Vec<_>>(),
        }));
    }
    if let Some(path) = &args.json {
        let doc = json!({
            "architecture": config.architecture.to_string(),
            "parameters": model.num_params(),
            "batch": args.batch,
            "seed": args.seed,
            "reference": reference.record.backend,
            "tolerance": args.tolerance,
            "step_tolerance": args.step_tolerance,
            "backends": report,
        });
        write_json(path, &doc)?;
    }
    if worst_overall > args.tolerance || worst_step_overall > args.step_tolerance {
        return Err(Failure::run(anyhow!(
            "a difference exceeds its tolerance: largest {worst_overall:.3e} (tolerance {:e}), after the Adam step {worst_step_overall:.3e} (tolerance {:e})",
            args.tolerance,
            args.step_tolerance
        )));
    }
    println!(
        "forward, loss and gradients within {:e} (largest {worst_overall:.3e}); weights after one Adam step within {:e} (largest {worst_step_overall:.3e})",
        args.tolerance, args.step_tolerance
    );
    Ok(())
}

/// The largest relative difference among the Adam-step tensors (`step`) or all the others.
fn worst_of(diffs: &[TensorDiff], step: bool) -> f64 {
    diffs
        .iter()
        .filter(|d| d.name.starts_with(STEP_PREFIX) == step)
        .map(|d| d.max_rel)
        .fold(0.0, f64::max)
}

fn print_table(backend: &str, adapter: &str, diffs: &[TensorDiff]) {
    println!("\n{backend} ({adapter}) against the reference:");
    println!("{:<44} {:>12} {:>12}", "tensor", "max abs", "max rel");
    for d in diffs {
        println!("{:<44} {:>12.3e} {:>12.3e}", d.name, d.max_abs, d.max_rel);
    }
}

fn write_json(path: &Path, doc: &serde_json::Value) -> Result<(), Failure> {
    let text = serde_json::to_string_pretty(doc).expect("JSON value serialises");
    collapse_data::atomic::write(path, text.as_bytes())
        .map_err(|e| Failure::run(anyhow!("{}: {e}", path.display())))
}
