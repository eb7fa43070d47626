#!/usr/bin/env python3
"""Time the collapse profile's overhead: the same chain with its profile (the
default) and with --no-profile, generation by generation, as one JSON record.

Usage: bench/profile_overhead.py [--binary PATH] [--generations G] [--rounds N] [--out FILE] [RUN FLAGS...]

Each round runs both chains of the quick preset (G synthetic generations, 2
by default), one after the other, the first of them alternating from round to
round, alone on the machine, and the processor time (user and system) of
each whole chain, which the machine's noise moves less. A generation's
`seconds` in metrics.csv counts
everything the profile adds to it: the evidence read from the device and
written as .npy arrays, the bootstrap replicates, the tests and the survival
curves (profile.json itself is written once the generation is complete, a
few milliseconds). Each round checks that both chains give the same figures.
Writes bench/results/DATE-CPU-NNc-profile.json (or --out) through
bench/record.py.
"""

import argparse
import csv
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
import record as record_file  # noqa: E402


def chain(binary, folder, args):
    """One chain: its wall seconds, its processor seconds (user and system)
    and its rows."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    subprocess.run([binary, "run", "-q", "--out", folder, *args], stdout=subprocess.DEVNULL, check=True)
    wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    with open(os.path.join(folder, "metrics.csv")) as f:
        return wall, cpu, list(csv.DictReader(f))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--binary", default="target/release/collapse")
    parser.add_argument("--generations", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--out")
    a, args = parser.parse_known_args()
    binary = os.path.abspath(a.binary)
    work = tempfile.mkdtemp(prefix="profile-overhead-")
    args = ["--generations", str(a.generations), *args]
    without = [*args, "--no-profile"]
    rounds = []
    try:
        for n in range(a.rounds):
            profiled = os.path.join(work, f"profiled-{n}")
            plain = os.path.join(work, f"plain-{n}")
            # The order alternates, so a drift of the machine's speed cancels.
            if n % 2 == 0:
                wall_p, cpu_p, rows_p = chain(binary, profiled, args)
                wall_n, cpu_n, rows_n = chain(binary, plain, without)
            else:
                wall_n, cpu_n, rows_n = chain(binary, plain, without)
                wall_p, cpu_p, rows_p = chain(binary, profiled, args)
            # The figures, less the wall time and the intervals only the profile writes.
            kept = lambda k: k != "seconds" and not k.endswith(("_lo", "_hi"))  # noqa: E731
            strip = lambda rows: [{k: v for k, v in r.items() if kept(k)} for r in rows]  # noqa: E731
            generations = []
            for p, q in zip(rows_p, rows_n):
                with_profile, plain_seconds = float(p["seconds"]), float(q["seconds"])
                generations.append({
                    "generation": int(p["generation"]),
                    "profiled_seconds": round(with_profile, 2),
                    "plain_seconds": round(plain_seconds, 2),
                    "overhead_share": round((with_profile - plain_seconds) / plain_seconds, 4),
                })
                print(f"round {n + 1}, generation {p['generation']}: {plain_seconds:.2f} s without the profile, "
                      f"{with_profile:.2f} s with it "
                      f"({100 * (with_profile - plain_seconds) / plain_seconds:+.1f} %)", flush=True)
            rounds.append({
                "profiled_wall_seconds": round(wall_p, 2),
                "plain_wall_seconds": round(wall_n, 2),
                "profiled_cpu_seconds": round(cpu_p, 2),
                "plain_cpu_seconds": round(cpu_n, 2),
                "same_figures": strip(rows_p) == strip(rows_n),
                "generations": generations,
            })
            shutil.rmtree(profiled)
            shutil.rmtree(plain)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    every = [g for r in rounds for g in r["generations"]]
    summary, words = record_file.overhead(
        [(g["profiled_seconds"], g["plain_seconds"]) for g in every],
        [g["overhead_share"] for g in every],
        [(r["profiled_cpu_seconds"], r["plain_cpu_seconds"]) for r in rounds],
        all(r["same_figures"] for r in rounds),
        ("profiled", "plain"),
    )
    print(f"{len(every)} generations: {summary['plain_seconds_total']:.1f} s without the profile, "
          f"{summary['profiled_seconds_total']:.1f} s with it ({words})")
    record_file.write_cpu("profile", a.out, {
        "command": ["run", "-q", "--out", "DIR", *args],
        "summary": summary,
        "rounds": rounds,
    })


if __name__ == "__main__":
    main()
