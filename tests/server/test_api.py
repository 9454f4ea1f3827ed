"""The explorer's JSON API through FastAPI's TestClient (no socket): every endpoint on each kind
of run, and every bad input answered with a 4xx and a clear message, after which the server
still answers a good request."""

from __future__ import annotations

import json
import shutil
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from fastapi.testclient import TestClient

from aekit.errors import AekitError
from tests.server.conftest import png, read_png, shape_png

ENDPOINTS = {"/api/info", "/api/scatter", "/api/decode", "/api/encode", "/api/random",
             "/api/test-image/{i}", "/api/interpolate", "/api/apply"}  # fmt: skip


@pytest.fixture
def client(apps):
    return lambda name: TestClient(apps(name))


def decode(c: TestClient, z, label=None) -> np.ndarray:
    body = {"z": z} if label is None else {"z": z, "label": label}  # no label key: unconditional
    response = c.post("/api/decode", json=body)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/png"
    return read_png(response.content)


def upload(c: TestClient, data: bytes, name: str = "x.png", **form):
    return c.post("/api/apply", files={"file": (name, data, "image/png")}, data=form)


def test_info_page_and_openapi(client):
    c = client("vae2")
    info = c.get("/api/info").json()
    assert info["model"] == "vae" and info["task"] == "identity"
    assert info["image_shape"] == [1, 16, 16] and info["code_shape"] == [2]
    assert info["latent"] and not info["conditional"] and info["prior"] == "prior N(0, I)"
    assert info["actions"] == ["reconstruct"] and info["test_images"] == 64
    assert info["limits"]["max_upload_bytes"] == 5 * 2**20
    schema = c.get("/openapi.json").json()
    assert set(schema["paths"]) >= ENDPOINTS
    assert "DecodeIn" in schema["components"]["schemas"]
    docs = c.get("/docs")
    assert docs.status_code == 200 and "/openapi.json" in docs.text
    assert "http://" not in docs.text and "https://" not in docs.text  # works offline
    for asset in ("/docs-static/swagger-ui-bundle.js", "/docs-static/swagger-ui.css"):
        assert c.get(asset).status_code == 200
    page = c.get("/")
    assert page.status_code == 200 and "aekit explorer" in page.text
    for asset in ("/static/explorer.js", "/static/explorer.css"):
        assert c.get(asset).status_code == 200
    assert "http://" not in page.text and "https://" not in page.text  # nothing from elsewhere


def test_decode_is_a_png_that_follows_the_code(client):
    c = client("vae2")
    a, b = decode(c, [0.0, 0.0]), decode(c, [3.0, -3.0])
    assert a.shape == (16, 16) and a.dtype == np.uint8
    assert np.abs(a.astype(int) - b).sum() > 0
    assert np.array_equal(decode(c, [0.0, 0.0]), a)  # deterministic


def test_scatter_is_the_codes_in_2d_and_their_principal_plane_otherwise(client):
    c = client("vae2")
    scatter = c.get("/api/scatter").json()
    assert len(scatter["points"]) == 64 and len(scatter["labels"]) == 64
    assert scatter["projection"]["axes"] == ["z[0]", "z[1]"]
    code = c.post("/api/encode", data={"index": 3}).json()
    assert np.allclose(scatter["points"][3], code["z"], atol=1e-3)  # 2-D: the point is the code
    assert len(c.get("/api/scatter", params={"limit": 10}).json()["points"]) == 10

    c = client("cae5")
    scatter = c.get("/api/scatter").json()
    proj = scatter["projection"]
    assert proj["axes"] == ["PC 1", "PC 2"] and 0 < proj["explained"] <= 1
    comps = np.array(proj["components"])
    assert comps.shape == (2, 5) and np.allclose(comps @ comps.T, np.eye(2), atol=1e-4)
    code = c.post("/api/encode", data={"index": 7}).json()
    assert np.allclose(code["point"], scatter["points"][7], atol=1e-3)
    assert len(scatter["code_mean"]) == 5 and len(scatter["code_std"]) == 5


