"""Start-up cost of the cheap commands: `aekit --help`, `aekit models`, `aekit datasets`.

Each is a whole new process (`python -m aekit ...`, the sources on PYTHONPATH), measured in CPU
seconds (user + system, from getrusage(RUSAGE_CHILDREN) before and after it), which a busy shared
machine inflates far less than wall time; wall seconds are shown beside them. Median of
`--repeats` runs after one unmeasured warm-up (so every run finds the files in the page cache).

With `--before DIR` an older checkout's sources (DIR/src) run side by side, e.g. the commit
before the lazy imports:

    python benchmarks/startup.py [--repeats 5] [--before /path/to/old/checkout]

Writes benchmarks/results/startup.json.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

from common import median, print_table, write_json

ROOT = Path(__file__).resolve().parents[1]
COMMANDS = [["--help"], ["models"], ["datasets"]]


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_once(src: Path, argv: list[str]) -> tuple[float, float]:
    """(CPU seconds, wall seconds) of one `python -m aekit ARGV` with `src` first on the path."""
    env = {**os.environ, "PYTHONPATH": str(src)}
    cpu, wall = cpu_seconds(), time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "aekit", *argv], env=env, capture_output=True, text=True
    )
    cpu, wall = cpu_seconds() - cpu, time.perf_counter() - wall
    if done.returncode != 0:
        raise SystemExit(f"aekit {' '.join(argv)} failed with {src}:\n{done.stderr}")
    return cpu, wall


def measure(src: Path, argv: list[str], repeats: int) -> dict:
    run_once(src, argv)  # warm-up: page cache, .pyc files
    runs = [run_once(src, argv) for _ in range(repeats)]
    cpu = [round(c, 4) for c, _ in runs]
    wall = [round(w, 4) for _, w in runs]
    return {"cpu_s": median(cpu), "wall_s": median(wall), "cpu_runs": cpu, "wall_runs": wall}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--before", type=Path, help="an older checkout to compare with")
    args = parser.parse_args()
    sources = {"now": ROOT / "src"}
    if args.before is not None:
        sources = {"before": args.before.resolve() / "src", **sources}
    results: dict[str, dict] = {}
    for argv in COMMANDS:
        name = "aekit " + " ".join(argv)
        results[name] = {label: measure(src, argv, args.repeats) for label, src in sources.items()}

    headers = ["command"]
    for label in sources:
        headers += [f"{label} CPU s", f"{label} wall s"]
    if "before" in sources:
        headers.append("CPU before/now")
    rows = []
    for name, by in results.items():
        row = [name]
        for label in sources:
            row += [f"{by[label]['cpu_s']:.3f}", f"{by[label]['wall_s']:.3f}"]
        if "before" in sources:
            row.append(f"{by['before']['cpu_s'] / by['now']['cpu_s']:.1f}x")
        rows.append(row)
    print(f"start-up, median of {args.repeats} runs (CPU = user + system of the whole process)")
    print_table(headers, rows)
    path = write_json(
        "startup",
        {
            "repeats": args.repeats,
            # with PYTHONDONTWRITEBYTECODE set, aekit's own modules compile on every run
            "bytecode_cache": not os.environ.get("PYTHONDONTWRITEBYTECODE"),
            "sources": {label: str(src) for label, src in sources.items()},
            "results": results,
        },
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
