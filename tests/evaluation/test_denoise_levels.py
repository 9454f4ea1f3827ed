"""A denoiser's table at fixed levels, each beside a classical filter tuned at that level."""

from __future__ import annotations

from types import SimpleNamespace

import torch

from aekit.modalities.images.evaluation_denoise import evaluate_denoising, fixed_levels
from aekit.modalities.images.noise import parse_noise
from aekit.modalities.images.tasks import build_task
from aekit.models.conv_ae import ConvAE, ConvAEConfig
from tests.conftest import shapes_images


class _Split:
    def __init__(self, images):
        self.images = images

    def __len__(self) -> int:
        return len(self.images)


def test_levels_follow_the_trained_noise() -> None:
    assert [str(n) for n in fixed_levels(parse_noise("gaussian:0.05-0.5"))] == [
        "gaussian:0.1", "gaussian:0.2", "gaussian:0.3", "gaussian:0.5",
    ]  # fmt: skip
    pg = [str(n) for n in fixed_levels(parse_noise("poisson-gaussian:10-1000,0.01-0.03"))]
    assert pg == ["poisson-gaussian:10,0.02", "poisson-gaussian:100,0.02",
                  "poisson-gaussian:1000,0.02"]  # fmt: skip


def test_table_has_every_level_and_tunes_the_classical_filter_per_level() -> None:
    val, _ = shapes_images(40, seed=3)
    test, _ = shapes_images(24, seed=4)
    dataset = SimpleNamespace(val=_Split(val), train=None)
    torch.manual_seed(0)
    model = ConvAE(ConvAEConfig(image_shape=(1, 16, 16), arch="unet", channels=(8, 16), loss="mse"))
    task = build_task({"name": "denoise"})
    result = evaluate_denoising(model, dataset, "test", test, task)
    rows = {r["noise"]: r for r in result.rows}
    assert list(rows) == ["gaussian:0.1", "gaussian:0.2", "gaussian:0.3", "gaussian:0.5"]
    assert rows["gaussian:0.1"]["classical"] != rows["gaussian:0.5"]["classical"]
    # heavier noise, lower PSNR, for the untrained (near identity) model and the filters alike
    assert rows["gaussian:0.1"]["model_psnr"] > rows["gaussian:0.5"]["model_psnr"] + 6
    assert rows["gaussian:0.1"]["classical_psnr"] > rows["gaussian:0.5"]["classical_psnr"]
    for r in result.rows:
        assert abs(r["gain_db"] - (r["model_psnr"] - r["classical_psnr"])) < 1e-9
    table = result.table()
    assert "gaussian:0.3" in table and "tuned at that level" in table
    assert result.to_dict()["images"] == 24 and result.val_images == 40
