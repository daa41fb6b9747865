"""``jackfield.wire._json.loads`` is ``json.loads``, only faster: same values, same errors."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given, settings, strategies as st

from jackfield.wire._json import loads

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**40), max_value=10**40)
    | st.floats(allow_nan=False)
    | st.text(),
    lambda children: st.lists(children, max_size=5)
    | st.dictionaries(st.text(max_size=8), children, max_size=5),
    max_leaves=30,
)


def same(a: Any, b: Any) -> bool:
    """Equal values of the same types all the way down (1 and 1.0 differ; NaN is NaN)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    return bool(a == b)


@settings(max_examples=400)
@given(json_values, st.booleans())
def test_agrees_with_json_on_valid_documents(value: Any, ascii_only: bool) -> None:
    text = json.dumps(value, ensure_ascii=ascii_only)
    assert same(loads(text), json.loads(text))
    assert same(loads(text.encode()), json.loads(text.encode()))


@settings(max_examples=400)
@given(st.one_of(st.text(max_size=40), st.binary(max_size=40)))
def test_agrees_with_json_on_any_input(data: str | bytes) -> None:
    try:
        expected: Any = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        # the same exception type as json.loads raises, so callers' handlers still match
        with pytest.raises(type(exc)):
            loads(data)
        return
    assert same(loads(data), expected)


def test_inputs_jiter_refuses_are_decoded_as_json_does() -> None:
    for doc in ['"\\ud800"', '"a\\udfffb"', '{"a": 1, "a": 2}', "NaN", "-Infinity"]:
        assert same(loads(doc), json.loads(doc))
    assert math.isnan(loads("NaN"))
    assert loads(b"\xef\xbb\xbf[1]") == json.loads(b"\xef\xbb\xbf[1]") == [1]
    assert loads(bytearray(b"[1, 2]")) == [1, 2]
    assert loads("1e400") == math.inf


def test_invalid_json_raises_json_decode_error() -> None:
    for doc in ["", "[1,]", "{", "nul", '{"a" 1}']:
        try:
            loads(doc)
        except json.JSONDecodeError:
            continue
        raise AssertionError(f"{doc!r} was accepted")
