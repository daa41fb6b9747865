"""The JSON Schema subset structured output validates with (``jackfield.schema``), the
wire forms of a schema, and the mock's sample values: unit cases, and a property test
that the validator agrees with the ``jsonschema`` package (else pydantic) on generated
instances."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from jackfield._schema_forms import anthropic_schema, drop_added_nulls, strict_schema
from jackfield.schema import sample_instance, schema_errors
from jackfield.testing._checks_structured import ANSWER_OBJECT, ORDER_SCHEMA

SCHEMAS: list[dict[str, Any]] = [
    ORDER_SCHEMA,
    {
        "type": "object",
        "properties": {
            "kind": {"const": "point"},
            "xy": {"type": "array", "prefixItems": [{"type": "number"}, {"type": "number"}]},
            "tags": {"type": "array", "items": {"type": "string", "maxLength": 3},
                     "minItems": 1, "uniqueItems": True},
            "level": {"type": ["integer", "null"], "minimum": 0, "exclusiveMaximum": 10},
        },
        "required": ["kind"],
        "additionalProperties": {"type": "boolean"},
    },
    {
        "type": "object",
        "properties": {
            "shape": {
                "oneOf": [
                    {"type": "object", "properties": {"r": {"type": "number"}},
                     "required": ["r"], "additionalProperties": False},
                    {"type": "object", "properties": {"w": {"type": "number"}},
                     "required": ["w"], "additionalProperties": False},
                ]
            },
            "tree": {"$ref": "#/$defs/Node"},
            "code": {"type": "string", "minLength": 2},
            "n": {"type": "integer", "multipleOf": 3},
            "f": {"type": "number", "multipleOf": 0.5},
            "any": {"allOf": [{"type": "object"}, {"not": {"required": ["bad"]}}]},
        },
        "$defs": {
            "Node": {
                "type": "object",
                "properties": {
                    "value": {"enum": [1, "one", None, True]},
                    "children": {"type": "array", "items": {"$ref": "#/$defs/Node"}},
                },
                "required": ["value"],
            }
        },
        "minProperties": 1,
        "maxProperties": 4,
    },
]

PATTERNS: dict[str, Any] = {
    "type": "object",
    "properties": {
        "code": {"type": "string", "pattern": "^[A-Z]{2}$"},
        "tag": {"type": "string", "pattern": "b"},
    },
    "patternProperties": {"^n": {"type": "integer"}},
}
"""A schema the sample cannot fit (a pattern is not generated), for the property test."""


def test_a_valid_instance_has_no_errors() -> None:
    assert schema_errors(ANSWER_OBJECT, ORDER_SCHEMA) == []


def test_each_error_is_one_line_with_its_path() -> None:
    wrong = {
        "id": 0,
        "status": "lost",
        "customer": {"name": 5},
        "items": [{"sku": "a", "qty": 1.5}, {"qty": 1}],
        "extra": 1,
    }
    assert schema_errors(wrong, ORDER_SCHEMA) == [
        "$.id: 0 is less than the minimum 1",
        "$.status: 'lost' is not one of ['open', 'shipped']",
        "$.customer.name: 5 is not of type 'string'",
        "$.items[0].qty: 1.5 is not of type 'integer'",
        "$.items[1]: 'sku' is required",
        "$: 'extra' is not an allowed property",
    ]


def test_json_equality_keeps_true_apart_from_one() -> None:
    schema = {"enum": [1]}
    assert schema_errors(1.0, schema) == []
    assert schema_errors(True, schema) == ["$: True is not one of [1]"]
    assert schema_errors(True, {"type": "integer"}) == ["$: True is not of type 'integer'"]
    assert schema_errors(2.0, {"type": "integer"}) == []


def test_an_optional_names_why_its_value_is_wrong() -> None:
    schema = {"anyOf": [{"type": "string", "maxLength": 2}, {"type": "null"}]}
    assert schema_errors(None, schema) == []
    assert schema_errors("abc", schema) == ["$: 'abc' is longer than 2 characters"]
    assert schema_errors(3, {"oneOf": [{"type": "string"}, {"type": "boolean"}]}) == [
        "$: 3 matches none of the oneOf schemas"
    ]


def test_a_dangling_or_cyclic_ref_is_an_error_not_a_crash() -> None:
    assert schema_errors(1, {"$ref": "#/$defs/Nope"}) == ["$: $ref '#/$defs/Nope' points nowhere"]
    loop = {"$ref": "#/$defs/A", "$defs": {"A": {"$ref": "#/$defs/A"}}}
    assert schema_errors(1, loop)[0].endswith("(a $ref cycle?)")


def test_the_strict_form_requires_everything_and_keeps_defs() -> None:
    before = copy.deepcopy(ORDER_SCHEMA)
    strict = strict_schema(ORDER_SCHEMA)
    assert before == ORDER_SCHEMA  # nothing changed in place
    assert strict["required"] == list(strict["properties"])
    assert strict["properties"]["note"] == ORDER_SCHEMA["properties"]["note"]  # already nullable
    email = strict["$defs"]["Customer"]["properties"]["email"]
    assert email == {"type": ["string", "null"]}
    ref = strict_schema(
        {"type": "object", "properties": {"c": {"$ref": "#/$defs/C", "description": "d"}},
         "$defs": {"C": {"type": "object", "properties": {"x": {"type": "integer"}}}}}
    )
    assert ref["properties"]["c"] == {  # unravelled: strict mode takes no $ref siblings
        "type": ["object", "null"],
        "properties": {"x": {"type": ["integer", "null"]}},
        "required": ["x"],
        "additionalProperties": False,
        "description": "d",
    }


def test_a_strict_reply_reads_back_against_the_original_schema() -> None:
    reply = {**ANSWER_OBJECT, "customer": {"name": "Ada", "email": None}}
    assert schema_errors(reply, strict_schema(ORDER_SCHEMA)) == []
    assert schema_errors(reply, ORDER_SCHEMA) != []
    assert drop_added_nulls(reply, ORDER_SCHEMA)["customer"] == {"name": "Ada"}
    assert drop_added_nulls(reply, ORDER_SCHEMA)["note"] is None  # null is allowed there


def test_anthropics_form_moves_bounds_into_the_description() -> None:
    form = anthropic_schema(SCHEMAS[1])
    assert form["properties"]["level"] == {
        "type": ["integer", "null"],
        "description": "{minimum: 0, exclusiveMaximum: 10}",
    }
    assert form["properties"]["tags"]["items"] == {
        "type": "string", "description": "{maxLength: 3}"
    }
    assert form["additionalProperties"] == {"type": "boolean"}  # the caller's, kept
    assert anthropic_schema(ORDER_SCHEMA)["$defs"]["Item"]["additionalProperties"] is False


@pytest.mark.parametrize("schema", SCHEMAS, ids=["order", "point", "shapes"])
def test_the_sample_instance_fits_its_schema(schema: dict[str, Any]) -> None:
    sample = sample_instance(schema)
    assert schema_errors(sample, schema) == []
    assert sample == sample_instance(schema)  # deterministic
    assert json.loads(json.dumps(sample)) == sample


# -- agreement with a reference validator ----------------------------------------------------

_json = st.recursive(
    st.none() | st.booleans() | st.integers(-20, 20) | st.sampled_from([0.5, 1.0, 2.5, -3.0])
    | st.sampled_from(["", "a", "AB", "abcd", "open", "shipped", "point", "one"]),
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(
        st.sampled_from(["id", "status", "customer", "items", "note", "name", "sku", "qty",
                         "kind", "xy", "tags", "level", "shape", "r", "w", "tree", "value",
                         "children", "code", "n", "f", "any", "bad", "email", "tag", "nx"]),
        inner,
        max_size=5,
    ),
    max_leaves=12,
)


@st.composite
def _near(draw: st.DrawFn, schema: dict[str, Any]) -> Any:
    """An instance around ``schema``: its sample with parts replaced by arbitrary JSON."""
    value = copy.deepcopy(sample_instance(schema))
    for _ in range(draw(st.integers(0, 3))):
        value = _replace(value, draw)
    return value


def _replace(value: Any, draw: st.DrawFn) -> Any:
    if isinstance(value, dict) and value and draw(st.booleans()):
        key = draw(st.sampled_from(sorted(value)))
        value[key] = _replace(value[key], draw)
        return value
    if isinstance(value, list) and value and draw(st.booleans()):
        at = draw(st.integers(0, len(value) - 1))
        value[at] = _replace(value[at], draw)
        return value
    return draw(_json)


def _reference() -> Any:
    try:
        import jsonschema
    except ImportError:
        return None
    return jsonschema


@pytest.mark.parametrize(
    "schema", [*SCHEMAS, PATTERNS], ids=["order", "point", "shapes", "patterns"]
)
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_the_validator_agrees_with_jsonschema(schema: dict[str, Any], data: st.DataObject) -> None:
    jsonschema = _reference()
    if jsonschema is None:
        pytest.skip("jsonschema is not installed: see the pydantic comparison below")
    validator = jsonschema.Draft202012Validator(schema)
    value = data.draw(st.one_of(_near(schema), _json))
    ours = schema_errors(value, schema)
    assert (not ours) == validator.is_valid(value), (value, ours)


@settings(max_examples=200, deadline=None)
@given(value=_json)
def test_the_validator_agrees_with_pydantic_on_a_model_schema(value: Any) -> None:
    pydantic = pytest.importorskip("pydantic")

    class Item(pydantic.BaseModel):  # type: ignore[name-defined,misc]
        model_config = pydantic.ConfigDict(strict=True, extra="forbid")
        sku: str
        qty: int

    class Order(pydantic.BaseModel):  # type: ignore[name-defined,misc]
        model_config = pydantic.ConfigDict(strict=True, extra="forbid")
        id: int
        items: list[Item]
        note: str | None = None

    try:
        Order.model_validate(value)
        accepted = True
    except pydantic.ValidationError:
        accepted = False
    assert (not schema_errors(value, Order.model_json_schema())) == accepted, value
