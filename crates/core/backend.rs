//! Picking the compute backend at run time, and describing it for the manifest.
//!
//! Only the binary enables Burn's backend features; the library crates take a
//! `&Device`. A backend that cannot start, or that this build lacks, is an
//! error, never a silent fallback.

#[cfg(feature = "wgpu")]
use std::panic::UnwindSafe;
use std::path::Path;

use anyhow::anyhow;
#[cfg(feature = "wgpu")]
use burn::backend::DispatchDevice;
#[cfg(feature = "gpu-kernels")]
use burn::cubecl::config::{CubeClRuntimeConfig, RuntimeConfig};
#[cfg(feature = "wgpu")]
use burn::cubecl::{prelude::Scalar, tf32};
use burn::prelude::*;
#[cfg(feature = "wgpu")]
use burn::tensor::DeviceType;
pub use collapse_chain::Backend;
use collapse_kernels::ConvImpl;
use collapse_records::DeviceRecord;

/// A started device and its description.
pub struct Selected {
    /// The device.
    pub device: Device,
    /// What the manifest records.
    pub record: DeviceRecord,
}

/// The kernel features this build gives the GPU backends (Cargo feature `gpu-kernels`).
#[cfg(feature = "wgpu")]
fn gpu_kernels() -> Vec<String> {
    match cfg!(feature = "gpu-kernels") {
        true => vec!["fusion".to_string(), "autotune".to_string()],
        false => Vec::new(),
    }
}

/// Forces every convolution onto `choice` where given (refused where
/// `backend` cannot run it), for a benchmark of one path.
pub fn force_conv_path(backend: Backend, choice: Option<ConvImpl>) -> anyhow::Result<()> {
    if backend.is_gpu() && choice == Some(ConvImpl::Matmul) {
        return Err(anyhow!(
            "--conv-impl matmul runs on the CPU backends (flex, ndarray), not on {backend}"
        ));
    }
    collapse_kernels::force_conv_path(choice);
    Ok(())
}

/// Whether this build has `backend` compiled in.
pub fn compiled(backend: Backend) -> bool {
    match backend {
        Backend::Flex | Backend::Ndarray => true,
        Backend::Wgpu => cfg!(feature = "wgpu"),
        Backend::Vulkan => cfg!(feature = "vulkan"),
        Backend::Cuda => cfg!(feature = "cuda"),
    }
}

/// How to build a collapse that has this GPU backend.
fn how_to_build(backend: Backend) -> &'static str {
    match backend {
        Backend::Cuda => {
            "run scripts/cuda-llvm.sh once, then cargo build --profile gpu --features cuda"
        }
        Backend::Vulkan => "cargo build --profile gpu --features vulkan",
        _ => "cargo build --release --features wgpu",
    }
}

/// Why this build lacks `backend`, and how to build one that has it.
#[cfg_attr(all(feature = "cuda", feature = "vulkan"), allow(dead_code))]
fn not_compiled(backend: Backend) -> anyhow::Error {
    anyhow!(
        "--device {backend}: this collapse was built without the {backend} backend ({}; docs/gpu.md)",
        how_to_build(backend)
    )
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
            runtime: backend.name().to_string(),
            precision: "f32".to_string(),
            kernels: Vec::new(),
            tuning_cache: None,
        },
    }
}

/// Runs `f` with the panic message silenced, returning the message of a panic
/// as the error: the GPU runtimes panic where a driver or adapter is missing,
/// and that is to reach the user as one line.
#[cfg(feature = "wgpu")]
fn quietly<T>(f: impl FnOnce() -> T + UnwindSafe) -> Result<T, String> {
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let outcome = std::panic::catch_unwind(f);
    std::panic::set_hook(hook);
    outcome.map_err(|payload| {
        let message = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or("the runtime panicked");
        // The first line or sentence: the runtimes' messages continue with search paths.
        let first = message.lines().next().unwrap_or(message);
        first
            .split(" - ")
            .next()
            .unwrap_or(first)
            .trim()
            .to_string()
    })
}

