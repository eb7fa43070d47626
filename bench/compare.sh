#!/usr/bin/env bash
# collapse bench and its PyTorch peer (bench/peers/torch_vae.py), side by side.
#
# For each (model, batch) row the two sides run alternately, one process each,
# so both see the same machine; then a table of images/s, the ratio
# collapse / torch, training FLOPs per image and the fraction of the machine's
# f32 matmul peak (measured with torch on the same threads) each side reaches.
# The run is written to bench/results/<date>-<host kind>.json.
#
# Environment (all optional):
#   MODELS="mlp mlp-deep conv"  BATCHES="128 256"  REPEATS=5  SAMPLES=10000
#   MLP_STEPS=100  CONV_STEPS=20   training steps per timed epoch
#   THREADS=N        threads of both sides: collapse --threads N, torch
#                    set_num_threads(N) [default: the machine's cores]
#   WAIT_LOAD=1.2    before each row, wait (up to 10 min) for the 1-minute load
#                    average to fall below this
#   OUT=FILE         where to write the JSON [default: bench/results/<date>-<host kind>.json]
#   COLLAPSE=PATH    measure this collapse binary instead of building the tree's
#                    (e.g. one built with other Burn features)
#   NOTE="..."       a line kept in the JSON (how that binary was built)
set -euo pipefail
cd "$(dirname "$0")/.."

MODELS=${MODELS:-mlp mlp-deep conv}
BATCHES=${BATCHES:-128 256}
REPEATS=${REPEATS:-5}
SAMPLES=${SAMPLES:-10000}
MLP_STEPS=${MLP_STEPS:-100}
CONV_STEPS=${CONV_STEPS:-20}
VENV=bench/.venv
PY=$VENV/bin/python

if ! "$PY" -c 'import torch' 2>/dev/null; then
    echo "== creating $VENV and installing torch from PyPI"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet torch
fi
BIN=${COLLAPSE:-target/release/collapse}
if [ -z "${COLLAPSE:-}" ]; then
    echo "== building collapse (release)"
    cargo build --release --quiet
fi
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

THREADS=${THREADS:-$(nproc)}
load() { cut -d' ' -f1 /proc/loadavg; }
wait_load() {
    [ -n "${WAIT_LOAD:-}" ] || return 0
    for _ in $(seq 40); do
        awk -v l="$(load)" -v m="$WAIT_LOAD" 'BEGIN { exit !(l < m) }' && return 0
        sleep 15
    done
    echo "   (load still $(load) after 10 min; measuring anyway)"
}

first=1
for model in $MODELS; do
    steps=$MLP_STEPS
    [ "$model" = conv ] && steps=$CONV_STEPS
    for batch in $BATCHES; do
        wait_load
        common=(--model "$model" --batch-size "$batch" --steps "$steps" --repeats "$REPEATS" --samples "$SAMPLES")
        # The frozen classifier is measured once, with the first row.
        extra=(--no-classifier)
        [ "$first" = 1 ] && extra=()
        echo "== $model, batch $batch: collapse (load $(load))"
        echo "$(load)" > "$TMP/load-collapse-$model-$batch"
        "$BIN" bench "${common[@]}" "${extra[@]}" --threads "$THREADS" --json "$TMP/collapse-$model-$batch.json" | tail -n +3
        if [ "$first" = 1 ]; then
            echo "== peak: 4096x4096 f32 matmul in torch, $THREADS thread(s)"
            "$PY" bench/peers/torch_vae.py --peak 4096 --threads "$THREADS" --repeats "$REPEATS" --json "$TMP/peak.json"
        fi
        echo "== $model, batch $batch: torch (load $(load))"
        echo "$(load)" > "$TMP/load-torch-$model-$batch"
        "$PY" bench/peers/torch_vae.py "${common[@]}" "${extra[@]}" --threads "$THREADS" --json "$TMP/torch-$model-$batch.json" | tail -n +3
        first=0
    done
done

"$PY" - "$TMP" "${OUT:-}" "${NOTE:-}" <<'EOF'
import glob, json, os, sys

sys.path.insert(0, "bench")
import record as record_file

