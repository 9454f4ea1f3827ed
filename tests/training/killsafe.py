"""SIGKILL `aekit train` at chosen or random moments, resume it, and record what each kill cost.

    python -m tests.training.killsafe SPEC.json     # prints a JSON report

One driver process imports torch and aekit once and then forks a child for every leg of a run
(the start, then each `--resume`) and for uninterrupted reference runs, and kills the children
with SIGKILL itself. A fork costs milliseconds where a fresh interpreter costs seconds of torch
import on this machine, so a test can afford many kills. The driver never runs a torch op, so
every child starts with torch's thread pool untouched, as a new process would; each child runs
the real CLI (`aekit.cli.main`) with its output in a log file.

SPEC: {"workdir", "data", "epochs", "checkpoint_every", "chains": {name: {"precision", "kills":
[kill, ...]}}}: for each precision used an uninterrupted run in workdir/reference-<precision>,
then for each chain a run in workdir/<name> killed once per kill and resumed after each, where
each kill is one of

    {"at": "step", "n": N}      after global training step N (1-based) has updated the weights
    {"at": "writing", "n": N}   during the N-th checkpoint write of the leg: the temporary file
                                is complete, the rename has not happened
    {"at": "rotated", "n": N}   after the N-th checkpoint's predecessor was linked to
                                checkpoint.prev.safetensors, before the new one is renamed in
    {"at": "saved", "n": N}     right after the N-th checkpoint of the leg is in place
    {"at": "loaded", "n": 1}    right after a resume has read its checkpoint, before any step
    {"at": "time", "fraction": F}  a random moment F of the way through the leg's next two
                                checkpoint intervals: the whole steps of F * 2 * interval
                                are counted by the child, which tells the driver and runs on,
                                and the rest is time, that fraction of a step (as last
                                measured) later; so the kill lands anywhere, in a step, a
                                save or a validation, while a changing load on the machine
                                cannot make a leg run to the end before its kill

and a final leg without a kill runs the resume to the end. The report gives, per chain and leg,
whether it was killed, when, the global step reached, the step of the newest checkpoint left on
disk and the steps lost; and each reference run's start-up and time per step.
"""

from __future__ import annotations

import json
import mmap
import os
import select
import signal
import struct
import sys
import time
from pathlib import Path

LEG_TIMEOUT = 600.0
SHARED = struct.Struct("<qqdd")  # steps reached, steps per epoch, first and last step's time


def checkpoint_step(run: Path, steps_per_epoch: int) -> int:
    """The global step of run/checkpoint.safetensors, read from its header (no torch here)."""
    path = run / "checkpoint.safetensors"
    if not path.is_file():
        return 0
    with open(path, "rb") as f:
        (length,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(length))
    position = json.loads(header["__metadata__"]["aekit"])["position"]
    return position["epoch"] * steps_per_epoch + position["step"]


def train_args(spec: dict, out: Path, resume: bool, precision: str = "fp32") -> list[str]:
    # On the CPU even where a GPU is present: bitwise resumes need deterministic kernels.
    if resume:
        return ["train", "--resume", "--out", str(out), "--no-progress", "--device", "cpu"]
    return [
        "train", "conv-ae", "--data", spec["data"], "--out", str(out), "--device", "cpu",
        "--epochs", str(spec["epochs"]), "--batch-size", "16", "--latent-dim", "4",
        "--precision", precision, "--set", "model.channels=[8, 16]",
        "--set", f"train.checkpoint_every={spec['checkpoint_every']}", "--no-progress",
    ]  # fmt: skip


def child(args: list[str], kill: dict | None, pipe: int, shared: mmap.mmap, log: Path) -> None:
    """In the forked child: install the kill hook, run the CLI, exit without cleanup."""
    code = 1
    try:
        fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        install_hooks(kill or {}, pipe, shared)
        from aekit.cli import main

        sys.argv = ["aekit", *args]
        try:
            main()
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:  # a bug in the test harness: show it in the log
        import traceback

        traceback.print_exc()
        code = 99
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def install_hooks(kill: dict, pipe: int, shared: mmap.mmap) -> None:
    """Wrap the trainer's step and the checkpoint writer: count, and at the kill point tell the
    driver and wait to be killed."""
    from aekit.training import checkpoint as ckpt
    from aekit.training.trainer import Trainer

    def wait_for_kill() -> None:
        os.write(pipe, b"k")
        time.sleep(LEG_TIMEOUT)

    counts = {"writing": 0, "rotated": 0, "saved": 0, "loaded": 0}

    def counted(kind: str, original):
        def wrapper(*args, **kwargs):
            result = original(*args, **kwargs)
            if kind == "writing" and ".checkpoint.safetensors." not in str(args[1]):
                return result  # model.safetensors, not a checkpoint
            counts[kind] += 1
            if kill.get("at") == kind and counts[kind] == kill["n"]:
                wait_for_kill()
            return result

        return wrapper

    ckpt.save_file = counted("writing", ckpt.save_file)
    ckpt.link_or_copy = counted("rotated", ckpt.link_or_copy)
    ckpt.save_checkpoint = counted("saved", ckpt.save_checkpoint)
    ckpt.load_checkpoint = counted("loaded", ckpt.load_checkpoint)
    step = Trainer._step
    first_step_at: list[float] = []

    def counting_step(self, batches, index, task_gen, total_steps, global_step):
        losses = step(self, batches, index, task_gen, total_steps, global_step)
        now = time.monotonic()  # one clock for every process: comparable with the driver's
        first_step_at[:] = first_step_at or [now]
        spe = total_steps // self.config.epochs
        shared[: SHARED.size] = SHARED.pack(global_step + 1, spe, first_step_at[0], now)
        if kill.get("at") == "step" and global_step + 1 == kill["n"]:
            wait_for_kill()
        if kill.get("at") == "time" and global_step + 1 == kill["n"]:
            os.write(pipe, b"k")  # and run on: the driver kills it a moment later
        return losses

    Trainer._step = counting_step


