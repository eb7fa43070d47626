#!/usr/bin/env python3
"""Time the command protocol's overhead: the chain's VAE built in, against the
same VAE through the protocol (`collapse model train|sample` as the external
model's commands), generation by generation, as one JSON record.

Usage: bench/protocol_overhead.py [--binary PATH] [--generations G] [--rounds N] [--out FILE] [RUN FLAGS...]

Each round runs both chains of the quick preset (G synthetic generations, 3
by default), one after the other, the first of them alternating from round to
round, alone on the machine. A chain through the protocol
trains and samples the same VAE in child processes, so what it spends beyond
the built-in chain is the protocol's: starting the processes, writing each
training set as .npy and reading the samples back, the model's checkpoint
saved and loaded. It skips the built-in chain's test-set fit (a model outside
the tool has no encoder to score), so its overhead is, if anything, counted
short by that. A warm-up chain through the protocol fills the reference VAE's
cache first, as every later chain of the same recipe finds it. Each round
checks that both chains give the same probe and evaluator figures. Writes
bench/results/DATE-CPU-NNc-protocol.json (or --out) through bench/record.py.
"""

import argparse
import csv
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
import record as record_file  # noqa: E402

# The columns both chains write; the rest are the built-in VAE's own fit.
SHARED = ["generation", "train_size", "real_fraction", "probe_mu_mean", "probe_mu_std", "probe_tail_mass",
          "class_entropy", "fd", "precision", "recall", "density", "coverage", "nelbo0_median"]


def chain(binary, folder, args):
    """One chain: its wall seconds, its processor seconds (user and system,
    the model's processes included), its rows and its manifest."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    subprocess.run([binary, "run", "-q", "--out", folder, *args], stdout=subprocess.DEVNULL, check=True)
    wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    with open(os.path.join(folder, "metrics.csv")) as f:
        rows = list(csv.DictReader(f))
    with open(os.path.join(folder, "manifest.json")) as f:
        manifest = json.load(f)
    return wall, cpu, rows, manifest


def protocol_flags(binary, config):
    """The flags that make the chain's VAE an external model."""
    return [
        "--external-train",
        f"'{binary}' model train --data {{train}} --out {{model_dir}} --seed {{seed}} "
        f"--init-seed {{init_seed}} --config '{config}' -q",
        "--external-sample",
        f"'{binary}' model sample --from {{model_dir}} --count {{count}} --out {{samples}} "
        f"--seed {{seed}} --config '{config}'",
    ]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--binary", default="target/release/collapse")
    parser.add_argument("--generations", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--out")
    a, args = parser.parse_known_args()
    binary = os.path.abspath(a.binary)
    work = tempfile.mkdtemp(prefix="protocol-overhead-")
    config = os.path.join(work, "model.toml")
    with open(config, "w") as f:
        f.write('preset = "quick"\n')
    flags = protocol_flags(binary, config)
    warm_up = [*args, "--generations", "0", *flags]
    args = ["--generations", str(a.generations), *args]
    external = [*args, *flags]
    rounds = []
    try:
        chain(binary, os.path.join(work, "warm-up"), warm_up)
        for n in range(a.rounds):
            built_in = os.path.join(work, f"built-in-{n}")
            through = os.path.join(work, f"protocol-{n}")
            # The order alternates, so a drift of the machine's speed cancels.
            if n % 2 == 0:
                wall_b, cpu_b, rows_b, _ = chain(binary, built_in, args)
                wall_p, cpu_p, rows_p, manifest = chain(binary, through, external)
            else:
                wall_p, cpu_p, rows_p, manifest = chain(binary, through, external)
                wall_b, cpu_b, rows_b, _ = chain(binary, built_in, args)
            same = [{k: r[k] for k in SHARED} for r in rows_b] == [{k: r[k] for k in SHARED} for r in rows_p]
            generations = []
            for b, p, timing in zip(rows_b, rows_p, manifest["generations"]):
                commands = timing.get("commands", [])
                built, protocol = float(b["seconds"]), float(p["seconds"])
                generations.append({
                    "generation": int(b["generation"]),
                    "built_in_seconds": round(built, 2),
                    "protocol_seconds": round(protocol, 2),
                    "overhead_seconds": round(protocol - built, 2),
                    "overhead_share": round((protocol - built) / built, 4),
                    "commands": [
                        {"command": c["command"], "model_generation": c["model_generation"],
                         "seconds": round(c["seconds"], 2),
                         "count": (c.get("samples") or {}).get("count")}
                        for c in commands
                    ],
                })
                print(f"round {n + 1}, generation {b['generation']}: built in {built:.2f} s, "
                      f"through the protocol {protocol:.2f} s ({100 * (protocol - built) / built:+.1f} %)",
                      flush=True)
            rounds.append({
                "built_in_wall_seconds": round(wall_b, 2),
                "protocol_wall_seconds": round(wall_p, 2),
                "built_in_cpu_seconds": round(cpu_b, 2),
                "protocol_cpu_seconds": round(cpu_p, 2),
                "same_figures": same,
                "generations": generations,
            })
            shutil.rmtree(built_in)
            shutil.rmtree(through)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    # Generations 1 and on train on a drawn set: the protocol's whole round trip.
    drawn = [g for r in rounds for g in r["generations"] if g["generation"] > 0]
    summary, words = record_file.overhead(
        [(g["protocol_seconds"], g["built_in_seconds"]) for g in drawn],
        [g["overhead_share"] for g in drawn],
        [(r["protocol_cpu_seconds"], r["built_in_cpu_seconds"]) for r in rounds],
        all(r["same_figures"] for r in rounds),
        ("protocol", "built_in"),
    )
    print(f"generations 1..{a.generations}, {len(drawn)} pairs: {summary['built_in_seconds_total']:.1f} s built in, "
          f"{summary['protocol_seconds_total']:.1f} s through the protocol ({words})")
    record_file.write_cpu("protocol", a.out, {
        "command": ["run", "-q", "--out", "DIR", *args],
        "protocol": protocol_flags("collapse", "model.toml"),
        "summary": summary,
        "rounds": rounds,
    })


if __name__ == "__main__":
    main()
