"""Tests for jackfield.wire._partial_json.parse_streaming_json."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings, strategies as st

from jackfield.wire._partial_json import parse_streaming_json

FAST = settings(max_examples=200, deadline=None)

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(), children, max_size=5)
    ),
    max_leaves=20,
)
json_objects = st.dictionaries(st.text(), json_values, max_size=6)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"city": "Par', {"city": "Par"}),
        ('{"city": "Paris"}', {"city": "Paris"}),
        ("x", None),
        ("[1]", None),
        ("", None),
        ("   ", None),
        ('"{"', None),
        ("{", {}),
        ('{"a": 1, "b": [1, 2', {"a": 1, "b": [1, 2]}),
        ('{"a": {"b": "c', {"a": {"b": "c"}}),
        ('  {"a": true}  ', {"a": True}),
        ('{"a": "}', {"a": "}"}),
    ],
)
def test_examples(text: str, expected: dict[str, Any] | None) -> None:
    assert parse_streaming_json(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        '{"a":' * 100_000 + "1" + "}" * 100_000,  # json.loads raises RecursionError here
        '{"a":' * 100_000 + "1" + "}" * 99_990,
        '{"a":[' * 100_000,
        '{"a": "\ud800"}',  # lone surrogate
        '{"a": "\ud800',
        '{"a": NaN}',
        '{"a": 1}garbage}',
        '{"a": "\\u12',
        "{" + "9" * 5000,
        '{"a": ' + "9" * 5000 + "}",
    ],
)
def test_hostile_inputs_never_raise(text: str) -> None:
    assert isinstance(parse_streaming_json(text), dict | None)


@FAST
@given(st.text())
def test_any_text_gives_dict_or_none(text: str) -> None:
    assert isinstance(parse_streaming_json(text), dict | None)


@FAST
@given(st.text(st.sampled_from('{}[]":,0123456789.-+eE \\nultrfasxu')))
def test_json_shaped_text_gives_dict_or_none(text: str) -> None:
    assert isinstance(parse_streaming_json(text), dict | None)


@FAST
@given(json_objects)
def test_complete_object_equals_json_loads(obj: dict[str, Any]) -> None:
    text = json.dumps(obj)
    assert parse_streaming_json(text) == json.loads(text)
    compact = json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
    assert parse_streaming_json(compact) == json.loads(compact)


@FAST
@given(json_objects)
def test_every_prefix_gives_dict_or_none(obj: dict[str, Any]) -> None:
    text = json.dumps(obj, ensure_ascii=False)
    for end in range(len(text) + 1):
        result = parse_streaming_json(text[:end])
        assert isinstance(result, dict | None)
        if end >= 1:  # every non-empty prefix starts with "{": a dict, never None
            assert isinstance(result, dict)
    assert parse_streaming_json(text) == obj


# --- as jiter's partial mode: trailing spaces kept; one object, nothing after it --------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"q": "Hello ', {"q": "Hello "}),
        ('{"q": "Hello  ', {"q": "Hello  "}),
        ('{"q": "Hello\\n', {"q": "Hello\n"}),
        ('{"q": "a", "r": " ', {"q": "a", "r": " "}),
        ('{"a": 1}  ', {"a": 1}),
        ('{"a": 1}\n', {"a": 1}),
    ],
)
def test_whitespace_inside_an_open_string_is_kept(
    text: str, expected: dict[str, Any] | None
) -> None:
    assert parse_streaming_json(text) == expected


@pytest.mark.parametrize(
    "text",
    ['{"a": 1} {"b": 2}', '{"a": 1} {"b": 2', '{"a": 1} x', '{"a": "x"} {', '{"a": 1}}'],
)
def test_a_complete_object_followed_by_more_is_not_one_object(text: str) -> None:
    assert parse_streaming_json(text) is None


@FAST
@given(json_objects)
def test_every_prefix_agrees_with_jiter_trailing_strings(obj: dict[str, Any]) -> None:
    import jiter

    text = json.dumps(obj, ensure_ascii=False)
    for end in range(1, len(text) + 1):
        prefix = text[:end]
        expected = jiter.from_json(
            prefix.encode("utf-8", "surrogatepass"), partial_mode="trailing-strings"
        )
        assert parse_streaming_json(prefix) == expected, prefix


@FAST
@given(json_objects, st.sampled_from([" ", "", "\n"]), json_values)
def test_a_complete_object_then_another_value_gives_none(
    obj: dict[str, Any], gap: str, after: Any
) -> None:
    text = json.dumps(obj) + gap + json.dumps(after)
    assert parse_streaming_json(text) is None
