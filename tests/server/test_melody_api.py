"""The explorer's JSON API on a melody run (FastAPI's TestClient, no socket): codes decode to
melodies (tokens, notes, piano roll, MIDI) and sound (WAV), test windows and MIDI files encode
to codes, sliders get principal directions, and every bad request is a 4xx in one sentence."""

from __future__ import annotations

import base64
import io
import shutil
import wave

import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient
from PIL import Image

from aekit.modalities.melody import render
from aekit.modalities.melody.midi import midi_bytes, read_midi
from aekit.modalities.melody.tokens import tokens_to_notes
from tests.melody.synth import midi_bytes as synth_midi

HAVE_AUDIO = shutil.which("fluidsynth") is not None and render.find_soundfont() is not None
MELODY_PATHS = {"/api/melody/decode", "/api/melody/audio", "/api/melody/test-window/{i}",
                "/api/directions"}  # fmt: skip


@pytest.fixture
def c(melody_app) -> TestClient:
    return TestClient(melody_app)


@pytest.fixture
def model(melody_app):
    return melody_app.state.explorer.model


def codes(n: int, dim: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)


def decode(c: TestClient, z, **extra) -> dict:
    response = c.post("/api/melody/decode", json={"z": list(map(float, z)), **extra})
    assert response.status_code == 200, response.text
    return response.json()


def from_data_url(url: str, kind: str) -> bytes:
    prefix = f"data:{kind};base64,"
    assert url.startswith(prefix)
    return base64.b64decode(url[len(prefix) :])


def test_info_and_openapi_describe_a_melody_run(c):
    info = c.get("/api/info").json()
    assert info["modality"] == "melody" and info["model"] == "melody-vae"
    assert info["image_shape"] is None and info["output_shape"] is None
    assert info["latent"] and info["code_dim"] == 4 and info["prior"] == "prior N(0, I)"
    assert info["actions"] == [] and info["test_images"] > 2
    assert info["melody"]["steps"] == 32 and info["melody"]["steps_per_bar"] == 16
    assert info["melody"]["audio"] is HAVE_AUDIO
    schema = c.get("/openapi.json").json()
    assert set(schema["paths"]) >= MELODY_PATHS
    assert {"MelodyOut", "MelodyDecodeIn", "TokensIn", "DirectionsOut", "MelodyInfo"} <= set(
        schema["components"]["schemas"]
    )
    audio = schema["paths"]["/api/melody/audio"]["post"]["responses"]
    assert "audio/wav" in audio["200"]["content"] and "503" in audio
    assert "503" not in schema["paths"]["/api/melody/decode"]["post"]["responses"]
    page = c.get("/")
    assert page.status_code == 200 and 'id="roll"' in page.text and 'id="audio"' in page.text


def test_decode_is_the_greedy_free_running_melody_of_the_code(c, model):
    z = codes(2, 4)
    first, second = decode(c, z[0]), decode(c, z[1])
    with torch.no_grad():
        expected = model.generate(torch.from_numpy(z), 0.0).numpy()
    assert first["tokens"] == expected[0].tolist() and second["tokens"] == expected[1].tolist()
    assert first["tokens"] != second["tokens"]  # another code, another melody
    assert decode(c, z[0]) == first  # deterministic, roll and MIDI included
    notes = [(n["start"], n["end"], n["pitch"]) for n in first["notes"]]
    assert notes == [(n.start, n.end, n.pitch) for n in tokens_to_notes(first["tokens"])]
    assert notes and first["seconds"] == 4.0
    roll = Image.open(io.BytesIO(from_data_url(first["roll"], "image/png")))
    assert roll.width > 2 * roll.height  # a piano roll: long in time
    midi = read_midi(from_data_url(first["midi"], "audio/midi"))
    assert [(n.start, n.end, n.pitch) for n in midi.notes] == notes


def test_temperature_draws_each_note_and_a_seed_repeats_it(c):
    z = codes(1, 4, seed=3)[0]
    greedy = decode(c, z)["tokens"]
    assert decode(c, z, seed=5)["tokens"] == greedy  # at temperature 0 the seed is unused
    hot = decode(c, z, temperature=5.0, seed=1)["tokens"]
    assert decode(c, z, temperature=5.0, seed=1)["tokens"] == hot
    assert decode(c, z, temperature=5.0, seed=2)["tokens"] != hot
    assert hot != greedy


@pytest.mark.skipif(not HAVE_AUDIO, reason="fluidsynth or a GM soundfont missing")
def test_audio_is_a_short_mono_wav_of_the_tokens(c):
    tokens = decode(c, codes(1, 4)[0])["tokens"]
    response = c.post("/api/melody/audio", json={"tokens": tokens})
    assert response.status_code == 200 and response.headers["content-type"] == "audio/wav"
    with wave.open(io.BytesIO(response.content)) as f:
        assert (f.getnchannels(), f.getsampwidth(), f.getframerate()) == (1, 2, 22050)
        assert f.getnframes() / f.getframerate() == pytest.approx(4.0 + render.CLIP_TAIL_S)


def test_without_fluidsynth_audio_is_a_503_saying_why(c, monkeypatch):
    monkeypatch.setattr(render.shutil, "which", lambda name: None)
    info = c.get("/api/info").json()["melody"]
    assert info["audio"] is False and "fluidsynth is not installed" in info["audio_note"]
    response = c.post("/api/melody/audio", json={"tokens": [41] + [0] * 31})
    assert response.status_code == 503
    assert response.json()["detail"].startswith("no audio: fluidsynth is not installed")
    assert decode(c, codes(1, 4)[0])["midi"].startswith("data:audio/midi;base64,")


