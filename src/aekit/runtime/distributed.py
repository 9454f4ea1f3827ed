"""Data-parallel training over processes that torchrun starts: PyTorch's own collectives.

`torchrun --nproc-per-node N -m aekit train ...` starts N copies of the command with RANK,
WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and MASTER_PORT set. `process_group` reads them, joins the
group (gloo on a CPU, NCCL on CUDA, each process on cuda:LOCAL_RANK) and yields a
`DistributedRuntime`, whose hooks the trainer already calls where processes must agree:

* `all_reduce_grads`: the gradients of one optimizer's parameters, flattened into one bucket
  per dtype, summed with one all_reduce and divided by the world size, so every rank clips and
  steps on the mean gradient of the global batch and the weights stay identical everywhere;
* `all_reduce_sums`: the loss sums and batch sizes read at a log point, so every rank logs
  (and checks for divergence) the exact numbers of the global batch;
* `any_across`: a stop flag (Ctrl-C seen by one rank) that every rank then acts on at once;
* `prepare_model`: a model with BatchNorm gets SyncBatchNorm (statistics of the global batch)
  on CUDA; on CPUs, where gloo has no SyncBatchNorm, it keeps per-rank statistics, and rank 0
  says in one line that the run then depends on the world size (`batchnorm_plan`);
* `broadcast_buffers`: rank 0's BatchNorm running statistics to every rank before validation
  and checkpoints (as torch's DistributedDataParallel does before every forward), so what is
  validated is what rank 0 saves, and a resumed rank starts from the buffers it had;
* `row_draws` (runtime.py): the model's per-row draws (a VAE's reparameterisation noise, the
  AAE's prior) are made for the whole global batch from the step's generator and sliced, so
  they do not depend on the world size;
* `rng_states` / `restore_rng_states`: torch's global generator is seeded per rank, so any
  other draw a model makes (dropout) differs between ranks; every rank's generator states are
  gathered into rank 0's checkpoint (rank r's as `rng.rankR.*`); which stream each rank
  resumes, also on another world size, is decided in one place:
  `aekit.training.checkpoint.restore_rng`.

With one process (no WORLD_SIZE, or 1) `process_group` yields the plain `Runtime`. See
docs/distributed.md for the semantics (global batch, slicing, writer, resume, BatchNorm).
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch._utils import _flatten_dense_tensors, _unflatten_dense_tensors

from aekit.errors import AekitError
from aekit.runtime.device import resolve_device
from aekit.runtime.precision import resolve_precision
from aekit.runtime.runtime import Runtime, rank_rng_key

TORCHRUN_KEYS = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Launch:
    """This process's place in a torchrun launch."""

    rank: int
    world_size: int
    local_rank: int


