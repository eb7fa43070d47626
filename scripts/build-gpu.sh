#!/usr/bin/env bash
# Builds the GPU collapse offline: Burn's CUDA and Vulkan backends with fused,
# autotuned kernels (cargo features cuda and vulkan), into
# target/release/collapse, and a stripped, gzipped copy to carry to a GPU
# machine, target/gpu/collapse.gz. No CUDA toolkit is needed to build: the
# CUDA runtime's kernels are compiled to PTX by the LLVM that
# scripts/cuda-llvm.sh installs, and the driver is loaded at run time.
#
# Environment (all optional):
#   FEATURES=cuda,vulkan   which GPU backends to build (vulkan alone needs no LLVM)
#   CUDARC_CUDA_VERSION=13000  the CUDA driver API the binary is built against:
#                          at most the "CUDA Version" nvidia-smi prints on the
#                          GPU machine (13000 is 13.0, driver 580; 12080 is 12.8)
set -euo pipefail
cd "$(dirname "$0")/.."

FEATURES=${FEATURES:-cuda,vulkan}
case ",$FEATURES," in *,cuda,*) scripts/cuda-llvm.sh ;; esac
export CUDARC_CUDA_VERSION=${CUDARC_CUDA_VERSION:-13000}
echo "== cargo build --release --features $FEATURES (CUDA driver API $CUDARC_CUDA_VERSION)"
cargo build --release --features "$FEATURES"
mkdir -p target/gpu
cp target/release/collapse target/gpu/collapse
strip target/gpu/collapse
gzip -kf target/gpu/collapse
ls -l target/gpu/collapse target/gpu/collapse.gz
target/gpu/collapse devices
