"""One contract over every registered model (DESIGN.md principle 10), each run from its own
spec: its tiny config, its dummy inputs, and flags that must tell the truth.

Image models take (B, C, H, W) pixels and give images; token models (modality "melody") take
(B, T) tokens, are scored against them, and give (B, T, V) probabilities. The few checks that
only mean something for images (image shapes, the lesson's networks) run on image models."""

from __future__ import annotations

import pytest
import torch

from aekit.errors import AekitError
from aekit.models import (
    MODELS,
    SPECS,
    AEOutput,
    DiagonalGaussian,
    LossOutput,
    build_model,
    spec_for,
    spec_of,
)
from aekit.runtime import cpu_runtime
from aekit.training.config import TrainConfig
from aekit.training.steps import StepContext, build_optimizers, training_step


def images(name: str) -> bool:
    return spec_of(name).modality == "images"


def tiny(name: str, shape=(1, 8, 8)) -> dict:
    """The spec's tiny config, at an image shape for image models."""
    extra = {"image_shape": list(shape)} if images(name) else {}
    return {**spec_of(name).tiny, **extra}


def inputs_for(model, n: int):
    """(x, y) from the model's own spec: labels for conditional models, None for the others."""
    return spec_for(model).dummy_inputs(n, model.config)


def target_for(model, x: torch.Tensor) -> torch.Tensor:
    """What the loss compares the output with: any image of the output's shape, or (tokens)
    the input sequence itself."""
    if images(spec_for(model).name):
        return torch.rand(x.shape[0], *model.output_shape)
    return x


def recon_shape(model, n: int) -> tuple[int, ...]:
    """An image batch, or one distribution over the vocabulary per step for token models."""
    extra = () if images(spec_for(model).name) else (model.config.vocab_size,)
    return (n, *model.output_shape, *extra)


def check_outputs(model, samples: torch.Tensor) -> None:
    """Pixels in [0, 1], or tokens of the vocabulary."""
    if images(spec_for(model).name):
        assert float(samples.min()) >= 0 and float(samples.max()) <= 1
    else:
        assert samples.dtype == torch.int64
        assert int(samples.min()) >= 0 and int(samples.max()) < model.config.vocab_size


SHAPES = [(1, 28, 28), (3, 32, 32), (1, 8, 8), (1, 27, 19)]
# Image models at every image shape; token models at their own sequence length only.
CASES = [(n, s) for n in sorted(MODELS) for s in (SHAPES if images(n) else [None])]


def test_every_model_has_a_tiny_config():
    assert set(SPECS) == set(MODELS)
    for name, spec in SPECS.items():
        assert spec.tiny, name


@pytest.mark.parametrize("name", sorted(MODELS))
def test_every_spec_makes_dummy_inputs_its_model_takes(name):
    spec = spec_of(name)
    model = build_model(name, tiny(name))
    x, y = spec.dummy_inputs(3, model.config)
    if images(name):
        assert x.shape == (3, *model.config.image_shape)
    else:
        assert x.shape == (3, model.config.seq_len)
        check_outputs(model, x)
    assert (y is not None) == spec.conditional
    if y is not None:
        assert y.dtype == torch.int64 and y.tolist() == [0, 1, 2]
    assert model(x, y).recon.shape == recon_shape(model, 3)


@pytest.mark.parametrize("name, shape", CASES, ids=str)
def test_interface_shapes(name, shape):
    torch.manual_seed(0)
    model = build_model(name, tiny(name, shape))
    x, y = inputs_for(model, 5)
    if shape is not None:
        assert x.shape == (5, *shape)
    target = target_for(model, x)
    out = model(x, y)
    assert isinstance(out, AEOutput)
    assert out.recon.shape == recon_shape(model, 5)
    assert float(out.recon.detach().min()) >= 0 and float(out.recon.detach().max()) <= 1
    z = model.encode(x, y)
    if isinstance(z, DiagonalGaussian):  # variational: the posterior, with its mean as the code
        assert out.posterior is not None and out.posterior.mean.shape == z.mean.shape
        z = z.mode()
    else:
        assert out.posterior is None
    assert z.shape == (5, *model.code_shape)
    assert model.code_dim == (4 if name != "sr" else 8 * shape[1] * shape[2])
    assert model.decode(z, y).shape == recon_shape(model, 5)
    result = model.loss(out, target)
    assert isinstance(result, LossOutput)
    assert result.loss.dim() == 0 and "recon" in result.parts
    assert not result.parts["recon"].requires_grad


