"""Training on data larger than memory: `shards:` (memory-mapped) beside the same images in memory.

One run, side by side, each step a fresh child process (`python -m aekit ...`):

1. synthetic uint8 images, 3x32x32, written to a .npy (by this script, through a memory map);
2. ``aekit pack npz:data.npy --out pack`` (the .npy is read through a memory map too);
3. ``aekit train ae --data npz:data.npy`` (the whole set in memory) and
   ``aekit train ae --data shards:pack``: one epoch, one thread, fp32, a small MLP, so that the
   data, not the model, is what grows; then the two runs' weights are compared bitwise.

Memory of each child: peak RSS from ``os.wait4`` (the kernel's ru_maxrss, the child's alone),
and the peaks of its two parts, sampled from /proc/PID/status every 20 ms: **anonymous** memory
(RssAnon: what the process itself holds, which the kernel can only reclaim by killing it) and
**file-backed** memory (RssFile: pages of mapped files, here the shards -- clean page cache,
which the kernel drops under memory pressure and reads again when needed). A memory-mapped run
touches every page of its split once an epoch, so with memory to spare its RSS grows by the
data it reads; what must fit in the memory a process is given is its anonymous part. The last
column is the data's size over that part, which `--images` should keep at 3x or more.

Anonymous memory includes what glibc's allocator keeps after freeing the batches' tensors; a
third run with a fixed mmap threshold (``MALLOC_MMAP_THRESHOLD_``, FIXED_THRESHOLD) shows what
is left without it. The page cache is warm (the data were just written); a cold disk would add
read time to the memory-mapped runs only. Defaults take about 4 minutes on 2 idle cores
(much longer when other jobs share them):

    python benchmarks/shards.py [--images 400000] [--keep DIR]

Writes benchmarks/results/shards.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from common import print_table, write_json

ROOT = Path(__file__).resolve().parents[1]
# glibc raises its mmap threshold to the largest block freed (up to 32 MiB), so a run's batch
# tensors come from the heap afterwards and the heap's high-water mark stays resident. A fixed
# threshold returns them at once: the third run shows how much of the anonymous peak is that.
FIXED_THRESHOLD = {"MALLOC_MMAP_THRESHOLD_": str(2**20)}
SHAPE = (3, 32, 32)
MIB = 2**20
TRAIN = [
    "train", "ae", "--epochs", "1", "--threads", "1", "--precision", "fp32", "--no-progress",
    "--batch-size", "256", "--latent-dim", "8", "--set", "model.hidden=[16]",
]  # fmt: skip


def make_images(path: Path, n: int, seed: int = 0) -> None:
    """n random uint8 images written in chunks, never all in this process's memory."""
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.uint8, shape=(n, *SHAPE))
    rng = np.random.default_rng(seed)
    for start in range(0, n, 50_000):
        k = min(50_000, n - start)
        out[start : start + k] = rng.integers(0, 256, (k, *SHAPE), dtype=np.uint8)
    out.flush()
    del out


def run_child(argv: list[str], env: dict[str, str] | None = None) -> dict:
    """Run `python -m aekit ARGV`; its wall seconds, peak RSS and sampled anon/file peaks."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), **(env or {})}
    started = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, "-m", "aekit", *argv], env=env, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    peaks = {"RssAnon": 0, "RssFile": 0}
    while True:
        pid, status, usage = os.wait4(child.pid, os.WNOHANG)
        if pid:
            break
        try:
            for line in Path(f"/proc/{child.pid}/status").read_text().splitlines():
                key, _, value = line.partition(":")
                if key in peaks:
                    peaks[key] = max(peaks[key], int(value.split()[0]) * 1024)
        except (OSError, ValueError):
            pass
        time.sleep(0.02)
    seconds = time.perf_counter() - started
    stdout, stderr = child.communicate()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"aekit {' '.join(argv)} failed:\n{stderr}")
    return {
        "seconds": round(seconds, 1),
        "peak_rss": usage.ru_maxrss * 1024,  # Linux reports KiB
        "peak_anon": peaks["RssAnon"],
        "peak_file": peaks["RssFile"],
        "stdout": stdout.strip().splitlines()[-1] if stdout.strip() else "",
    }


def epoch_rate(run: Path) -> float:
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return float(rows[-1]["images_per_s"])


def same_weights(a: Path, b: Path) -> bool:
    from safetensors.numpy import load_file

    x, y = load_file(a / "model.safetensors"), load_file(b / "model.safetensors")
    return x.keys() == y.keys() and all(np.array_equal(x[k], y[k]) for k in x)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=400_000, help="synthetic 3x32x32 images")
    parser.add_argument("--keep", type=Path, help="work here and keep the files (else a temp dir)")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="aekit-shards-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        data = work / "data.npy"
        make_images(data, args.images)
        data_bytes = args.images * int(np.prod(SHAPE))
        pack = run_child(["pack", f"npz:{data}", "--out", work / "pack", "--force",
                          "--no-progress"])  # fmt: skip
        runs = {}
        shards = f"shards:{work / 'pack'}"
        for label, source, env in (
            ("in memory", f"npz:{data}", {}),
            ("shards", shards, {}),
            ("shards, mmap threshold 1 MiB", shards, FIXED_THRESHOLD),
        ):
            out = work / f"run{len(runs)}"
            shutil.rmtree(out, ignore_errors=True)
            runs[label] = run_child([*TRAIN, "--data", source, "--out", str(out)], env)
            runs[label]["images_per_s"] = epoch_rate(out)
        same = same_weights(work / "run0", work / "run1")
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)

    def mib(n: int) -> str:
        return f"{n / MIB:,.0f}"

    rows = [["aekit pack", mib(data_bytes), pack["seconds"], "",
             mib(pack["peak_rss"]), mib(pack["peak_anon"]), mib(pack["peak_file"]),
             f"{data_bytes / pack['peak_anon']:.1f}x"]]  # fmt: skip
    for label, r in runs.items():
        rows.append([
            f"train, {label}", mib(data_bytes), r["seconds"], f"{r['images_per_s']:,.0f}",
            mib(r["peak_rss"]), mib(r["peak_anon"]), mib(r["peak_file"]),
            f"{data_bytes / r['peak_anon']:.1f}x",
        ])  # fmt: skip
    print(f"{args.images:,} images of {'x'.join(map(str, SHAPE))} uint8; train: ae, 1 epoch, "
          "1 thread, fp32, batch 256; page cache warm")  # fmt: skip
    print_table(
        ["step", "data MiB", "seconds", "images/s", "peak RSS MiB", "anon MiB", "file MiB",
         "data/anon"],
        rows,
    )  # fmt: skip
    print(f"same weights from shards as in memory (bitwise): {'yes' if same else 'NO'}")
    path = write_json(
        "shards",
        {
            "images": args.images, "shape": list(SHAPE), "data_bytes": data_bytes,
            "train_command": TRAIN, "pack": pack, "runs": runs, "same_weights": same,
        },
    )  # fmt: skip
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
