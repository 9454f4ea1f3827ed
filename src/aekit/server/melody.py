"""The explorer's melody endpoints: a code decodes to a melody you can see and hear.

    POST /api/melody/decode            {z, temperature, seed} -> tokens, notes, piano roll, MIDI
    POST /api/melody/audio             {tokens} -> audio/wav (fluidsynth), 503 without it
    GET  /api/melody/test-window/{i}   test window i, as /api/melody/decode answers

The code endpoints (info, scatter, directions, encode, random) are shared with image runs; these
exist on melody runs only (an image run answers them with a 409 and leaves them out of its
OpenAPI document, as a melody run does /api/decode and the other image endpoints).

Decoding is free running, as MelodyVAE.generate does it: greedy at temperature 0 (what a code
*means*), each token drawn at a higher temperature, from `seed`, so a request repeats exactly.
WAV takes one fluidsynth run (about half a second, mostly loading the soundfont), so the page
asks for it apart from the decode, which stays fast enough to follow a slider. Without
`from __future__ import annotations`, as server/codes.py says why.
"""

import base64
from typing import Annotated

import numpy as np
import torch
from fastapi import FastAPI, Path
from fastapi.responses import Response

from aekit.modalities.melody import render
from aekit.modalities.melody.midi import MelodyRefused, midi_bytes, read_midi
from aekit.modalities.melody.tokens import STEPS_PER_BAR, STEPS_PER_BEAT, tokens_to_notes
from aekit.server import inputs, schemas
from aekit.server.explorer import MAX_TEMPERATURE, Explorer, ExplorerError
from aekit.server.responses import WAV, Statuses

TEMPO_BPM = 120.0  # what MIDI and WAV are written at (midi.write_midi's default)
IMAGES_INSTEAD = "use /api/decode, /api/test-image and /api/interpolate for image runs"
MELODY_INSTEAD = "use /api/melody/decode, /api/melody/audio and /api/melody/test-window"


def data_url(kind: str, data: bytes) -> str:
    return f"data:{kind};base64," + base64.b64encode(data).decode("ascii")


def melody_info(explorer: Explorer) -> schemas.MelodyInfo:
    missing = render.audio_missing()
    return schemas.MelodyInfo(
        steps=int(explorer.model.config.seq_len), steps_per_bar=STEPS_PER_BAR,
        tempo_bpm=TEMPO_BPM, audio=not missing, audio_note=missing or None,
        max_temperature=MAX_TEMPERATURE,
    )  # fmt: skip


def melody_out(tokens: np.ndarray, title: str | None = None) -> schemas.MelodyOut:
    """Tokens (T,) -> what the page shows and plays of them."""
    tokens = np.asarray(tokens, dtype=np.int64)
    notes = [schemas.Note(start=n.start, end=n.end, pitch=n.pitch) for n in tokens_to_notes(tokens)]
    roll = render.piano_roll_png([tokens], title=title)
    return schemas.MelodyOut(
        tokens=tokens.tolist(), notes=notes, roll=data_url("image/png", roll),
        midi=data_url("audio/midi", midi_bytes(tokens, tempo_bpm=TEMPO_BPM)),
        seconds=len(tokens) * 60.0 / TEMPO_BPM / STEPS_PER_BEAT,
    )  # fmt: skip


def decode_melody(explorer: Explorer, z: np.ndarray, temperature: float, seed: int) -> np.ndarray:
    """A checked code (D,) -> (T,) tokens, decoded free running (MelodyVAE.generate: greedy at
    temperature 0, else each token drawn with uniforms from a generator seeded by `seed`)."""
    from aekit.core.random import module_device

    model = explorer.model
    generator = torch.Generator().manual_seed(seed) if temperature > 0 else None
    code = torch.from_numpy(z[None]).to(module_device(model))
    with explorer.lock, torch.inference_mode():
        return model.generate(code, temperature, generator)[0].cpu().numpy()


def read_midi_upload(data: bytes, name: str, steps: int) -> np.ndarray:
    """An uploaded MIDI file's first window of `steps` tokens, or an ExplorerError: 415 when
    it is not MIDI, 422 when it holds no usable window (drums only, too short, ...)."""
    try:
        windows = read_midi(data, name=name).windows()
    except MelodyRefused as exc:
        status = 415 if exc.reason == "not MIDI" else 422
        raise ExplorerError(status, f"{exc}; upload a MIDI file with a melody") from None
    if not len(windows):
        raise ExplorerError(422, f"{name} has no complete 2-bar window with notes in it")
    if windows.shape[1] != steps:
        raise ExplorerError(422, f"{name} gives {windows.shape[1]}-step windows, not {steps}")
    return windows[0]


def add_melody_routes(app: FastAPI, explorer: Explorer, statuses: Statuses) -> None:
    MelodyDecodeIn = inputs.melody_decode_body(explorer)  # noqa: N806 (a class, named as one)

    @app.post("/api/melody/decode", response_model=schemas.MelodyOut,
              responses=statuses(400, 413, 422))  # fmt: skip
    def decode(body: MelodyDecodeIn) -> schemas.MelodyOut:
        """Decode one code into a melody: its tokens and notes, a piano roll and a MIDI file.
        Fast enough to call as a slider moves; ask /api/melody/audio for the sound."""
        z = explorer.check_code(body.z)
        return melody_out(decode_melody(explorer, z, body.temperature, body.seed))

    @app.post("/api/melody/audio", response_class=Response,
              responses=statuses(400, 413, 422, 503, ok=WAV))  # fmt: skip
    def audio(body: inputs.TokensIn) -> Response:
        """A melody's tokens as sound: a mono WAV rendered by fluidsynth with a General MIDI
        soundfont. 503 (its detail says which is missing) when the server has neither; the
        MIDI from /api/melody/decode plays anywhere all the same."""
        clips, message = render.wav_clips([np.asarray(body.tokens, dtype=np.int64)],
                                          tempo_bpm=TEMPO_BPM)  # fmt: skip
        if clips is None:
            raise ExplorerError(503, message)
        return Response(clips[0], media_type="audio/wav")

    @app.get("/api/melody/test-window/{i}", response_model=schemas.MelodyOut,
             responses=statuses(413, 422, *statuses.index))  # fmt: skip
    def test_window(i: Annotated[int, Path(description="0 .. test_images - 1")]):
        """Test window i as it is in the data (what /api/encode with index i encodes)."""
        explorer.check_index(i)
        return melody_out(explorer.test.images[i])
