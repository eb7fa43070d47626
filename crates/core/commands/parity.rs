//! `collapse parity`: one training step on every backend with identical
//! weights, inputs and noise, each tensor compared with the reference backend.

use std::path::Path;

use anyhow::{Context, anyhow};
use burn::module::Module;
use burn::prelude::Device;
use collapse_kernels::{ConvImpl, conv_path, force_conv_path};
use collapse_records::DeviceRecord;
use collapse_vae::parity::{STEP_PREFIX, StepInputs, StepSnapshot, TensorDiff, compare};
use collapse_vae::{Architecture, TrainConfig, Vae, VaeConfig, load_checkpoint};
use serde::Serialize;

use crate::backend;
use crate::backend::Backend;
use crate::flags::ParityArgs;
use crate::usage;

/// The tolerances a backend is held to: (forward, loss and gradients; weights after the Adam step).
fn tolerances(args: &ParityArgs, precision: &str) -> (f64, f64) {
    match precision {
        "tf32" => (args.tf32_tolerance, args.tf32_tolerance),
        _ => (args.tolerance, args.step_tolerance),
    }
}

/// The backends compared: those named, else every one this build has, a GPU
/// backend that cannot start then skipped with a line. The reference itself
/// only where the conv VAE computes its convolutions otherwise there (flex's lowering).
fn compared(args: &ParityArgs, conv: bool) -> anyhow::Result<Vec<backend::Selected>> {
    let named = args.backends.is_some();
    let candidates = args.backends.clone().unwrap_or_else(|| {
        Backend::ALL
            .into_iter()
            .filter(|b| backend::compiled(*b))
            .collect()
    });
    let mut started = Vec::new();
    for b in candidates {
        if b == args.reference && (!conv || b.is_gpu()) {
            continue;
        }
        match backend::select(b) {
            Ok(s) => started.push(s),
            Err(e) if !named && b.is_gpu() => println!("skipped {}: {e:#}", b.name()),
            Err(e) => return Err(usage(e)),
        }
    }
    Ok(started)
}

/// The weights compared: the checkpoint's, else a fresh model seeded by `--seed`.
fn model_of(args: &ParityArgs, device: &Device) -> anyhow::Result<(Vae, VaeConfig)> {
    match &args.checkpoint {
        Some(dir) => load_checkpoint(dir, device).map_err(usage),
        None => {
            let config = VaeConfig::new(args.model);
            device.seed(args.seed);
            Ok((config.init(device), config))
        }
    }
}

/// `collapse parity`.
pub fn parity(args: ParityArgs) -> anyhow::Result<()> {
    check_args(&args)?;
    let reference = backend::select(args.reference).map_err(usage)?;
    let (model, config) = model_of(&args, &reference.device)?;
    let inputs = StepInputs::new(
        &model,
        config.clone(),
        TrainConfig::new(),
        args.batch,
        args.seed,
        &reference.device,
    )?;
    // The reference computes the convolutions with Burn's own (the plain
    // path); the project's lowering is one of the things compared with it.
    force_conv_path(Some(ConvImpl::Burn));
    let base = inputs.run(&reference.device);
    force_conv_path(None);
    let base = base?;
    let parameters = model.num_params();
    print_setup(&args, &config, parameters, &reference.record);
    let conv = config.architecture == Architecture::Conv;
    let mut report = Vec::new();
    let mut beyond = Vec::new();
    for selected in compared(&args, conv)? {
        let row = compare_one(&args, &inputs, &base, &selected, conv)?;
        if !row.within {
            beyond.push(row.name.clone());
        }
        report.push(row.record);
    }
    if let Some(path) = &args.json {
        let doc = document(&args, &config, parameters, &reference.record, report);
        write_json(path, &doc)?;
    }
    if !beyond.is_empty() {
        return Err(anyhow!(
            "a difference exceeds its tolerance on {}",
            beyond.join(", ")
        ));
    }
    println!("every backend within its tolerances");
    Ok(())
}

/// Refuses an empty batch and negative tolerances.
fn check_args(args: &ParityArgs) -> anyhow::Result<()> {
    let tolerances_ok = [args.tolerance, args.step_tolerance, args.tf32_tolerance]
        .iter()
        .all(|t| *t >= 0.0);
    if args.batch == 0 || !tolerances_ok {
        return Err(usage(anyhow!(
            "--batch must be at least 1, --tolerance, --step-tolerance and --tf32-tolerance 0 or more"
        )));
    }
    Ok(())
}