def test_encode_an_upload_and_the_same_test_image_agree(client):
    c = client("cae5")
    image = read_png(c.get("/api/test-image/5").content)
    assert image.shape == (16, 16)
    by_upload = c.post("/api/encode", files={"file": ("t.png", png(image), "image/png")}).json()
    by_index = c.post("/api/encode", data={"index": 5}).json()
    assert np.allclose(by_upload["z"], by_index["z"], atol=1e-5)


def test_random_codes_come_from_the_prior_or_the_fitted_gaussian(client):
    c = client("vae2")
    first = c.get("/api/random", params={"seed": 3}).json()
    assert first["source"] == "prior N(0, I)" and len(first["z"]) == 2
    assert c.get("/api/random", params={"seed": 3}).json()["z"] == first["z"]
    assert c.get("/api/random").json()["z"] != c.get("/api/random").json()["z"]
    c = client("cae5")
    drawn = c.get("/api/random", params={"seed": 0}).json()
    assert drawn["source"] == "Gaussian fitted to the training codes" and len(drawn["z"]) == 5
    decode(c, drawn["z"])


def test_interpolation_strip_runs_from_a_to_b(client):
    c = client("cae5")
    out = c.post("/api/interpolate", json={"a": 1, "b": 9, "steps": 6}).json()
    assert len(out["images"]) == 6 and len(out["points"]) == 6
    assert all(src.startswith("data:image/png;base64,") for src in out["images"])
    a = c.post("/api/encode", data={"index": 1}).json()
    b = c.post("/api/encode", data={"index": 9}).json()
    assert np.allclose(out["points"][0], a["point"], atol=1e-3)
    assert np.allclose(out["points"][-1], b["point"], atol=1e-3)
    spherical = c.post("/api/interpolate", json={"a": 1, "b": 9, "steps": 6, "spherical": True})
    assert spherical.status_code == 200 and spherical.json()["points"] != out["points"]


def test_apply_does_what_each_task_allows(client):
    image = shape_png(16)
    out = upload(client("vae2"), image).json()
    assert out["action"] == "reconstruct"
    assert [i["title"] for i in out["images"]] == ["your image", "reconstruction"]
    out = upload(client("denoise"), image, action="add-noise-denoise").json()
    assert [i["title"] for i in out["images"]] == [
        "your image", "with the training noise (gaussian:0.3)", "denoised"]  # fmt: skip
    assert upload(client("denoise"), image, action="denoise").json()["images"][1]["title"] == (
        "denoised"
    )
    sr = client("sr")
    out = upload(sr, image, action="downscale-upscale").json()
    assert [(i["width"], i["height"]) for i in out["images"]] == [(16, 16), (8, 8), (16, 16),
                                                                  (16, 16)]  # fmt: skip
    out = upload(sr, shape_png(8), action="upscale").json()
    assert [(i["width"], i["height"]) for i in out["images"]] == [(8, 8), (16, 16)]
    big = upload(client("vae2"), png(np.zeros((40, 30, 3), np.uint8)), resize="true").json()
    assert big["images"][0]["width"] == 16  # resized and converted to gray


def test_conditional_models_need_a_label(client):
    c = client("cvae")
    info = c.get("/api/info").json()
    assert info["conditional"] and info["num_classes"] == 2
    response = c.post("/api/decode", json={"z": [0, 0]})
    assert (
        response.status_code == 422
        and "conditioned on the class: send label 0..1" in (response.json()["detail"])
    )
    response = c.post("/api/decode", json={"z": [0, 0], "label": 2})
    assert response.status_code == 422 and "outside the trained classes 0..1" in response.text
    zero, one = decode(c, [0, 0], label=0), decode(c, [0, 0], label=1)
    assert np.abs(zero.astype(int) - one).sum() > 0  # the label changes the image
    assert c.get("/api/random").status_code == 422
    assert c.get("/api/random", params={"label": 1}).status_code == 200
    assert c.post("/api/interpolate", json={"a": 0, "b": 1, "steps": 3}).status_code == 200
    assert upload(c, shape_png(16)).status_code == 422
    assert upload(c, shape_png(16), label="1").status_code == 200


