"""The explorer's web app: `create_app(run_dir)` returns a FastAPI app serving the page and a
JSON API over one trained run (documented at /docs, schema at /openapi.json).

    GET  /                      the explorer page (static/index.html; no build step, no CDN)
    GET  /api/info              what the run is and what the page may offer
    GET  /api/scatter ...       the code endpoints, on runs with a latent (codes.py)
    POST /api/decode ...        the image endpoints, on image runs (images.py)
    POST /api/melody/...        the melody endpoints, on melody runs (melody.py)

The OpenAPI document is the run's own: request models are built for it (inputs.py: its code
length, `label` only for conditional models, its actions) and each endpoint lists every status it
can answer on it (responses.py); endpoints the run does not have are left out, and answer 409
saying what to use instead. tests/server/test_openapi.py runs a schema-driven fuzzer
(schemathesis) against it to hold the document to what the server does.

Nothing but the page's own static folder is served from disk, and test images are addressed by
index, never by a path, so no request can reach a file outside it. Every bad request is a 4xx
whose JSON `detail` is one sentence saying what to send instead; the server keeps serving.
Bodies over `max_upload_bytes` are refused from their Content-Length before they are read, and
while reading when a client sends none.
"""

from __future__ import annotations

import math
from pathlib import Path

from fastapi import FastAPI, HTTPException, Request, UploadFile
from fastapi.encoders import jsonable_encoder
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from aekit import __version__
from aekit.errors import AekitError
from aekit.server import schemas
from aekit.server.codes import add_code_routes
from aekit.server.explorer import MAX_PIXELS, MAX_STEPS, MAX_UPLOAD_BYTES, Explorer
from aekit.server.images import add_image_routes
from aekit.server.inputs import AEKIT
from aekit.server.melody import IMAGES_INSTEAD, MELODY_INSTEAD, add_melody_routes, melody_info
from aekit.server.responses import Statuses, refuse
from aekit.server.uploads import too_large, upload_name

STATIC = Path(__file__).parent / "static"
CODE_ROUTES = [("GET", "/api/scatter"), ("GET", "/api/directions"), ("POST", "/api/encode"),
               ("GET", "/api/random")]  # fmt: skip
LATENT_IMAGE_ROUTES = [("POST", "/api/decode"), ("GET", "/api/test-image/{i}"),
                       ("POST", "/api/interpolate")]  # fmt: skip
APPLY_INSTEAD = "encode a MIDI file with /api/encode instead"
MELODY_ROUTES = [("POST", "/api/melody/decode"), ("POST", "/api/melody/audio"),
                 ("GET", "/api/melody/test-window/{i}")]  # fmt: skip


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
    statuses = Statuses(explorer, max_upload_bytes)

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    @app.get("/api/info", response_model=schemas.InfoOut, responses=statuses(413))
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

    if explorer.code_shape is not None:
        add_code_routes(app, explorer, statuses, max_upload_bytes)
    else:
        for method, path in CODE_ROUTES + LATENT_IMAGE_ROUTES:
            refuse(app, method, path, explorer.check_latent)
    if melody:
        add_melody_routes(app, explorer, statuses)
        for method, path in LATENT_IMAGE_ROUTES + [("POST", "/api/apply")]:
            instead = MELODY_INSTEAD if path != "/api/apply" else APPLY_INSTEAD
            refuse(app, method, path, lambda i=instead: explorer.check_modality("images", i))
    else:
        add_image_routes(app, explorer, statuses, max_upload_bytes)
        for method, path in MELODY_ROUTES:
            refuse(app, method, path, lambda: explorer.check_modality("melody", IMAGES_INSTEAD))
    return app


def add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(AekitError)
    async def aekit_error(request: Request, exc: AekitError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=getattr(exc, "status", 400))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        """One readable sentence in `detail` (the page shows it as is), the list in `errors`."""
        # The offending input goes back as sent, except NaN and infinity, which JSON cannot
        # carry (as floats they made this very response fail with a 500), and what is not
        # data at all (an uploaded file where a number belongs), which goes back as its type.
        errors = jsonable_encoder(
            exc.errors(), custom_encoder={Exception: str, float: finite, UploadFile: unsent}
        )
        parts = []
        for error in errors:
            kind, msg = error.get("type"), error.get("msg", "invalid")
            if kind == AEKIT:  # a sentence that names its field (inputs.py)
                parts.append(msg)
            elif kind == "json_invalid":
                why = (error.get("ctx") or {}).get("error", msg)
                parts.append(f"the body is not JSON ({why}); send a JSON object")
            else:  # loc: body, query or path, then the field, which is what a person needs
                field = ".".join(str(p) for p in error.get("loc", ())[1:])
                parts.append(f"{field or 'body'}: {msg}")
        return JSONResponse({"detail": "; ".join(parts), "errors": errors}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        """FastAPI's own 400, a body it could not parse, says what to send instead."""
        if exc.status_code == 400:
            detail = str(exc.detail).rstrip(".").lower()
            return JSONResponse(
                {"detail": f"{detail}: send UTF-8 JSON, or a multipart form to the upload "
                           "endpoints (see /docs)"},
                status_code=400,
            )  # fmt: skip
        return await http_exception_handler(request, exc)


def unsent(file: UploadFile) -> str:
    return f"<file {upload_name(file)}>"


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
