"""`Runtime`: the one object the trainer asks where and how it runs. See the package docstring."""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass

import torch

from aekit.core.random import row_draws
from aekit.errors import AekitError, first_line
from aekit.runtime.device import resolve_device
from aekit.runtime.precision import autocast, resolve_precision

# Checkpoint keys of torch's global generator states: the CPU's is always saved; a device's own
# generator (what `torch.randn(..., device=...)` without a generator draws from) only when the
# run trains there. Philox, CUDA's generator, keeps a seed and an offset: 16 bytes.
CPU_RNG_KEY = "rng.torch"
DEVICE_RNG_KEYS = {"cuda": "rng.cuda", "mps": "rng.mps"}
CUDA_RNG_BYTES = 16
# With several processes rank 0's states keep these keys (a checkpoint reads as one process's)
# and rank r's are stored as rng.rankR.torch, rng.rankR.cuda (distributed.py gathers them).
RANK_RNG_PREFIX = "rng.rank"


def rank_rng_key(key: str, rank: int) -> str:
    """Rank `rank`'s checkpoint key (rank >= 1) for the state one process keeps as `key`."""
    return f"{RANK_RNG_PREFIX}{rank}.{key[len('rng.') :]}"


def split_rank_rng_key(key: str) -> tuple[int, str] | None:
    """(rank, the one-process key) of a `rank_rng_key`, e.g. (1, "rng.torch") for
    "rng.rank1.torch"; None for any other key, including non-canonical ranks ("rng.rank01.torch",
    "rng.rank0.torch": rank 0 uses the one-process keys)."""
    if not key.startswith(RANK_RNG_PREFIX):
        return None
    digits, dot, rest = key[len(RANK_RNG_PREFIX) :].partition(".")
    if not (dot and rest and digits.isascii() and digits.isdigit()):
        return None
    rank = int(digits)
    if rank < 1 or str(rank) != digits:
        return None
    return rank, "rng." + rest