def test_an_upscaler_has_no_latent_to_explore(client):
    c = client("sr")
    info = c.get("/api/info").json()
    assert not info["latent"] and info["code_shape"] is None and info["prior"] is None
    for response in (c.post("/api/decode", json={"z": [0.0]}), c.get("/api/scatter"),
                     c.get("/api/random")):  # fmt: skip
        assert response.status_code == 409 and "upscaler" in response.json()["detail"]


NAN_BODY = '{"z": [NaN, 0]}'
INF_BODY = '{"z": [0, Infinity]}'


@pytest.mark.parametrize(
    "name, request_args, status, fragment",
    [
        ("vae2", ("post", "/api/decode", {"json": {"z": [1, 2, 3]}}), 422,
         "z has 3 values but this model's code has 2"),
        ("cae5", ("post", "/api/decode", {"json": {"z": [0.0]}}), 422,
         "z has 1 values but this model's code has 5"),
        ("vae2", ("post", "/api/decode", {"content": NAN_BODY}), 422, "finite"),
        ("vae2", ("post", "/api/decode", {"content": INF_BODY}), 422, "finite"),
        ("vae2", ("post", "/api/decode", {"json": {"z": [1e300, 0]}}), 422, "beyond"),
        ("vae2", ("post", "/api/decode", {"json": {"z": "0,0"}}), 422, "z: "),
        ("vae2", ("post", "/api/decode", {"json": {"z": ["a", 0]}}), 422, "z.0: "),
        ("vae2", ("post", "/api/decode", {"content": "{not json"}), 422, "JSON"),
        ("vae2", ("post", "/api/decode", {"json": {"z": [0, 0], "label": 1}}), 422,
         "not conditional"),
        ("vae2", ("post", "/api/apply", {"files": {"file": ("a.txt", b"hello", "text/plain")}}),
         415, "cannot read 'a.txt' as an image"),
        ("vae2", ("post", "/api/apply", {"files": {"file": ("e.png", b"", "image/png")}}), 415,
         "empty"),
        ("vae2", ("post", "/api/apply", {"files": {"file": ("t.png", b"\x89PNG\r\n\x1a\n" * 4,
                                                            "image/png")}}), 415, "t.png"),
        ("vae2", ("post", "/api/apply", {"files": {"file": ("w.png", png(np.zeros((20, 24),
                                                                        np.uint8)), "p")}}),
         422, "'w.png' is 24x20 but the model takes 16x16; send resize=true"),
        ("vae2", ("post", "/api/apply", {"files": {"file": ("c.png", png(np.zeros((16, 16, 3),
                                                                        np.uint8)), "p")}}),
         422, "is RGB but the model takes grayscale"),
        ("vae2", ("post", "/api/apply", {"files": {"file": ("x.png", shape_png(), "p")},
                                         "data": {"action": "upscale"}}), 422,
         "action 'upscale' does not suit this run"),
        ("vae2", ("post", "/api/apply", {"data": {"action": "reconstruct"}}), 422, "file: "),
        ("vae2", ("post", "/api/interpolate", {"json": {"a": 0, "b": 64}}), 404,
         "test image 64 does not exist; there are 0..63"),
        ("vae2", ("post", "/api/interpolate", {"json": {"a": 0, "b": 1, "steps": 1}}), 422,
         "steps: "),
        ("vae2", ("post", "/api/interpolate", {"json": {"a": 0, "b": 1, "steps": 65}}), 422,
         "steps: "),
        ("vae2", ("get", "/api/test-image/-1", {}), 404, "test image -1 does not exist"),
        ("vae2", ("get", "/api/test-image/abc", {}), 422, "i: "),
        ("vae2", ("post", "/api/encode", {"data": {"index": 1},
                                          "files": {"file": ("x.png", shape_png(), "p")}}), 422,
         "either a file or a test image index"),
        ("vae2", ("post", "/api/encode", {}), 422, "either a file or a test image index"),
        ("vae2", ("get", "/api/random", {"params": {"seed": -1}}), 422, "seed: "),
    ],
)  # fmt: skip
def test_bad_requests_get_a_4xx_with_a_clear_message_and_the_server_goes_on(
    client, name, request_args, status, fragment
):
    c = client(name)
    method, path, kwargs = request_args
    if "content" in kwargs:
        kwargs = {**kwargs, "headers": {"content-type": "application/json"}}
    response = getattr(c, method)(path, **kwargs)
    assert response.status_code == status, response.text
    detail = response.json()["detail"]
    assert isinstance(detail, str) and fragment in detail
    assert c.get("/api/info").status_code == 200
    assert c.post("/api/apply", files={"file": ("ok.png", shape_png(), "image/png")}).is_success


