"""The statuses each endpoint documents, worded for one run: every status an endpoint can answer
on that run is in its `responses`, and none it cannot (a 404 for a test index only where there
are test images, a 409 only where there are none). Every error has one body, `ErrorOut`.

    400  the body could not be parsed (not UTF-8 JSON; a broken multipart form)
    404  no test image (test window) with that index
    409  this server lacks what the endpoint needs (test images; training images to fit codes to)
    413  the body, or an uploaded image's pixel count, is over the limit
    415  the upload is not an image (melody runs: not a MIDI file)
    422  a value the run cannot take; `detail` says which and what to send instead
    503  no audio on this server (fluidsynth or a soundfont missing)

Endpoints the run does not have (image endpoints on a melody run, melody endpoints on an image
run, the code endpoints of an upscaler) are left out of its document; `refuse` answers them with
a 409 saying what to use instead, for clients that call them all the same.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request

from aekit.server import schemas
from aekit.server.explorer import MAX_PIXELS, Explorer, ExplorerError

PNG = {200: {"content": {"image/png": {}}, "description": "A PNG image."}}
WAV = {200: {"content": {"audio/wav": {}}, "description": "A mono 16-bit WAV file."}}


class Statuses:
    """`statuses(422, 413, ..., why={422: "..."})` -> an endpoint's `responses` for this run."""

    def __init__(self, explorer: Explorer, max_upload_bytes: int) -> None:
        melody = explorer.modality == "melody"
        noun = "test window" if melody else "test image"
        test = explorer.test
        self.index = (404,) if test is not None else (409,)  # what a test index can get
        last = 0 if test is None else len(test.images) - 1
        self.text = {
            400: "The body could not be parsed: not UTF-8 JSON, or a broken multipart form.",
            404: f"No {noun} with that index: there are 0..{last}.",
            409: f"This server has no {noun}s: {'; '.join(explorer.notes) or 'none were loaded'}.",
            413: f"The body is over {max_upload_bytes:,} bytes.",
            415: "The upload is not a MIDI file." if melody else "The upload is not a PNG or JPEG.",
            422: "A value this run cannot take; `detail` says which and what to send instead.",
            503: "No audio on this server: fluidsynth or a General MIDI soundfont is missing.",
        }  # fmt: skip
        self.upload_413 = f"{self.text[413][:-1]}, or the image over {MAX_PIXELS:,} pixels."

    def __call__(
        self, *statuses: int, ok: dict[int, Any] | None = None, why: dict[int, str] | None = None
    ) -> dict[int | str, dict[str, Any]]:
        out: dict[int | str, dict[str, Any]] = dict(ok or {})
        for status in sorted(set(statuses)):
            text = (why or {}).get(status, self.text[status])
            out[status] = {"model": schemas.ErrorOut, "description": text}
        return out


def refuse(app: FastAPI, method: str, path: str, check: Callable[[], None]) -> None:
    """Answer `method path` with the error `check` raises (a 409 naming what to use instead),
    whatever the request holds, and leave it out of the OpenAPI document: this run has no such
    endpoint."""
    try:
        check()
    except ExplorerError as exc:
        error = exc
    else:
        raise AssertionError(f"{path} has nothing to refuse on this run")  # create_app's mistake

    async def refused(request: Request) -> None:
        raise ExplorerError(error.status, str(error))

    app.add_api_route(path, refused, methods=[method], include_in_schema=False)
