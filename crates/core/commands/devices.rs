//! `collapse devices`: every backend, whether this build has it, and what each can run on.

use crate::backend::{Backend, Selected, gpu_devices, select};

/// Prints one row per backend (and per adapter of a GPU backend).
pub fn devices() -> anyhow::Result<()> {
    println!(
        "{:<8} {:<10} {:<40} {:<9} {:<12} {:<9} kernels",
        "backend", "status", "adapter", "kind", "runtime", "precision"
    );
    let row = |s: &Selected| {
        let r = &s.record;
        let kernels = match r.kernels.is_empty() {
            true => "-".to_string(),
            false => r.kernels.join(","),
        };
        println!(
            "{:<8} {:<10} {:<40} {:<9} {:<12} {:<9} {kernels}",
            r.backend, "available", r.adapter, r.kind, r.runtime, r.precision
        );
    };
    for backend in Backend::ALL {
        if !backend.is_gpu() {
            row(&select(backend)?);
            continue;
        }
        match gpu_devices(backend) {
            Err(why) => println!("{:<8} {:<10} {why}", backend.name(), "missing"),
            Ok(devices) => {
                for device in devices {
                    match device {
                        Ok(s) => row(&s),
                        Err(e) => println!("{:<8} {:<10} {e}", backend.name(), "failing"),
                    }
                }
            }
        }
    }
    Ok(())
}
