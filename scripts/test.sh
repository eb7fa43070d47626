#!/usr/bin/env bash
# The project's tests on a Debian machine where only Rust is installed: links
# or fetches MNIST into datasets/mnist, then runs `cargo test --workspace
# --release`, which shares its build with `cargo build --release` and
# `cargo run --release`.
#
# Usage: scripts/test.sh [--long] [ARGS...]
#   --long   then the long tests too, as CI runs them (.ci/run), after
#            installing the Debian packages they need (saying which, through
#            sudo when not root): the `--ignored` tests (Chromium on a run's
#            page, a study on a live one-node Slurm cluster, 20 kills and
#            resumes, the full frozen classifiers; NumPy from PyPI for the
#            .npy tests), then a build with the wgpu
#            backend (`--features wgpu`) and its tests on lavapipe, Mesa's
#            software Vulkan driver (flex against wgpu over three seeds too).
#   ARGS     passed to the first `cargo test` after `--workspace --release`.
#
# Where a package cannot be installed (no apt-get, or neither root nor sudo),
# the script says so and goes on: the tests that need it say so in one line
# and skip, except under CI (CI=true), where they fail.
set -euo pipefail
cd "$(dirname "$0")/.."

long=false
if [[ "${1:-}" == --long ]]; then
    long=true
    shift
fi

# Chromium for the browser test, Fashion-MNIST for its classifier, Slurm and
# munge for the cluster, lavapipe for wgpu without a GPU.
packages=()
if $long; then
    packages=(chromium chromium-driver dataset-fashion-mnist slurm-wlm munge mesa-vulkan-drivers libvulkan1)
fi

missing=()
for p in ${packages[@]+"${packages[@]}"}; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
sudo=()
if [[ "$(id -u)" != 0 ]] && command -v sudo >/dev/null; then
    sudo=(sudo)
fi
if ((${#missing[@]})); then
    if ! command -v apt-get >/dev/null || { [[ "$(id -u)" != 0 ]] && ((${#sudo[@]} == 0)); }; then
        echo "scripts/test.sh: cannot install ${missing[*]} here (needs apt-get as root or through sudo); the tests that need them skip" >&2
    else
        echo "scripts/test.sh: installing ${missing[*]} (apt-get)" >&2
        "${sudo[@]}" apt-get update -qq
        DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    fi
fi

# NumPy for the python3 on PATH (the .npy sets a model outside this tool
# reads and writes): from PyPI, or Debian's where that python3 is the
# system's, which pip may not install into.
if $long && ! python3 -c 'import numpy' 2>/dev/null; then
    echo "scripts/test.sh: installing NumPy for $(command -v python3)" >&2
    python3 -m pip install --quiet numpy 2>/dev/null ||
        { command -v apt-get >/dev/null && DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends python3-numpy >/dev/null; } ||
        echo "scripts/test.sh: could not install NumPy; the tests that need it skip" >&2
fi

# Real MNIST in datasets/mnist (never committed): linked from a shared copy
# beside the checkout where there is one, else fetched and verified.
mnist=datasets/mnist
if [[ ! -f $mnist/train-images-idx3-ubyte.gz ]]; then
    if [[ -f ../shared/datasets/mnist/train-images-idx3-ubyte.gz ]]; then
        echo "scripts/test.sh: linking MNIST from ../shared/datasets/mnist" >&2
        mkdir -p "$mnist"
        for f in ../shared/datasets/mnist/*.gz; do
            ln -sf "$(realpath "$f")" "$mnist/"
        done
    else
        cargo run --release --quiet -- fetch mnist
    fi
fi

cargo test --workspace --release "$@"
if $long; then
    # Each long test keeps about one of the two cores busy: all at once.
    cargo test --workspace --release --test integration -- --ignored --test-threads=4
    # The wgpu backend: a second build (wgpu's tree), and the tests that use it.
    cargo test --workspace --release --features wgpu --test integration -- \
        --include-ignored wgpu:: backends:: chain::checkpoint_samples_on_every_backend cli::unavailable_backend
fi
