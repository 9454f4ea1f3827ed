"""What a trained run exports: one torch module per file, with named inputs and outputs.

Every image family with an encoder and a decoder gives two graphs; a run that maps an image to
an image as its use (a denoiser, an upscaler) also gives the whole network:

    encoder.onnx   image (B, C, H, W) [, label (B,)] -> code          deterministic families
                                                   -> mean, logvar   variational families
    decoder.onnx   code (B, *code_shape) [, label (B,)] -> recon (B, C, H, W) in [0, 1]
    model.onnx     image [, label] -> recon         denoise (and sr, which has only this file:
                                                    its "code" is a low-res feature map)

A melody VAE decodes step by step, each step fed the token the one before chose (greedy, or
drawn at a temperature), so its decoder is exported as *one step*, and the caller runs the loop
(preprocessing.json and the README say how):

    encoder.onnx   tokens (B, T) int64 -> mean, logvar
    decoder.onnx   code (B, Z), token (B, 1) int64, h, c (layers, B, hidden)
                   -> logits (B, V), h_next, c_next
                   At the start token (vocab_size) the state is the model's initial state from
                   the code, whatever h and c hold: the first call passes zeros.

Which graphs a model has is asked of its spec's flags and the run's modality and task, never of
the family's name. Each graph also says which inputs to check it on (`feeds`): the same batch
run by torch and by ONNX Runtime, at the batch size given and at batch size 1.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from aekit.core.posterior import DiagonalGaussian
from aekit.core.spec import spec_for
from aekit.errors import AekitError

BATCH = "batch"  # the name of every exported graph's dynamic first axis


@dataclass(frozen=True)
class Port:
    """One named input or output of an exported graph, as preprocessing.json describes it."""

    name: str
    dtype: str  # numpy's name: "float32", "int64"
    shape: tuple[int | str, ...]  # "batch" (or another name) marks a dynamic axis
    meaning: str

    def card(self) -> dict[str, Any]:
        return {"name": self.name, "dtype": self.dtype, "shape": list(self.shape),
                "meaning": self.meaning}  # fmt: skip


Feeds = Callable[[torch.Tensor, torch.Tensor | None], list[tuple[torch.Tensor, ...]]]


@dataclass(frozen=True)
class Graph:
    """A module to export to `file`: positional inputs in the order of `inputs`, a tuple of
    outputs in the order of `outputs`; `feeds(x, y)` gives the input tuples to check it on."""

    file: str
    module: nn.Module
    inputs: tuple[Port, ...]
    outputs: tuple[Port, ...]
    summary: str  # one line: what the file computes
    feeds: Feeds

    def batch_axes(self) -> tuple[dict[int, Any], ...]:
        """torch.export's dynamic_shapes: the axes named `batch` in each input."""
        dim = torch.export.Dim(BATCH, min=1)
        return tuple({i: dim for i, s in enumerate(p.shape) if s == BATCH} for p in self.inputs)


# -- the modules exported: the model's own methods, with named tensors in and out ------------------


class Encoder(nn.Module):
    """image [, label] -> code, or (mean, logvar) for a variational model."""

    def __init__(self, model: nn.Module, conditional: bool) -> None:
        super().__init__()
        self.model, self.conditional = model, conditional

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None):
        code = self.model.encode(x, y if self.conditional else None)
        if isinstance(code, DiagonalGaussian):
            return code.mean, code.logvar  # logvar as the model clamps it (core/posterior.py)
        return (code,)


class Decoder(nn.Module):
    """code [, label] -> image in [0, 1] (the decoder's sigmoid included)."""

    def __init__(self, model: nn.Module, conditional: bool) -> None:
        super().__init__()
        self.model, self.conditional = model, conditional

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None):
        return (self.model.decode(z, y if self.conditional else None),)


class Whole(nn.Module):
    """image [, label] -> output image: the model's forward in evaluation mode (a variational
    model decodes its posterior mean), what `aekit denoise` and `aekit upscale` run."""

    def __init__(self, model: nn.Module, conditional: bool) -> None:
        super().__init__()
        self.model, self.conditional = model, conditional

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None):
        return (self.model(x, y if self.conditional else None).recon,)


