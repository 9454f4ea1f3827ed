"""The code endpoints, the same for image and melody runs with a latent (an upscaler has none):

    GET  /api/scatter      the test codes on the pad's plane, with labels
    GET  /api/directions   the principal directions of the test codes (the sliders')
    POST /api/encode       multipart: an uploaded file or a test index -> code
    GET  /api/random       a code from the prior (or the fitted Gaussian)

Route annotations name request models built for this run (server/inputs.py), so this module does
without `from __future__ import annotations`: FastAPI reads annotations at registration, and
these live in create_app's scope, not in the module's globals.
"""

from typing import Annotated

import numpy as np
from fastapi import FastAPI, File, Query

from aekit.server import inputs, schemas
from aekit.server.explorer import MAX_DIRECTIONS, Explorer, ExplorerError
from aekit.server.responses import Statuses
from aekit.server.uploads import read_file, upload_name


def add_code_routes(
    app: FastAPI, explorer: Explorer, statuses: Statuses, max_upload_bytes: int
) -> None:
    melody = explorer.modality == "melody"
    noun = "test window" if melody else "test image"
    EncodeForm = inputs.encode_form(explorer)  # noqa: N806 (a class, named as one)
    RandomQuery = inputs.random_query(explorer)  # noqa: N806

    @app.get("/api/scatter", response_model=schemas.ScatterOut, responses=statuses(413, 422))
    def scatter(
        limit: Annotated[int, Query(ge=0, description="At most this many; left out, all.")] = None,
    ) -> schemas.ScatterOut:
        """The test codes on the pad's plane: the codes themselves for a 2-D latent, else their
        first two principal components (as `aekit latent-plot` draws them)."""
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

    @app.get("/api/directions", response_model=schemas.DirectionsOut, responses=statuses(413, 422))
    def directions(
        k: Annotated[int, Query(ge=1, le=MAX_DIRECTIONS, description="How many.")] = 8,
    ) -> schemas.DirectionsOut:
        """The directions the page's sliders move a code along: the first k principal
        components of the test codes, most variance first (or, without test codes, the
        first k code axes)."""
        return schemas.DirectionsOut(**explorer.directions(k))

    encode_why = {
        422: "A value this run cannot take: both a file and an index, or neither; "
        + ("a MIDI file without a 2-bar melody." if melody else "an image of another size or "
           "colour without resize=true; a conditional model's label missing with a file."),
        413: statuses.text[413] if melody else statuses.upload_413,
    }  # fmt: skip

    @app.post(
        "/api/encode", response_model=schemas.CodeOut,
        responses=statuses(400, 413, 415, 422, *statuses.index, why=encode_why),
    )  # fmt: skip
    # File(), not Form(): FastAPI documents a Form() model as x-www-form-urlencoded, which
    # cannot carry the file; File() makes it multipart/form-data, as the server reads it.
    def encode(form: Annotated[EncodeForm, File()]) -> schemas.CodeOut:
        """The code of an uploaded image or of a test image (posterior mean for variational
        models), and where it lies on the pad. Melody runs: of a test window, or of an uploaded
        MIDI file's first 2-bar window."""
        from aekit.server.melody import read_midi_upload
        from aekit.server.uploads import read_upload

        file, index, label = form.file, form.index, getattr(form, "label", None)
        if (file is None) == (index is None):
            raise ExplorerError(422, f"send either a file or a {noun} index, not both")
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
                                explorer.image_shape, form.resize)  # fmt: skip
        labels = explorer.check_label(label)
        z = explorer.encode_images(image[None], labels)[0]
        return code_out(explorer, z, label)

    fitted = not explorer.has_prior and explorer.train_images is None
    random_why = {
        409: "A plain autoencoder samples from a Gaussian fitted to its training codes, "
        "and this server has no training images: " + "; ".join(explorer.notes)
    }

    @app.get(
        "/api/random", response_model=schemas.CodeOut,
        responses=statuses(413, 422, *((409,) if fitted else ()), why=random_why),
    )  # fmt: skip
    def random(query: Annotated[RandomQuery, Query()]) -> schemas.CodeOut:
        """A random code: from N(0, I) for variational models (and the aae), else from the
        Gaussian fitted to the training codes, as `aekit generate` draws them."""
        label = getattr(query, "label", None)
        z, source = explorer.random_code(query.seed, label)
        return code_out(explorer, z, label, source)


def code_out(
    explorer: Explorer, z: np.ndarray, label: int | None, source: str | None = None
) -> schemas.CodeOut:
    point = explorer.projection.project(z[None])[0]
    return schemas.CodeOut(z=z.tolist(), point=point.tolist(), label=label, source=source)
