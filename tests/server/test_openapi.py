"""The OpenAPI document each run serves is the truth about that run: its code length, `label` only
for conditional models, its actions, only the endpoints it has, and every status an endpoint can
answer. Checked by hand for the cases issue 13 names, then by a schema-driven fuzzer
(schemathesis, in-process over ASGI) that sends what the document allows and what it forbids and
finds no mismatch between document and behaviour and no 5xx.
"""

from __future__ import annotations

import collections
import json
import logging
import shutil

import pytest
from fastapi.testclient import TestClient

JSON = {"content-type": "application/json"}
IMAGE_ONLY = {"/api/decode", "/api/test-image/{i}", "/api/interpolate", "/api/apply"}
MELODY_ONLY = {"/api/melody/decode", "/api/melody/audio", "/api/melody/test-window/{i}"}
CODES = {"/api/scatter", "/api/directions", "/api/encode", "/api/random"}


def document(app) -> dict:
    return TestClient(app).get("/openapi.json").json()


def component(doc: dict, name: str) -> dict:
    return doc["components"]["schemas"][name]


def query(doc: dict, path: str) -> dict[str, dict]:
    return {p["name"]: p for p in doc["paths"][path]["get"].get("parameters", [])}


def test_each_run_documents_its_own_code_length_label_and_actions(apps, melody_app):
    vae2, cae5, cvae = document(apps("vae2")), document(apps("cae5")), document(apps("cvae"))
    for doc, dim in ((vae2, 2), (cae5, 5), (cvae, 2)):
        z = component(doc, "DecodeIn")["properties"]["z"]
        assert (z["minItems"], z["maxItems"]) == (dim, dim)
        assert (z["items"]["minimum"], z["items"]["maximum"]) == (-1e6, 1e6)
    z = component(document(melody_app), "MelodyDecodeIn")["properties"]["z"]
    assert (z["minItems"], z["maxItems"]) == (4, 4)

    for doc in (vae2, cae5):  # unconditional: no label anywhere, and nothing else either
        for name in ("DecodeIn", "InterpolateIn", "EncodeForm", "ApplyForm"):
            schema = component(doc, name)
            assert "label" not in schema["properties"] and schema["additionalProperties"] is False
        assert "label" not in query(doc, "/api/random")
    label = {"type": "integer", "minimum": 0, "maximum": 1}
    for name, required in [("DecodeIn", True), ("InterpolateIn", False), ("EncodeForm", False),
                           ("ApplyForm", True)]:  # fmt: skip
        schema = component(cvae, name)
        assert label.items() <= schema["properties"]["label"].items()
        assert ("label" in schema.get("required", [])) is required
    assert query(cvae, "/api/random")["label"]["required"] is True

    actions = {
        "vae2": ["reconstruct"],
        "denoise": ["add-noise-denoise", "denoise"],
        "sr": ["downscale-upscale", "upscale"],
    }
    for run, expected in actions.items():
        action = component(document(apps(run)), "ApplyForm")["properties"]["action"]
        assert action.get("enum", [action.get("const")]) == expected
        assert action["default"] == expected[0]


def test_each_run_documents_only_the_endpoints_it_has(apps, melody_app):
    image, melody, sr = document(apps("vae2")), document(melody_app), document(apps("sr"))
    assert set(image["paths"]) >= IMAGE_ONLY | CODES and not MELODY_ONLY & set(image["paths"])
    assert set(melody["paths"]) >= MELODY_ONLY | CODES and not IMAGE_ONLY & set(melody["paths"])
    assert set(sr["paths"]) == {"/api/info", "/api/apply"}  # an upscaler has no latent
    for path in ("/api/apply", "/api/encode"):  # documented as what can carry a file
        assert list(image["paths"][path]["post"]["requestBody"]["content"]) == [
            "multipart/form-data"
        ]