def run_leg(
    spec: dict, out: Path, resume: bool, kill: dict | None, precision: str, steps_per_epoch: int
) -> dict:
    """One child from fork to exit (or SIGKILL); `steps_per_epoch` (0 if not known yet) lets
    it read where the leg starts."""
    start = checkpoint_step(out, steps_per_epoch) if steps_per_epoch else 0
    shared = mmap.mmap(-1, SHARED.size)
    read_end, write_end = os.pipe()
    log = out.with_name(f"{out.name}.log")
    started = time.monotonic()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        child(train_args(spec, out, resume, precision), kill, write_end, shared, log)
    os.close(write_end)
    ready, _, _ = select.select([read_end], [], [], LEG_TIMEOUT)
    signalled = bool(ready) and os.read(read_end, 1) == b"k"
    reaped = (0, 0)
    if signalled and kill["at"] == "time":
        time.sleep(kill["then"])
        # Not if it finished meanwhile: then this call reaps it, and its status is kept here
        # (a second waitpid would find no child: ECHILD, seen under full-suite load).
        reaped = os.waitpid(pid, os.WNOHANG)
        signalled = reaped == (0, 0)
    killed = kill is not None and signalled
    if killed or not ready:  # (a hung child is killed too, and its leg fails)
        os.kill(pid, signal.SIGKILL)
    ended = time.monotonic()
    _, status = reaped if reaped != (0, 0) else os.waitpid(pid, 0)
    os.close(read_end)
    reached, per_epoch, first_step, last_step = SHARED.unpack(shared[: SHARED.size])
    steps_per_epoch = per_epoch or steps_per_epoch
    reached = reached or start  # no step in this leg: it got as far as its checkpoint
    leg = {
        "kill": kill, "killed": killed, "seconds": round(ended - started, 3),
        "exit": os.waitstatus_to_exitcode(status), "reached": reached,
        "steps_per_epoch": steps_per_epoch,
    }  # fmt: skip
    if reached > start:
        leg["steps"] = reached - start
        leg["startup"] = first_step - started
        leg["step_seconds"] = (last_step - first_step) / max(reached - start - 1, 1)
    # Killed before its first step, a leg lost nothing (and cannot tell steps per epoch).
    leg["saved"] = checkpoint_step(out, steps_per_epoch) if steps_per_epoch else None
    leg["lost"] = max(reached - leg["saved"], 0) if killed and steps_per_epoch else 0
    return leg


def main() -> None:
    # Imported once here and inherited by every fork: the CLI, and torch._dynamo, which the
    # first optimizer imports lazily (seconds).
    import torch._dynamo  # noqa: F401

    import aekit.cli  # noqa: F401

    spec = json.loads(Path(sys.argv[1]).read_text())
    work = Path(spec["workdir"])
    report: dict = {"references": {}, "chains": {}}
    for precision in sorted({chain["precision"] for chain in spec["chains"].values()}):
        run = work / f"reference-{precision}"
        report["references"][precision] = run_leg(spec, run, False, None, precision, 0)
    for name, chain in spec["chains"].items():
        ref = report["references"][chain["precision"]]
        per_epoch = ref["steps_per_epoch"]
        step_seconds = ref["step_seconds"]
        legs = report["chains"][name] = []
        for number, kill in enumerate([*chain["kills"], None]):
            if kill and kill["at"] == "time":
                span = kill["fraction"] * 2 * spec["checkpoint_every"]
                n = checkpoint_step(work / name, per_epoch) + 1 + int(span)
                kill = {**kill, "n": n, "then": round((span - int(span)) * step_seconds, 4)}
            leg = run_leg(spec, work / name, number > 0, kill, chain["precision"], per_epoch)
            if leg.get("steps", 0) >= 5:  # the machine's load changes: keep measuring
                step_seconds = leg["step_seconds"]
            legs.append(leg)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
