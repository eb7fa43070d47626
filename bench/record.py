"""What the benchmark scripts share: a slug of a device's name for the file
name, and writing a record under bench/results/ atomically."""

import json
import os
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