def test_every_error_status_is_documented_with_one_body(apps, tiny_run, tmp_path):
    from aekit.server import create_app

    doc = document(apps("cvae"))
    responses = {path: op["responses"] for path, ops in doc["paths"].items()
                 for op in ops.values()}  # fmt: skip
    error = {"$ref": "#/components/schemas/ErrorOut"}
    for path, statuses in responses.items():
        for status, response in statuses.items():
            if status != "200":
                assert response["content"]["application/json"]["schema"] == error, (path, status)
    assert {"400", "413", "422"} <= set(responses["/api/decode"])
    assert {"400", "404", "413", "415", "422"} <= set(responses["/api/encode"])
    assert {"400", "413", "415", "422"} <= set(responses["/api/apply"])
    assert not any("409" in statuses for statuses in responses.values())  # it has its data
    assert set(document(apps("cae5"))["paths"]["/api/random"]["get"]["responses"]) == {
        "200", "413", "422"}  # fmt: skip

    # without its data, a run has no test images and no codes to fit: 409 there, and no 404
    run = tmp_path / "moved"
    shutil.copytree(tiny_run("cae5"), run)
    config = json.loads((run / "config.json").read_text())
    config["data"]["name"] = str(tmp_path / "gone.npz")
    (run / "config.json").write_text(json.dumps(config))
    moved = document(create_app(run))["paths"]
    for path in ("/api/test-image/{i}", "/api/interpolate", "/api/encode", "/api/random"):
        statuses = next(iter(moved[path].values()))["responses"]
        assert "409" in statuses and "404" not in statuses, path
        assert "no test images" in statuses["409"]["description"] or path == "/api/random"


@pytest.mark.parametrize(
    "run, path, body, status, says",
    [
        # issue 13's three: an undocumented 400, 0 taken for a boolean, a label the schema allowed
        ("vae2", "/api/decode", b'{"z": [0, \xff]}', 400, "send UTF-8 JSON"),
        ("vae2", "/api/interpolate", b'{"a": 0, "b": 1, "spherical": 0}', 422,
         "spherical: Input should be a valid boolean"),
        ("vae2", "/api/decode", b'{"z": [0, 0], "label": 0}', 422,
         "this VAE is not conditional; send no label"),
        ("vae2", "/api/decode", b'{"z": [0, 0], "label": null}', 422, "send no label"),
        # JSON types are JSON's: no strings for numbers, no extra keys
        ("vae2", "/api/interpolate", b'{"a": "0", "b": 1}', 422, "a: Input should be a valid"),
        ("vae2", "/api/interpolate", b'{"a": true, "b": 1}', 422, "a: Input should be a valid"),
        ("vae2", "/api/interpolate", b'{"a": 0, "b": 1, "c": 2}', 422, "c: Extra inputs"),
        ("vae2", "/api/decode", b'{"z": ["0", 0]}', 422, "z.0: Input should be a valid number"),
        ("cvae", "/api/decode", b'{"z": [0, 0], "label": "1"}', 422, "label: Input should be"),
        ("cvae", "/api/decode", b'{"z": [0, 0], "label": null}', 422,
         "conditioned on the class: send label 0..1"),
        ("cvae", "/api/interpolate", b'{"a": 0, "b": 1, "label": 2}', 422,
         "label 2 is outside the trained classes 0..1"),
    ],
)  # fmt: skip
def test_what_the_document_forbids_is_refused_in_one_sentence(apps, run, path, body, status, says):
    response = TestClient(apps(run)).post(path, content=body, headers=JSON)
    assert response.status_code == status, response.text
    detail = response.json()["detail"]
    assert says in detail and "\n" not in detail


def test_what_the_document_allows_is_taken(apps):
    c = TestClient(apps("cvae"))
    # 1.0 is an integer to JSON Schema, so to the server; a label left out of /api/interpolate
    # is test image a's
    assert c.post("/api/interpolate", json={"a": 1.0, "b": 2, "steps": 3.0}).status_code == 200
    assert c.post("/api/decode", json={"z": [1, -2], "label": 1.0}).status_code == 200
    assert c.get("/api/random", params={"label": 1, "seed": 2**53 - 1}).status_code == 200
    upload = {"file": ("x.png", b"", "image/png")}
    for resize in ("true", "false"):  # form booleans are text: true or false, nothing else
        assert c.post("/api/encode", data={"index": 3, "resize": resize}).status_code == 200
    response = c.post("/api/apply", files=upload, data={"label": 1, "resize": "1"})
    assert (
        response.status_code == 422
        and "resize: Input should be a valid boolean" in (response.json()["detail"])
    )


