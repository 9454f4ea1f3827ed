"""check_resume_state: what a checkpoint must hold before a run resumes from it.

The property: a checkpoint's contents either fail the check with a one-line AekitError, or the
trainer can restore every part of them and take a step. Hand-written cases name the message.
"""

from __future__ import annotations

import json
from functools import cache

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aekit.errors import AekitError
from aekit.models import build_model
from aekit.training import checkpoint as ckpt
from aekit.training.config import TrainConfig
from aekit.training.resume_check import check_resume_state, expected_slots
from aekit.training.steps import build_optimizers

MODEL = {"image_shape": [1, 4, 4], "hidden": [4], "latent_dim": 2, "loss": "mse"}


def fresh(optimizer: str = "adamw", model_name: str = "ae", fields: dict | None = None):
    torch.manual_seed(0)
    model = build_model(model_name, fields or MODEL)
    optimizers, _ = build_optimizers(model, TrainConfig(optimizer=optimizer, precision="fp32"))
    return model, optimizers


@cache
def saved(optimizer: str = "adamw") -> tuple[dict, dict]:
    """(tensors, meta) of a checkpoint after one real step, as the trainer writes them."""
    model, optimizers = fresh(optimizer)
    for opt in optimizers.values():
        x = torch.rand(3, 1, 4, 4)
        model.loss(model(x), x).loss.backward()
        opt.step()
    tensors, optim_meta = ckpt.optimizers_state(optimizers)
    tensors = {**{f"model.{k}": v for k, v in model.state_dict().items()}, **tensors}
    tensors["rng.torch"] = torch.get_rng_state()
    tensors["rng.task"] = torch.Generator().get_state()
    meta = {
        "position": {"epoch": 1, "step": 0, "sums": {}, "count": 0},
        "history": [{"epoch": 1, "train_loss": 0.5}], "best": 0.5, "since_best": 0,
        "optimizers": optim_meta, "precision": "fp32",
    }  # fmt: skip
    return tensors, json.loads(json.dumps(meta))


def check(tensors, meta, optimizer="adamw") -> None:
    _, optimizers = fresh(optimizer)
    check_resume_state(ckpt.Path("run/checkpoint.safetensors"), tensors, meta, optimizers)


@pytest.mark.parametrize("optimizer", ["adamw", "adam", "rmsprop", "sgd"])
def test_a_real_checkpoint_passes(optimizer: str) -> None:
    check(*saved(optimizer), optimizer=optimizer)


def test_expected_slots_come_from_the_optimizer_itself() -> None:
    _, optimizers = fresh("adamw")
    slots = expected_slots(optimizers["main"])
    assert slots == {
        "step": (False, torch.float32),
        "exp_avg": (True, torch.float32),
        "exp_avg_sq": (True, torch.float32),
    }


def edit_meta(path: str, value):
    tensors, meta = saved()
    meta = json.loads(json.dumps(meta))
    *parents, last = path.split("/")
    node = meta
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    if value is KeyError:
        del node[last]
    else:
        node[last] = value
    return tensors, meta


@pytest.mark.parametrize(
    "path, value, fragment",
    [
        ("position", KeyError, "lacks position"),
        ("position/step", KeyError, "position must hold exactly"),
        ("position/epoch", -1, "position.epoch must be a whole number"),
        ("position/count", 1.5, "position.count must be a whole number"),
        ("position/sums", {"loss": "x"}, "position.sums must map"),
        ("history", {"epoch": 1}, "history must be a list"),
        ("best", "low", "best loss must be a number or null"),
        ("since_best", True, "since_best must be a whole number"),
        ("optimizers", [], "it has optimizers"),
        ("optimizers/main", {"param_groups": []}, "must have param_groups and scalars"),
        ("optimizers/main/param_groups", [], "must have 1 parameter group"),
        ("optimizers/main/param_groups/0/params", [0, 1], "is for other parameters"),
        ("optimizers/main/param_groups/0/betas", [0.9], "setting betas"),
        ("optimizers/main/param_groups/0/lr", "fast", "setting lr"),
        ("optimizers/main/param_groups/0/evil", 1, "other settings than this run's"),
        # A switch picks the algorithm and its slots: torch would fail inside its step.
        ("optimizers/main/param_groups/0/amsgrad", True, "setting amsgrad is True, this run's"),
        ("optimizers/main/param_groups/0/fused", None, "setting fused is None, this run's is"),
        ("optimizers/main/scalars", {"0": {"exp_avg": 1.0}}, "unexpected slot 'exp_avg'"),
        ("optimizers/main/scalars", {"99": {}}, "unknown parameter '99'"),
        ("optimizers/main/scalars", {"\u00b2": {}}, "unknown parameter"),  # "²".isdigit()
        ("first_loss", "big", "first_loss must be a number or null"),
    ],
)
def test_bad_metadata_is_refused(path: str, value, fragment: str) -> None:
    with pytest.raises(AekitError, match=fragment) as info:
        check(*edit_meta(path, value))
    assert "\n" not in str(info.value) and "cannot resume from" in str(info.value)


def edit_tensors(change):
    tensors, meta = saved()
    tensors = dict(tensors)
    change(tensors)
    return tensors, meta