/// The line that says what is compared with what, and how closely.
fn print_setup(args: &ParityArgs, config: &VaeConfig, parameters: usize, reference: &DeviceRecord) {
    println!(
        "{} VAE, {} parameters, batch {}; reference {} ({}, Burn's own convolutions); tolerance {:e} relative, {:e} after the Adam step; {:e} for both on TF32 paths",
        config.architecture,
        parameters,
        args.batch,
        reference.backend,
        reference.adapter,
        args.tolerance,
        args.step_tolerance,
        args.tf32_tolerance
    );
}

/// The `--json` document: the setup, then one entry per compared backend.
#[derive(Serialize)]
struct ParityRecord<'a> {
    architecture: String,
    parameters: usize,
    batch: usize,
    seed: u64,
    reference: &'a str,
    tolerance: f64,
    step_tolerance: f64,
    tf32_tolerance: f64,
    backends: Vec<BackendParity>,
}

/// One backend's comparison in the `--json` document.
#[derive(Serialize)]
struct BackendParity {
    backend: String,
    /// How the conv VAE computed its convolutions there (the conv VAE only).
    conv_impl: Option<String>,
    adapter: String,
    kind: String,
    runtime: String,
    precision: String,
    kernels: Vec<String>,
    tolerance: f64,
    step_tolerance: f64,
    worst_rel: f64,
    worst_step_rel: f64,
    within: bool,
    tensors: Vec<TensorDiff>,
}

fn document<'a>(
    args: &ParityArgs,
    config: &VaeConfig,
    parameters: usize,
    reference: &'a DeviceRecord,
    backends: Vec<BackendParity>,
) -> ParityRecord<'a> {
    ParityRecord {
        architecture: config.architecture.to_string(),
        parameters,
        batch: args.batch,
        seed: args.seed,
        reference: &reference.backend,
        tolerance: args.tolerance,
        step_tolerance: args.step_tolerance,
        tf32_tolerance: args.tf32_tolerance,
        backends,
    }
}

/// One backend's comparison with the reference.
struct Compared {
    name: String,
    within: bool,
    record: BackendParity,
}

/// Runs the step on `selected`, prints its table and says whether it is within its tolerances.
fn compare_one(
    args: &ParityArgs,
    inputs: &StepInputs,
    base: &StepSnapshot,
    selected: &backend::Selected,
    conv: bool,
) -> anyhow::Result<Compared> {
    let record = &selected.record;
    let conv_impl = conv_path(&selected.device);
    let snapshot = inputs.run(&selected.device)?;
    let diffs = compare(base, &snapshot);
    let name = match conv {
        true => format!("{}, {conv_impl} convolutions", record.backend),
        false => record.backend.clone(),
    };
    let (tolerance, step_tolerance) = tolerances(args, &record.precision);
    println!(
        "\n{name} ({}; {}, {}) against the reference; tolerance {tolerance:e}, after the Adam step {step_tolerance:e}:",
        record.adapter, record.runtime, record.precision
    );
    print_table(&diffs);
    let worst = worst_of(&diffs, false);
    let worst_step = worst_of(&diffs, true);
    let within = worst <= tolerance && worst_step <= step_tolerance;
    println!(
        "largest {worst:.3e}, after the Adam step {worst_step:.3e}: {}",
        if within {
            "within"
        } else {
            "BEYOND its tolerance"
        }
    );
    let record = BackendParity {
        backend: record.backend.clone(),
        conv_impl: conv.then(|| conv_impl.to_string()),
        adapter: record.adapter.clone(),
        kind: record.kind.clone(),
        runtime: record.runtime.clone(),
        precision: record.precision.clone(),
        kernels: record.kernels.clone(),
        tolerance,
        step_tolerance,
        worst_rel: worst,
        worst_step_rel: worst_step,
        within,
        tensors: diffs,
    };
    Ok(Compared {
        name,
        within,
        record,
    })
}

/// The largest relative difference among the Adam-step tensors (`step`) or all the others.
fn worst_of(diffs: &[TensorDiff], step: bool) -> f64 {
    diffs
        .iter()
        .filter(|d| d.name.starts_with(STEP_PREFIX) == step)
        .map(|d| d.max_rel)
        .fold(0.0, f64::max)
}

fn print_table(diffs: &[TensorDiff]) {
    println!("{:<44} {:>12} {:>12}", "tensor", "max abs", "max rel");
    for d in diffs {
        println!("{:<44} {:>12.3e} {:>12.3e}", d.name, d.max_abs, d.max_rel);
    }
}

fn write_json(path: &Path, doc: &ParityRecord<'_>) -> anyhow::Result<()> {
    let text = serde_json::to_string_pretty(doc).expect("the parity record serialises");
    collapse_records::atomic::write(path, text.as_bytes())
        .with_context(|| path.display().to_string())
}
