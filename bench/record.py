"""What the benchmark scripts share: a slug of a device's name for the file
name, writing a record under bench/results/ atomically, a CPU benchmark's
record with its machine and date, and the bootstrap interval of an
overhead."""

import datetime
import json
import os
import random
import re


def slug(name):
    """A file-name part from a CPU or adapter name: lower case, runs of other characters as one '-'."""
    name = re.sub(r"\((r|tm)\)", "-", (name or "unknown").lower())
    return re.sub(r"-+", "-", re.sub(r"[^a-z0-9]+", "-", name)).strip("-")


def write(out, record):
    """Writes `record` as sorted, indented JSON to `out` through a temporary file, then says where."""
    tmp = out + ".tmp"
    with open(tmp, "w") as f:
        json.dump(record, f, indent=2, sort_keys=True)
        f.write("\n")
    os.replace(tmp, out)
    print(f"\nwritten: {out}")


def cpu():
    """The CPU's model name and the logical cores this process may use."""
    model = None
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {"model": model, "logical_cores": len(os.sched_getaffinity(0))}


def write_cpu(kind, out, fields):
    """Writes `fields` with the date and this machine to `out`, or by default to
    bench/results/DATE-CPU-NNc-KIND.json."""
    machine = cpu()
    date = datetime.date.today().isoformat()
    host = slug(machine["model"] or "cpu")
    out = out or f"bench/results/{date}-{host}-{machine['logical_cores']}c-{kind}.json"
    write(out, {"date": date, "machine": {"cpu": machine, "hostname": os.uname().nodename}, **fields})


def interval(pairs, draws=10000, seed=1):
    """The ratio of the sums of `pairs` (with, without) minus one, and its
    bootstrap 95 % interval over the pairs."""
    share = lambda ps: sum(p for p, _ in ps) / sum(q for _, q in ps) - 1  # noqa: E731
    rng = random.Random(seed)
    shares = sorted(share([rng.choice(pairs) for _ in pairs]) for _ in range(draws))
    return share(pairs), shares[int(0.025 * draws)], shares[int(0.975 * draws) - 1]