@pytest.mark.parametrize(
    "change, fragment",
    [
        (lambda t: t.pop("rng.task"), "no rng.task tensor"),
        (lambda t: t.update({"rng.torch": torch.zeros(3)}), "rng.torch is not a random"),
        # a CUDA generator's state is 16 bytes; its form is checked even on a CPU machine
        (lambda t: t.update({"rng.cuda": torch.zeros(8, dtype=torch.uint8)}), "rng.cuda is not"),
        (lambda t: t.update({"rng.cuda": torch.zeros(16)}), "rng.cuda is not a random"),
        (lambda t: t.update({"rng.mps": torch.zeros((2, 2), dtype=torch.uint8)}), "rng.mps is not"),
        # several processes' streams (checkpoint.restore_rng): ranks 1..R, each a real state
        (lambda t: t.update({"rng.rank2.torch": t["rng.torch"]}), "but no rng.rank1.torch"),
        (lambda t: t.update({"rng.rank1.cuda": CUDA_STATE}), "but no rng.rank1.torch"),
        (lambda t: t.update({"rng.rank1.torch": torch.zeros(3)}), "rng.rank1.torch is not a"),
        (lambda t: t.update({"rng.rank01.torch": t["rng.torch"]}), "rng.rank01.torch is no random"),
        (lambda t: t.update({"rng.rank0.torch": t["rng.torch"]}), "rng.rank0.torch is no random"),
        (lambda t: t.update({"rng.rank1.task": t["rng.torch"]}), "rng.rank1.task is no random"),
        (
            lambda t: t.update(
                {"rng.rank1.torch": t["rng.torch"], "rng.rank1.cuda": CUDA_STATE[:8]}
            ),
            "rng.rank1.cuda is not",
        ),
        (lambda t: t.pop("optim.main.0.exp_avg"), "parameter 0 lacks its exp_avg state"),
        (lambda t: t.update({"optim.main.0.momentum": torch.zeros(1)}), "no slot of this run's"),
        (lambda t: t.update({"optim.main.x.step": torch.zeros(())}), "no slot of this run's"),
        (lambda t: t.update({"optim.main.9.step": torch.zeros(())}), "no slot of this run's"),
        (lambda t: t.update({"optim.main.\u00b2.step": torch.zeros(())}), "no slot of this run's"),
        (lambda t: t.update({"optim.main.0.exp_avg": torch.zeros(3)}), "its parameter needs"),
        (
            lambda t: t.update({"optim.main.0.step": torch.zeros((), dtype=torch.int64)}),
            "torch.int64",
        ),
    ],
)
def test_bad_optimizer_tensors_are_refused(change, fragment: str) -> None:
    with pytest.raises(AekitError, match=fragment):
        check(*edit_tensors(change))


CUDA_STATE = torch.zeros(16, dtype=torch.uint8)


def test_a_checkpoint_from_a_gpu_passes_on_any_machine() -> None:
    check(*edit_tensors(lambda t: t.update({"rng.cuda": CUDA_STATE})))


def test_a_checkpoint_of_three_ranks_passes() -> None:
    kinds = {"torch": torch.get_rng_state(), "cuda": CUDA_STATE}
    streams = {f"rng.rank{r}.{kind}": state for r in (1, 2) for kind, state in kinds.items()}
    check(*edit_tensors(lambda t: t.update({"rng.cuda": CUDA_STATE, **streams})))


# ------------------------------------------------------------------------------ the property

LEAVES = st.one_of(
    st.none(), st.booleans(), st.integers(-2, 3), st.integers(), st.floats(), st.text(max_size=4)
)
VALUES = st.recursive(
    LEAVES,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=6,
)


def paths(node, prefix=()):
    out = []
    items = (
        node.items()
        if isinstance(node, dict)
        else enumerate(node)
        if isinstance(node, list)
        else []
    )
    for key, value in items:
        out.append((*prefix, key))
        out += paths(value, (*prefix, key))
    return out


@st.composite
def edited(draw):
    kind = draw(st.sampled_from(["adamw", "rmsprop", "sgd"]))
    tensors, meta = saved(kind)
    tensors, meta = dict(tensors), json.loads(json.dumps(meta))
    for _ in range(draw(st.integers(1, 3))):
        if draw(st.booleans()):
            *parents, last = draw(st.sampled_from(paths(meta)))
            node = meta
            for part in parents:
                node = node[part]
            if draw(st.booleans()) or isinstance(node, list):
                node[last] = draw(VALUES)
            else:
                del node[last]
        else:
            name = draw(st.sampled_from(sorted(tensors)))
            shape = draw(st.lists(st.integers(0, 4), max_size=2))
            dtype = draw(st.sampled_from([torch.float32, torch.int64, torch.uint8]))
            if draw(st.booleans()):
                tensors.pop(name)
            else:
                tensors[name] = torch.zeros(shape, dtype=dtype)
    return kind, tensors, meta


@settings(
    max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
@given(case=edited())
def test_what_passes_the_check_can_be_restored_and_stepped(case) -> None:
    kind, tensors, meta = case
    model, optimizers = fresh(kind)
    try:
        check_resume_state(ckpt.Path("c.safetensors"), tensors, meta, optimizers)
    except AekitError as exc:
        assert "\n" not in str(exc)
        return
    ckpt.restore_optimizers(optimizers, tensors, meta["optimizers"])
    torch.set_rng_state(tensors["rng.torch"])
    torch.Generator().set_state(tensors["rng.task"])
    x = torch.rand(2, 1, 4, 4)
    model.loss(model(x), x).loss.backward()
    for opt in optimizers.values():
        opt.step()
    position = meta["position"]  # what the loop does with the position and the best loss
    assert len(range(position["epoch"], 3)) >= 0 and position["step"] >= 0
    assert meta["best"] is None or not (meta["best"] < float("-inf"))
