"""What a request to the explorer may hold, built for one run, so that the OpenAPI document a run
serves is the truth about that run and FastAPI refuses, before a handler runs, whatever that
document does not allow:

- a code `z` has exactly code_dim numbers (minItems = maxItems), each finite and within
  +-MAX_ABS_CODE;
- `label` exists only for conditional models, as 0..num_classes-1; sent to any other model it is
  refused (the schema says additionalProperties: false);
- /api/apply's `action` is one of the run's, an enum;
- JSON bodies take JSON's own types: an integer is 1 (or 1.0, which JSON Schema counts as one),
  never "1" or true; a boolean is true or false, never 0; unknown keys are refused. Form fields
  and query parameters arrive as text: integers as digits, booleans as "true" or "false".

A value a client may leave out has no null in the schema and takes none: left out, it takes its
default. Where pydantic would word a refusal obscurely (a code's length and range, a label's range,
a label missing or not wanted) the checks raise Explorer's own one-sentence messages
(`code_problem`, `label_problem`) as errors of type "aekit", which the app shows as they are.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Annotated, Any, Literal

from fastapi import UploadFile
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    create_model,
    model_validator,
)
from pydantic_core import PydanticCustomError

from aekit.modalities.melody.tokens import VOCAB
from aekit.server.explorer import (
    MAX_ABS_CODE,
    MAX_SEED,
    MAX_STEPS,
    MAX_TEMPERATURE,
    MAX_TOKENS,
    Explorer,
    action_problem,
    code_problem,
    label_problem,
)

AEKIT = "aekit"  # the error type of the messages below: whole sentences that name the field


def refusal(message: str) -> PydanticCustomError:
    return PydanticCustomError(AEKIT, "{message}", {"message": message})


def integral(value: Any) -> Any:
    """3.0 -> 3: JSON Schema counts an integral number as an integer; strict pydantic does not."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def form_bool(value: Any) -> Any:
    return {"true": True, "false": False}.get(value, value) if isinstance(value, str) else value


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


JsonInt = Annotated[int, Strict(), BeforeValidator(integral)]
FormBool = Annotated[bool, Strict(), BeforeValidator(form_bool)]


def no_default(schema: dict[str, Any]) -> None:
    schema.pop("default", None)


def optional(annotation: Any, **field: Any) -> tuple[Any, Any]:
    """A field a client may leave out (then None) but, when sent, must be of `annotation`: the
    schema shows neither null nor a default, since a null sent is refused."""
    return annotation, Field(None, json_schema_extra=no_default, **field)


