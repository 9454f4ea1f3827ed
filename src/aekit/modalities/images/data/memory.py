"""Will a dataset fit in memory? An estimate made before loading, and one clear error if not.

A load that does not fit ends on Linux with the kernel's OOM killer: the process vanishes
without a word, often after minutes of decoding, or the machine swaps to a crawl first. So each
loader works out from headers alone (image headers, the .npy headers inside an .npz, IDX
headers, CIFAR file sizes) how many bytes its load holds at its peak -- the uint8 images, the
raw arrays they are converted from, and the copies the train/val/test split makes -- and
compares that with the memory available now:

- ``MemAvailable`` from /proc/meminfo: what the kernel can hand out without swapping;
- lowered to the cgroup's limit minus its usage when a container sets one;
- ``AEKIT_MEMORY_LIMIT`` (bytes, or a number with a K, M, G or T suffix, powers of 1024)
  replaces both: for tests, or to push past an estimate that is too cautious.

Where none of these can be read (not Linux), there is no check. The estimates are meant to be
upper bounds within a small factor; each loader states its own next to the numbers it uses.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from aekit.errors import AekitError

ENV = "AEKIT_MEMORY_LIMIT"
_UNITS = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}
_UNLIMITED = 2**60  # cgroup v1 reports "no limit" as a number near 2**63


def parse_size(text: str) -> int:
    """'1500000', '512M', '2G', '1.5GiB' -> bytes."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?)(?:i?B)?\s*", text, re.IGNORECASE)
    if match is None:
        raise AekitError(f"{ENV}={text!r} is not a size; write bytes or e.g. 512M, 2G")
    return int(float(match.group(1)) * _UNITS[match.group(2).upper()])


def format_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


def available_memory() -> tuple[int | None, str]:
    """(bytes this process can still allocate without swapping, or None; where that came from)."""
    override = os.environ.get(ENV)
    if override:
        return parse_size(override), ENV
    available, source = None, ""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                available, source = int(line.split()[1]) * 1024, "MemAvailable"
    except (OSError, ValueError, IndexError):
        pass
    room = _cgroup_room()
    if room is not None and (available is None or room < available):
        available, source = room, "the container's memory limit"
    return available, source


def _cgroup_room() -> int | None:
    """The cgroup's limit minus its usage (v2, then v1), or None when there is no limit."""
    for base, limit_file, usage_file in (
        ("/sys/fs/cgroup", "memory.max", "memory.current"),
        ("/sys/fs/cgroup/memory", "memory.limit_in_bytes", "memory.usage_in_bytes"),
    ):
        try:
            limit = Path(base, limit_file).read_text().strip()
            usage = int(Path(base, usage_file).read_text().strip())
        except (OSError, ValueError):
            continue
        if limit == "max" or int(limit) >= _UNLIMITED:
            return None
        return max(int(limit) - usage, 0)
    return None


def check_fits(need: int, what: str, hint: str) -> None:
    """Raise an AekitError, before anything big is allocated, if `need` bytes will not fit.

    `what` describes the load ("60000 images of 1x28x28 from X"), `hint` says how to shrink it.
    """
    available, source = available_memory()
    if available is None or need <= available:
        return
    raise AekitError(
        f"loading {what} needs about {format_bytes(need)} of memory, but only "
        f"{format_bytes(available)} is available ({source}); {hint}, "
        f"or set {ENV} to override this check"
    )