# ------------------------------------------------------------------ the fuzzer

# Every check schemathesis has, sending what the document allows (positive) and what it
# forbids (negative): schema-valid data must get a 2xx (or a 404 for a test index that does
# not exist), schema-invalid data a 4xx, and every answer's status, content type and body must
# be documented. Deterministic, so a failure repeats; bounded by example counts, not a clock.
EXAMPLES = 12
SCHEMATHESIS = {
    "generation": {"mode": "all", "max-examples": EXAMPLES, "deterministic": True,
                   "database": "none"},
    "checks": {"enabled": True,
               "positive_data_acceptance": {"expected-statuses": ["2xx", "404"]}},
    "phases": {"stateful": {"enabled": False}},  # no links between the operations to follow
    "output": {"sanitization": {"enabled": False}},  # it hides "tokens", a field of ours
    "operations": [
        # An upload's bytes are the one thing a schema cannot describe (a PNG of the model's
        # size, a MIDI file with a melody), nor can a form say "a file or an index": valid by
        # the document, such a request may still be refused, as documented.
        {"include-path-regex": "^/api/(encode|apply)$", "checks": {"positive_data_acceptance": {
            "expected-statuses": ["2xx", "404", "415", "422"]}}},
        # WAV is one fluidsynth run each (about half a second), and a documented 503 without it
        {"include-path": "/api/melody/audio", "generation": {"max-examples": 3},
         "checks": {"not_a_server_error": {"expected-statuses": ["2xx", "4xx", "503"]},
                    "positive_data_acceptance": {"expected-statuses": ["2xx", "503"]}}},
    ],
}  # fmt: skip
# Operations whose schema-valid requests must succeed at least once: their success does not
# hang on guessing an existing test index or a real image.
MUST_SUCCEED = {"GET /api/info", "GET /api/scatter", "GET /api/directions", "GET /api/random",
                "POST /api/decode", "POST /api/interpolate", "POST /api/melody/decode"}  # fmt: skip


def fuzz(app) -> tuple[list[str], dict[str, collections.Counter]]:
    """Run schemathesis over `app` -> (every failure, with a curl line to repeat it; the
    statuses each operation answered)."""
    import schemathesis
    from schemathesis.config import SchemathesisConfig
    from schemathesis.engine import StopReason, events, from_schema

    config = SchemathesisConfig.from_dict(SCHEMATHESIS)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app, config=config)
    failures, answered = [], collections.defaultdict(collections.Counter)
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            recorder = event.recorder
            for case_id, interaction in recorder.interactions.items():
                if interaction.response is not None:
                    case = recorder.cases[case_id].value
                    answered[case.operation.label][interaction.response.status_code] += 1
            for checks in recorder.checks.values():
                for check in checks:
                    if check.failure_info is not None:
                        found, repeat = check.failure_info.failure, check.failure_info.code_sample
                        failures.append(
                            f"{found.operation}: {check.name}: {found.title}: {found.message}\n"
                            f"  {repeat}"
                        )
        elif isinstance(event, events.NonFatalError | events.FatalError):
            failures.append(f"schemathesis: {event}")
        elif isinstance(event, events.EngineFinished):
            assert event.stop_reason == StopReason.COMPLETED, event.stop_reason
    return sorted(set(failures)), answered


@pytest.mark.parametrize("run", ["cvae", "vae2", "sr", "melody"])
def test_a_schema_driven_fuzzer_finds_no_mismatch_and_no_5xx(apps, melody_app, run):
    logging.getLogger("python_multipart").setLevel(logging.ERROR)  # its notes on broken forms
    app = melody_app if run == "melody" else apps(run)
    failures, answered = fuzz(app)
    assert not failures, "\n".join(failures)
    operations = {f"{method.upper()} {path}" for path, ops in document(app)["paths"].items()
                  for method in ops}  # fmt: skip
    assert set(answered) == operations  # every documented operation was tried
    for operation in operations & MUST_SUCCEED:
        assert any(200 <= s < 300 for s in answered[operation]), (operation, answered[operation])
    assert not any(s >= 500 and s != 503 for c in answered.values() for s in c)
