"""The parts of data-parallel training that need no second process: reading torchrun's
environment, how a global batch is cut, refusals in one line, a stop seen by another rank, what
becomes of BatchNorm, and the model's per-row draws sliced from the global batch's."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import pytest
import torch

from aekit.core.posterior import DiagonalGaussian
from aekit.core.random import randn_rows
from aekit.errors import AekitError
from aekit.modalities.images.data import ImageSet
from aekit.models import build_model
from aekit.runtime.distributed import (
    DistributedRuntime,
    Launch,
    batchnorm_plan,
    torchrun_launch,
    warn_per_rank_batchnorm,
)
from aekit.runtime.runtime import Runtime
from aekit.training import checkpoint as ckpt
from aekit.training.config import TrainConfig
from aekit.training.trainer import Trainer
from tests.conftest import shapes_images

TORCHRUN_ENV = {"RANK": "1", "WORLD_SIZE": "2", "LOCAL_RANK": "1",
                "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": "29500"}  # fmt: skip
TINY_CONV = {"channels": [8, 16], "latent_dim": 8, "image_shape": [1, 16, 16]}


def test_one_process_is_no_launch():
    assert torchrun_launch({}) is None
    assert torchrun_launch({"WORLD_SIZE": "1", "RANK": "0"}) is None


def test_torchrun_environment_is_read():
    assert torchrun_launch(TORCHRUN_ENV) == Launch(rank=1, world_size=2, local_rank=1)


def test_a_half_set_environment_is_one_line_naming_what_is_missing():
    env = {k: v for k, v in TORCHRUN_ENV.items() if k != "MASTER_PORT"}
    with pytest.raises(AekitError, match="MASTER_PORT is not set") as err:
        torchrun_launch(env)
    assert "\n" not in str(err.value)


def test_the_world_size_must_divide_the_batch():
    assert Runtime(torch.device("cpu"), "fp32", 0, 2).check_batch_size(32) == 16
    with pytest.raises(AekitError) as err:
        Runtime(torch.device("cpu"), "fp32", 1, 2).check_batch_size(33)
    message = str(err.value)
    assert "\n" not in message and "33" in message and "2 processes" in message


@pytest.mark.parametrize("world", [1, 2, 3])
def test_rank_slices_cut_a_batch_into_consecutive_pieces(world):
    for n in range(world, 12):
        cuts = [Runtime(torch.device("cpu"), "fp32", r, world).shard(n) for r in range(world)]
        assert [i for cut in cuts for i in range(n)[cut]] == list(range(n))
        if n % world == 0:
            assert {cut.stop - cut.start for cut in cuts} == {n // world}


def test_cli_under_torchrun_refuses_an_indivisible_batch_in_one_line(
    tiny_npz, tmp_path, run_cli, monkeypatch
):
    for key, value in TORCHRUN_ENV.items():
        monkeypatch.setenv(key, value)
    threads = torch.get_num_threads()
    try:  # refused before any process group is joined, so no second process is needed
        code, out, err = run_cli("train", "conv-ae", "--data", tiny_npz, "--out",
                                 tmp_path / "run", "--batch-size", "33")  # fmt: skip
    finally:
        torch.set_num_threads(threads)  # the CLI sets one thread per rank
    assert code == 2
    assert err.strip().splitlines() == [
        "aekit: error: train.batch_size 33 does not split evenly over 2 processes (WORLD_SIZE); "
        "use a multiple of 2, e.g. 32"
    ]
    assert not (tmp_path / "run").exists()


def test_a_trainer_refuses_a_runtime_that_cannot_share_its_batch():
    model = build_model("conv-ae", TINY_CONV)
    runtime = Runtime(torch.device("cpu"), "fp32", 0, 4)
    with pytest.raises(AekitError, match="batch_size 30 does not split evenly over 4"):
        Trainer(model, TrainConfig(batch_size=30), runtime=runtime, progress=False)


@dataclass(frozen=True)
class PeerStops(Runtime):
    """Rank 0 of 2 whose peer asks to stop (its Ctrl-C) at the `at`-th agreement; the other
    collectives are left as one process's (the sums are this rank's alone)."""

    at: int = 3
    votes: list = None  # type: ignore[assignment]

    def any_across(self, flag: bool) -> bool:
        self.votes.append(flag)
        return flag or len(self.votes) == self.at


def test_a_stop_seen_by_another_rank_stops_this_one_with_a_checkpoint(tmp_path):
    images, labels = shapes_images(320, seed=3)
    runtime = PeerStops(torch.device("cpu"), "fp32", 0, 2, at=3, votes=[])
    torch.manual_seed(0)
    model = build_model("conv-ae", TINY_CONV)
    config = TrainConfig(epochs=2, batch_size=32, log_every=1)  # an agreement every step
    trainer = Trainer(model, config, out_dir=tmp_path / "run", runtime=runtime, progress=False)
    result = trainer.fit(ImageSet(images, labels))
    assert result.interrupted
    assert runtime.votes == [False, False, False]  # one agreement per log point
    found = ckpt.load_checkpoint(tmp_path / "run")
    assert found.meta["position"]["epoch"] == 0 and found.meta["position"]["step"] == 3


def test_several_processes_agree_every_ten_steps_and_at_epoch_ends(tmp_path):
    """Each agreement is a collective every rank waits at, so a CPU run of several processes
    reads (and votes) every 10 steps, as a GPU run does, not every step as one CPU process."""
    images, labels = shapes_images(32 * 25, seed=3)  # 25 steps an epoch
    runtime = PeerStops(torch.device("cpu"), "fp32", 0, 2, at=99, votes=[])
    trainer = Trainer(build_model("conv-ae", TINY_CONV), TrainConfig(epochs=1, batch_size=32),
                      runtime=runtime, progress=False)  # fmt: skip
    assert trainer.log_every == 10
    trainer.fit(ImageSet(images, labels))
    assert len(runtime.votes) == 3  # after steps 10 and 20, and the epoch's last (25)
    alone = Trainer(build_model("conv-ae", TINY_CONV), TrainConfig(epochs=1, batch_size=32),
                    progress=False)  # fmt: skip
    assert alone.log_every == 1


def two_rank_streams() -> dict[str, torch.Tensor]:
    """The generator states a 2-process checkpoint holds: rank 0's as one process's, rank 1's
    as rng.rank1.torch, and the task's (shared by every rank)."""
    torch.manual_seed(10)
    zero = torch.get_rng_state()
    torch.manual_seed(11)
    return {"rng.torch": zero, "rng.rank1.torch": torch.get_rng_state(),
            "rng.task": torch.Generator().get_state()}  # fmt: skip


