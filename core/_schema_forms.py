"""JSON Schema in the forms the wires and the mock need.

* :func:`strict_schema`: OpenAI's strict ``json_schema`` form: every object closed
  (``additionalProperties: false``), every property required and the optional ones made
  nullable, ``oneOf`` as ``anyOf``, a ``$ref`` with siblings unravelled, ``$defs`` kept.
* :func:`anthropic_schema`: Anthropic's ``output_config.format`` form: objects closed,
  the bounds its constrained decoding does not take (``minimum``, ``maxLength`` ...)
  moved into the description (the reply is still validated against them).
* :func:`drop_added_nulls`: undoes what :func:`strict_schema` adds: a ``null`` for an
  optional property the original schema does not let be ``null`` means "absent".
* :func:`sample_instance`: a deterministic value that fits a schema (the mock's answer).

Each takes the original schema and returns a new value; nothing is changed in place.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from ._schema_check import schema_errors

__all__ = ["anthropic_schema", "drop_added_nulls", "sample_instance", "strict_schema"]

_MAX_DEPTH = 32


def _resolve(root: Mapping[str, Any], ref: str) -> Any:
    node: Any = root
    for raw in ref[2:].split("/") if ref.startswith("#/") else []:
        token = raw.replace("~1", "/").replace("~0", "~")
        if not isinstance(node, Mapping) or token not in node:
            return {}
        node = node[token]
    return node


def _accepts_null(schema: Any, root: Mapping[str, Any], depth: int = 0) -> bool:
    if not isinstance(schema, Mapping) or depth > _MAX_DEPTH:
        return schema is True
    if not schema:
        return True
    ref = schema.get("$ref")
    if isinstance(ref, str) and _accepts_null(_resolve(root, ref), root, depth + 1):
        return True
    kinds = schema.get("type")
    if kinds == "null" or (isinstance(kinds, list) and "null" in kinds):
        return True
    if schema.get("nullable") is True:
        return True
    for key in ("anyOf", "oneOf"):
        branches = schema.get(key)
        if isinstance(branches, list) and any(_accepts_null(b, root, depth + 1) for b in branches):
            return True
    if "enum" in schema and isinstance(schema["enum"], list):
        return None in schema["enum"]
    return False


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    kinds = schema.get("type")
    if isinstance(kinds, str) and not any(k in schema for k in ("$ref", "anyOf", "allOf")):
        out = {**schema, "type": [kinds, "null"]}
        if isinstance(out.get("enum"), list):
            out["enum"] = [*out["enum"], None]
        return out
    if isinstance(schema.get("anyOf"), list) and len(schema) == 1:
        return {"anyOf": [*schema["anyOf"], {"type": "null"}]}
    return {"anyOf": [schema, {"type": "null"}]}


def strict_schema(schema: Mapping[str, Any]) -> dict[str, Any]:
    """``schema`` in OpenAI's strict form (see the module docstring)."""
    root = copy.deepcopy(dict(schema))
    out: dict[str, Any] = _strict(root, root, 0)
    return out


def _strict(node: Any, root: Mapping[str, Any], depth: int) -> Any:
    if not isinstance(node, dict) or depth > _MAX_DEPTH:
        return node
    for key in ("$defs", "definitions"):
        defs = node.get(key)
        if isinstance(defs, dict):
            node[key] = {name: _strict(sub, root, depth + 1) for name, sub in defs.items()}
    ref = node.get("$ref")
    if isinstance(ref, str) and len(node) > 1 and "$defs" not in node:
        resolved = _resolve(root, ref)
        if isinstance(resolved, Mapping):  # strict mode takes no siblings beside a $ref
            merged = {**copy.deepcopy(dict(resolved)), **node}
            del merged["$ref"]
            return _strict(merged, root, depth + 1)
    if "oneOf" in node and "anyOf" not in node:
        node["anyOf"] = node.pop("oneOf")
    props = node.get("properties")
    if isinstance(props, dict):
        required = node.get("required")
        required = set(required) if isinstance(required, list) else set()
        out: dict[str, Any] = {}
        for key, sub in props.items():
            sub = _strict(sub, root, depth + 1)
            if key not in required and isinstance(sub, dict) and not _accepts_null(sub, root):
                sub = _nullable(sub)
            out[key] = sub
        node["properties"] = out
        node["required"] = list(out)
    if node.get("type") == "object" or isinstance(props, dict):
        node.setdefault("additionalProperties", False)
    for key in ("items", "additionalProperties", "not"):
        if isinstance(node.get(key), dict):
            node[key] = _strict(node[key], root, depth + 1)
    for key in ("prefixItems", "anyOf", "allOf"):
        if isinstance(node.get(key), list):
            node[key] = [_strict(sub, root, depth + 1) for sub in node[key]]
    if "default" in node and node["default"] is None:
        del node["default"]
    return node


