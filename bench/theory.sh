#!/usr/bin/env bash
# collapse theory and the notebook's numpy / scikit-learn algorithms
# (bench/peers/notebook_theory.py), side by side on the same settings: the
# single-Gaussian chain at M = 10,000 with 100 trials for 1,000 generations,
# and the 2-component mixture of 1,000 points for 2,050 generations. Each
# side runs REPEATS times, alternately, one process each; wall seconds of
# the whole process (start-up included), median, min and max, and the ratio
# of the medians are printed and written to bench/results/<date>-<host kind>-theory.json.
#
# Environment (all optional):
#   REPEATS=3      runs of each side of the Gaussian row
#   GMM_REPEATS=1  of the mixture row (scikit-learn's 2,051 fits take minutes)
#   THREADS=N      collapse --threads (numpy's draws are one thread)
#   COLLAPSE=PATH  the binary [default: target/release/collapse, built if missing]
#   OUT=FILE       where to write the JSON
#   NOTE="..."     a line kept in the JSON (what else the machine was doing)
set -euo pipefail
cd "$(dirname "$0")/.."

REPEATS=${REPEATS:-3}
GMM_REPEATS=${GMM_REPEATS:-1}
VENV=bench/.venv-theory
PY=$VENV/bin/python
if ! "$PY" -c 'import numpy, sklearn' 2>/dev/null; then
    echo "== creating $VENV and installing numpy and scikit-learn from PyPI"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet numpy scikit-learn
fi
BIN=${COLLAPSE:-target/release/collapse}
[ -x "$BIN" ] || cargo build --release
THREADS_FLAG=()
[ -n "${THREADS:-}" ] && THREADS_FLAG=(--threads "$THREADS")
SCRATCH=$(mktemp -d)
trap 'rm -rf "$SCRATCH"' EXIT

GAUSSIAN="--samples 10000 --trials 100 --generations 1000"
GMM="--samples 1000 --generations 2050"
declare -A ARGS=(
    [collapse-gaussian]="$BIN ${THREADS_FLAG[*]} theory gaussian $GAUSSIAN -q --force --out $SCRATCH/g"
    [peer-gaussian]="$PY bench/peers/notebook_theory.py gaussian $GAUSSIAN"
    [collapse-gmm]="$BIN ${THREADS_FLAG[*]} theory gmm $GMM --snapshots 0 -q --force --out $SCRATCH/m"
    [peer-gmm]="$PY bench/peers/notebook_theory.py gmm $GMM"
)

# Wall seconds of one run of $1 (one word-split command line).
seconds() {
    local start=$EPOCHREALTIME
    # shellcheck disable=SC2086
    $1 >/dev/null
    awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.3f", b - a }'
}

declare -A TIMES
for experiment in gaussian gmm; do
    repeats=$REPEATS
    [ "$experiment" = gmm ] && repeats=$GMM_REPEATS
    for ((i = 0; i < repeats; i++)); do
        for side in collapse peer; do
            key=$side-$experiment
            t=$(seconds "${ARGS[$key]}")
            TIMES[$key]="${TIMES[$key]:-} $t"
            echo "$key run $((i + 1)): $t s"
        done
    done
done

HOST=$(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //; s/([^)]*)//g' | tr 'A-Z ' 'a-z-' | sed 's/--*/-/g; s/-$//' | cut -c1-40)
CORES=$(nproc)
OUT=${OUT:-bench/results/$(date -u +%F)-$HOST-${CORES}c-theory.json}
python3 - "$OUT" <<PY
import json, statistics, sys
out = sys.argv[1]
times = {k: [float(v) for v in s.split()] for k, s in {
    "collapse-gaussian": "${TIMES[collapse-gaussian]}", "peer-gaussian": "${TIMES[peer-gaussian]}",
    "collapse-gmm": "${TIMES[collapse-gmm]}", "peer-gmm": "${TIMES[peer-gmm]}"}.items()}
rows = []
for e, settings in [("gaussian", "$GAUSSIAN"), ("gmm", "$GMM")]:
    c, p = statistics.median(times[f"collapse-{e}"]), statistics.median(times[f"peer-{e}"])
    rows.append({"experiment": e, "settings": settings, "collapse_s": times[f"collapse-{e}"],
                 "peer_s": times[f"peer-{e}"], "collapse_median_s": c, "peer_median_s": p,
                 "speedup": p / c})
    print(f"{e:9} {settings:45} collapse {c:7.2f} s  notebook peer {p:7.2f} s  speedup {p / c:5.1f}x")
doc = {"note": """${NOTE:-}""", "cores": $CORES, "cpu": "$HOST", "repeats": {"gaussian": $REPEATS, "gmm": $GMM_REPEATS}, "threads": "${THREADS:-all}",
       "peer": "bench/peers/notebook_theory.py (numpy, scikit-learn)", "rows": rows}
with open(out, "w") as f:
    json.dump(doc, f, indent=2)
    f.write("\n")
print("wrote", out)
PY