@pytest.mark.parametrize("name", sorted(MODELS))
def test_loss_is_a_batch_mean_of_pixel_sums(name):
    """Sum over pixels, mean over the batch: a batch of 6 scores the mean of its halves."""
    torch.manual_seed(0)
    model = build_model(name, tiny(name)).eval()
    x, y = inputs_for(model, 6)
    t = target_for(model, x)
    whole = model.loss(model(x, y), t).loss
    halves = [
        model.loss(model(x[i : i + 3], None if y is None else y[i : i + 3]), t[i : i + 3]).loss
        for i in (0, 3)
    ]
    torch.testing.assert_close(whole, sum(halves) / 2)
    # summed over the output's pixels: far above any per-pixel mean
    assert float(whole.detach()) > 0.03 * t[0].numel()


@pytest.mark.parametrize("name", sorted(MODELS))
def test_one_training_step_moves_every_parameter(name):
    """Through the trainer's own step (one optimizer, or the model's phases and optimizers),
    every parameter gets a finite gradient and changes; none is left out of every optimizer."""
    torch.manual_seed(0)
    model = build_model(name, tiny(name)).train()
    optimizers, _ = build_optimizers(model, TrainConfig(optimizer="sgd", lr=0.1))
    groups = [group for opt in optimizers.values() for group in opt.param_groups]
    optimized = {id(p) for group in groups for p in group["params"]}
    before = {k: p.detach().clone() for k, p in model.named_parameters()}
    x, y = inputs_for(model, 4)
    target = target_for(model, x)
    ctx = StepContext(optimizers, cpu_runtime("fp32"), None)
    losses = training_step(model, x, target, y, ctx)
    assert {"loss", "recon"} <= losses.keys()
    assert all(not v.requires_grad and torch.isfinite(v) for v in losses.values())
    cancelled = biases_before_batchnorm(model)
    for pname, p in model.named_parameters():
        assert id(p) in optimized, pname
        assert p.grad is not None and torch.isfinite(p.grad).all(), pname
        if pname in cancelled:  # BatchNorm subtracts the batch mean: the bias cannot matter
            assert p.grad.abs().max() < 1e-5, pname
            continue
        assert not torch.equal(p.detach(), before[pname]), pname


def biases_before_batchnorm(model: torch.nn.Module) -> set[str]:
    """Names of conv biases that feed straight into a BatchNorm in training mode (through
    shape-only layers such as a crop): their gradient is zero up to rounding, so whether SGD
    moves them depends on the thread count's rounding, not on the model."""
    from torch.nn.modules.batchnorm import _BatchNorm
    from torch.nn.modules.conv import _ConvNd

    found = set()
    for prefix, module in model.named_modules():
        if not isinstance(module, torch.nn.Sequential):
            continue
        children = list(module.named_children())
        for i, (name, child) in enumerate(children):
            if not isinstance(child, _ConvNd) or child.bias is None:
                continue
            after = [c for _, c in children[i + 1 :] if list(c.parameters()) or
                     isinstance(c, _BatchNorm)]  # fmt: skip
            if after and isinstance(after[0], _BatchNorm):
                found.add(f"{prefix}.{name}.bias" if prefix else f"{name}.bias")
    return found


