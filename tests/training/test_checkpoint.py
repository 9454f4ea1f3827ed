from __future__ import annotations

import errno
import json
import os

import pytest
import torch

from aekit.atomic import DiskFullError, atomic_path, write_json_atomic
from aekit.config import RunConfig, to_dict
from aekit.errors import AekitError
from aekit.models import build_model
from aekit.training import checkpoint as ckpt


def make_run(tmp_path, **model_fields):
    fields = {"channels": [4, 8], "latent_dim": 3, "image_shape": [1, 12, 12], **model_fields}
    torch.manual_seed(0)
    model = build_model("conv-ae", fields)
    config = RunConfig(model_name="conv-ae", model=to_dict(model.config))
    write_json_atomic(tmp_path / ckpt.CONFIG, to_dict(config))
    ckpt.save_tensors_atomic(tmp_path / ckpt.WEIGHTS, model.state_dict())
    return model


def test_load_run_rebuilds_the_same_model(tmp_path):
    model = make_run(tmp_path).eval()
    run = ckpt.load_run(tmp_path)
    x = torch.rand(2, 1, 12, 12)
    assert torch.equal(run.model(x).recon, model(x).recon)
    assert run.config.model_name == "conv-ae"


def test_channels_last_weights_are_saved(tmp_path):
    model = make_run(tmp_path).to(memory_format=torch.channels_last)
    ckpt.save_tensors_atomic(tmp_path / ckpt.WEIGHTS, model.state_dict())
    assert ckpt.load_run(tmp_path).model.encoder[0].weight.is_contiguous()


def test_not_a_run_directory(tmp_path):
    with pytest.raises(AekitError, match="not an aekit run directory"):
        ckpt.load_run(tmp_path)


def test_weights_that_do_not_fit_the_config_are_refused(tmp_path):
    make_run(tmp_path)
    config = json.loads((tmp_path / ckpt.CONFIG).read_text())
    config["model"]["latent_dim"] = 5
    (tmp_path / ckpt.CONFIG).write_text(json.dumps(config))
    with pytest.raises(AekitError, match="has shape .* needs"):
        ckpt.load_run(tmp_path)


@pytest.mark.parametrize("garbage", [b"", b"\x80\x04pickle", b"\xff" * 64])
def test_corrupt_weights_are_refused(tmp_path, garbage):
    make_run(tmp_path)
    (tmp_path / ckpt.WEIGHTS).write_bytes(garbage)
    with pytest.raises(AekitError, match="not a readable safetensors file"):
        ckpt.load_run(tmp_path)


def test_config_with_unknown_model_or_keys_is_refused(tmp_path):
    make_run(tmp_path)
    config = json.loads((tmp_path / ckpt.CONFIG).read_text())
    (tmp_path / ckpt.CONFIG).write_text(json.dumps({**config, "model_name": "gan"}))
    with pytest.raises(AekitError, match="unknown model 'gan'"):
        ckpt.load_run(tmp_path)
    (tmp_path / ckpt.CONFIG).write_text(json.dumps({**config, "extra": 1}))
    with pytest.raises(AekitError, match="unknown key run.extra"):
        ckpt.load_run(tmp_path)


def test_atomic_write_leaves_the_old_file_when_writing_fails(tmp_path):
    target = tmp_path / "x.json"
    write_json_atomic(target, {"v": 1})

    class Boom(Exception):
        pass

    with pytest.raises(Boom), atomic_path(target) as tmp:
        tmp.write_text('{"v": 2')
        raise Boom
    assert json.loads(target.read_text()) == {"v": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["x.json"]  # no temp file left behind


def test_a_full_disk_leaves_the_old_file_and_says_where(tmp_path):
    target = tmp_path / "x.json"
    write_json_atomic(target, {"v": 1})
    with pytest.raises(DiskFullError) as info, atomic_path(target) as tmp:
        tmp.write_text('{"v": 2')
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    assert str(info.value) == (
        f"the disk holding {tmp_path} is full (No space left on device) while writing x.json; "
        "the previous one is intact: free some space"
    )
    assert json.loads(target.read_text()) == {"v": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["x.json"]


def test_every_file_carries_a_hash_of_its_tensors_and_metadata(tmp_path):
    tensors = {"b": torch.arange(6.0).view(2, 3), "a": torch.ones(2, dtype=torch.bfloat16)}
    ckpt.save_tensors_atomic(tmp_path / "t.safetensors", tensors, {"epoch": 1})
    loaded, meta = ckpt.load_tensors(tmp_path / "t.safetensors", require_hash=True)
    assert meta == {"epoch": 1} and all(torch.equal(loaded[k], tensors[k]) for k in tensors)
    digest = ckpt.content_hash(tensors, json.dumps({"epoch": 1}))
    assert ckpt.content_hash(loaded, json.dumps(meta)) == digest
    assert ckpt.content_hash(tensors, json.dumps({"epoch": 2})) != digest
    assert ckpt.content_hash({**tensors, "a": torch.zeros(2, dtype=torch.bfloat16)}, "{}") != (
        ckpt.content_hash(tensors, "{}")
    )


def test_replacing_a_file_can_keep_the_one_it_replaces(tmp_path):
    path, previous = tmp_path / "c.safetensors", tmp_path / "c.prev.safetensors"
    for value in (1.0, 2.0, 3.0):
        ckpt.save_tensors_atomic(path, {"w": torch.tensor([value])}, keep_previous=previous)
    assert ckpt.load_tensors(path)[0]["w"].item() == 3.0
    assert ckpt.load_tensors(previous)[0]["w"].item() == 2.0
    assert sorted(p.name for p in tmp_path.iterdir()) == [previous.name, path.name]