_ANTHROPIC_UNSUPPORTED = (
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "multipleOf",
    "minLength",
    "maxLength",
    "maxItems",
    "minProperties",
    "maxProperties",
    "uniqueItems",
)
_ANTHROPIC_FORMATS = frozenset(
    {"date-time", "time", "date", "duration", "email", "hostname", "uri", "ipv4", "ipv6", "uuid"}
)


def anthropic_schema(schema: Mapping[str, Any]) -> dict[str, Any]:
    """``schema`` in the form Anthropic's ``output_config.format`` takes."""
    root = copy.deepcopy(dict(schema))
    out: dict[str, Any] = _anthropic(root, 0)
    return out


def _anthropic(node: Any, depth: int) -> Any:
    if not isinstance(node, dict) or depth > _MAX_DEPTH:
        return node
    notes = [f"{key}: {node.pop(key)!r}" for key in _ANTHROPIC_UNSUPPORTED if key in node]
    if isinstance(node.get("minItems"), int) and node["minItems"] > 1:
        notes.append(f"minItems: {node.pop('minItems')}")
    fmt = node.get("format")
    if isinstance(fmt, str) and fmt not in _ANTHROPIC_FORMATS:
        notes.append(f"format: {node.pop('format')!r}")
    if notes:
        described = node.get("description")
        joined = "{" + ", ".join(notes) + "}"
        node["description"] = f"{described}\n\n{joined}" if described else joined
    if "oneOf" in node and "anyOf" not in node:
        node["anyOf"] = node.pop("oneOf")
    for key in ("$defs", "definitions", "properties"):
        if isinstance(node.get(key), dict):
            node[key] = {name: _anthropic(sub, depth + 1) for name, sub in node[key].items()}
    if node.get("type") == "object" or isinstance(node.get("properties"), dict):
        node.setdefault("additionalProperties", False)
    for key in ("items", "additionalProperties", "not"):
        if isinstance(node.get(key), dict):
            node[key] = _anthropic(node[key], depth + 1)
    for key in ("prefixItems", "anyOf", "allOf"):
        if isinstance(node.get(key), list):
            node[key] = [_anthropic(sub, depth + 1) for sub in node[key]]
    return node


def drop_added_nulls(value: Any, schema: Mapping[str, Any]) -> Any:
    """``value`` without the ``null`` properties :func:`strict_schema` made possible."""
    return _drop(value, schema, schema, 0)


def _drop(value: Any, schema: Any, root: Mapping[str, Any], depth: int) -> Any:
    if not isinstance(schema, Mapping) or depth > _MAX_DEPTH:
        return value
    ref = schema.get("$ref")
    if isinstance(ref, str):
        value = _drop(value, _resolve(root, ref), root, depth + 1)
    for key in ("anyOf", "oneOf"):
        branches = schema.get(key)
        if isinstance(branches, list) and isinstance(value, dict | list):
            for branch in branches:  # the first branch the cleaned value fits
                cleaned = _drop(value, branch, root, depth + 1)
                if not schema_errors(cleaned, branch, root=root):
                    return cleaned
    if isinstance(value, dict):
        props = schema.get("properties")
        if isinstance(props, Mapping):
            required = schema.get("required")
            required = required if isinstance(required, list) else []
            out = {}
            for key, item in value.items():
                sub = props.get(key)
                if sub is None:
                    out[key] = item
                elif item is None and key not in required and not _accepts_null(sub, root):
                    continue
                else:
                    out[key] = _drop(item, sub, root, depth + 1)
            return out
    if isinstance(value, list):
        items = schema.get("items")
        if isinstance(items, Mapping):
            return [_drop(v, items, root, depth + 1) for v in value]
        prefix = schema.get("prefixItems")
        if isinstance(prefix, list):
            return [
                _drop(v, prefix[i], root, depth + 1) if i < len(prefix) else v
                for i, v in enumerate(value)
            ]
    return value


