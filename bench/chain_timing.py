#!/usr/bin/env python3
"""Time whole chains of two `collapse` binaries, alternated, as one JSON record.

Usage: bench/chain_timing.py BEFORE=BINARY AFTER=BINARY [--rounds N] [--out FILE] [RUN FLAGS...]

Runs `BINARY run -q --out DIR ARGS...` (the quick preset's 10 generations by
default) for each binary in turn, N rounds, alone on the machine: a change to
the loop, the records or the report shows as the wall time of the whole chain
and as the time spent outside the generations' own `seconds` (start-up, the
frozen classifier's cache, drawing the report). Peak memory is the child's
maximum resident set. Each round checks that both binaries wrote the same
`metrics.csv` but for `seconds`. Writes bench/results/DATE-CPU-NNc-chain.json
(or --out) through bench/record.py.
"""

import argparse
import csv
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
import record as record_file  # noqa: E402


def metrics(folder):
    """The rows of a run's metrics.csv, and the sum of its generations' seconds."""
    with open(os.path.join(folder, "metrics.csv")) as f:
        rows = list(csv.DictReader(f))
    seconds = sum(float(r.pop("seconds")) for r in rows)
    return rows, seconds


def run(binary, folder, args):
    """One chain: its wall seconds, peak resident MiB, rows and generation seconds."""
    started = time.monotonic()
    child = subprocess.Popen([binary, "run", "-q", "--out", folder, *args], stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.monotonic() - started
    if status != 0:
        sys.exit(f"{binary} exited with status {status}")
    rows, seconds = metrics(folder)
    return {
        "wall_seconds": round(wall, 2),
        "generation_seconds": round(seconds, 2),
        "outside_generations_seconds": round(wall - seconds, 2),
        "peak_rss_mib": round(usage.ru_maxrss / 1024, 1),
    }, rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("binaries", nargs=2, help="LABEL=BINARY")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--out")
    a, args = parser.parse_known_args()
    binaries = [b.split("=", 1) for b in a.binaries]
    work = tempfile.mkdtemp(prefix="chain-timing-")
    rounds = []
    try:
        for n in range(a.rounds):
            one, written = {}, []
            for label, binary in binaries:
                folder = os.path.join(work, f"{label}-{n}")
                one[label], rows = run(binary, folder, args)
                written.append(rows)
                print(f"round {n + 1}, {label}: {one[label]}", flush=True)
                shutil.rmtree(folder)
            one["same_metrics"] = written[0] == written[1]
            rounds.append(one)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    record_file.write_cpu("chain", a.out, {
        "command": ["run", "-q", "--out", "DIR", *args],
        "binaries": {label: binary for label, binary in binaries},
        "rounds": rounds,
    })


if __name__ == "__main__":
    main()
