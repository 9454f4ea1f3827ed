"""One `ModelSpec` per model family, and the registry of them (DESIGN.md, "Model spec").

A spec is everything the rest of aekit may know about a family without naming it: the class and
its config, a one-line description, presets, a tiny config and dummy inputs for the contract
suite, the modality it takes, and capability flags. Code that must treat families differently
asks a flag (`spec_for(model).conditional`) instead of probing the model with `hasattr`.

core/ imports nothing from models/: the families are declared in aekit/models/specs.py, which
aekit.models imports, so `spec_of` by name is reliable once aekit.models is imported (import
registry names from there). A spec names its classes by "module:Name" and imports them on first
use: listing the models (`aekit models`) never loads torch. Given classes instead (a family
defined in a notebook), it checks them at once.
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from importlib import import_module
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, TypeVar

from aekit.errors import AekitError

if TYPE_CHECKING:  # torch is imported where a tensor is made: the CLI's --help never loads it
    import torch


def random_images(n: int, config: Any, generator: torch.Generator | None = None) -> torch.Tensor:
    """(n, C, H, W) pixels in [0, 1] of the config's image_shape: any image model's input."""
    import torch

    return torch.rand(n, *config.image_shape, generator=generator)


NAME = re.compile(r"[a-z][a-z0-9]*(-[a-z0-9]+)*")  # kebab-case, as the CLI spells models


@dataclass(frozen=True, eq=False)  # eq=False: a spec is a record with an identity, not a value
class ModelSpec:
    name: str  # the registry key, what config.json records and `aekit train NAME` takes
    # The torch.nn.Module class, built as model(config), and its config dataclass: the classes,
    # or "module:Name" to import on first use (`model_class`, `config_class` resolve either).
    model: type | str
    config: type | str
    description: str  # one line for `aekit models`
    tiny: Mapping[str, Any]  # a config small enough for tests (image_shape comes from the test)
    modality: str = "images"  # the kind of data it takes: "images", "melody", ...
    variational: bool = False  # encode returns a DiagonalGaussian whose mean is the code
    has_prior: bool = False  # sample(n, y, generator) decodes draws from the prior N(0, I)
    conditional: bool = False  # takes class labels y; its config then has num_classes
    own_training_step: bool = False  # trains by its own training_step over optimizer_groups
    # `aekit train NAME --preset P`: dotted settings over the defaults, under all the user gives
    presets: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    # task name -> dotted settings over the defaults when a run's task is that one, under any
    # preset and all the user gives (conv-ae: --task denoise trains arch unet unless told)
    task_presets: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    # (n, config, generator) -> a batch of this modality's inputs for `dummy_inputs`
    make_inputs: Callable[..., torch.Tensor] = random_images

    def __post_init__(self) -> None:
        # Read-only mappings: a spec is shared by every caller, so nobody may edit it in place
        # (object.__setattr__ because the dataclass itself is frozen).
        presets = {k: MappingProxyType(dict(v)) for k, v in self.presets.items()}
        object.__setattr__(self, "tiny", MappingProxyType(dict(self.tiny)))
        object.__setattr__(self, "presets", MappingProxyType(presets))
        by_task = {k: MappingProxyType(dict(v)) for k, v in self.task_presets.items()}
        object.__setattr__(self, "task_presets", MappingProxyType(by_task))
        object.__setattr__(self, "_classes", None)
        where = f"model spec {self.name!r}"
        if not NAME.fullmatch(self.name):
            raise AekitError(f"{where}: the name must be kebab-case, e.g. 'conv-vae'")
        if not self.description or "\n" in self.description:
            raise AekitError(f"{where}: the description must be one non-empty line")
        if not (isinstance(self.model, str) or isinstance(self.config, str)):
            self.classes()  # given as classes: check them now

    @property
    def model_class(self) -> type:
        return self.classes()[0]

    @property
    def config_class(self) -> type:
        return self.classes()[1]

    def classes(self) -> tuple[type, type]:
        """(model class, config class), imported on first use and checked against the flags."""
        if self._classes is None:
            found = (resolve(self.model), resolve(self.config))
            self.check(*found)
            object.__setattr__(self, "_classes", found)
        return self._classes

    def check(self, model: type, config: type) -> None:
        """Refuse a spec whose flags or settings contradict its classes (the facts visible
        without building a model; the contract suite checks the rest on real models)."""
        where = f"model spec {self.name!r}"
        if not dataclasses.is_dataclass(config):
            raise AekitError(f"{where}: config {config!r} is not a dataclass")
        names = {f.name for f in dataclasses.fields(config)}
        facts = {  # flag: (the truth, who has or lacks what)
            "conditional": ("num_classes" in names, config.__name__, "field num_classes"),
            "has_prior": (hasattr(model, "sample"), model.__name__, "sample()"),
            "own_training_step": (
                hasattr(model, "training_step"),
                model.__name__,
                "training_step()",
            ),
        }
        for flag, (truth, who, what) in facts.items():
            if getattr(self, flag) != truth:
                has = "has" if truth else "has no"
                raise AekitError(f"{where}: {flag}={getattr(self, flag)}, but {who} {has} {what}")
        unknown = sorted(set(self.tiny) - names)
        for preset, settings in self.presets.items():
            model_keys = (k.removeprefix("model.") for k in settings if k.startswith("model."))
            unknown += [f"{k} (preset {preset})" for k in model_keys if k not in names]
        if unknown:
            raise AekitError(
                f"{where}: unknown config fields {', '.join(unknown)}; "
                f"{config.__name__} has {', '.join(sorted(names))}"
            )

    @property
    def tags(self) -> list[str]:
        """The capability flags that are set, as `aekit models` prints them."""
        flags = {
            "variational": self.variational,
            "prior": self.has_prior,
            "conditional": self.conditional,
            "own training step": self.own_training_step,
        }
        return [tag for tag, on in flags.items() if on]

    def config_fields(self) -> list[str]:
        return [f.name for f in dataclasses.fields(self.config_class)]

    def preset(self, name: str) -> dict[str, Any]:
        """The dotted settings of preset `name` (a copy), or one line naming the presets."""
        if name not in self.presets:
            choices = ", ".join(self.presets) or "none"
            raise AekitError(f"model {self.name!r} has no preset {name!r} (its presets: {choices})")
        return copy.deepcopy(dict(self.presets[name]))  # its lists are the spec's own

    def dummy_inputs(
        self, n: int, config: Any, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(x, y): n inputs for a model built from `config`, and labels 0, 1, ..., cycling
        through the classes for a conditional model (None for the others, which ignore y)."""
        import torch

        x = self.make_inputs(n, config, generator)
        y = torch.arange(n) % config.num_classes if self.conditional else None
        return x, y