tmp, out, note = sys.argv[1:4]
peak = json.load(open(f"{tmp}/peak.json"))
rows, meta = [], {}
classifier = {}
for path in sorted(glob.glob(f"{tmp}/collapse-*.json"), key=os.path.getmtime):
    c = json.load(open(path))
    t = json.load(open(path.replace("/collapse-", "/torch-")))
    meta = meta or {"collapse": c, "torch": t}
    cr, tr = c["rows"][0], t["rows"][0]
    assert cr["params"] == tr["params"], f"{cr['model']}: {cr['params']} vs {tr['params']} parameters"
    key = f"{cr['model']}-{cr['batch']}"
    flops = tr["train_flops_per_image"]
    frac = lambda r: r["train_images_per_sec"] * flops / (peak["peak_gflops"] * 1e9)
    ratio = lambda k: cr[k] / tr[k]
    rows.append({
        "model": cr["model"], "batch": cr["batch"], "steps": c["steps"], "params": cr["params"],
        "forward_macs_per_image": tr["forward_macs_per_image"],
        "train_flops_per_image": flops,
        "ratio": {k: ratio(f"{k}_images_per_sec") for k in ("train", "sample", "probe")},
        "peak_fraction": {"collapse": frac(cr), "torch": frac(tr)},
        "load_before": {s: float(open(f"{tmp}/load-{s}-{key}").read()) for s in ("collapse", "torch")},
        "collapse": cr, "torch": tr,
    })
    if c.get("classifier_images_per_sec"):
        classifier = {"collapse": c["classifier_images_per_sec"], "torch": t["classifier_images_per_sec"]}
        classifier["ratio"] = classifier["collapse"] / classifier["torch"]

c, t = meta["collapse"], meta["torch"]
gflops = peak["peak_gflops"]
print(f"\npeak: {gflops:.1f} GFLOP/s (torch {t['torch_version']}, 4096x4096 f32 matmul, {t['threads']} thread(s))")
print("training FLOPs per image = 2 x forward multiply-adds x 3 (forward + backward)")
print(f"{'model':<9} {'batch':>5} {'GFLOP/im':>8} | {'train im/s':>21} {'ratio':>5} {'% peak':>11} | "
      f"{'sample im/s':>17} {'ratio':>5} | {'probe im/s':>17} {'ratio':>5}")
print(f"{'':<9} {'':>5} {'':>8} | {'collapse':>10} {'torch':>10} {'':>5} {'col':>5} {'tor':>5} | "
      f"{'collapse':>8} {'torch':>8} {'':>5} | {'collapse':>8} {'torch':>8} {'':>5}")
for r in rows:
    cr, tr = r["collapse"], r["torch"]
    print(f"{r['model']:<9} {r['batch']:>5} {r['train_flops_per_image'] / 1e9:>8.4f} | "
          f"{cr['train_images_per_sec']:>10.0f} {tr['train_images_per_sec']:>10.0f} {r['ratio']['train']:>5.2f} "
          f"{100 * r['peak_fraction']['collapse']:>4.0f}% {100 * r['peak_fraction']['torch']:>4.0f}% | "
          f"{cr['sample_images_per_sec']:>8.0f} {tr['sample_images_per_sec']:>8.0f} {r['ratio']['sample']:>5.2f} | "
          f"{cr['probe_images_per_sec']:>8.0f} {tr['probe_images_per_sec']:>8.0f} {r['ratio']['probe']:>5.2f}")
if classifier:
    print(f"frozen classifier: collapse {classifier['collapse']:.0f}, torch {classifier['torch']:.0f} images/s, ratio {classifier['ratio']:.2f}")

cpu = c["cpu"]
host = record_file.slug(cpu["model"] or "cpu")
date = c["date"][:10]
out = out or f"bench/results/{date}-{host}-{cpu['logical_cores']}c.json"
record = {
    "date": c["date"],
    "machine": {"cpu": cpu, "hostname": os.uname().nodename, "kernel": os.uname().release},
    "collapse": {k: c[k] for k in ("version", "burn_version", "rustc", "features", "git_commit", "git_dirty", "device")}
    | {"binary": c["command"][0]},
    "torch": {k: t[k] for k in ("torch_version", "python_version", "threads", "mkldnn")},
    "peak": {"gflops": gflops, "matmul_n": peak["matmul_n"], "threads": peak["threads"]},
    "method": {
        "repeats": c["repeats"], "samples": c["samples"],
        "flops": "training FLOPs per image = 2 x forward multiply-adds x 3; forward counted over Linear/Conv2d/ConvTranspose2d layers",
        "order": "each row: collapse then torch, one process each",
    },
    "rows": rows,
    "classifier": classifier or None,
    "note": note or None,
}
record_file.write(out, record)
EOF