def resumed_state(states: dict, rank: int, world: int, fallback: int) -> tuple[torch.Tensor, str]:
    """torch's CPU generator state after rank `rank` of `world` resumed from `states`."""
    said = ckpt.restore_rng(Runtime(torch.device("cpu"), "fp32", rank, world), states, fallback)
    return torch.get_rng_state(), said


def test_each_saved_rank_continues_its_own_stream_on_any_world_size():
    states = two_rank_streams()
    assert ckpt.saved_world_size(states) == 2
    for world in (2, 3):
        for rank in (0, 1):
            own = states["rng.torch" if rank == 0 else "rng.rank1.torch"]
            assert torch.equal(resumed_state(states, rank, world, fallback=5)[0], own)


def test_fewer_ranks_drop_the_streams_of_the_others_and_say_so_quietly():
    states = two_rank_streams()
    state, said = resumed_state(states, 0, 1, fallback=5)
    assert torch.equal(state, states["rng.torch"])
    assert said == "the CPU random state; the saved streams of ranks >= 1 are not continued"


def test_a_rank_the_checkpoint_lacks_starts_a_stream_of_its_own_from_its_fallback_seed():
    states = two_rank_streams()
    new, said = resumed_state(states, 2, 3, fallback=5)
    assert "new random stream for rank 2" in said and "2 processes" in said
    assert torch.equal(new, torch.Generator().manual_seed(5).get_state())  # reproducible
    assert not torch.equal(new, states["rng.torch"])
    assert not torch.equal(new, states["rng.rank1.torch"])
    one = {k: v for k, v in states.items() if k != "rng.rank1.torch"}  # a 1-process checkpoint
    assert ckpt.saved_world_size(one) == 1
    assert torch.equal(
        resumed_state(one, 1, 2, fallback=6)[0], torch.Generator().manual_seed(6).get_state()
    )