class TokenDecoderStep(nn.Module):
    """One step of a token decoder: (code, token, h, c) -> (logits, h, c). Where the token is
    the start token the state is the model's initial state from the code, so one graph serves
    the first step and every later one, and rows of a batch may start at different steps."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, z: torch.Tensor, token: torch.Tensor, h: torch.Tensor, c: torch.Tensor):
        h0, c0 = self.model.initial_state(z)  # (layers, B, hidden)
        first = (token[:, 0] == self.model.start).view(1, -1, 1)
        state = (torch.where(first, h0, h), torch.where(first, c0, c))
        logits, (h, c) = self.model.run(token, z, state)  # logits (B, 1, V)
        return logits[:, 0], h, c


# -- which graphs a run has ------------------------------------------------------------------------


def code_of(model: nn.Module, x: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
    """The code a decoder is checked on: the encoder's, a posterior's mean."""
    code = model.encode(x, y)
    return code.mean if isinstance(code, DiagonalGaussian) else code


def with_single(*batch: torch.Tensor | None) -> list[tuple[torch.Tensor, ...]]:
    """The feed at its own batch size and its first row alone: a graph whose batch axis was
    fixed at export would fail one of the two."""
    full = tuple(t for t in batch if t is not None)
    return [full, tuple(t[:1] for t in full)]


def image_graphs(model: nn.Module, task: str) -> list[Graph]:
    """The graphs of an image model trained for `task` (identity, denoise or superres)."""
    spec = spec_for(model)
    cond = spec.conditional
    c, h, w = model.config.image_shape
    out_shape = (BATCH, *model.output_shape)
    image = Port("image", "float32", (BATCH, c, h, w), image_meaning(task))
    label = Port("label", "int64", (BATCH,), "class of each image, 0..num_classes-1")
    recon = Port("recon", "float32", out_shape, "output image, float in [0, 1]")
    ins = (image, label) if cond else (image,)
    whole = Graph(
        "model.onnx", Whole(model, cond), ins, (recon,),
        f"the whole network: {'noisy' if task == 'denoise' else 'low-res'} image -> output image",
        lambda x, y: with_single(x, y),
    )  # fmt: skip
    if task == "superres" or not getattr(model, "decodable", True):
        # an upscaler's encoder, a U-Net's deepest map: a feature map, not a code worth a file
        return [whole]
    code_shape = (BATCH, *model.code_shape)
    if spec.variational:
        codes = (
            Port("mean", "float32", code_shape, "posterior mean: the code to decode"),
            Port("logvar", "float32", code_shape, "posterior log-variance, log(sigma^2)"),
        )
        decoder_code = "a code: a posterior mean, a draw mean + exp(logvar / 2) * eps, or "
        decoder_code += "a draw from the prior N(0, I)"
    else:
        codes = (Port("code", "float32", code_shape, "the code"),)
        decoder_code = "a code, as the encoder gives"
        if spec.has_prior:
            decoder_code += ", or a draw from the prior N(0, I) the codes were matched to"
    code_in = Port("code", "float32", code_shape, decoder_code)
    graphs = [
        Graph(
            "encoder.onnx", Encoder(model, cond), ins, codes,
            "image -> " + ("posterior (mean, logvar)" if spec.variational else "code"),
            lambda x, y: with_single(x, y),
        ),
        Graph(
            "decoder.onnx", Decoder(model, cond), (code_in, label) if cond else (code_in,),
            (recon,), "code -> image",
            lambda x, y: with_single(code_of(model, x, y), y),
        ),
    ]  # fmt: skip
    return [*graphs, whole] if task == "denoise" else graphs


def image_meaning(task: str) -> str:
    return {
        "denoise": "noisy image, float in [0, 1]",
        "superres": "low-resolution image, float in [0, 1]",
    }.get(task, "image, float in [0, 1]")


def token_graphs(model: nn.Module, task: str) -> list[Graph]:
    """The graphs of a token-sequence VAE: its encoder and one decoder step."""
    c = model.config
    state = (c.dec_layers, BATCH, c.dec_hidden)
    code = (BATCH, c.latent_dim)
    step = TokenDecoderStep(model)
    encoder = Graph(
        "encoder.onnx", Encoder(model, False),
        (Port("tokens", "int64", (BATCH, c.seq_len), f"token ids 0..{c.vocab_size - 1}"),),
        (Port("mean", "float32", code, "posterior mean: the code to decode"),
         Port("logvar", "float32", code, "posterior log-variance, log(sigma^2)")),
        "tokens -> posterior (mean, logvar)", lambda x, y: with_single(x),
    )  # fmt: skip
    decoder = Graph(
        "decoder.onnx", step,
        (Port("code", "float32", code, "the code, the same at every step"),
         Port("token", "int64", (BATCH, 1),
              f"the previous step's token; {model.start} (start) at the first step"),
         Port("h", "float32", state, "LSTM hidden state from the step before (zeros at first)"),
         Port("c", "float32", state, "LSTM cell state from the step before (zeros at first)")),
        (Port("logits", "float32", (BATCH, c.vocab_size), "scores of this step's token"),
         Port("h_next", "float32", state, "hidden state for the next step"),
         Port("c_next", "float32", state, "cell state for the next step")),
        "one decoder step: (code, previous token, state) -> (logits, state)",
        lambda x, y: greedy_path(step, code_of(model, x, None), c.seq_len),
    )  # fmt: skip
    return [encoder, decoder]


def greedy_path(
    step: TokenDecoderStep, z: torch.Tensor, steps: int
) -> list[tuple[torch.Tensor, ...]]:
    """The inputs of every step of greedy decoding from codes z, as torch runs it: each step is
    checked on torch's own previous token and state, so a near tie that ONNX Runtime breaks the
    other way cannot send the comparison down another melody. The last step is also checked
    on the first row alone (batch size 1)."""
    b, layers, hidden = z.shape[0], step.model.config.dec_layers, step.model.config.dec_hidden
    token = torch.full((b, 1), step.model.start, dtype=torch.long)
    h, c = torch.zeros(layers, b, hidden), torch.zeros(layers, b, hidden)
    feeds = []
    for _ in range(steps):
        feeds.append((z, token, h, c))
        logits, h, c = step(z, token, h, c)
        token = logits.argmax(-1, keepdim=True)
    z1, t1, h1, c1 = feeds[-1]
    return [*feeds, (z1[:1], t1[:1], h1[:, :1], c1[:, :1])]


GRAPHS: dict[str, Callable[[nn.Module, str], list[Graph]]] = {
    "images": image_graphs,
    "melody": token_graphs,
}


def graphs_for(model: nn.Module, modality: str, task: str) -> list[Graph]:
    """The graphs a run exports, by its modality (and, for images, its task)."""
    if modality not in GRAPHS:
        raise AekitError(f"aekit export knows no {modality} runs (it exports {', '.join(GRAPHS)})")
    return GRAPHS[modality](model, task)
