#!/usr/bin/env bash
# Builds the GPU collapse offline: Burn's CUDA backend with fused, autotuned
# kernels (cargo feature cuda; wgpu gets fusion and autotune too), into
# target/release/collapse, and a stripped, xz-compressed copy to carry to a GPU
# machine, target/gpu/collapse.xz. No CUDA toolkit is needed to build: the
# CUDA runtime's kernels are compiled to PTX by the LLVM that
# scripts/cuda-llvm.sh installs, and the driver is loaded at run time.
#
# Environment (all optional):
#   FEATURES=cuda          which GPU backends to build: cuda, vulkan or both
#                          (vulkan alone needs no LLVM; with it wgpu compiles SPIR-V)
#   CUDARC_CUDA_VERSION    the CUDA driver API the binary is built against
#                          [default: 13000, CUDA 13.0, from .cargo/config.toml]: at
#                          most the "CUDA Version" nvidia-smi prints on the GPU
#                          machine (12080 is 12.8)
set -euo pipefail
cd "$(dirname "$0")/.."

FEATURES=${FEATURES:-cuda}
case ",$FEATURES," in *,cuda,*) scripts/cuda-llvm.sh ;; esac
echo "== cargo build --release --features $FEATURES (CUDA driver API ${CUDARC_CUDA_VERSION:-13000})"
cargo build --release --features "$FEATURES"
mkdir -p target/gpu
cp target/release/collapse target/gpu/collapse
strip target/gpu/collapse
xz -6 -kf target/gpu/collapse
ls -l target/gpu/collapse target/gpu/collapse.xz
target/gpu/collapse devices
