"""Request and response bodies of the explorer's JSON API. Declared as pydantic models so the
OpenAPI page (/docs) documents every field, and FastAPI checks types before a handler runs;
checks that depend on the model (code length, label range) live in `Explorer`."""

from __future__ import annotations

from pydantic import BaseModel, Field

from aekit.server.explorer import MAX_STEPS


class ErrorOut(BaseModel):
    detail: str = Field(description="What was wrong and what to send instead.")


class Limits(BaseModel):
    max_upload_bytes: int
    max_pixels: int
    max_steps: int


class InfoOut(BaseModel):
    run: str = Field(description="The run directory's name.")
    model: str = Field(description="Registered model name, e.g. vae, conv-ae, cvae.")
    task: str = Field(description="identity, denoise or superres.")
    dataset: str | None
    image_shape: list[int] = Field(description="(C, H, W) the model takes.")
    output_shape: list[int] = Field(description="(C, H, W) the model makes.")
    latent: bool = Field(description="False for upscalers: nothing to decode or explore.")
    code_shape: list[int] | None
    code_dim: int = Field(description="Length of z in /api/decode.")
    conditional: bool = Field(description="True: decode and apply need a label.")
    num_classes: int | None = Field(description="Conditional models: labels are 0..num_classes-1.")
    classes: list[str] | None
    prior: str | None = Field(description="Where /api/random draws codes from.")
    actions: list[str] = Field(description="What /api/apply can do with an upload.")
    test_images: int = Field(description="Test images encoded for the scatter and the gallery.")
    notes: list[str] = Field(description="Why something is missing, e.g. no test images.")
    limits: Limits


class DecodeIn(BaseModel):
    z: list[float] = Field(description="A flat code of length code_dim (see /api/info).")
    label: int | None = Field(None, description="Class for conditional models (cvae).")


class Projection(BaseModel):
    mean: list[float]
    components: list[list[float]] = Field(
        description="Two orthonormal rows: z = mean + u * components[0] + v * components[1]."
    )
    axes: list[str]
    explained: float | None = Field(description="Share of the code variance the plane shows.")


class ScatterOut(BaseModel):
    points: list[list[float]] = Field(description="(u, v) of each test image's code.")
    labels: list[int] | None
    classes: list[str] | None
    projection: Projection
    code_mean: list[float] = Field(description="Per code value, over the test codes.")
    code_std: list[float]


class CodeOut(BaseModel):
    z: list[float]
    point: list[float] = Field(description="(u, v): where z lies on the pad.")
    label: int | None = None
    source: str | None = Field(None, description="Where a random code came from.")


class InterpolateIn(BaseModel):
    a: int = Field(description="Index of the first test image.")
    b: int = Field(description="Index of the last test image.")
    steps: int = Field(8, ge=2, le=MAX_STEPS, description="Decoded codes, both ends included.")
    spherical: bool = Field(False, description="slerp instead of a straight line.")
    label: int | None = Field(
        None, description="Conditional models: decode the strip as this class (default: a's)."
    )


class InterpolateOut(BaseModel):
    images: list[str] = Field(description="PNG data: URLs, a to b.")
    points: list[list[float]] = Field(description="The path on the pad.")


class TitledImage(BaseModel):
    title: str
    src: str = Field(description="PNG data: URL.")
    width: int
    height: int


class ApplyOut(BaseModel):
    action: str
    images: list[TitledImage] = Field(description="Input, output and any step between.")
