"""Response bodies of the explorer's JSON API, declared as pydantic models so the OpenAPI page
(/docs) documents every field. What a request may hold depends on the run (code length, label,
actions), so request models are built per run, in server/inputs.py. Image runs and melody runs
share the code endpoints (info, scatter, directions, encode, random); what a code decodes to has
its own endpoints: /api/decode (a PNG) and /api/melody/* (tokens, piano roll, MIDI and WAV)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class FieldError(BaseModel):
    loc: list[str | int] = Field(description="Where: body, query or path, then the field.")
    msg: str
    type: str
    input: Any = None


class ErrorOut(BaseModel):
    """Every 4xx and 5xx the API answers has this body."""

    detail: str = Field(description="What was wrong and what to send instead, in one sentence.")
    errors: list[FieldError] | None = Field(
        None, description="422 from a request that breaks the schema: each fault, as listed."
    )


class Limits(BaseModel):
    max_upload_bytes: int
    max_pixels: int
    max_steps: int


class MelodyInfo(BaseModel):
    steps: int = Field(description="Tokens per window (16th-note steps): 32 is 2 bars of 4/4.")
    steps_per_bar: int
    tempo_bpm: float = Field(description="The tempo MIDI and WAV are written at.")
    audio: bool = Field(description="Whether /api/melody/audio can make WAV on this server.")
    audio_note: str | None = Field(description="Why there is no audio (fluidsynth, soundfont).")
    max_temperature: float


class InfoOut(BaseModel):
    run: str = Field(description="The run directory's name.")
    model: str = Field(description="Registered model name, e.g. vae, conv-ae, melody-vae.")
    modality: str = Field("images", description="images or melody: what a code decodes to.")
    task: str = Field(description="identity, denoise, superres (images); transpose, identity.")
    dataset: str | None
    image_shape: list[int] | None = Field(description="(C, H, W) the model takes; images only.")
    output_shape: list[int] | None = Field(description="(C, H, W) the model makes; images only.")
    latent: bool = Field(description="False for upscalers: nothing to decode or explore.")
    code_shape: list[int] | None
    code_dim: int = Field(description="Length of z in /api/decode.")
    conditional: bool = Field(description="True: decode and apply need a label.")
    num_classes: int | None = Field(description="Conditional models: labels are 0..num_classes-1.")
    classes: list[str] | None
    prior: str | None = Field(description="Where /api/random draws codes from.")
    actions: list[str] = Field(description="What /api/apply can do with an upload.")
    test_images: int = Field(
        description="Test rows (images, or melody windows) encoded for the scatter and gallery."
    )
    notes: list[str] = Field(description="Why something is missing, e.g. no test images.")
    limits: Limits
    melody: MelodyInfo | None = Field(None, description="Melody runs: what /api/melody/* does.")


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


class DirectionsOut(BaseModel):
    mean: list[float] = Field(description="The mean test code.")
    components: list[list[float]] = Field(
        description="Orthonormal rows, most variance first: z = mean + sum_k a_k components[k]."
    )
    std: list[float] = Field(description="The test codes' spread along each direction.")
    span: list[float] = Field(
        description="How far a slider goes each way from the mean: 4 std, and at least 3 for a "
        "model with a N(0, I) prior."
    )
    explained: list[float] | None = Field(
        description="Share of the code variance along each direction (None: plain code axes)."
    )
    axes: list[str] = Field(description="What each direction is called: PC 1, ... or z[i].")


class CodeOut(BaseModel):
    z: list[float]
    point: list[float] = Field(description="(u, v): where z lies on the pad.")
    label: int | None = None
    source: str | None = Field(None, description="Where a random code came from.")


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


class Note(BaseModel):
    start: int = Field(description="First step the note sounds (16th notes from the start).")
    end: int = Field(description="First step after it.")
    pitch: int = Field(description="MIDI pitch, 21..108.")


class MelodyOut(BaseModel):
    tokens: list[int] = Field(description="One per step: 0 hold, 1 note-off, 2..89 a pitch.")
    notes: list[Note]
    roll: str = Field(description="The piano roll, a PNG data: URL.")
    midi: str = Field(description="The melody as a MIDI file, an audio/midi data: URL.")
    seconds: float = Field(description="Its length at tempo_bpm.")