_FORMATS = {
    "date-time": "2024-01-01T00:00:00Z",
    "date": "2024-01-01",
    "time": "00:00:00Z",
    "duration": "P1D",
    "email": "user@example.com",
    "hostname": "example.com",
    "uri": "https://example.com/",
    "ipv4": "192.0.2.1",
    "ipv6": "2001:db8::1",
    "uuid": "00000000-0000-4000-8000-000000000000",
}


def sample_instance(schema: Mapping[str, Any]) -> Any:
    """A deterministic value that fits ``schema``: each property present, a sample per
    type within its bounds, an enum's first value, the first branch of a union that is
    not ``null``, ``$ref`` followed (a cycle ends in ``null`` or an empty array)."""
    return _sample(schema, schema, 0)


def _sample(schema: Any, root: Mapping[str, Any], depth: int) -> Any:
    if not isinstance(schema, Mapping):
        return None
    if "const" in schema:
        return copy.deepcopy(schema["const"])
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return copy.deepcopy(schema["enum"][0])
    if "default" in schema and not schema_errors(schema["default"], schema, root=root):
        return copy.deepcopy(schema["default"])
    ref = schema.get("$ref")
    if isinstance(ref, str):
        if depth > 8:  # a recursive schema: stop where the schema lets us
            return None
        return _sample(_resolve(root, ref), root, depth + 1)
    for key in ("anyOf", "oneOf"):
        branches = schema.get(key)
        if isinstance(branches, list) and branches:
            chosen = [b for b in branches if not _is_null_schema(b)] or branches
            if depth > 8:
                chosen = [b for b in branches if _is_null_schema(b)] or chosen
            return _sample(chosen[0], root, depth + 1)
    all_of = schema.get("allOf")
    if isinstance(all_of, list) and all_of:
        merged: dict[str, Any] = {}
        for sub in all_of:
            if isinstance(sub, Mapping):
                merged.update(sub)
        return _sample(merged, root, depth + 1)
    kinds = schema.get("type")
    kind = kinds if isinstance(kinds, str) else next(
        (k for k in kinds or () if k != "null"), "null"
    )
    if kind is None:
        kind = "object" if "properties" in schema else "array" if "items" in schema else "string"
    if kind == "object":
        props = schema.get("properties")
        props = props if isinstance(props, Mapping) else {}
        required = schema.get("required")
        required = required if isinstance(required, list) else []
        keys = [k for k in props if k in required] + [k for k in props if k not in required]
        most = schema.get("maxProperties")
        if isinstance(most, int):
            keys = keys[: max(most, len([k for k in keys if k in required]))]
        kept = set(keys)
        return {key: _sample(sub, root, depth + 1) for key, sub in props.items() if key in kept}
    if kind == "array":
        prefix = schema.get("prefixItems")
        if isinstance(prefix, list):
            return [_sample(sub, root, depth + 1) for sub in prefix]
        low = schema.get("minItems")
        count = max(1, low if isinstance(low, int) else 0)
        high = schema.get("maxItems")
        if isinstance(high, int):
            count = min(count, high)
        if depth > 8:
            count = 0
        return [_sample(schema.get("items", {}), root, depth + 1) for _ in range(count)]
    if kind == "string":
        fmt = schema.get("format")
        text = _FORMATS.get(fmt, "text") if isinstance(fmt, str) else "text"
        low, high = schema.get("minLength"), schema.get("maxLength")
        if isinstance(low, int) and len(text) < low:
            text = text + "x" * (low - len(text))
        if isinstance(high, int) and len(text) > high:
            text = text[:high]
        return text
    if kind in ("integer", "number"):
        return _sample_number(schema, kind)
    if kind == "boolean":
        return False
    return None


def _is_null_schema(schema: Any) -> bool:
    return isinstance(schema, Mapping) and schema.get("type") == "null"


def _sample_number(schema: Mapping[str, Any], kind: str) -> int | float:
    value: float = 0
    low = schema.get("minimum")
    low_open = schema.get("exclusiveMinimum")
    high = schema.get("maximum")
    high_open = schema.get("exclusiveMaximum")
    if isinstance(low, int | float) and value < low:
        value = low
    if isinstance(low_open, int | float) and value <= low_open:
        value = low_open + 1
    if isinstance(high, int | float) and value > high:
        value = high
    if isinstance(high_open, int | float) and value >= high_open:
        value = high_open - 1
    step = schema.get("multipleOf")
    if isinstance(step, int | float) and step > 0:
        value = step * round(value / step)
    if kind == "integer":
        return int(value)
    return float(value)
