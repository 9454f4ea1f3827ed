"""What the fuzz property tests share: settings, the property, and ways to break inputs."""

from __future__ import annotations

import struct

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from aekit.errors import AekitError

SETTINGS = settings(
    max_examples=150,
    deadline=None,
    database=None,  # no .hypothesis/ example store in the work tree
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def result_or_aekit_error(target, data: bytes) -> object | None:
    """The property itself: a value, or an AekitError whose message is one line."""
    try:
        return target(data)
    except AekitError as exc:
        assert "\n" not in str(exc), str(exc)
        return None


@st.composite
def damaged(draw, data: bytes, max_ops: int = 4) -> bytes:
    """`data` with 0..max_ops edits, biased towards the first bytes, where headers live."""
    out = bytearray(data)
    for _ in range(draw(st.integers(0, max_ops))):
        size = len(out)
        head = st.integers(0, max(min(size, 64) - 1, 0))
        pos = draw(st.one_of(head, st.integers(0, max(size - 1, 0))))
        op = draw(st.sampled_from(["flip", "set", "truncate", "insert", "delete", "u32", "u16"]))
        if op == "flip" and size:
            out[pos] ^= 1 << draw(st.integers(0, 7))
        elif op == "set" and size:
            out[pos] = draw(st.sampled_from([0, 1, 0x7F, 0x80, 0xFF, draw(st.integers(0, 255))]))
        elif op == "truncate":
            del out[pos:]
        elif op == "insert":
            out[pos:pos] = draw(st.binary(min_size=1, max_size=16))
        elif op == "delete":
            del out[pos : pos + draw(st.integers(1, 16))]
        elif op in ("u32", "u16") and size:
            width = 4 if op == "u32" else 2
            value = draw(st.sampled_from([0, 1, 2 ** (8 * width - 1), 2 ** (8 * width) - 1]))
            order = draw(st.sampled_from([">", "<"]))
            packed = struct.pack(f"{order}{'I' if width == 4 else 'H'}", value)
            out[pos : pos + width] = packed
    return bytes(out)


def scalars() -> st.SearchStrategy:
    return st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-3, 70),
        st.integers(),
        st.sampled_from([2**16, 2**16 + 1, 2**31, 2**63, -(2**63), 10**30]),
        st.floats(allow_nan=True, allow_infinity=True),
        st.text(max_size=12),
        st.sampled_from(["conv-ae", "default", "lesson", "bce", "gaussian:0.3", "superres"]),
    )


def json_values() -> st.SearchStrategy:
    return st.recursive(
        scalars(),
        lambda inner: st.one_of(
            st.lists(inner, max_size=5), st.dictionaries(st.text(max_size=8), inner, max_size=4)
        ),
        max_leaves=12,
    )
