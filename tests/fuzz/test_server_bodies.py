"""The explorer's request bodies (aekit serve): whatever a client sends, the answer is a 200 or a
4xx whose detail is one line, never a 500 or an exception out of the app.

Requests go through fuzz/targets.py's `server` target: FastAPI's TestClient over `create_app` on
three tiny runs (a conditional VAE, a denoiser, an upscaler), with raise_server_exceptions on.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fuzz import seeds, targets
from tests.fuzz.strategies import SETTINGS, damaged, json_values, result_or_aekit_error

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::UserWarning")

RUNS = st.integers(0, len(targets.SERVER_RUNS) - 1)
NUMBERS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(),
    st.sampled_from([0, 1, -1, 2, 3, 2**31, 2**63, 10**400]),
)


def request(mode: str, run: int, body: bytes, fields: int | None = None) -> bytes:
    head = [targets.SERVER_MODES.index(mode), run]
    return bytes(head + ([] if fields is None else [fields])) + body


def anything_or(value_strategy: st.SearchStrategy) -> st.SearchStrategy:
    return st.one_of(value_strategy, json_values())


@settings(SETTINGS, max_examples=100)
@given(
    run=RUNS,
    body=st.one_of(
        st.fixed_dictionaries(
            {"z": anything_or(st.lists(NUMBERS, max_size=6))},
            optional={"label": anything_or(NUMBERS), "extra": json_values()},
        ),
        json_values(),
    ),
)
def test_decode_bodies(run: int, body) -> None:
    result_or_aekit_error(targets.server, request("decode", run, json.dumps(body).encode()))


@settings(SETTINGS, max_examples=100)
@given(
    run=RUNS,
    body=st.fixed_dictionaries(
        {},
        optional={key: anything_or(NUMBERS) for key in ("a", "b", "steps", "label", "spherical")},
    ),
)
def test_interpolate_bodies(run: int, body: dict) -> None:
    result_or_aekit_error(targets.server, request("interpolate", run, json.dumps(body).encode()))


@SETTINGS
@given(run=RUNS, mode=st.sampled_from(["decode", "interpolate", "multipart"]), body=st.binary())
def test_raw_bodies(run: int, mode: str, body: bytes) -> None:
    result_or_aekit_error(targets.server, request(mode, run, body))


IMAGES = seeds.image_seeds()


@SETTINGS
@given(
    run=RUNS,
    mode=st.sampled_from(["encode", "apply"]),
    fields=st.integers(0, 255),
    name=st.sampled_from(sorted(IMAGES)),
    data=st.data(),
)
def test_uploads(run: int, mode: str, fields: int, name: str, data: st.DataObject) -> None:
    upload = data.draw(damaged(IMAGES[name], max_ops=3))
    result_or_aekit_error(targets.server, request(mode, run, upload, fields))


@SETTINGS
@given(run=RUNS, path=st.integers(0, len(targets.QUERY_PATHS) - 1), query=st.text(max_size=40))
def test_query_strings(run: int, path: int, query: str) -> None:
    body = query.encode("utf-8", errors="surrogatepass")
    result_or_aekit_error(targets.server, request("query", run, body, path))


def test_every_seed_request_is_answered() -> None:
    for data in seeds.server_seeds().values():
        result_or_aekit_error(targets.server, data)