def test_a_split_shorter_than_one_global_batch_is_refused_before_any_step(tmp_path):
    # One process trains a short batch; several would have no full batch to share.
    images, labels = shapes_images(20, seed=3)
    model = build_model("conv-ae", TINY_CONV)
    runtime = Runtime(torch.device("cpu"), "fp32", 0, 2)
    trainer = Trainer(model, TrainConfig(batch_size=32), out_dir=tmp_path / "run",
                      runtime=runtime, progress=False)  # fmt: skip
    with pytest.raises(AekitError) as err:
        trainer.fit(ImageSet(images, labels))
    assert str(err.value) == (
        "the training split has 20 rows, fewer than train.batch_size 32; 2 processes need at "
        "least one full batch"
    )
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    ("device_type", "world", "plan"),
    [("cuda", 2, "sync"), ("cuda", 1, "local"), ("cpu", 2, "per-rank"), ("cpu", 1, "local")],
)
def test_batchnorm_is_synchronised_only_where_nccl_can(device_type, world, plan):
    assert batchnorm_plan(device_type, world) == plan


def test_on_cuda_batchnorm_becomes_syncbatchnorm_with_the_same_parameters():
    model = build_model("conv-ae", {**TINY_CONV, "norm": "batch"})
    params, keys = list(model.parameters()), list(model.state_dict())
    runtime = DistributedRuntime(torch.device("cuda", 0), "fp32", 1, 2)  # no GPU needed
    model = runtime.prepare_model(model)
    norms = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    assert norms and all(isinstance(m, torch.nn.SyncBatchNorm) for m in norms)
    assert list(model.parameters()) == params  # the optimizers' parameters, unchanged
    assert list(model.state_dict()) == keys  # checkpoints load into a plain BatchNorm model


def test_on_cpus_batchnorm_stays_per_rank_and_rank_zero_says_so_once_in_one_line(caplog):
    warn_per_rank_batchnorm.cache_clear()  # said once per process: not yet, in this test
    caplog.set_level(logging.WARNING)

    def said(rank: int, norm: str) -> list[str]:
        caplog.clear()
        model = build_model("conv-ae", {**TINY_CONV, "norm": norm})
        runtime = DistributedRuntime(torch.device("cpu"), "fp32", rank, 2)
        assert runtime.prepare_model(model) is model
        assert not any(isinstance(m, torch.nn.SyncBatchNorm) for m in model.modules())
        return [r.getMessage() for r in caplog.records]

    assert said(0, "group") == []  # nothing to say without BatchNorm
    assert said(1, "batch") == []  # rank 1 stays quiet
    first = said(0, "batch")
    assert len(first) == 1 and "\n" not in first[0] and "depends on the world size" in first[0]
    assert said(0, "batch") == []  # once per process: the CLI trains one run in one


@pytest.mark.parametrize("world", [2, 4])
def test_a_steps_per_row_draws_are_the_global_batchs_sliced(world):
    """Each rank's draws are its rows of the one-process draw: the same noise per global row."""

    def drawn(rank: int, n: int) -> torch.Tensor:
        runtime = Runtime(torch.device("cpu"), "fp32", rank, n)
        with runtime.row_draws(torch.Generator().manual_seed(7), 8):
            return randn_rows((8 // n, 3))

    one = drawn(0, 1)
    torch.testing.assert_close(torch.cat([drawn(r, world) for r in range(world)]), one)
    assert not torch.equal(drawn(0, world), drawn(1, world))  # each rank its own rows


def test_a_vaes_noise_is_a_per_row_draw_and_outside_a_step_the_global_generator():
    posterior = DiagonalGaussian(torch.zeros(4, 2), torch.zeros(4, 2))  # samples are the noise
    with Runtime(torch.device("cpu"), "fp32", 1, 2).row_draws(torch.Generator().manual_seed(3), 8):
        mine = posterior.sample()
        with pytest.raises(ValueError, match="in a step on 4 rows"):
            randn_rows((3, 2))  # not one row per row of this rank's slice: a bug, said loudly
    whole = torch.randn(8, 2, generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(mine, whole[4:])
    torch.manual_seed(5)
    outside = posterior.sample()
    torch.manual_seed(5)
    torch.testing.assert_close(outside, torch.randn(4, 2))
