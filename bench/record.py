"""What the benchmark scripts share: a slug of a device's name for the file
name, writing a record under bench/results/ atomically, a CPU benchmark's
record with its machine and date, and the summary of an overhead with its
bootstrap interval."""

import datetime
import json
import os
import random
import re
import statistics


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


def overhead(pairs, shares, cpu_pairs, same, sides):
    """The summary of an overhead benchmark and its sentence: `pairs` are the
    generations' seconds (with, without) and `shares` their overheads,
    `cpu_pairs` the whole chains' processor seconds, `same` whether every
    round gave the same figures, `sides` the names of the two sides in the
    summary's keys."""
    with_total = sum(p for p, _ in pairs)
    without_total = sum(q for _, q in pairs)
    by_generation = interval(pairs)
    by_cpu = interval(cpu_pairs)
    summary = {
        "generations_compared": len(pairs),
        "overhead_share_interval": [round(v, 4) for v in by_generation[1:]],
        "cpu_overhead_share": round(by_cpu[0], 4),
        "cpu_overhead_share_interval": [round(v, 4) for v in by_cpu[1:]],
        f"{sides[0]}_seconds_total": round(with_total, 2),
        f"{sides[1]}_seconds_total": round(without_total, 2),
        "overhead_share_of_totals": round((with_total - without_total) / without_total, 4),
        "median_overhead_share": round(statistics.median(shares), 4),
        "min_overhead_share": round(min(shares), 4),
        "max_overhead_share": round(max(shares), 4),
        "all_same_figures": same,
    }
    percent = lambda v: f"{100 * v:+.1f}"  # noqa: E731
    words = (f"{percent(summary['overhead_share_of_totals'])} %, bootstrap 95 % interval "
             f"{percent(by_generation[1])} to {percent(by_generation[2])} %; processor time of whole chains "
             f"{percent(by_cpu[0])} % ({percent(by_cpu[1])} to {percent(by_cpu[2])} %); per generation median "
             f"{percent(summary['median_overhead_share'])} %, from {percent(summary['min_overhead_share'])} "
             f"to {percent(summary['max_overhead_share'])} %; same figures: {same}")
    return summary, words
