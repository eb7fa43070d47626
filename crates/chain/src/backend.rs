//! The compute backends a chain can name. Which of them a build can start is
//! the binary's business (Burn's backend features are turned on there only).

use serde::{Deserialize, Serialize};

/// A compute backend.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// Burn's own CPU backend (the default).
    Flex,
    /// Burn's ndarray CPU backend (deprecated in Burn 0.22); its convolutions
    /// are slow, so the conv VAE uses the project's own (unfold and matrix
    /// multiply) there.
    Ndarray,
    /// GPU through wgpu (Vulkan, Metal, DX12; a build with `--features wgpu`); a software
    /// Vulkan driver such as lavapipe also works.
    Wgpu,
    /// GPU through wgpu pinned to Vulkan, SPIR-V kernels (a build with `--features vulkan`).
    Vulkan,
    /// NVIDIA GPU through Burn's CUDA backend (a build with `--features cuda`).
    Cuda,
}

impl Backend {
    /// Every backend, in the order `collapse devices` and `collapse parity` list them.
    pub const ALL: [Backend; 5] = [
        Backend::Flex,
        Backend::Ndarray,
        Backend::Wgpu,
        Backend::Vulkan,
        Backend::Cuda,
    ];

    /// The backend's name, as settings and manifests spell it.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Flex => "flex",
            Backend::Ndarray => "ndarray",
            Backend::Wgpu => "wgpu",
            Backend::Vulkan => "vulkan",
            Backend::Cuda => "cuda",
        }
    }

    /// The backend named `name`.
    pub fn from_name(name: &str) -> Option<Backend> {
        Backend::ALL.into_iter().find(|b| b.name() == name)
    }

    /// Whether the backend runs on a GPU (or a software rasterizer standing in for one).
    pub fn is_gpu(self) -> bool {
        matches!(self, Backend::Wgpu | Backend::Vulkan | Backend::Cuda)
    }
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