def test_uploads_over_the_limits_are_refused_before_decoding(apps, tiny_run):
    from aekit.server import create_app

    c = TestClient(apps("vae2"))
    too_big = b"\x89PNG" + bytes(5 * 2**20)
    response = upload(c, too_big)
    assert response.status_code == 413 and "over the limit of 5,242,880 bytes" in response.text
    header_only = png(np.zeros((4100, 4100), np.uint8))  # 16.8 MP, a few KB compressed
    assert len(header_only) < 100_000
    response = upload(c, header_only, resize="true")
    assert response.status_code == 413 and "over max_pixels=16000000" in response.text

    small = TestClient(create_app(tiny_run("vae2"), max_upload_bytes=1000))
    chunks = (b"x" * 600 for _ in range(3))  # no Content-Length: counted while reading
    response = small.post("/api/decode", content=chunks, headers={"content-type": "a/b"})
    assert response.status_code == 413 and "1,000 bytes" in response.json()["detail"]
    assert small.post("/api/decode", json={"z": [0, 0]}).status_code == 200


def test_a_run_without_a_model_is_one_error(no_model_run):
    from aekit.server import create_app

    with pytest.raises(AekitError, match="has no model.safetensors"):
        create_app(no_model_run)


def test_without_its_data_the_explorer_still_decodes_and_says_why(tiny_run, tmp_path):
    from aekit.server import create_app

    run = tmp_path / "moved"
    shutil.copytree(tiny_run("cae5"), run)
    config = json.loads((run / "config.json").read_text())
    config["data"]["name"] = str(tmp_path / "gone.npz")
    (run / "config.json").write_text(json.dumps(config))
    c = TestClient(create_app(run))
    info = c.get("/api/info").json()
    assert info["test_images"] == 0 and "no test images" in info["notes"][0]
    assert c.get("/api/scatter").json()["points"] == []
    decode(c, [0.0] * 5)
    response = c.post("/api/interpolate", json={"a": 0, "b": 1})
    assert response.status_code == 409 and "no test images" in response.json()["detail"]
    response = c.get("/api/random")
    assert response.status_code == 409 and "training images are not available" in response.text


def test_concurrent_decodes_are_all_answered_and_agree(client):
    c = client("cae5")
    codes = [[0.1 * (i % 4)] * 5 for i in range(32)]
    with ThreadPoolExecutor(8) as pool:
        images = list(pool.map(lambda z: decode(c, z), codes))
    for z, image in zip(codes, images, strict=True):
        assert np.array_equal(image, images[codes.index(z)])


def test_only_the_static_folder_is_served_from_disk(client):
    c = client("vae2")
    # Encoded forms only: the test client normalises a literal "/static/../x" to "/x" before
    # sending, so that case could never reach the server here; benchmarks/serve_load.py sends it
    # raw over a socket and requires a 404.
    paths = [
        "/static/%2e%2e/app.py",
        "/static/..%2Fapp.py",
        "/static/%2e%2e/%2e%2e/%2e%2e/pyproject.toml",
        "/api/test-image/..%2F..%2Fconfig.json",
    ]
    for path in paths:
        response = c.get(path)
        assert response.status_code in (404, 422), (path, response.status_code)
        assert "create_app" not in response.text and "[project]" not in response.text