@dataclass(frozen=True)
class Runtime:
    """Where one training process runs: its device, its resolved precision, its place among
    the processes of a run, and the collective operations the trainer calls at the points
    where several processes must agree: no-ops here, one process; torch.distributed's in
    `DistributedRuntime` (distributed.py)."""

    device: torch.device
    precision: str  # resolved for the device: "fp32" or "bf16", never "auto"
    rank: int = 0
    world_size: int = 1

    def __post_init__(self) -> None:
        if self.precision not in ("fp32", "bf16"):
            raise AekitError(f"a runtime's precision is fp32 or bf16, got {self.precision!r}")
        if not 0 <= self.rank < self.world_size:
            raise AekitError(f"rank {self.rank} is outside a world of {self.world_size}")

    @classmethod
    def create(cls, device: str | torch.device = "cpu", precision: str = "auto") -> Runtime:
        """A one-process runtime on `device` (auto, cpu, cuda[:N], mps), `precision` resolved for
        that device's type (precision.py)."""
        resolved = resolve_device(device)
        return cls(resolved, resolve_precision(precision, resolved.type))

    @property
    def is_writer(self) -> bool:
        """Whether this process writes the run directory: rank 0 alone, so N processes leave
        the files one process would."""
        return self.rank == 0

    def autocast(self) -> AbstractContextManager:
        """The forward pass's context for this device type and precision."""
        return autocast(self.precision, self.device.type)

    # -- collectives: no-ops with one process; data-parallel training fills these in ---------

    def all_reduce_grads(self, params: Iterable[torch.nn.Parameter]) -> None:
        """Average the gradients of `params` over processes, between backward and clipping (so
        every rank clips and steps on the same gradient). Parameters without a gradient (frozen
        for this phase) are to be skipped."""

    def all_reduce_sums(self, tensor: torch.Tensor) -> torch.Tensor:
        """`tensor` summed over processes (loss sums and counts at a log point); the input as is
        with one process."""
        return tensor

    def barrier(self) -> None:
        """Wait until every process gets here (around the writer's checkpoint saves)."""

    def any_across(self, flag: bool) -> bool:
        """Whether `flag` is set in any process (a stop asked of one rank stops them all)."""
        return flag

    def broadcast_buffers(self, module: torch.nn.Module) -> None:
        """Give every process rank 0's buffers (BatchNorm's running statistics)."""

    def prepare_model(self, model: torch.nn.Module) -> torch.nn.Module:
        """The model to train here, once it is on `device` (before its optimizers are built):
        as it is with one process; data-parallel training decides what its BatchNorm layers
        become (distributed.py)."""
        return model

    # -- the share of a global batch this process takes ---------------------------------------

    def check_batch_size(self, batch_size: int) -> int:
        """The rows of a `batch_size` global batch each process takes; the world size must
        divide it, so every rank steps on an equal slice and the mean of their gradients is
        the global batch's."""
        if batch_size % self.world_size:
            lower = batch_size - batch_size % self.world_size or self.world_size
            raise AekitError(
                f"train.batch_size {batch_size} does not split evenly over {self.world_size} "
                f"processes (WORLD_SIZE); use a multiple of {self.world_size}, e.g. {lower}"
            )
        return batch_size // self.world_size

    def shard(self, n: int) -> slice:
        """This process's rows of a batch of `n`: rank r takes [r*n/N, (r+1)*n/N)."""
        return slice(self.rank * n // self.world_size, (self.rank + 1) * n // self.world_size)

    def row_draws(self, generator: torch.Generator, rows: int) -> AbstractContextManager:
        """The scope of one step on a global batch of `rows`: the model's per-row draws
        (`aekit.core.random.randn_rows`: a VAE's noise, the AAE's prior) are made for all of
        them from `generator` and this process keeps its `shard`, so each global row draws the
        same numbers at any world size."""
        return row_draws(generator, rows, self.shard(rows))

    # -- random generator states for checkpoints ----------------------------------------------

    def rng_states(self) -> dict[str, torch.Tensor]:
        """torch's global generator states to checkpoint: the CPU's, and this device's own."""
        states = {CPU_RNG_KEY: torch.get_rng_state()}
        if self.device.type == "cuda":
            states[DEVICE_RNG_KEYS["cuda"]] = torch.cuda.get_rng_state(self.device)
        elif self.device.type == "mps":
            states[DEVICE_RNG_KEYS["mps"]] = torch.mps.get_rng_state()
        return states

    def restore_rng_states(self, states: dict[str, torch.Tensor], fallback_seed: int) -> str:
        """Put back what `rng_states` saved, as far as this device can use it, and say what.

        The CPU state is always restored (batch order, task noise and the CPU draws do not
        depend on the device). This device's own state is restored when the checkpoint has one,
        that is when it was written on the same device type; a checkpoint from another device
        type has none, and then this device's generator is seeded with `fallback_seed` (the
        trainer derives it from the run's seed and position), so the resumed run is reproducible
        though not the numbers an unstopped run would have drawn -- which no resume on other
        hardware could promise anyway, since its kernels round differently.
        """
        torch.set_rng_state(states[CPU_RNG_KEY])
        key = DEVICE_RNG_KEYS.get(self.device.type)
        if key is None:
            return "the CPU random state"
        state = states.get(key)
        try:
            if state is None:
                seed = torch.cuda.manual_seed if key == "rng.cuda" else torch.mps.manual_seed
                seed(fallback_seed)
                return f"the CPU random state; {key} absent, so {self.device.type} was reseeded"
            if key == "rng.cuda":
                torch.cuda.set_rng_state(state, self.device)
            else:
                torch.mps.set_rng_state(state)
        except RuntimeError as exc:
            kind = self.device.type
            raise AekitError(f"{key} is not a {kind} random state ({first_line(exc)})") from None
        return f"the CPU and {self.device.type} random states"


def cpu_runtime(precision: str = "auto") -> Runtime:
    """The runtime of `Trainer(model, config)` from Python: this CPU, one process."""
    return Runtime.create("cpu", precision)
