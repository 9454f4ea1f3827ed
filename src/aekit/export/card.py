"""preprocessing.json: everything a user needs, beside the ONNX files, to run them without aekit.

The common half (what made it, each file's named inputs and outputs, the code, the labels of a
conditional model, the parity check) is the same for every run; the modality gives the rest,
looked up by name in `CARDS` as reports look up their page: how rows are scaled and laid out
(images), or the vocabulary and the decoding loop (melodies).
"""

from __future__ import annotations

import math
import platform
from collections.abc import Callable, Sequence
from typing import Any

import torch

from aekit import __version__
from aekit.core.spec import spec_for
from aekit.export.graphs import Graph

CARD = "preprocessing.json"
TOLERANCE = 1e-4  # the largest |torch - ONNX Runtime| an export may show on its check inputs


def common_card(
    run: Any, graphs: Sequence[Graph], parity: dict[str, Any], command: str | None,
    classes: Sequence[str] | None, opset: int,
) -> dict[str, Any]:  # fmt: skip
    """The half of the card every modality shares; `run` is a loaded run (config, model)."""
    model, config = run.model, run.config
    spec = spec_for(model)
    card: dict[str, Any] = {
        "format": "onnx",
        "opset": opset,
        "made_by": {
            "aekit": __version__,
            "torch": torch.__version__,
            "python": platform.python_version(),
            "command": command,
        },  # fmt: skip
        "run": {
            "model": config.model_name,
            "modality": config.modality,
            "dataset": config.data.name,
            "task": dict(config.task),
            "model_config": dict(config.model),
        },  # fmt: skip
        "files": {
            g.file: {
                "computes": g.summary,
                "inputs": [p.card() for p in g.inputs],
                "outputs": [p.card() for p in g.outputs],
            }
            for g in graphs
        },
        "batch": "the first axis of every input and output is the batch, of any size >= 1",
        "parity": parity,
    }
    if any(g.file == "encoder.onnx" for g in graphs):
        shape = list(model.code_shape)
        card["code"] = {
            "shape": shape, "size": math.prod(shape), "variational": spec.variational,
            "prior": "N(0, I)" if spec.has_prior else None,
        }  # fmt: skip
    if spec.conditional:
        n = int(model.config.num_classes)
        card["labels"] = {
            "input": "label", "dtype": "int64", "num_classes": n,
            "classes": list(classes) if classes else None,
            "valid": f"0..{n - 1}; the graph does not check it (aekit does): another value "
                     "gives the model a label it never saw",
        }  # fmt: skip
    return card


def image_card(run: Any) -> dict[str, Any]:
    """How images go in and come out, and what the task changes about the input."""
    from aekit.modalities.images.tasks import describe_downscale

    model, task = run.model, run.config.task
    c, h, w = model.config.image_shape
    name = task.get("name", "identity")
    what = {
        "identity": "the image to encode or reconstruct",
        "denoise": f"a noisy image: trained to remove {task.get('noise')} noise (aekit's "
                   "--noise forms) from clean images",
        "superres": f"a low-resolution image: trained on images downscaled x{task.get('scale')}"
                    f" ({describe_downscale(task)})",
    }.get(name, f"the input of the run's task {name!r}")  # fmt: skip
    notes = []
    if task.get("patch"):
        notes.append(f"trained on random {task['patch']}x{task['patch']} crops: the graph "
                     f"takes exactly {h}x{w}; cut larger images into tiles")  # fmt: skip
    if task.get("binarize"):
        notes.append("trained on binarized inputs (each pixel 0 or 1, drawn with its intensity "
                     "as the probability); intensities in [0, 1] work as inputs")  # fmt: skip
    return {
        "input": {
            "what": what, "layout": "NCHW", "shape": [c, h, w], "dtype": "float32",
            "channels": "1: grayscale; 3: RGB, as the training images were",
            "from_uint8": "x = pixels.astype(np.float32) / 255", "divide_by": 255.0,
            "range": [0.0, 1.0], "notes": notes,
        },
        "output": {
            "layout": "NCHW", "shape": list(model.output_shape), "dtype": "float32",
            "range": [0.0, 1.0], "to_uint8": "np.rint(y * 255).astype(np.uint8)",
            "multiply_by": 255.0,
        },
    }  # fmt: skip


NOTE_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")


def melody_card(run: Any) -> dict[str, Any]:
    """The token vocabulary and the decoding loop a melody model's decoder step needs."""
    from aekit.modalities.melody import tokens as tk

    c = run.model.config
    names = []  # token id -> what it means; a list, so the JSON keeps the ids in order
    for token in range(c.vocab_size):
        if token == tk.HOLD:
            names.append("hold: the note (or silence) of the step before goes on")
        elif token == tk.NOTE_OFF:
            names.append("note-off: the sounding note ends")
        elif token >= tk.VOCAB:  # a model built wider than the melody tokens
            names.append("not a melody token")
        else:
            pitch = tk.token_to_pitch(token)
            names.append(f"note-on MIDI {pitch} ({NOTE_NAMES[pitch % 12]}{pitch // 12 - 1})")
    start = run.model.start
    return {
        "input": {
            "what": f"a window of {c.seq_len} steps: {c.seq_len // tk.STEPS_PER_BAR} bars of 4/4 "
            "in 16th notes, one token per step (monophonic)",
            "dtype": "int64",
            "shape": [c.seq_len],
        },  # fmt: skip
        "vocabulary": {
            "size": c.vocab_size,
            "start_token": start,
            "tokens": names,
            "pitch_rule": f"token t >= {tk.FIRST_PITCH_TOKEN} starts MIDI pitch "
            f"t - {tk.FIRST_PITCH_TOKEN} + {tk.MIN_PITCH}",
            "steps_per_bar": tk.STEPS_PER_BAR,
            "step": "a 16th note",
        },  # fmt: skip
        "decoding": {
            "steps": c.seq_len,
            "first_step": f"token = [[{start}]] (start) per row, h = c = zeros "
            f"({c.dec_layers}, batch, {c.dec_hidden}) float32",
            "each_step": "logits, h, c = decoder(code, token, h, c); token = the chosen "
            "token, shape (batch, 1); repeat for every step",
            "greedy": "token = argmax(logits): what aekit reconstruct plays",
            "sampling": "token ~ softmax(logits / temperature): what aekit sample draws",
        },  # fmt: skip
    }


CARDS: dict[str, Callable[[Any], dict[str, Any]]] = {"images": image_card, "melody": melody_card}


def make_card(
    run: Any, graphs: Sequence[Graph], parity: dict[str, Any], command: str | None,
    classes: Sequence[str] | None, opset: int,
) -> dict[str, Any]:  # fmt: skip
    card = common_card(run, graphs, parity, command, classes, opset)
    card.update(CARDS[run.config.modality](run))
    return card
