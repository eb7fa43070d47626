#!/usr/bin/env bash
# Installs the LLVM that Burn's CUDA backend compiles its kernels with, so that
# `cargo build --release --features cuda` builds offline.
#
# Burn's `cuda` backend (cubecl-cuda) always builds cubecl-llvm, whose build
# dependency tracel-llvm-bundler downloads a prebuilt LLVM from GitHub unless
# its folder already holds one, marked by a sentinel file. This script fills
# that folder from PyPI's mlc-llvm-static wheels instead (LLVM 23.1 static
# libraries, headers and an llvm-config, the NVPTX target in the extra-targets
# wheel), checked against pinned SHA-256 sums. Run it once per machine (or
# user); it does nothing when the folder is already complete.
#
# Environment (all optional):
#   WHEELS=DIR   folder holding the two wheels (or where to download them)
#                [default: ~/.cache/model-collapse/llvm-wheels]; copy the wheels
#                there to install on a machine without PyPI
#   PIP=CMD      pip to download with [default: python3 -m pip]
#   XDG_DATA_HOME  where the bundler looks, where an absolute path [default: ~/.local/share]
set -euo pipefail
# Paths given relative to where the script was started, before it moves to the checkout.
wheels=$(realpath -m "${WHEELS:-$HOME/.cache/model-collapse/llvm-wheels}")
cd "$(dirname "$0")/.."

die() { echo "cuda-llvm.sh: $*" >&2; exit 1; }

# The folder the bundler of Cargo.lock's version reads.
bundler=$(awk '/^name = "tracel-llvm-bundler"$/ { getline; gsub(/version = |"/, ""); print }' Cargo.lock)
[ -n "$bundler" ] || die "Cargo.lock names no tracel-llvm-bundler (run cargo generate-lockfile --features cuda?)"
[ "$bundler" = "23.1.0-4" ] ||
    die "Cargo.lock's tracel-llvm-bundler is $bundler; this script knows the LLVM for 23.1.0-4 only"
# As the bundler's `dirs::data_local_dir`: XDG_DATA_HOME where it is an absolute path.
data=${XDG_DATA_HOME:-}
case "$data" in /*) ;; *) data=$HOME/.local/share ;; esac
dest="$data/tracel/tracel-llvm-$bundler"
sentinel="$dest/.tracel-llvm-installed"

if [ -f "$sentinel" ] && "$dest/bin/llvm-config" --targets-built 2>/dev/null | grep -qw NVPTX; then
    echo "LLVM for Burn's CUDA backend already in $dest"
    exit 0
fi

version=23.1.1.post0
# The base wheel first, then the extra targets unpacked over it.
names=(mlc_llvm_static mlc_llvm_static_extra_targets)
declare -A sha256=(
    [mlc_llvm_static]=dcfec888abfaa418be77d41af585805f31463584cf9c90582992c00f392c1ac5
    [mlc_llvm_static_extra_targets]=c36e834d9a4e9cf9759f27fece65711ece7a2fc2b5a96dbb15d66f5e9e787929
)
wheel() { echo "$wheels/$1-$version-py3-none-manylinux_2_28_x86_64.whl"; }
[ "$(uname -m)-$(uname -s)" = "x86_64-Linux" ] ||
    die "the pinned wheels are for x86_64 Linux; this machine is $(uname -m) $(uname -s)"

mkdir -p "$wheels"
missing=0
for n in "${names[@]}"; do [ -f "$(wheel "$n")" ] || missing=1; done
if [ "$missing" = 1 ]; then
    echo "== downloading mlc-llvm-static $version (about 92 MB) into $wheels"
    ${PIP:-python3 -m pip} download --quiet --no-deps --only-binary=:all: \
        --dest "$wheels" \
        "mlc-llvm-static==$version" "mlc-llvm-static-extra-targets==$version" ||
        die "pip could not download the wheels; put them in $wheels (WHEELS=DIR) and run again"
fi
for n in "${names[@]}"; do
    w=$(wheel "$n")
    [ -f "$w" ] || die "$w is missing"
    echo "${sha256[$n]}  $w" | sha256sum --check --status || die "$w does not match its pinned SHA-256"
done

# LLVM links against the system's zlib and zstd; their unversioned .so names
# come with the -dev packages.
multiarch=$(gcc -print-multiarch 2>/dev/null || true)
for lib in z zstd; do
    found=0
    for dir in /usr/lib/$multiarch /usr/lib64 /usr/lib /lib/$multiarch; do
        [ -e "$dir/lib$lib.so" ] && found=1
    done
    [ "$found" = 1 ] || die "lib$lib.so is missing: install zlib1g-dev and libzstd-dev (Debian) first"
done

# Unpack beside the destination and move it into place whole, so that an
# interrupted run never leaves a folder the bundler would take as complete.
staging="$dest.partial"
rm -rf "$staging"
mkdir -p "$staging"
trap 'rm -rf "$staging"' EXIT
echo "== unpacking into $dest"
for n in "${names[@]}"; do
    python3 -m zipfile -e "$(wheel "$n")" "$staging/wheel"
done
mv "$staging/wheel/mlc_llvm_static/static" "$staging/llvm"
chmod +x "$staging/llvm/bin/llvm-config"
got=$("$staging/llvm/bin/llvm-config" --version)
case "$got" in 23.1.*) ;; *) die "the wheels' llvm-config says LLVM $got, not 23.1" ;; esac
"$staging/llvm/bin/llvm-config" --targets-built | grep -qw NVPTX || die "the wheels hold no NVPTX target"
touch "$staging/llvm/.tracel-llvm-installed"
rm -rf "$dest"
mv "$staging/llvm" "$dest"
echo "LLVM $got (NVPTX) installed in $dest; now: cargo build --release --features cuda"