class JsonBody(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")


class FormBody(BaseModel):  # multipart forms and query strings: every value is text
    model_config = ConfigDict(extra="forbid")


def label_fields(
    explorer: Explorer, required: bool, what: str
) -> tuple[dict[str, Any], dict[str, Callable]]:
    """`label` for a conditional model (0..num_classes-1, `required` or not); for the others, no
    field and a check that refuses one in Explorer's words. -> (fields, validators)."""
    name, k = type(explorer.model).__name__, explorer.num_classes

    def label_sent(cls, data: Any) -> Any:
        if isinstance(data, Mapping):
            sent = data.get("label")
            if k is None and "label" in data:  # any label, even null: the schema has no such key
                raise refusal(label_problem(0 if sent is None else sent, name, None))
            if k is not None and required and sent is None:
                raise refusal(label_problem(None, name, k))
        return data

    validators = {"label_sent": model_validator(mode="before")(label_sent)}
    if k is None:
        return {}, validators

    def in_range(value: Any) -> Any:
        value = integral(value)
        number = value
        if isinstance(value, str):  # a form field or query parameter
            try:
                number = int(value)
            except ValueError:
                return value  # not a number: pydantic says so
        if isinstance(number, int) and not isinstance(number, bool):
            problem = label_problem(number, name, k)
            if problem:
                raise refusal(problem)
        return value

    label = Annotated[int, Field(ge=0, le=k - 1), BeforeValidator(in_range)]
    description = f"The class, 0..{k - 1}: {what}"
    field = (
        (label, Field(description=description))
        if required
        else optional(label, description=description)
    )
    return {"label": field}, validators


def model(
    name: str,
    base: type[BaseModel],
    explorer: Explorer,
    fields: dict[str, Any],
    *,
    label: str | None = None,
    label_required: bool = False,
) -> type[BaseModel]:
    """A request model named `name` (its name in the OpenAPI document). `label` says what a
    label does on this endpoint: given, conditional runs get the field and other runs refuse one
    in Explorer's words; None, the endpoint takes no label at all."""
    validators: dict[str, Callable] = {}
    if label is not None:
        extra, validators = label_fields(explorer, label_required, label)
        fields = {**fields, **extra}
    return create_model(name, __base__=base, __validators__=validators, **fields)


def code_type(explorer: Explorer) -> Any:
    """`z`: code_dim finite numbers within +-MAX_ABS_CODE."""
    dim, shape = explorer.code_dim, explorer.code_shape or ()

    def check(value: Any) -> Any:
        if isinstance(value, list) and all(is_number(v) for v in value):
            problem = code_problem(value, dim, shape)
            if problem:
                raise refusal(problem)
        return value

    number = Annotated[float, Field(ge=-MAX_ABS_CODE, le=MAX_ABS_CODE, allow_inf_nan=False)]
    return Annotated[
        list[number],
        Field(
            min_length=dim, max_length=dim,
            description=f"A flat code: {dim} numbers (code shape {list(shape)}).",
        ),
        BeforeValidator(check),
    ]  # fmt: skip


# ---------------------------------------------------------------------- JSON bodies


def decode_body(explorer: Explorer) -> type[BaseModel]:
    return model(
        "DecodeIn", JsonBody, explorer, {"z": (code_type(explorer), ...)},
        label="the class to decode the code as.", label_required=True,
    )  # fmt: skip


def interpolate_body(explorer: Explorer) -> type[BaseModel]:
    fields = {
        "a": (JsonInt, Field(description="Index of the first test image.")),
        "b": (JsonInt, Field(description="Index of the last test image.")),
        "steps": (JsonInt, Field(8, ge=2, le=MAX_STEPS,
                                 description="Decoded codes, both ends included.")),
        "spherical": (bool, Field(False, description="slerp instead of a straight line.")),
    }  # fmt: skip
    return model(
        "InterpolateIn", JsonBody, explorer, fields,
        label="decode the strip as this class (left out: test image a's).",
    )  # fmt: skip


def melody_decode_body(explorer: Explorer) -> type[BaseModel]:
    fields = {
        "z": (code_type(explorer), ...),
        "temperature": (float, Field(
            0.0, ge=0.0, le=MAX_TEMPERATURE, allow_inf_nan=False,
            description="0: greedy (each step's most likely token); above 0 each token is drawn "
            "from softmax(logits / temperature).",
        )),
        "seed": (JsonInt, Field(0, ge=0, le=MAX_SEED,
                                description="The draws' seed when temperature > 0.")),
    }  # fmt: skip
    return model("MelodyDecodeIn", JsonBody, explorer, fields)


# the bounds before the validator: after it, pydantic leaves them out of the JSON schema
Token = Annotated[int, Strict(), Field(ge=0, lt=VOCAB), BeforeValidator(integral)]


class TokensIn(JsonBody):
    tokens: list[Token] = Field(
        min_length=1, max_length=MAX_TOKENS, description="Melody tokens (as MelodyOut has them)."
    )


# ---------------------------------------------------------------------- forms and queries


def encode_form(explorer: Explorer) -> type[BaseModel]:
    noun = "test window" if explorer.modality == "melody" else "test image"
    kind = "A MIDI file" if explorer.modality == "melody" else "A PNG or JPEG"
    fields = {
        "file": optional(UploadFile, description=f"{kind}; or send `index`, not both."),
        "index": optional(int, description=f"Or a {noun}'s index, 0..test_images - 1."),
    }
    if explorer.modality == "images":
        fields["resize"] = (
            FormBool,
            Field(False, description="Resize/convert to the model's size."),
        )
    return model(
        "EncodeForm", FormBody, explorer, fields,
        label=f"needed with a file; left out with an index, the {noun}'s own.",
    )  # fmt: skip


def apply_form(explorer: Explorer) -> type[BaseModel]:
    actions = tuple(explorer.actions)

    def suits(value: Any) -> Any:
        problem = isinstance(value, str) and action_problem(
            value, actions, explorer.task.config.name
        )
        if problem:
            raise refusal(problem)
        return value

    action = Annotated[Literal[actions], BeforeValidator(suits)]
    fields = {
        "file": (UploadFile, Field(description="A PNG or JPEG.")),
        "action": (action, Field(actions[0], description="What to do with it.")),
        "resize": (FormBool, Field(False, description="Resize/convert to the model's size.")),
        "seed": (int, Field(0, ge=0, le=MAX_SEED, description="Seed of the added noise.")),
    }
    return model(
        "ApplyForm", FormBody, explorer, fields,
        label="the class to reconstruct the image as.", label_required=True,
    )  # fmt: skip


def random_query(explorer: Explorer) -> type[BaseModel]:
    fields = {"seed": optional(int, ge=0, le=MAX_SEED, description="Repeatable draws.")}
    return model(
        "RandomQuery", FormBody, explorer, fields,
        label="the class the code will be decoded as.", label_required=True,
    )  # fmt: skip