def torchrun_launch(environ: Mapping[str, str] = os.environ) -> Launch | None:
    """The launch torchrun describes in `environ`, or None when this is a single process
    (no WORLD_SIZE, or WORLD_SIZE 1)."""
    if int(environ.get("WORLD_SIZE", "1") or "1") <= 1:
        return None
    missing = [key for key in TORCHRUN_KEYS if not environ.get(key)]
    if missing:
        raise AekitError(
            f"WORLD_SIZE is {environ['WORLD_SIZE']} but {', '.join(missing)} "
            f"{'is' if len(missing) == 1 else 'are'} not set; start several processes with "
            "torchrun --nproc-per-node N -m aekit train ..."
        )
    try:
        rank, world, local = (int(environ[k]) for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK"))
    except ValueError:
        shown = {k: environ[k] for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
        raise AekitError(
            f"torchrun's RANK, WORLD_SIZE, LOCAL_RANK must be integers: {shown}"
        ) from None
    return Launch(rank, world, local)


def rank_device(spec: str | torch.device, local_rank: int) -> torch.device:
    """The device of the process with `local_rank`: its own GPU (cuda:LOCAL_RANK) when the
    spec is auto or cuda on a CUDA machine, the CPU for cpu; an explicit cuda:N is kept."""
    device = resolve_device(spec)
    if device.type == "mps":
        raise AekitError("data-parallel training runs on CPUs (gloo) or CUDA GPUs (NCCL), not mps")
    if device.type == "cuda" and str(spec) in ("auto", "cuda"):
        if local_rank >= torch.cuda.device_count():
            raise AekitError(
                f"LOCAL_RANK {local_rank} needs cuda:{local_rank}, but this machine has "
                f"{torch.cuda.device_count()} CUDA devices; lower --nproc-per-node"
            )
        device = torch.device("cuda", local_rank)
    return device


def batchnorm_plan(device_type: str, world_size: int) -> str:
    """What training on `world_size` processes of `device_type` does with BatchNorm layers:
    "sync" (SyncBatchNorm: mean and variance over the global batch, so the run is the
    one-process run) with several CUDA processes; "per-rank" with several processes elsewhere
    (SyncBatchNorm needs NCCL; on gloo each rank normalises its slice with its own statistics,
    so the run depends on the world size); "local" with one process (nothing to share)."""
    if world_size <= 1:
        return "local"
    return "sync" if device_type == "cuda" else "per-rank"


@functools.cache  # once per process: a line per run under the CLI, not per layer or resume
def warn_per_rank_batchnorm(device_type: str, world_size: int) -> None:
    log.warning(
        f"the model has BatchNorm, which on {device_type} (gloo) normalises each of the "
        f"{world_size} ranks' slices with its own statistics, so the result depends on the "
        "world size; --set model.norm=group does not (docs/distributed.md, BatchNorm)"
    )


def has_batchnorm(model: torch.nn.Module) -> bool:
    return any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in model.modules())


@dataclass(frozen=True)
class DistributedRuntime(Runtime):
    """A rank of a process group that `process_group` joined; the collectives are torch's."""

    def prepare_model(self, model: torch.nn.Module) -> torch.nn.Module:
        """The model with SyncBatchNorm in place of BatchNorm on CUDA (the same parameters and
        buffers, so optimizers, checkpoints and state_dict keys are unchanged); on CPUs the
        model as it is, with one line from rank 0 when it has BatchNorm."""
        if not has_batchnorm(model):
            return model
        plan = batchnorm_plan(self.device.type, self.world_size)
        if plan == "sync":
            return torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)
        if plan == "per-rank" and self.is_writer:
            warn_per_rank_batchnorm(self.device.type, self.world_size)
        return model

    def all_reduce_grads(self, params: Iterable[torch.nn.Parameter]) -> None:
        grads = [p.grad for p in params if p.grad is not None]  # the same set on every rank
        by_dtype: dict[torch.dtype, list[torch.Tensor]] = {}
        for grad in grads:
            by_dtype.setdefault(grad.dtype, []).append(grad)
        for group in by_dtype.values():
            bucket = _flatten_dense_tensors(group)  # one all_reduce per update, not one per param
            dist.all_reduce(bucket)
            bucket.div_(self.world_size)
            for grad, mean in zip(group, _unflatten_dense_tensors(bucket, group), strict=True):
                grad.copy_(mean)

    def all_reduce_sums(self, tensor: torch.Tensor) -> torch.Tensor:
        summed = tensor.clone()
        dist.all_reduce(summed)
        return summed

    def barrier(self) -> None:
        if self.device.type == "cuda":
            dist.barrier(device_ids=[self.device.index])
        else:
            dist.barrier()

    def any_across(self, flag: bool) -> bool:
        votes = torch.tensor([int(flag)], device=self.device)
        dist.all_reduce(votes, op=dist.ReduceOp.MAX)
        return bool(votes.item())

    def broadcast_buffers(self, module: torch.nn.Module) -> None:
        for buffer in module.buffers():
            dist.broadcast(buffer, src=0)

    def rng_states(self) -> dict[str, torch.Tensor]:
        """Every rank's generator states, gathered (a collective: every rank calls it): rank
        0's under the one-process keys, so the checkpoint reads as one process's, rank r's as
        rng.rankR.torch (and rng.rankR.cuda)."""
        own = super().rng_states()
        states = dict(own)
        for key, state in own.items():  # the same keys and sizes on every rank
            local = state.to(self.device) if self.device.type == "cuda" else state
            gathered = [torch.empty_like(local) for _ in range(self.world_size)]
            dist.all_gather(gathered, local)
            for rank in range(1, self.world_size):
                states[rank_rng_key(key, rank)] = gathered[rank].cpu()
        return states


@contextmanager
def process_group(
    device: str | torch.device = "auto", precision: str = "auto"
) -> Iterator[Runtime]:
    """The runtime of this process: a `DistributedRuntime` in the group torchrun describes
    (joined here and left on exit, unless the caller had already joined one), else the
    one-process `Runtime.create(device, precision)`."""
    launch = torchrun_launch()
    if launch is None:
        yield Runtime.create(device, precision)
        return
    resolved = rank_device(device, launch.local_rank)
    runtime = DistributedRuntime(
        resolved, resolve_precision(precision, resolved.type), launch.rank, launch.world_size
    )
    joined = not dist.is_initialized()
    if joined:
        if resolved.type == "cuda":
            torch.cuda.set_device(resolved)
        backend = "nccl" if resolved.type == "cuda" else "gloo"
        dist.init_process_group(backend, rank=launch.rank, world_size=launch.world_size)
    elif dist.get_world_size() != launch.world_size:
        raise AekitError(
            f"the process group has {dist.get_world_size()} processes, WORLD_SIZE says "
            f"{launch.world_size}"
        )
    try:
        runtime.barrier()  # every rank has checked its arguments before anyone writes
        yield runtime
    finally:
        if joined:
            dist.destroy_process_group()
