"""Coverage-guided fuzzing of one aekit parser with atheris (libFuzzer for Python).

    python -m fuzz.run PARSER [--runs N] [--seeds DIR] [--work DIR] [-- libFuzzer flags]

PARSER is one of fuzz/targets.py's PARSERS. `AekitError` is the expected refusal; any other
exception is a crash: its input is saved as fuzz/corpus/PARSER/crash-<sha1> (once per distinct
exception type and place) and fuzzing goes on, so one run counts every distinct crash. A hang
(-timeout) or a runaway allocation (-rss_limit_mb) stops libFuzzer, which saves that input in
the same folder. Files in fuzz/corpus/ are replayed by tests/fuzz/test_corpus.py in every test
run, so a crash once found stays fixed.

The exit status is 1 if anything crashed. The last line is a summary for docs/reliability.md.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import os
import sys
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "fuzz" / "corpus"


def crash_key(exc: BaseException) -> tuple[str, str]:
    """(exception type, innermost aekit frame or else innermost frame): one file per bug."""
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if "/aekit/" in f.filename] or frames
    where = f"{Path(ours[-1].filename).name}:{ours[-1].lineno}" if ours else "?"
    return type(exc).__name__, where


# Values a structure-aware mutation puts into a config: the edges of every type a setting has.
ODD_VALUES = [
    None, True, False, 0, 1, -1, 2, 3, 7, 2**16, 2**16 + 1, 2**31, 2**63, -(2**63), 10**20,
    0.0, -0.0, 0.5, 1e-300, 1e300, float("nan"), float("inf"), float("-inf"), "", "x",
    "conv-ae", "cvae", "lesson", "default", "bce", "mse", "superres", "denoise", "gaussian:0.3",
    "mask:2", "adamw", "cosine", "bf16", [], {}, [0], [1, 1, 1], [65536, 65536], {"a": 1},
]  # fmt: skip


def odd_value(rng) -> object:
    return copy.deepcopy(rng.choice(ODD_VALUES))  # a fresh copy: later edits must not leak


def json_paths(node: object, prefix: tuple = ()) -> list[tuple]:
    paths = []
    if isinstance(node, dict):
        items = list(node.items())
    else:
        items = list(enumerate(node)) if isinstance(node, list) else []
    for key, value in items:
        paths.append((*prefix, key))
        paths += json_paths(value, (*prefix, key))
    return paths


def mutate_json(doc: object, rng) -> object:
    """One edit of a parsed JSON document: a value set to an odd one, a key dropped or added."""
    paths = json_paths(doc)
    if not paths:
        return odd_value(rng)
    *parents, last = rng.choice(paths)
    node = doc
    for part in parents:
        node = node[part]
    action = rng.random()
    if action < 0.7:
        node[last] = odd_value(rng)
    elif action < 0.85 and isinstance(node, dict):
        del node[last]
    elif isinstance(node, dict):
        key = rng.choice(["extra", "model_name", "image_shape", "hidden", "__class__", ""])
        node[key] = odd_value(rng)
    return doc


def config_mutator(atheris):
    """For config inputs holding JSON (entry points 0 and 2), mostly edit the parsed document
    and write it back, so most inputs are well-formed configs that reach the checks behind the
    parser; otherwise libFuzzer's byte mutations."""
    import json
    import random

    def mutate(data: bytes, max_size: int, seed: int) -> bytes:
        rng = random.Random(seed)
        if len(data) > 2 and data[0] % 4 in (0, 2) and rng.random() < 0.7:
            try:
                doc = json.loads(data[2:])
            except (ValueError, RecursionError):
                doc = None
            if isinstance(doc, (dict, list)):
                for _ in range(rng.randint(1, 3)):
                    doc = mutate_json(doc, rng)
                out = data[:2] + json.dumps(doc).encode()
                if len(out) <= max_size:
                    return out
        return atheris.Mutate(data, max_size)

    return mutate


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("parser")
    parser.add_argument("--runs", type=int, default=10_000, help="inputs to try (default 10000)")
    parser.add_argument("--seeds", type=Path, default=ROOT / "build" / "fuzz" / "seeds")
    parser.add_argument("--work", type=Path, default=ROOT / "build" / "fuzz" / "work")
    parser.add_argument("--timeout", type=int, default=20, help="seconds per input")
    parser.add_argument("libfuzzer", nargs="*", help="extra libFuzzer flags, after --")
    args = parser.parse_args(argv)

    import atheris
    import torch

    torch.set_num_threads(1)  # two cores, shared: fuzzing runs beside everything else
    # Instrument what parses (coverage feedback steers libFuzzer); torch and numpy are not
    # instrumented, they would only slow every input down.
    include = ["aekit", "PIL", "gzip", "tomllib", "safetensors", "mido"]
    with atheris.instrument_imports(include=include):
        import mido  # noqa: F401  (the MIDI reader's parser)

        import aekit.cli  # noqa: F401  (every entry point the targets use)
        import aekit.modalities.images.data.local  # noqa: F401
        import aekit.modalities.melody.files  # noqa: F401
        import aekit.runs  # noqa: F401
        from fuzz import targets
    from aekit.errors import AekitError

    if args.parser not in targets.PARSERS:
        parser.error(f"unknown parser {args.parser!r}; choose from {', '.join(targets.PARSERS)}")
    target = targets.PARSERS[args.parser]
    crash_dir = CORPUS / args.parser
    work = args.work / args.parser
    work.mkdir(parents=True, exist_ok=True)
    seeds = args.seeds / args.parser
    if not seeds.is_dir():
        from fuzz.seeds import write_seeds

        write_seeds(args.seeds, [args.parser])

    seen: dict[tuple[str, str], str] = {}
    counts = {"inputs": 0, "refused": 0, "accepted": 0, "crashes": 0}

    def one_input(data: bytes) -> None:
        counts["inputs"] += 1
        try:
            target(data)
        except AekitError as exc:
            if "\n" in str(exc):
                record(exc, data, "multi-line AekitError")  # a message must be one line
            else:
                counts["refused"] += 1
        except Exception as exc:
            record(exc, data)
        else:
            counts["accepted"] += 1
        if counts["inputs"] >= args.runs:  # we count, not libFuzzer: its exit skips atexit
            summary()
            sys.stdout.flush()
            os._exit(1 if counts["crashes"] else 0)

    def record(exc: BaseException, data: bytes, kind: str = "") -> None:
        counts["crashes"] += 1
        key = crash_key(exc)
        key = (kind or key[0], key[1])
        if key not in seen:
            name = f"crash-{hashlib.sha1(data).hexdigest()[:16]}"
            (crash_dir / name).write_bytes(data)
            seen[key] = name
            print(f"\nCRASH {key[0]} at {key[1]}: {exc!s:.200} -> {crash_dir / name}")
            traceback.print_exception(exc, limit=-4)

    started = time.monotonic()
    flags = [
        f"-timeout={args.timeout}",
        "-rss_limit_mb=3072",
        "-max_len=65536",
        f"-artifact_prefix={crash_dir}/",
        "-print_final_stats=1",
        *args.libfuzzer,
    ]
    crash_dir.mkdir(parents=True, exist_ok=True)
    mutator = config_mutator(atheris) if args.parser == "config" else None
    atheris.Setup([sys.argv[0], *flags, str(work), str(seeds)], one_input, custom_mutator=mutator)

    def summary() -> None:
        seconds = time.monotonic() - started
        print(
            f"fuzz {args.parser}: {counts['inputs']} inputs in {seconds:.0f} s "
            f"({counts['inputs'] / max(seconds, 1e-9):.0f}/s), {counts['accepted']} accepted, "
            f"{counts['refused']} refused with AekitError, {counts['crashes']} crashed "
            f"({len(seen)} distinct: {', '.join(f'{k[0]}@{k[1]}' for k in seen) or 'none'})"
        )
        if not any(crash_dir.iterdir()):
            crash_dir.rmdir()

    atheris.Fuzz()  # returns only through one_input's exit, or libFuzzer's on a hang or OOM
    return 0


if __name__ == "__main__":
    sys.exit(main())
