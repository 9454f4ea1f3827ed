"""The image endpoints, on image runs only (a melody run's codes decode through server/melody.py):

    POST /api/decode            {z, label?} -> image/png            (runs with a latent)
    GET  /api/test-image/{i}    test image i as image/png            (runs with a latent)
    POST /api/interpolate       {a, b, steps, spherical} -> strip    (runs with a latent)
    POST /api/apply             multipart file -> reconstruct / denoise / upscale

Without `from __future__ import annotations`, as server/codes.py says why.
"""

from typing import Annotated

import numpy as np
from fastapi import FastAPI, File, Path
from fastapi.responses import Response

from aekit.server import inputs, schemas
from aekit.server.explorer import Explorer, data_url, png_bytes
from aekit.server.responses import PNG, Statuses
from aekit.server.uploads import apply, read_file, upload_name


def add_image_routes(
    app: FastAPI, explorer: Explorer, statuses: Statuses, max_upload_bytes: int
) -> None:
    if explorer.code_shape is not None:
        add_latent_routes(app, explorer, statuses)
    ApplyForm = inputs.apply_form(explorer)  # noqa: N806 (a class, named as one)
    apply_why = {
        413: statuses.upload_413,
        422: "A value this run cannot take: an image of another size or colour without "
        "resize=true, an action the run's task does not allow, a label (see /api/info).",
    }

    @app.post(
        "/api/apply", response_model=schemas.ApplyOut,
        responses=statuses(400, 413, 415, 422, why=apply_why),
    )  # fmt: skip
    # File(), so the document says multipart/form-data (server/codes.py's encode says why)
    def apply_upload(form: Annotated[ApplyForm, File()]) -> schemas.ApplyOut:
        """Reconstruct, denoise or upscale an uploaded image, as the run's task allows; returns
        the input and the output (and any step between) side by side."""
        data = read_file(form.file, max_upload_bytes)
        label = getattr(form, "label", None)
        images = apply(explorer, form.action, data, upload_name(form.file), form.resize, label,
                       form.seed)  # fmt: skip
        return schemas.ApplyOut(
            action=form.action,
            images=[
                schemas.TitledImage(title=t.title, src=data_url(t.image),
                                    width=t.image.shape[2], height=t.image.shape[1])
                for t in images
            ],
        )  # fmt: skip


def add_latent_routes(app: FastAPI, explorer: Explorer, statuses: Statuses) -> None:
    DecodeIn = inputs.decode_body(explorer)  # noqa: N806 (a class, named as one)
    InterpolateIn = inputs.interpolate_body(explorer)  # noqa: N806

    @app.post("/api/decode", response_class=Response,
              responses=statuses(400, 413, 422, ok=PNG))  # fmt: skip
    async def decode(body: DecodeIn) -> Response:
        """Decode one code into an image (PNG). The page calls this as the pointer moves."""
        # async: one decode is well under a millisecond of work, less than the hop to and from
        # the threadpool that a sync endpoint pays, which dominated latency under 32 clients.
        z = explorer.check_code(body.z)
        labels = explorer.check_label(getattr(body, "label", None))
        image = explorer.decode(z[None], labels)[0]
        return Response(png_bytes(image), media_type="image/png")

    @app.get("/api/test-image/{i}", response_class=Response,
             responses=statuses(413, 422, *statuses.index, ok=PNG))  # fmt: skip
    def test_image(i: Annotated[int, Path(description="0 .. test_images - 1")]) -> Response:
        """Test image i (0 .. test_images - 1), as the model sees it."""
        explorer.check_index(i)
        return Response(png_bytes(explorer.test.images[i]), media_type="image/png")

    @app.post("/api/interpolate", response_model=schemas.InterpolateOut,
              responses=statuses(400, 413, 422, *statuses.index))  # fmt: skip
    def interpolate(body: InterpolateIn) -> schemas.InterpolateOut:
        """Decode `steps` codes on the way from test image a's code to b's."""
        import torch

        from aekit.latent.generation import interpolate_codes

        a, b = explorer.check_index(body.a), explorer.check_index(body.b)
        test = explorer.test
        label = getattr(body, "label", None)
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