/// Opens a GPU `device` of `backend` and checks that it runs a kernel;
/// `missing` says what to install where it cannot start.
#[cfg(feature = "wgpu")]
fn open_gpu(backend: Backend, device: Device, missing: &str) -> anyhow::Result<Selected> {
    let name = backend.name();
    let started = quietly(move || {
        let identity = device.identity();
        let probe: f32 = Tensor::<1>::from_floats([1.0, 2.0], &device)
            .sum()
            .into_scalar();
        (device, identity, probe)
    });
    let (device, identity, probe) =
        started.map_err(|why| anyhow!("--device {name}: cannot start ({why}); {missing}"))?;
    if probe != 3.0 {
        return Err(anyhow!(
            "--device {name}: the device computed 1 + 2 = {probe}"
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
    let (runtime, precision) = runtime_and_precision(&device);
    Ok(Selected {
        device,
        record: DeviceRecord {
            backend: name.to_string(),
            adapter,
            kind: kind.to_string(),
            runtime,
            precision,
            kernels: gpu_kernels(),
            tuning_cache: None,
        },
    })
}

/// The runtime's own name (its compiler: `cuda`, `wgpu<wgsl>`, `wgpu<spirv>`)
/// and the precision of its matrix products: the autotuned and default matmul
/// and convolution kernels stage f32 inputs as TF32 wherever they run on tensor
/// cores and the device offers TF32 (CUDA from sm 80), as cuDNN does for
/// PyTorch's convolutions.
#[cfg(feature = "wgpu")]
fn runtime_and_precision(device: &Device) -> (String, String) {
    match device.as_dispatch() {
        DispatchDevice::Cube(cube) => {
            let client = cube.client();
            let properties = client.properties();
            let matmul = &properties.features.matmul;
            let tensor_cores = !matmul.cmma.is_empty() || !matmul.mma.is_empty();
            let tf32 = tensor_cores && properties.supports_type(tf32::elem_type_native());
            let precision = if tf32 { "tf32" } else { "f32" };
            (client.name().to_string(), precision.to_string())
        }
        _ => ("unknown".to_string(), "f32".to_string()),
    }
}

/// What to do where no Vulkan adapter starts.
#[cfg(feature = "wgpu")]
const NO_VULKAN: &str =
    "install a Vulkan driver (e.g. Debian's mesa-vulkan-drivers) or use --device flex";

/// Starts the default wgpu device.
#[cfg(feature = "wgpu")]
fn wgpu() -> anyhow::Result<Selected> {
    open_gpu(
        Backend::Wgpu,
        Device::wgpu(DeviceKind::DefaultDevice),
        NO_VULKAN,
    )
}

#[cfg(not(feature = "wgpu"))]
fn wgpu() -> anyhow::Result<Selected> {
    Err(not_compiled(Backend::Wgpu))
}

/// Starts the default wgpu device on Vulkan.
#[cfg(feature = "vulkan")]
fn vulkan() -> anyhow::Result<Selected> {
    open_gpu(
        Backend::Vulkan,
        Device::vulkan(DeviceKind::DefaultDevice),
        NO_VULKAN,
    )
}

#[cfg(not(feature = "vulkan"))]
fn vulkan() -> anyhow::Result<Selected> {
    Err(not_compiled(Backend::Vulkan))
}

/// Starts the first CUDA device.
#[cfg(feature = "cuda")]
fn cuda() -> anyhow::Result<Selected> {
    let devices = quietly(|| Device::enumerate(DeviceType::Cuda).into_vec()).unwrap_or_default();
    if devices.is_empty() {
        return Err(anyhow!(
            "--device cuda: no CUDA device (the NVIDIA driver's libcuda.so was not found, or it sees no GPU)"
        ));
    }
    open_gpu(
        Backend::Cuda,
        Device::cuda(0),
        "check the NVIDIA driver with nvidia-smi",
    )
}

#[cfg(not(feature = "cuda"))]
fn cuda() -> anyhow::Result<Selected> {
    Err(not_compiled(Backend::Cuda))
}

/// Starts `backend`.
pub fn select(backend: Backend) -> anyhow::Result<Selected> {
    match backend {
        Backend::Flex => Ok(cpu(Device::flex(), backend)),
        // Deprecated in Burn 0.22 but kept: the project compares backends.
        #[allow(deprecated)]
        Backend::Ndarray => Ok(cpu(Device::ndarray(), backend)),
        Backend::Wgpu => wgpu(),
        Backend::Vulkan => vulkan(),
        Backend::Cuda => cuda(),
    }
}

/// The devices of a GPU backend that this build has, each opened, or why none is listed.
pub fn gpu_devices(backend: Backend) -> Result<Vec<anyhow::Result<Selected>>, String> {
    if !compiled(backend) {
        return Err(format!("not in this build ({})", how_to_build(backend)));
    }
    open_devices(backend)
}

/// Every device of `backend` that this build has, each opened.
#[cfg(not(feature = "wgpu"))]
fn open_devices(backend: Backend) -> Result<Vec<anyhow::Result<Selected>>, String> {
    Err(format!("not in this build ({})", how_to_build(backend)))
}

/// Every device of `backend` that this build has, each opened.
#[cfg(feature = "wgpu")]
fn open_devices(backend: Backend) -> Result<Vec<anyhow::Result<Selected>>, String> {
    let kind = match backend {
        #[cfg(feature = "cuda")]
        Backend::Cuda => DeviceType::Cuda,
        #[cfg(feature = "vulkan")]
        Backend::Vulkan => DeviceType::Vulkan,
        _ => DeviceType::Wgpu,
    };
    let devices = quietly(move || Device::enumerate(kind).into_vec()).unwrap_or_default();
    if devices.is_empty() {
        return Err(match backend {
            Backend::Cuda => "no device found (no NVIDIA driver, or it sees no GPU)".to_string(),
            _ => {
                "no adapter found (install a Vulkan driver such as mesa-vulkan-drivers)".to_string()
            }
        });
    }
    let missing = "the adapter cannot start";
    Ok(devices
        .into_iter()
        .map(|device| open_gpu(backend, device, missing))
        .collect())
}

/// Whether `backend` measures its kernel choices in this build (GPU backends with autotune).
pub fn tunes(backend: Backend) -> bool {
    backend.is_gpu() && cfg!(feature = "gpu-kernels")
}

/// Points the autotuner's cache of measured kernel choices at `dir` (which the
/// runtime creates on its first write), so that a run keeps the choices it
/// measured and its resume, or another run given the same cache, makes the
/// same ones. Does nothing where `backend` does not tune.
pub fn keep_tuning(backend: Backend, dir: &Path) -> anyhow::Result<()> {
    if !tunes(backend) {
        return Ok(());
    }
    point_tuning_at(dir)
}

#[cfg(not(feature = "gpu-kernels"))]
fn point_tuning_at(_dir: &Path) -> anyhow::Result<()> {
    Ok(())
}

#[cfg(feature = "gpu-kernels")]
fn point_tuning_at(dir: &Path) -> anyhow::Result<()> {
    use anyhow::Context;
    let absolute =
        std::path::absolute(dir).with_context(|| format!("the tuning cache {}", dir.display()))?;
    // Loading the runtime's configuration points the cache at its default
    // root, so it is loaded first and the root set after.
    let _ = CubeClRuntimeConfig::get();
    burn::cubecl::environment::set_root(absolute);
    Ok(())
}
