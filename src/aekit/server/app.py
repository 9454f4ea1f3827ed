"""The explorer's web app: `create_app(run_dir)` returns a FastAPI app serving the page and a
JSON API over one trained run (documented at /docs, schema at /openapi.json).

    GET  /                      the explorer page (static/index.html; no build step, no CDN)
    GET  /api/info              what the run is and what the page may offer
    GET  /api/scatter           the test codes on the pad's plane, with labels
    GET  /api/directions        the principal directions of the test codes (the sliders')
    POST /api/decode            {z, label?} -> image/png
    POST /api/encode            multipart: an uploaded file or a test index -> code
    GET  /api/random            a code from the prior (or the fitted Gaussian)
    GET  /api/test-image/{i}    test image i as image/png
    POST /api/interpolate       {a, b, steps, spherical} -> decoded strip
    POST /api/apply             multipart file -> reconstruct / denoise / upscale
    POST /api/melody/...        melody runs: decode to tokens, piano roll, MIDI; WAV (melody.py)

Nothing but the page's own static folder is served from disk, and test images are addressed by
index, never by a path, so no request can reach a file outside it. Every bad request is a 4xx
whose JSON `detail` is one sentence saying what to send instead; the server keeps serving.
Bodies over `max_upload_bytes` are refused from their Content-Length before they are read, and
while reading when a client sends none.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated

import numpy as np
from fastapi import FastAPI, File, Form, HTTPException, Query, Request, UploadFile
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from aekit import __version__
from aekit.errors import AekitError
from aekit.server import schemas
from aekit.server.explorer import (
    MAX_DIRECTIONS,
    MAX_PIXELS,
    MAX_STEPS,
    MAX_UPLOAD_BYTES,
    Explorer,
    ExplorerError,
    data_url,
    png_bytes,
)
from aekit.server.melody import MELODY_INSTEAD, add_melody_routes, melody_info
from aekit.server.uploads import apply

STATIC = Path(__file__).parent / "static"
PNG = {200: {"content": {"image/png": {}}, "description": "A PNG image."}}
ERRORS = {
    status: {"model": schemas.ErrorOut, "description": what}
    for status, what in [
        (404, "No such test image (or test window)."),
        (409, "The run cannot do this (an upscaler has no latent; no test images; an image "
              "endpoint on a melody run, or a melody endpoint on an image run)."),
        (413, "Upload or image too large."),
        (415, "The upload is not an image (for a melody run: not a MIDI file)."),
        (422, "A value the model cannot take (code length, NaN, label, image size, token, "
              "temperature; a MIDI file without a 2-bar melody)."),
    ]
}  # fmt: skip


def add_offline_docs(app: FastAPI) -> None:
    """/docs: Swagger UI from the swagger-ui-bundle package's files, so the API page works on a
    machine without internet, like the explorer page itself."""
    from fastapi.openapi.docs import get_swagger_ui_html
    from swagger_ui_bundle import swagger_ui_path

    app.mount("/docs-static", StaticFiles(directory=swagger_ui_path), name="docs-static")

    @app.get("/docs", include_in_schema=False)
    def docs() -> Response:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url, title=f"{app.title}: API",
            swagger_js_url="/docs-static/swagger-ui-bundle.js",
            swagger_css_url="/docs-static/swagger-ui.css",
            swagger_favicon_url="/docs-static/favicon-32x32.png",
        )  # fmt: skip


def create_app(
    run_dir: str | Path,
    *,
    data_dir: str | Path | None = None,
    limit: int = 2000,
    max_upload_bytes: int = MAX_UPLOAD_BYTES,
) -> FastAPI:
    """The explorer app over one run, its model loaded once, here (an AekitError if the run
    has no model). `limit` caps the test images encoded for the scatter and the gallery."""
    explorer = Explorer.load(run_dir, data_dir=data_dir, limit=limit)
    melody = explorer.modality == "melody"
    description = (
        f"Decode, encode and interpolate with the {explorer.run.config.model_name} in "
        f"{explorer.run.path.name}; apply it to uploaded images. Images come back as PNG."
    )
    if melody:
        description = (
            f"Decode codes of the {explorer.run.config.model_name} in {explorer.run.path.name} "
            "into melodies (tokens, piano roll, MIDI, WAV); encode test windows and MIDI files."
        )
    app = FastAPI(
        title="aekit explorer",
        version=__version__,
        description=description,
        docs_url=None,  # served below from local files: FastAPI's default loads a CDN
        redoc_url=None,
    )
    app.state.explorer = explorer
    app.add_middleware(BodyLimit, max_bytes=max_upload_bytes)
    add_error_handlers(app)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    add_offline_docs(app)

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    @app.get("/api/info", response_model=schemas.InfoOut)
    def info() -> schemas.InfoOut:
        """What the run is and what the page may offer for it."""
        e = explorer
        prior = None
        if e.code_shape is not None:
            prior = "prior N(0, I)" if e.has_prior else "Gaussian fitted to the training codes"
        return schemas.InfoOut(
            run=e.run.path.name, model=e.run.config.model_name, modality=e.modality,
            task=e.run.config.task["name"], dataset=e.dataset,
            image_shape=None if melody else list(e.image_shape),
            output_shape=None if melody else list(e.output_shape),
            latent=e.code_shape is not None,
            code_shape=None if e.code_shape is None else list(e.code_shape),
            code_dim=e.code_dim, conditional=e.conditional, num_classes=e.num_classes,
            classes=None if e.classes is None else list(e.classes), prior=prior,
            actions=e.actions, test_images=0 if e.test is None else len(e.test.images),
            notes=e.notes,
            limits=schemas.Limits(max_upload_bytes=max_upload_bytes, max_pixels=MAX_PIXELS,
                                  max_steps=MAX_STEPS),
            melody=melody_info(e) if melody else None,
        )  # fmt: skip

    @app.get("/api/scatter", response_model=schemas.ScatterOut, responses=ERRORS)
    def scatter(
        limit: Annotated[int | None, Query(ge=0, description="At most this many points.")] = None,
    ) -> schemas.ScatterOut:
        """The test codes on the pad's plane: the codes themselves for a 2-D latent, else their
        first two principal components (as `aekit latent-plot` draws them)."""
        explorer.check_latent()
        proj = explorer.projection
        test = explorer.test
        points = np.zeros((0, 2)) if test is None else test.points[:limit]
        labels = None if test is None or test.labels is None else test.labels[:limit]
        if test is not None and len(test.codes) > 1:
            mean, std = test.codes.mean(0), test.codes.std(0)
        else:
            mean, std = np.zeros(explorer.code_dim), np.ones(explorer.code_dim)
        return schemas.ScatterOut(
            points=np.round(points, 4).tolist(),
            labels=None if labels is None else labels.tolist(),
            classes=None if explorer.classes is None else list(explorer.classes),
            projection=schemas.Projection(
                mean=proj.mean.tolist(), components=proj.components.tolist(),
                axes=list(proj.axes), explained=proj.explained,
            ),
            code_mean=mean.tolist(), code_std=std.tolist(),
        )  # fmt: skip

    @app.get("/api/directions", response_model=schemas.DirectionsOut, responses=ERRORS)
    def directions(
        k: Annotated[int, Query(ge=1, le=MAX_DIRECTIONS, description="How many.")] = 8,
    ) -> schemas.DirectionsOut:
        """The directions the page's sliders move a code along: the first k principal
        components of the test codes, most variance first (or, without test codes, the
        first k code axes)."""
        return schemas.DirectionsOut(**explorer.directions(k))

    @app.post("/api/decode", response_class=Response, responses={**PNG, **ERRORS})
    async def decode(body: schemas.DecodeIn) -> Response:
        """Decode one code into an image (PNG). The page calls this as the pointer moves."""
        # async: one decode is well under a millisecond of work, less than the hop to and from
        # the threadpool that a sync endpoint pays, which dominated latency under 32 clients.
        explorer.check_modality("images", MELODY_INSTEAD)
        z = explorer.check_code(body.z)
        labels = explorer.check_label(body.label)
        image = explorer.decode(z[None], labels)[0]
        return Response(png_bytes(image), media_type="image/png")

    @app.post("/api/encode", response_model=schemas.CodeOut, responses=ERRORS)
    def encode(
        file: Annotated[
            UploadFile | None, File(description="A PNG or JPEG (melody runs: a MIDI file).")
        ] = None,
        index: Annotated[
            int | None, Form(description="Or a test image's (test window's) index.")
        ] = None,
        label: Annotated[int | None, Form(description="Conditional models: the class.")] = None,
        resize: Annotated[bool, Form(description="Resize/convert to the model's size.")] = False,
    ) -> schemas.CodeOut:
        """The code of an uploaded image or of a test image (posterior mean for variational
        models), and where it lies on the pad. Melody runs: of a test window, or of an uploaded
        MIDI file's first 2-bar window."""
        from aekit.server.melody import read_midi_upload
        from aekit.server.uploads import read_upload

        explorer.check_latent()
        if (file is None) == (index is None):
            raise ExplorerError(422, "send either a file or a test image index, not both")
        if index is not None:
            i = explorer.check_index(index)
            test = explorer.test
            if label is None and test.labels is not None and explorer.conditional:
                label = int(test.labels[i])
            image = test.images[i]
        elif melody:
            steps = int(explorer.model.config.seq_len)
            image = read_midi_upload(read_file(file, max_upload_bytes), upload_name(file), steps)
        else:
            image = read_upload(read_file(file, max_upload_bytes), upload_name(file),
                                explorer.image_shape, resize)  # fmt: skip
        labels = explorer.check_label(label)
        z = explorer.encode_images(image[None], labels)[0]
        return code_out(explorer, z, label)

    @app.get("/api/random", response_model=schemas.CodeOut, responses=ERRORS)
    def random(
        seed: Annotated[int | None, Query(ge=0, description="Repeatable draws.")] = None,
        label: Annotated[int | None, Query(description="Conditional models: the class.")] = None,
    ) -> schemas.CodeOut:
        """A random code: from N(0, I) for variational models (and the aae), else from the
        Gaussian fitted to the training codes, as `aekit generate` draws them."""
        z, source = explorer.random_code(seed, label)
        return code_out(explorer, z, label, source)

    @app.get("/api/test-image/{i}", response_class=Response, responses={**PNG, **ERRORS})
    def test_image(i: int) -> Response:
        """Test image i (0 .. test_images - 1), as the model sees it."""
        explorer.check_modality("images", MELODY_INSTEAD)
        explorer.check_index(i)
        return Response(png_bytes(explorer.test.images[i]), media_type="image/png")

    @app.post("/api/interpolate", response_model=schemas.InterpolateOut, responses=ERRORS)
    def interpolate(body: schemas.InterpolateIn) -> schemas.InterpolateOut:
        """Decode `steps` codes on the way from test image a's code to b's."""
        import torch

        from aekit.latent.generation import interpolate_codes

        explorer.check_modality("images", MELODY_INSTEAD)
        explorer.check_latent()
        a, b = explorer.check_index(body.a), explorer.check_index(body.b)
        test = explorer.test
        label = body.label
        if label is None and explorer.conditional:
            label = int(test.labels[a])
        labels = explorer.check_label(label, body.steps)
        za, zb = (torch.from_numpy(test.codes[i : i + 1]) for i in (a, b))
        codes = interpolate_codes(za, zb, body.steps, body.spherical).numpy()
        images = explorer.decode(codes, labels)
        return schemas.InterpolateOut(
            images=[data_url(im) for im in images],
            points=np.round(explorer.projection.project(codes), 4).tolist(),
        )

    @app.post("/api/apply", response_model=schemas.ApplyOut, responses=ERRORS)
    def apply_upload(
        file: Annotated[UploadFile, File(description="A PNG or JPEG.")],
        action: Annotated[str | None, Form(description="One of /api/info's actions.")] = None,
        resize: Annotated[bool, Form(description="Resize/convert to the model's size.")] = False,
        label: Annotated[int | None, Form(description="Conditional models: the class.")] = None,
        seed: Annotated[int, Form(ge=0, description="Seed of the added noise.")] = 0,
    ) -> schemas.ApplyOut:
        """Reconstruct, denoise or upscale an uploaded image, as the run's task allows; returns
        the input and the output (and any step between) side by side."""
        explorer.check_modality("images", "encode a MIDI file with /api/encode instead")
        chosen = action or explorer.actions[0]
        data = read_file(file, max_upload_bytes)
        images = apply(explorer, chosen, data, upload_name(file), resize, label, seed)
        return schemas.ApplyOut(
            action=chosen,
            images=[
                schemas.TitledImage(title=t.title, src=data_url(t.image),
                                    width=t.image.shape[2], height=t.image.shape[1])
                for t in images
            ],
        )  # fmt: skip

    add_melody_routes(app, explorer, ERRORS)
    return app