def resolve(ref: type | str) -> type:
    """A class, or the class that "aekit.module:Name" names (imported now).

    Only aekit's own modules: the strings are written in models/specs.py, never read from a
    file (config.json names a family, which is looked up in SPECS), and the prefix check keeps
    it so even if a spec were built from data."""
    if not isinstance(ref, str):
        return ref
    module, _, name = ref.partition(":")
    if not module.startswith("aekit.") or not name:
        raise AekitError(f"a model spec names its classes as 'aekit.module:Name', got {ref!r}")
    return getattr(import_module(module), name)


SPECS: dict[str, ModelSpec] = {}


def register(spec: ModelSpec) -> ModelSpec:
    """Add a family to the registry; a second family under one name is a mistake, not an update."""
    if spec.name in SPECS and SPECS[spec.name] is not spec:
        raise AekitError(f"model {spec.name!r} is registered twice ({spec.model!r})")
    SPECS[spec.name] = spec
    return spec


def spec_of(name: str) -> ModelSpec:
    """The spec registered as `name`, or one line with the nearest name and all known ones."""
    if name not in SPECS:
        close = difflib.get_close_matches(name, SPECS, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise AekitError(f"unknown model {name!r}{hint}; known models: {', '.join(SPECS)}")
    return SPECS[name]


def spec_for(model: Any) -> ModelSpec:
    """The spec of a model instance: its exact class (a subclass is another family)."""
    for spec in SPECS.values():
        if type(model) is spec.model_class:
            return spec
    raise AekitError(
        f"{type(model).__name__} is not a registered model; register its ModelSpec "
        "(aekit.core.spec.register)"
    )


def num_classes(model: Any) -> int | None:
    """How many classes a conditional model takes (labels 0..n-1); None for the others."""
    return int(model.config.num_classes) if spec_for(model).conditional else None


V = TypeVar("V")


class SpecView(Mapping[str, V]):
    """A read-only, always current view of SPECS through `pick`: the registry's older dicts
    (MODELS, DESCRIPTIONS, PRESETS) stay importable without being a second copy to keep in step."""

    def __init__(self, pick: Callable[[ModelSpec], V]) -> None:
        self._pick = pick

    def __getitem__(self, name: str) -> V:
        return self._pick(SPECS[name])

    def __iter__(self) -> Iterator[str]:
        return iter(SPECS)

    def __len__(self) -> int:
        return len(SPECS)

    def __repr__(self) -> str:
        return f"SpecView({dict(self)!r})"