@pytest.mark.parametrize("name", sorted(MODELS))
def test_capability_flags_tell_the_truth(name):
    """What the rest of aekit asks the spec instead of probing the model must be so."""
    torch.manual_seed(0)
    spec = spec_of(name)
    model = build_model(name, tiny(name)).eval()
    assert spec_for(model) is spec
    x, y = inputs_for(model, 3)
    # variational <=> encode returns the posterior
    assert isinstance(model.encode(x, y), DiagonalGaussian) == spec.variational
    # conditional <=> the config has num_classes (and a label is then required)
    assert hasattr(model.config, "num_classes") == spec.conditional
    if spec.conditional:
        with pytest.raises(AekitError, match="conditioned on labels"):
            model.encode(x, None)
    # has_prior <=> sample works and gives outputs of the model's output shape
    assert hasattr(model, "sample") == spec.has_prior
    if spec.has_prior:
        generator = torch.Generator().manual_seed(0)
        samples = model.sample(3, y, generator=generator)
        assert samples.shape == (3, *model.output_shape)
        check_outputs(model, samples)
        if not spec.conditional:
            with pytest.raises(AekitError, match="not conditional"):
                model.sample(3, torch.zeros(3, dtype=torch.long))
    # own_training_step <=> the model brings its step and the optimizers that step names
    assert hasattr(model, "training_step") == spec.own_training_step
    assert hasattr(model, "optimizer_groups") == spec.own_training_step


def test_lesson_preset_is_the_lesson_network():
    model = build_model("conv-ae", arch="lesson")
    assert sum(p.numel() for p in model.parameters()) == 4385  # the Keras summary's total
    assert model.code_shape == (8, 4, 4) and model.code_dim == 128
    convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [c.out_channels for c in convs] == [16, 8, 8, 8, 8, 16, 1]
    assert convs[5].padding == (0, 0)  # the unpadded conv that turns 16 into 14


def test_default_conv_code_matches_lesson_code_size():
    assert build_model("conv-ae").code_dim == 128
    assert build_model("conv-ae", latent_dim=2).code_dim == 2


@pytest.mark.parametrize(
    "name, fields, fragment",
    [
        ("conv-ae", {"latent_dim": 0}, "latent_dim must be an integer >= 1"),
        ("conv-ae", {"arch": "resnet"}, "unknown conv-ae arch"),
        ("conv-ae", {"channels": []}, "channels"),
        ("conv-ae", {"loss": "l1"}, "unknown reconstruction loss"),
        ("ae", {"latent_dim": -3}, "latent_dim"),
        ("ae", {"image_shape": [28, 28]}, "image_shape"),
        ("ae", {"depth": 3}, "unknown key"),
        ("conv-ae", {"latent_dim": "8"}, "must be an integer"),
        ("conv-aee", {}, "did you mean 'conv-ae'"),
    ],
)
def test_bad_configs_fail_with_a_clear_message(name, fields, fragment):
    with pytest.raises(AekitError, match=fragment):
        build_model(name, fields)


@pytest.mark.parametrize("arch", ["default", "lesson"])
@pytest.mark.parametrize("scale, shape", [(2, (1, 14, 14)), (4, (1, 7, 7)), (2, (3, 16, 16))])
def test_sr_upscales_by_its_factor(arch, scale, shape):
    model = build_model("sr", arch=arch, scale=scale, image_shape=list(shape))
    out = model(torch.rand(2, *shape))
    assert out.recon.shape == (2, shape[0], shape[1] * scale, shape[2] * scale)


def test_sr_lesson_preset_reuses_the_lesson_network():
    model = build_model("sr", arch="lesson", scale=2, image_shape=[1, 14, 14])
    assert sum(p.numel() for p in model.parameters()) == 4385  # the same layers, two pools
    assert model.code_shape == (8, 4, 4)  # the lesson's 4x4x8 code from a 14x14 input


def test_sr_rejects_other_scales():
    with pytest.raises(AekitError, match="scale must be 2 or 4"):
        build_model("sr", scale=3)
