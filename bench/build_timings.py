#!/usr/bin/env python3
"""Summarise `cargo build --timings` reports as one JSON record.

Usage: bench/build_timings.py LABEL=REPORT.html [LABEL=REPORT.html ...] [--top N] [--note TEXT]

For each report (target/cargo-timings/cargo-timing-*.html): the wall time of
the build, the compile seconds of every unit summed (on 2 cores the wall time
is about half of it), and the N units that took longest, each with its
seconds. With two reports, each crate's seconds in both, so that a change to
the build's features or profiles shows where the time went. Writes the JSON
to stdout.
"""

import argparse
import json
import re
import sys


def read_report(path):
    """The units of a cargo timings report, and its total wall seconds."""
    text = open(path, encoding="utf-8").read()
    units = json.loads(re.search(r"const UNIT_DATA = (\[.*?\]);\n", text, re.S).group(1))
    wall = re.search(r"<td>Total time:</td><td>([0-9.]+)s", text)
    return units, float(wall.group(1)) if wall else None


def per_crate(units):
    """Seconds per crate (its library, build script and binaries together)."""
    seconds = {}
    for unit in units:
        seconds[unit["name"]] = seconds.get(unit["name"], 0.0) + unit["duration"]
    return seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("reports", nargs="+", help="LABEL=REPORT.html")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--note", default="")
    args = parser.parse_args()
    builds = {}
    for item in args.reports:
        label, _, path = item.partition("=")
        if not path:
            sys.exit(f"error: {item}: expected LABEL=REPORT.html")
        units, wall = read_report(path)
        builds[label] = {
            "report": path,
            "wall_seconds": wall,
            "units": len(units),
            "unit_seconds": round(sum(u["duration"] for u in units), 1),
            "crates": per_crate(units),
        }
    labels = list(builds)
    first = builds[labels[0]]["crates"]
    top = sorted(first, key=first.get, reverse=True)[: args.top]
    record = {
        "note": args.note,
        "builds": {
            label: {k: v for k, v in b.items() if k != "crates"} for label, b in builds.items()
        },
        "top_crates": [
            {"crate": name, **{label: round(builds[label]["crates"].get(name, 0.0), 1) for label in labels}}
            for name in top
        ],
    }
    json.dump(record, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