def code_out(
    explorer: Explorer, z: np.ndarray, label: int | None, source: str | None = None
) -> schemas.CodeOut:
    point = explorer.projection.project(z[None])[0]
    return schemas.CodeOut(z=z.tolist(), point=point.tolist(), label=label, source=source)


def upload_name(file: UploadFile) -> str:
    """The client's file name for messages only (never a path on this machine)."""
    name = (file.filename or "upload").replace("\\", "/").rsplit("/", 1)[-1]
    return repr(name[:80])


def read_file(file: UploadFile, max_bytes: int) -> bytes:
    data = file.file.read(max_bytes + 1)
    if len(data) > max_bytes:  # BodyLimit has refused it already; this holds without it
        raise ExplorerError(413, too_large(max_bytes))
    return data


def too_large(max_bytes: int) -> str:
    return f"the upload is over the limit of {max_bytes:,} bytes; send a smaller image"


def add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(AekitError)
    async def aekit_error(request: Request, exc: AekitError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=getattr(exc, "status", 400))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        """One readable sentence in `detail` (the page shows it as is), the list in `errors`."""
        # The offending input goes back as sent, except NaN and infinity, which JSON cannot
        # carry: as floats they made this very response fail with a 500.
        errors = jsonable_encoder(exc.errors(), custom_encoder={Exception: str, float: finite})
        parts = []
        for error in errors:
            where = ".".join(str(p) for p in error.get("loc", ()) if p != "body")
            parts.append(f"{where or 'body'}: {error.get('msg', 'invalid')}")
        return JSONResponse({"detail": "; ".join(parts), "errors": errors}, status_code=422)


def finite(value: float) -> float | str:
    return value if math.isfinite(value) else str(value)


class BodyLimit:
    """Refuse request bodies over `max_bytes` with 413: from Content-Length before reading a
    byte, and by counting while reading when a client sends no length (chunked). A pure ASGI
    middleware, so it sees the body before FastAPI spools a multipart upload to disk."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None:
            try:
                too_long = int(length) > self.max_bytes
            except ValueError:
                too_long = False  # the server rejects a malformed length itself
            if too_long:
                response = JSONResponse({"detail": too_large(self.max_bytes)}, status_code=413)
                await response(scope, receive, send)
                return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    # FastAPI re-raises HTTPExceptions from body reading as they are.
                    raise HTTPException(413, too_large(self.max_bytes))
            return message

        await self.app(scope, counted, send)
