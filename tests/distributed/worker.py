"""Run under torchrun by test_ddp.py: train several runs in one process group, then report.

argv: a JSON file {"root": DIR, "report": FILE, "jobs": [{"model", "out", "flags", "set"}]}.
Every rank trains every job through `aekit.runs.train_run`; a job with "interrupt_at": k has
rank 1 alone pressed Ctrl-C (a real SIGINT) in its k-th step, then resumes it on every rank
(unless "then_resume": false leaves it stopped); "resume_only": true resumes the run already in
"out" (one another world size stopped). "record_rows": true notes, per rank, the rows of every
step, read back from the images the model is given (the data's first two pixels hold each
row's index: 256 * high + low) and the training split's rows. "log": ["tensorboard"] tracks
the job (train_run's `log`).
Rank 0 then writes the report:
per job, the largest difference between any rank's final weights and rank 0's (and the rows
each rank saw), and how many files each rank created, opened for writing or replaced under
`root` (an audit hook sees them).
"""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path

import torch
import torch.distributed as dist


def main() -> None:
    spec = json.loads(Path(sys.argv[1]).read_text())
    root = str(Path(spec["root"]).resolve())
    rank = int(os.environ["RANK"])
    written: list[str] = []

    def audit(event: str, args: tuple) -> None:  # every write-like call under root
        if event == "open" and isinstance(args[0], (str, os.PathLike)):
            mode, flags = args[1], args[2]
            writing = (mode and any(c in mode for c in "wax+")) or (flags or 0) & (
                os.O_WRONLY | os.O_RDWR | os.O_CREAT
            )
            paths = [args[0]] if writing else []
        elif event in ("os.rename", "os.mkdir", "os.remove", "os.link", "os.symlink"):
            paths = [a for a in args[:2] if isinstance(a, (str, os.PathLike))]
        else:
            return
        written.extend(str(p) for p in paths if os.path.abspath(p).startswith(root))

    sys.addaudithook(audit)  # rank 0 too: its count shows that the hook sees the writes
    dist.init_process_group("gloo")  # train_run joins this group and leaves it to us
    from aekit.cli.train import build_run_config
    from aekit.runs import train_run
    from aekit.training import trainer as trainer_module
    from aekit.training.trainer import Trainer

    step = Trainer._step
    fit = Trainer.fit
    training_step = trainer_module.training_step

    report = []
    for job in spec["jobs"]:
        config = build_run_config(job["model"], None, job["flags"], job["set"])
        trained: list[torch.nn.Module] = []
        keep = [lambda row, model, seen=trained: seen.append(model)]
        at = job.get("interrupt_at") if rank == 1 else None
        if at is not None:
            calls = []

            def pressed(self, *args, calls=calls, at=at):
                calls.append(1)
                if len(calls) == at:
                    os.kill(os.getpid(), signal.SIGINT)
                return step(self, *args)

            Trainer._step = pressed
        seen: dict = {"epochs": [], "step": [], "train": []}
        if job.get("record_rows"):
            keep.append(lambda row, model, seen=seen: seen["epochs"].append(seen["step"][:]))
            keep.append(lambda row, model, seen=seen: seen["step"].clear())

            def recorded(model, inputs, *args, seen=seen):
                seen["step"].append(row_ids(inputs))
                return training_step(model, inputs, *args)

            def fitted(self, train, *args, seen=seen, **kwargs):
                seen["train"] = row_ids(torch.from_numpy(train.rows))
                return fit(self, train, *args, **kwargs)

            trainer_module.training_step, Trainer.fit = recorded, fitted
        resume_only = bool(job.get("resume_only"))
        log = job.get("log", ())
        result = train_run(config, job["out"], resume=resume_only, progress=False, device="cpu",
                           callbacks=keep, log=log)  # fmt: skip
        Trainer._step, Trainer.fit, trainer_module.training_step = step, fit, training_step
        stopped = torch.tensor([int(result.interrupted)])
        dist.all_reduce(stopped)
        if "interrupt_at" in job and job.get("then_resume", True):
            result = train_run(config, job["out"], resume=True, progress=False, device="cpu",
                               callbacks=keep, log=log)  # fmt: skip
        report.append({"out": job["out"], "interrupted_ranks": int(stopped), "rank_diff": None})
        if trained:  # an epoch ended (not so in a run left stopped in its first epoch)
            state = trained[-1].state_dict()
            flat = torch.cat([t.detach().double().flatten() for t in state.values()])
            gathered = [torch.empty_like(flat) for _ in range(dist.get_world_size())]
            dist.all_gather(gathered, flat)
            report[-1]["rank_diff"] = max(float((g - gathered[0]).abs().max()) for g in gathered)
        if job.get("record_rows"):
            report[-1]["rows"] = gather_json({"epochs": seen["epochs"], "train": seen["train"]})
    # Each rank's count of writes, gathered: rank 0 learns them without a file of rank r's.
    counts = [torch.zeros(1, dtype=torch.int64) for _ in range(dist.get_world_size())]
    dist.all_gather(counts, torch.tensor([len(written)]))
    if written and rank != 0:
        print(f"rank {rank} wrote: {written}", file=sys.stderr)
    if rank == 0:
        writes = [int(c) for c in counts]
        Path(spec["report"]).write_text(json.dumps({"jobs": report, "writes": writes}))
    dist.destroy_process_group()


def row_ids(images: torch.Tensor) -> list[int]:
    """The row index each image carries in its first two values (raw uint8, or the model's
    inputs in [0, 1]): 256 * high + low."""
    flat = images.flatten(1)[:, :2].double()
    if images.is_floating_point():
        flat = flat * 255
    high, low = flat.round().long().unbind(1)
    return (high * 256 + low).tolist()


def gather_json(value) -> list:
    """Every rank's `value` (plain JSON data), in rank order, on every rank: as UTF-8 bytes
    through all_gather (padded to the longest), so no rank writes a file and nothing is pickled."""
    mine = torch.tensor(list(json.dumps(value).encode()), dtype=torch.uint8)
    sizes = [torch.zeros(1, dtype=torch.int64) for _ in range(dist.get_world_size())]
    dist.all_gather(sizes, torch.tensor([mine.numel()]))
    longest = int(max(sizes))
    padded = torch.cat([mine, torch.zeros(longest - mine.numel(), dtype=torch.uint8)])
    gathered = [torch.empty_like(padded) for _ in sizes]
    dist.all_gather(gathered, padded)
    return [json.loads(bytes(g[: int(n)].tolist())) for g, n in zip(gathered, sizes, strict=True)]


if __name__ == "__main__":
    main()