def test_test_windows_and_midi_uploads_encode_to_their_posterior_means(c, model, melody_app):
    test = melody_app.state.explorer.test
    window = c.get("/api/melody/test-window/2").json()
    assert window["tokens"] == test.images[2].tolist()
    code = c.post("/api/encode", data={"index": 2}).json()
    with torch.no_grad():
        mean = model.encode(torch.from_numpy(test.images[2:3]).long()).mean[0].numpy()
    np.testing.assert_allclose(code["z"], mean, atol=1e-5)
    # the window as a MIDI file, uploaded: the same tokens, so the same code
    upload = ("w.mid", midi_bytes(test.images[2]), "audio/midi")
    uploaded = c.post("/api/encode", files={"file": upload}).json()
    np.testing.assert_allclose(uploaded["z"], code["z"], atol=1e-5)
    assert uploaded["point"] == pytest.approx(code["point"], abs=1e-5)


def test_directions_are_the_test_codes_principal_axes(c, melody_app):
    d = c.get("/api/directions", params={"k": 3}).json()
    components = np.array(d["components"])
    assert components.shape == (3, 4) and d["axes"] == ["PC 1", "PC 2", "PC 3"]
    np.testing.assert_allclose(components @ components.T, np.eye(3), atol=1e-5)
    test_codes = melody_app.state.explorer.test.codes
    spread = ((test_codes - d["mean"]) @ components.T).std(axis=0)
    np.testing.assert_allclose(d["std"], spread, rtol=1e-4)
    assert d["std"] == sorted(d["std"], reverse=True)  # most variance first
    assert all(s >= 3.0 for s in d["span"])  # a prior's model: sliders reach 3 prior std
    assert 0 < sum(d["explained"]) <= 1 + 1e-6


def test_image_endpoints_refuse_a_melody_run_and_melody_endpoints_an_image_run(c, apps):
    for method, path, kw in [
        ("post", "/api/decode", {"json": {"z": [0.0] * 4}}),
        ("get", "/api/test-image/0", {}),
        ("post", "/api/interpolate", {"json": {"a": 0, "b": 1}}),
        ("post", "/api/apply", {"files": {"file": ("x.png", b"x", "image/png")}}),
    ]:
        response = getattr(c, method)(path, **kw)
        assert response.status_code == 409, (path, response.text)
        assert "is a melody run, not images" in response.json()["detail"]
    images = TestClient(apps("vae2"))
    assert images.get("/api/info").json()["melody"] is None
    for method, path, kw in [
        ("post", "/api/melody/decode", {"json": {"z": [0.0, 0.0]}}),
        ("post", "/api/melody/audio", {"json": {"tokens": [41]}}),
        ("get", "/api/melody/test-window/0", {}),
    ]:
        response = getattr(images, method)(path, **kw)
        assert response.status_code == 409, (path, response.text)
        assert "is a images run, not melody" in response.json()["detail"]
    assert images.get("/api/directions", params={"k": 2}).status_code == 200


NAN_BODY = '{"z": [0, 0, NaN, 0]}'
JSON = {"content-type": "application/json"}
ONE_BAR = synth_midi([(0, 4, 60), (4, 8, 62), (8, 16, 64)])
BAD = [
    (("post", "/api/melody/decode", {"json": {"z": [0.0, 0.0]}}), 422, "z has 2 values but"),
    (("post", "/api/melody/decode", {"content": NAN_BODY, "headers": JSON}), 422, "finite"),
    (
        ("post", "/api/melody/decode", {"json": {"z": [0] * 4, "temperature": -1}}),
        422,
        "temperature: ",
    ),
    (
        ("post", "/api/melody/decode", {"json": {"z": [0] * 4, "temperature": 11}}),
        422,
        "temperature: ",
    ),
    (("post", "/api/melody/decode", {"json": {"z": [0] * 4, "seed": -1}}), 422, "seed: "),
    (("post", "/api/melody/audio", {"json": {"tokens": []}}), 422, "tokens: "),
    (("post", "/api/melody/audio", {"json": {"tokens": [41, 90]}}), 422, "tokens.1: "),
    (("post", "/api/melody/audio", {"json": {"tokens": [0] * 2049}}), 422, "tokens: "),
    (("get", "/api/melody/test-window/999", {}), 404, "test window 999 does not exist"),
    (
        ("post", "/api/encode", {"files": {"file": ("a.mid", b"not midi", "audio/midi")}}),
        415,
        "not a MIDI file",
    ),
    (
        ("post", "/api/encode", {"files": {"file": ("a.mid", ONE_BAR, "audio/midi")}}),
        422,
        "'a.mid'",
    ),
    (("get", "/api/directions", {"params": {"k": 0}}), 422, "k: "),
    (("get", "/api/directions", {"params": {"k": 17}}), 422, "k: "),
]


@pytest.mark.parametrize(("request_", "status", "says"), BAD)
def test_bad_requests_get_a_4xx_in_one_sentence_and_the_server_goes_on(c, request_, status, says):
    method, path, kw = request_
    response = getattr(c, method)(path, **kw)
    assert response.status_code == status, response.text
    detail = response.json()["detail"]
    assert says in detail and "\n" not in detail
    assert c.post("/api/melody/decode", json={"z": [0.0] * 4}).status_code == 200
