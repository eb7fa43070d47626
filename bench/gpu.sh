#!/usr/bin/env bash
# The GPU benchmark: `collapse bench` and `collapse parity` on every GPU
# backend of one collapse binary, and the PyTorch peer
# (bench/peers/torch_vae.py) on the same GPU, in one run; one JSON under
# bench/results/ with the ratio table collapse / torch per backend.
#
# It only measures: build the binary beforehand (scripts/build-gpu.sh), so that
# no GPU time goes to compiling. Where no GPU is at hand it runs on lavapipe
# (BACKENDS=wgpu TORCH_DEVICE=cpu), which checks the script, not the speed.
#
# Environment (all optional):
#   COLLAPSE=PATH    the binary [default: target/release/collapse]
#   BACKENDS="cuda vulkan wgpu"  GPU backends to measure; one the binary lacks
#                    or the machine cannot start is skipped, with a line
#   PLAIN_COLLAPSE=PATH  also measure wgpu with this binary (a --features wgpu build: WGSL
#                    kernels, no fusion or autotune), as the row "wgpu-wgsl"
#   TORCH_DEVICE=cuda  where the PyTorch peer runs (cpu: for a check without a GPU)
#   PY=PYTHON        a Python with torch [default: bench/.venv/bin/python where
#                    it exists, else python3]
#   MODELS=mlp,mlp-deep,conv  BATCHES=128,256  STEPS=50  REPEATS=5  SAMPLES=10000
#   PARITY_BATCH=32  images in the parity step
#   OUT=FILE         [default: bench/results/<date>-<adapter>-gpu.json]
#   NOTE="..."       a line kept in the JSON (how the binary was built)
set -euo pipefail
# Paths given relative to where the script was started, before it moves to the checkout.
here() { [ -n "$1" ] && realpath -m "$1"; }
BIN=$(here "${COLLAPSE:-}") || true
PLAIN=$(here "${PLAIN_COLLAPSE:-}") || true
OUT=$(here "${OUT:-}") || true
case "${PY:-}" in */*) PY=$(realpath -m "$PY") ;; esac
cd "$(dirname "$0")/.."

BIN=${BIN:-target/release/collapse}
BACKENDS=${BACKENDS:-cuda vulkan wgpu}
TORCH_DEVICE=${TORCH_DEVICE:-cuda}
MODELS=${MODELS:-mlp,mlp-deep,conv}
BATCHES=${BATCHES:-128,256}
STEPS=${STEPS:-50}
REPEATS=${REPEATS:-5}
SAMPLES=${SAMPLES:-10000}
PARITY_BATCH=${PARITY_BATCH:-32}
if [ -z "${PY:-}" ]; then
    PY=python3
    [ -x bench/.venv/bin/python ] && PY=bench/.venv/bin/python
fi
[ -x "$BIN" ] || { echo "gpu.sh: no collapse binary at $BIN (build one, or set COLLAPSE)" >&2; exit 2; }
"$PY" -c 'import torch' 2>/dev/null || { echo "gpu.sh: $PY has no torch (set PY)" >&2; exit 2; }
# Before any GPU time goes to collapse: the peer must be able to run where it is asked to.
if [ "$TORCH_DEVICE" = cuda ] && ! "$PY" -c 'import sys, torch; sys.exit(not torch.cuda.is_available())'; then
    echo "gpu.sh: torch sees no CUDA device (TORCH_DEVICE=cpu to check the script without one)" >&2
    exit 2
fi

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
common=(--model "$MODELS" --batch-size "$BATCHES" --steps "$STEPS" --repeats "$REPEATS" --samples "$SAMPLES")

echo "== devices"
"$BIN" devices | tee "$TMP/devices.txt"
# Each entry: a label, a binary and a backend. A GPU build compiles SPIR-V for wgpu
# on Vulkan too, so plain WGSL wgpu is measured with a default build's binary.
labels=() bins=() devices=()
for b in $BACKENDS; do labels+=("$b") bins+=("$BIN") devices+=("$b"); done
if [ -n "$PLAIN" ]; then labels+=(wgpu-wgsl) bins+=("$PLAIN") devices+=(wgpu); fi
measured=()
for i in "${!labels[@]}"; do
    label=${labels[$i]} bin=${bins[$i]} b=${devices[$i]}
    started=$(date +%s)
    echo "== $label: $bin bench --device $b"
    if ! "$bin" bench --device "$b" "${common[@]}" --json "$TMP/collapse-$label.json" 2>"$TMP/err-$label.txt"; then
        echo "   skipped $label: $(tail -n 1 "$TMP/err-$label.txt")"
        continue
    fi
    measured+=("$label")
    for model in mlp conv; do
        echo "== $label: parity --model $model --backends $b"
        # A backend beyond its tolerance is recorded, not a reason to stop measuring.
        "$bin" parity --model "$model" --backends "$b" --batch "$PARITY_BATCH" \
            --json "$TMP/parity-$label-$model.json" | tail -n 2 || true
    done
    echo "   $label: $(( $(date +%s) - started )) s"
done
[ ${#measured[@]} -gt 0 ] || { echo "gpu.sh: no GPU backend could be measured" >&2; exit 1; }

echo "== torch on $TORCH_DEVICE"
"$PY" bench/peers/torch_vae.py --device "$TORCH_DEVICE" "${common[@]}" --json "$TMP/torch.json"
"$PY" bench/peers/torch_vae.py --device "$TORCH_DEVICE" --peak 8192 --repeats "$REPEATS" --json "$TMP/peak.json"

"$PY" - "$TMP" "$OUT" "${NOTE:-}" "${measured[@]}" <<'EOF'
import json, os, sys

sys.path.insert(0, "bench")
import record as record_file

tmp, out, note, *backends = sys.argv[1:]
torch = json.load(open(f"{tmp}/torch.json"))
peak = json.load(open(f"{tmp}/peak.json"))
by_row = {(r["model"], r["batch"]): r for r in torch["rows"]}
measured = {}
for b in backends:
    c = json.load(open(f"{tmp}/collapse-{b}.json"))
    rows = []
    for cr in c["rows"]:
        tr = by_row[(cr["model"], cr["batch"])]
        assert cr["params"] == tr["params"], f"{cr['model']}: {cr['params']} vs {tr['params']} parameters"
        rows.append({
            "model": cr["model"], "batch": cr["batch"], "params": cr["params"],
            "train_flops_per_image": tr["train_flops_per_image"],
            "ratio": {k: cr[f"{k}_images_per_sec"] / tr[f"{k}_images_per_sec"] for k in ("train", "sample", "probe")},
            "collapse": cr, "torch": tr,
        })
    classifier = None
    if c.get("classifier_images_per_sec") and torch.get("classifier_images_per_sec"):
        classifier = {"collapse": c["classifier_images_per_sec"], "torch": torch["classifier_images_per_sec"]}
        classifier["ratio"] = classifier["collapse"] / classifier["torch"]
    parity = {}
    for model in ("mlp", "conv"):
        path = f"{tmp}/parity-{b}-{model}.json"
        if not os.path.exists(path):
            continue
        doc = json.load(open(path))
        parity[doc["architecture"]] = [
            {k: row[k] for k in ("backend", "conv_impl", "runtime", "precision", "kernels",
                                 "tolerance", "step_tolerance", "worst_rel", "worst_step_rel", "within")}
            for row in doc["backends"]
        ]
    measured[b] = {"device": c["device"], "rows": rows, "classifier": classifier, "parity": parity,
                   "command": c["command"]}

first = json.load(open(f"{tmp}/collapse-{backends[0]}.json"))
print(f"\ntorch {torch['torch_version']} on {torch['device']}; f32 matmul peak {peak['peak_gflops']:.0f} GFLOP/s "
      f"(TF32: convolutions {torch.get('tf32', {}).get('cudnn')}, matmuls {torch.get('tf32', {}).get('matmul')})")
print(f"{'backend':<8} {'model':<9} {'batch':>5} | {'train im/s':>21} {'ratio':>5} | "
      f"{'sample im/s':>19} {'ratio':>5} | {'probe im/s':>19} {'ratio':>5}")
for b, m in measured.items():
    for r in m["rows"]:
        cr, tr = r["collapse"], r["torch"]
        print(f"{b:<8} {r['model']:<9} {r['batch']:>5} | {cr['train_images_per_sec']:>10.0f} {tr['train_images_per_sec']:>10.0f} "
              f"{r['ratio']['train']:>5.2f} | {cr['sample_images_per_sec']:>9.0f} {tr['sample_images_per_sec']:>9.0f} "
              f"{r['ratio']['sample']:>5.2f} | {cr['probe_images_per_sec']:>9.0f} {tr['probe_images_per_sec']:>9.0f} "
              f"{r['ratio']['probe']:>5.2f}")
    if m["classifier"]:
        k = m["classifier"]
        print(f"{b:<8} frozen classifier: {k['collapse']:.0f} against {k['torch']:.0f} images/s, ratio {k['ratio']:.2f}")
    for arch, rows in m["parity"].items():
        for row in rows:
            print(f"{b:<8} parity {arch}: {row['runtime']}, {row['precision']}: largest {row['worst_rel']:.2e} "
                  f"(tolerance {row['tolerance']:.0e}), Adam step {row['worst_step_rel']:.2e} "
                  f"(tolerance {row['step_tolerance']:.0e}): {'within' if row['within'] else 'BEYOND'}")

adapter = measured[backends[0]]["device"]["adapter"]
out = out or f"bench/results/{first['date'][:10]}-{record_file.slug(adapter)}-gpu.json"
record = {
    "date": first["date"],
    "machine": {"cpu": first["cpu"], "hostname": os.uname().nodename, "kernel": os.uname().release},
    "devices": open(f"{tmp}/devices.txt").read().splitlines(),
    "collapse": {k: first[k] for k in ("version", "burn_version", "rustc", "features", "git_commit", "git_dirty")},
    "torch": {k: torch.get(k) for k in ("torch_version", "python_version", "device", "tf32")},
    "peak": {"gflops": peak["peak_gflops"], "matmul_n": peak["matmul_n"], "device": peak.get("device")},
    "method": {"steps": first["steps"], "repeats": first["repeats"], "samples": first["samples"],
               "order": "each backend's collapse bench in one process, then torch in one process"},
    "backends": measured,
    "note": note or None,
}
record_file.write(out, record)
EOF
