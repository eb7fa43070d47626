//! Picking the compute backend at run time, and describing it for the manifest.
//!
//! Only the binary enables Burn's backend features; the library crates take a
//! `&Device`. A backend that cannot start is an error, never a silent fallback.

use anyhow::anyhow;
use burn::prelude::*;
use burn::tensor::DeviceType;
use collapse_report::DeviceRecord;
use collapse_vae::ConvImpl;

use crate::args::{Backend, ConvImplArg};

/// A started device and its description.
pub struct Selected {
    /// The device.
    pub device: Device,
    /// What the manifest records.
    pub record: DeviceRecord,
}

impl Backend {
    /// How the conv VAE and the frozen classifier compute convolutions on this
    /// backend: the CPU backends get the project's lowering to unfold (im2col)
    /// and a matrix multiply (Burn's ndarray convolutions are ~50× slower than
    /// flex's, and on flex the lowering trains, samples and scores faster than
    /// flex's own); wgpu uses Burn's.
    pub fn conv_impl(self) -> ConvImpl {
        match self {
            Backend::Ndarray | Backend::Flex => ConvImpl::Matmul,
            Backend::Wgpu => ConvImpl::Burn,
        }
    }

    /// `choice` where given (refused where this backend cannot run it), else [`Self::conv_impl`].
    pub fn conv_impl_or(self, choice: Option<ConvImplArg>) -> anyhow::Result<ConvImpl> {
        match (self, choice) {
            (_, None) => Ok(self.conv_impl()),
            (_, Some(ConvImplArg::Burn)) => Ok(ConvImpl::Burn),
            (Backend::Wgpu, Some(ConvImplArg::Matmul | ConvImplArg::Hybrid)) => Err(anyhow!(
                "--conv-impl matmul and hybrid run on the CPU backends (flex, ndarray), not on wgpu"
            )),
            (_, Some(ConvImplArg::Matmul)) => Ok(ConvImpl::Matmul),
            (_, Some(ConvImplArg::Hybrid)) => Ok(ConvImpl::Hybrid),
        }
    }

    /// The name given to `--device`.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Flex => "flex",
            Backend::Ndarray => "ndarray",
            Backend::Wgpu => "wgpu",
        }
    }
}

fn cpu(device: Device, backend: Backend) -> Selected {
    // The CPU backends run on rayon's global pool (--threads, else one thread per core).
    let threads = rayon::current_num_threads();
    Selected {
        device,
        record: DeviceRecord {
            backend: backend.name().to_string(),
            adapter: format!("host CPU, {threads} threads"),
            kind: "cpu".to_string(),
        },
    }
}

/// Starts the default wgpu device and checks that it runs a kernel.
fn wgpu() -> anyhow::Result<Selected> {
    open_wgpu(Device::wgpu(DeviceKind::DefaultDevice))
}

/// Opens a wgpu device and checks that it runs a kernel; wgpu panics when no
/// adapter exists, which is turned into an error here.
fn open_wgpu(device: Device) -> anyhow::Result<Selected> {
    let started = std::panic::catch_unwind(move || {
        let identity = device.identity();
        let probe: f32 = Tensor::<1>::from_floats([1.0, 2.0], &device)
            .sum()
            .into_scalar();
        (device, identity, probe)
    });
    let (device, identity, probe) = started.map_err(|_| {
        anyhow!("--device wgpu: no usable wgpu adapter (install a Vulkan driver, e.g. Debian's mesa-vulkan-drivers, or use --device flex)")
    })?;
    if probe != 3.0 {
        return Err(anyhow!(
            "--device wgpu: the adapter computed 1 + 2 = {probe}"
        ));
    }
    let (adapter, kind) = match identity {
        Some(id) => {
            let kind = if id.physical.is_some() {
                "gpu"
            } else {
                "software"
            };
            (id.name, kind)
        }
        None => ("unknown adapter".to_string(), "unknown"),
    };
    Ok(Selected {
        device,
        record: DeviceRecord {
            backend: "wgpu".to_string(),
            adapter,
            kind: kind.to_string(),
        },
    })
}

/// Starts `backend`.
pub fn select(backend: Backend) -> anyhow::Result<Selected> {
    match backend {
        Backend::Flex => Ok(cpu(Device::flex(), backend)),
        // Deprecated in Burn 0.22 but kept: the project compares backends.
        #[allow(deprecated)]
        Backend::Ndarray => Ok(cpu(Device::ndarray(), backend)),
        Backend::Wgpu => wgpu(),
    }
}

/// `collapse devices`: every backend compiled in, and what each can run on.
pub fn devices() -> Result<(), crate::Failure> {
    println!("{:<8} {:<10} {:<40} kind", "backend", "status", "adapter");
    for backend in [Backend::Flex, Backend::Ndarray] {
        let s = select(backend).map_err(crate::Failure::run)?;
        println!(
            "{:<8} {:<10} {:<40} {}",
            backend.name(),
            "available",
            s.record.adapter,
            s.record.kind
        );
    }
    let adapters = std::panic::catch_unwind(|| Device::enumerate(DeviceType::Wgpu).into_vec())
        .unwrap_or_default();
    if adapters.is_empty() {
        println!(
            "{:<8} {:<10} no adapter found (install a Vulkan driver such as mesa-vulkan-drivers)",
            "wgpu", "missing"
        );
    }
    for device in adapters {
        match open_wgpu(device) {
            Ok(s) => println!(
                "{:<8} {:<10} {:<40} {}",
                "wgpu", "available", s.record.adapter, s.record.kind
            ),
            Err(e) => println!("{:<8} {:<10} {e}", "wgpu", "failing"),
        }
    }
    Ok(())
}
