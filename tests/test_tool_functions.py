"""Tools from Python functions (``jackfield.schema``), and tool results of any JSON value."""

from __future__ import annotations

import dataclasses
import enum
import json
from typing import Literal, TypedDict

import pytest

import jackfield
from jackfield import Message, ToolSpec
from jackfield.plugins.mock import MockProvider
from jackfield.schema import json_schema, tool_from_function


class Unit(enum.Enum):
    C = "celsius"
    F = "fahrenheit"


@dataclasses.dataclass
class Place:
    """Where."""

    city: str
    country: str | None = None


class Window(TypedDict):
    days: int
    hourly: bool


def get_weather(
    place: Place,
    unit: Unit = Unit.C,
    window: Window | None = None,
    detail: Literal["short", "long"] = "short",
    tags: list[str] | None = None,
    limits: dict[str, float] | None = None,
) -> str:
    """Get the weather for a place.

    Looks it up in the forecast service.

    Args:
        place: the city (and country) to look up.
        unit (Unit): the temperature unit.
        window: how far ahead,
            in days.
        detail: how much to say.

    Returns:
        The forecast.
    """
    return ""


def test_a_function_becomes_the_tool_spec_a_user_would_write() -> None:
    spec = tool_from_function(get_weather)
    assert spec.name == "get_weather"
    assert (
        spec.description == "Get the weather for a place.\n\nLooks it up in the forecast service."
    )
    assert spec.parameters == {
        "type": "object",
        "properties": {
            "place": {
                "type": "object",
                "description": "the city (and country) to look up.",
                "properties": {
                    "city": {"type": "string"},
                    "country": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None},
                },
                "required": ["city"],
                "additionalProperties": False,
            },
            "unit": {
                "type": "string",
                "enum": ["celsius", "fahrenheit"],
                "default": "celsius",
                "description": "the temperature unit.",
            },
            "window": {
                "anyOf": [
                    {
                        "type": "object",
                        "properties": {"days": {"type": "integer"}, "hourly": {"type": "boolean"}},
                        "required": ["days", "hourly"],
                        "additionalProperties": False,
                    },
                    {"type": "null"},
                ],
                "default": None,
                "description": "how far ahead, in days.",
            },
            "detail": {
                "type": "string",
                "enum": ["short", "long"],
                "default": "short",
                "description": "how much to say.",
            },
            "tags": {
                "anyOf": [{"type": "array", "items": {"type": "string"}}, {"type": "null"}],
                "default": None,
            },
            "limits": {
                "anyOf": [
                    {"type": "object", "additionalProperties": {"type": "number"}},
                    {"type": "null"},
                ],
                "default": None,
            },
        },
        "required": ["place"],
        "additionalProperties": False,
    }
    json.dumps(spec.parameters)  # JSON all through


def test_name_and_description_can_be_given_and_sphinx_params_are_read() -> None:
    def f(q: str, n: int = 3, ratio: float = 0.5, flag: bool = False) -> None:
        """Search.

        :param q: what to look for
        :param n: how many
        """

    spec = tool_from_function(f, name="search", description="Search the web.")
    assert (spec.name, spec.description) == ("search", "Search the web.")
    props = spec.parameters["properties"]
    assert props["q"] == {"type": "string", "description": "what to look for"}
    assert props["n"] == {"type": "integer", "default": 3, "description": "how many"}
    assert props["ratio"] == {"type": "number", "default": 0.5}
    assert props["flag"] == {"type": "boolean", "default": False}
    assert spec.parameters["required"] == ["q"]


@pytest.mark.parametrize(
    ("tp", "schema"),
    [
        (int, {"type": "integer"}),
        (
            list[dict[str, int]],
            {
                "type": "array",
                "items": {"type": "object", "additionalProperties": {"type": "integer"}},
            },
        ),
        (tuple[int, ...], {"type": "array", "items": {"type": "integer"}}),
        (Literal[1, 2], {"type": "integer", "enum": [1, 2]}),
        (int | str, {"anyOf": [{"type": "integer"}, {"type": "string"}]}),
        (type(None), {"type": "null"}),
    ],
)
def test_json_schema_of_a_type(tp: object, schema: dict[str, object]) -> None:
    assert json_schema(tp) == schema


def test_unsupported_signatures_are_refused_naming_what() -> None:
    def star(*args: int) -> None: ...

    def untyped(x) -> None: ...  # type: ignore[no-untyped-def]

    def odd(x: complex) -> None: ...

    with pytest.raises(TypeError, match=r"star\(\): \*args"):
        tool_from_function(star)
    with pytest.raises(TypeError, match=r"untyped\(\): parameter 'x' has no type hint"):
        tool_from_function(untyped)
    with pytest.raises(TypeError, match=r"odd\(\): parameter 'x': no JSON schema for complex"):
        tool_from_function(odd)
    with pytest.raises(TypeError, match="needs a function, not int"):
        tool_from_function(42)  # type: ignore[arg-type]


async def test_a_function_is_accepted_where_a_tool_is() -> None:
    def lookup(key: str) -> str:
        """Look a key up."""
        return key

    request = MockProvider().build_request("hi", tools=[lookup, ToolSpec("other")])
    assert request.tools[0] == tool_from_function(lookup)
    assert request.tools[1].name == "other"


@pytest.mark.parametrize("value", [{"a": 1}, [1, "x"], 3, 2.5, True, None, {"é": "ü"}])
def test_a_tool_result_may_be_any_json_value(value: object) -> None:
    msg = Message.tool("call-1", value)  # type: ignore[arg-type]
    assert msg.content == json.dumps(value, ensure_ascii=False)
    assert msg.tool_call_id == "call-1"


def test_a_tool_result_that_is_no_json_value_is_refused() -> None:
    with pytest.raises(TypeError, match=r"Message\.tool content must be text or a JSON value"):
        Message.tool("call-1", {"a": object()})  # type: ignore[dict-item]
    assert Message.tool("call-1", "plain text").content == "plain text"


def test_the_top_level_exports_it() -> None:
    assert jackfield.tool_from_function is tool_from_function
