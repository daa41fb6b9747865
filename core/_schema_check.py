"""A validator for the JSON Schema subset that structured output uses.

:func:`schema_errors` checks a decoded JSON value against a schema and returns one line
per error (``"$.address.city: 5 is not of type 'string'"``), empty when it is valid.
It covers local ``$ref`` (``#/$defs/...``, ``#/definitions/...``, ``#``), ``type``
(one or a list; OpenAPI's ``nullable``), ``enum``, ``const``, ``properties``,
``required``, ``additionalProperties``, ``patternProperties``, ``items``,
``prefixItems``, ``anyOf``, ``oneOf``, ``allOf``, ``not``, the string, number, array
and object bounds, ``pattern`` and ``uniqueItems``, with JSON's equality (``true`` is
not ``1``). ``format`` is an annotation, as the 2020-12 draft has it by default.
Nothing here imports a third-party package.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

__all__ = ["schema_errors"]

MAX_ERRORS = 20
"""At most this many lines are returned: a wildly wrong reply needs no more."""

_MAX_DEPTH = 64


def schema_errors(
    value: Any, schema: Mapping[str, Any] | bool, *, root: Mapping[str, Any] | None = None
) -> list[str]:
    """The ways ``value`` breaks ``schema``, one line each (``[]`` when it is valid).

    ``root`` is the document a ``$ref`` points into, when ``schema`` is a part of it."""
    checker = _Checker(schema if root is None else root)
    checker.check(value, schema, "$", 0)
    return checker.errors[:MAX_ERRORS]


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "array"
    if isinstance(value, Mapping):
        return "object"
    return type(value).__name__


def _is_type(value: Any, name: str) -> bool:
    kind = _json_type(value)
    if name == kind:
        return True
    if name == "number":
        return kind == "integer"
    if name == "integer":
        return kind == "number" and math.isfinite(value) and float(value).is_integer()
    return False


def json_equal(a: Any, b: Any) -> bool:
    """JSON equality: ``1 == 1.0``, but ``true`` is not ``1``; arrays and objects deep."""
    ka, kb = _json_type(a), _json_type(b)
    numeric = ("integer", "number")
    if ka in numeric and kb in numeric:
        return bool(a == b)
    if ka != kb:
        return False
    if ka == "array":
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b, strict=True))
    if ka == "object":
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    return bool(a == b)


_BOUNDS = (
    ("minimum", "less than"),
    ("maximum", "greater than"),
    ("exclusiveMinimum", "less than or equal to"),
    ("exclusiveMaximum", "greater than or equal to"),
)


def _breaks(key: str, value: float, bound: float) -> bool:
    if key == "minimum":
        return value < bound
    if key == "maximum":
        return value > bound
    if key == "exclusiveMinimum":
        return value <= bound
    return value >= bound


def _multiple(value: float, step: Any) -> bool:
    """Whether ``value`` is a multiple of ``step`` (floats as the reference validator
    does: an integral quotient; exact fractions where the quotient overflows)."""
    if isinstance(step, float):
        quotient = value / step
        try:
            return int(quotient) == quotient
        except (OverflowError, ValueError):
            from fractions import Fraction

            return (Fraction(value) / Fraction(step)).denominator == 1
    return not value % step


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _key_path(path: str, key: str) -> str:
    return f"{path}.{key}" if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key) else f"{path}[{key!r}]"


class _Checker:
    __slots__ = ("errors", "root")

    def __init__(self, root: Mapping[str, Any] | bool) -> None:
        self.root = root
        self.errors: list[str] = []

    def fail(self, path: str, message: str) -> None:
        self.errors.append(f"{path}: {message}")

    def valid(self, value: Any, schema: Any, path: str, depth: int) -> bool:
        """Whether ``value`` fits ``schema``, without recording the errors."""
        saved = self.errors
        self.errors = []
        try:
            self.check(value, schema, path, depth)
            return not self.errors
        finally:
            self.errors = saved

    def resolve(self, ref: str, path: str) -> Any:
        if not ref.startswith("#"):
            self.fail(path, f"$ref {ref!r} is not local (only '#/...' is followed)")
            return True
        node: Any = self.root
        for raw in ref[1:].split("/")[1:] if ref != "#" else []:
            token = raw.replace("~1", "/").replace("~0", "~")
            if isinstance(node, Mapping) and token in node:
                node = node[token]
            elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
                node = node[int(token)]
            else:
                self.fail(path, f"$ref {ref!r} points nowhere")
                return True
        return node

    def check(self, value: Any, schema: Any, path: str, depth: int) -> None:
        if schema is True or schema == {}:
            return
        if schema is False:
            self.fail(path, "no value is allowed here")
            return
        if not isinstance(schema, Mapping):
            return
        if depth > _MAX_DEPTH:
            self.fail(path, "the schema nests too deep (a $ref cycle?)")
            return
        ref = schema.get("$ref")
        if isinstance(ref, str):
            self.check(value, self.resolve(ref, path), path, depth + 1)
        if not self._type_ok(value, schema, path):
            return  # the other keywords would only repeat the type error
        options = schema.get("enum")
        if isinstance(options, list) and not any(json_equal(value, o) for o in options):
            self.fail(path, f"{_show(value)} is not one of {_show(options)}")
        if "const" in schema and not json_equal(value, schema["const"]):
            self.fail(path, f"{_show(value)} is not {_show(schema['const'])}")
        kind = _json_type(value)
        if kind == "string":
            self._string(value, schema, path)
        elif kind in ("integer", "number"):
            self._number(value, schema, path)
        elif kind == "array":
            self._array(value, schema, path, depth)
        elif kind == "object":
            self._object(value, schema, path, depth)
        self._combinators(value, schema, path, depth)

    def _type_ok(self, value: Any, schema: Mapping[str, Any], path: str) -> bool:
        kinds = schema.get("type")
        if kinds is None:
            return True
        names = [kinds] if isinstance(kinds, str) else list(kinds)
        if schema.get("nullable") is True:
            names.append("null")
        if any(_is_type(value, name) for name in names if isinstance(name, str)):
            return True
        want = names[0] if len(names) == 1 else names
        self.fail(path, f"{_show(value)} is not of type {want!r}")
        return False

    def _string(self, value: str, schema: Mapping[str, Any], path: str) -> None:
        length = len(value)
        low, high = schema.get("minLength"), schema.get("maxLength")
        if isinstance(low, int) and length < low:
            self.fail(path, f"{_show(value)} is shorter than {low} characters")
        if isinstance(high, int) and length > high:
            self.fail(path, f"{_show(value)} is longer than {high} characters")
        pattern = schema.get("pattern")
        if isinstance(pattern, str):
            try:
                matched = re.search(pattern, value) is not None
            except re.error:
                return  # a pattern Python cannot read constrains nothing here
            if not matched:
                self.fail(path, f"{_show(value)} does not match {pattern!r}")

    def _number(self, value: float, schema: Mapping[str, Any], path: str) -> None:
        for key, words in _BOUNDS:
            bound: Any = schema.get(key)
            if _is_type(bound, "number") and _breaks(key, value, bound):
                self.fail(path, f"{_show(value)} is {words} the {key} {bound}")
        step: Any = schema.get("multipleOf")
        if _is_type(step, "number") and step > 0 and not _multiple(value, step):
            self.fail(path, f"{_show(value)} is not a multiple of {step}")

    def _array(self, value: list[Any], schema: Mapping[str, Any], path: str, depth: int) -> None:
        low, high = schema.get("minItems"), schema.get("maxItems")
        if isinstance(low, int) and len(value) < low:
            self.fail(path, f"has {len(value)} items, fewer than {low}")
        if isinstance(high, int) and len(value) > high:
            self.fail(path, f"has {len(value)} items, more than {high}")
        prefix = schema.get("prefixItems")
        items = schema.get("items")
        if isinstance(items, list):  # the older drafts' tuple form
            prefix, items = items, schema.get("additionalItems")
        start = 0
        if isinstance(prefix, list):
            for i, (item, sub) in enumerate(zip(value, prefix, strict=False)):
                self.check(item, sub, f"{path}[{i}]", depth + 1)
            start = len(prefix)
        if items is not None:
            for i in range(start, len(value)):
                self.check(value[i], items, f"{path}[{i}]", depth + 1)
        if schema.get("uniqueItems") is True:
            for i, a in enumerate(value):
                if any(json_equal(a, b) for b in value[i + 1 :]):
                    self.fail(path, f"items are not unique ({_show(a)} repeats)")
                    break

    def _object(
        self, value: Mapping[str, Any], schema: Mapping[str, Any], path: str, depth: int
    ) -> None:
        required = schema.get("required")
        if isinstance(required, list):
            for key in required:
                if isinstance(key, str) and key not in value:
                    self.fail(path, f"{key!r} is required")
        low, high = schema.get("minProperties"), schema.get("maxProperties")
        if isinstance(low, int) and len(value) < low:
            self.fail(path, f"has {len(value)} properties, fewer than {low}")
        if isinstance(high, int) and len(value) > high:
            self.fail(path, f"has {len(value)} properties, more than {high}")
        props = schema.get("properties")
        props = props if isinstance(props, Mapping) else {}
        patterns = schema.get("patternProperties")
        patterns = patterns if isinstance(patterns, Mapping) else {}
        extra = schema.get("additionalProperties", True)
        for key, item in value.items():
            where = _key_path(path, str(key))
            matched = key in props
            if matched:
                self.check(item, props[key], where, depth + 1)
            for pattern, sub in patterns.items():
                try:
                    hit = re.search(pattern, key) is not None
                except re.error:
                    continue
                if hit:
                    matched = True
                    self.check(item, sub, where, depth + 1)
            if not matched:
                if extra is False:
                    self.fail(path, f"{key!r} is not an allowed property")
                elif extra is not True:
                    self.check(item, extra, where, depth + 1)

    def _combinators(self, value: Any, schema: Mapping[str, Any], path: str, depth: int) -> None:
        all_of = schema.get("allOf")
        if isinstance(all_of, list):
            for sub in all_of:
                self.check(value, sub, path, depth + 1)
        any_of = schema.get("anyOf")
        if isinstance(any_of, list) and not any(
            self.valid(value, sub, path, depth + 1) for sub in any_of
        ):
            self._no_branch(value, any_of, path, depth, "any")
        one_of = schema.get("oneOf")
        if isinstance(one_of, list):
            hits = sum(1 for sub in one_of if self.valid(value, sub, path, depth + 1))
            if hits == 0:
                self._no_branch(value, one_of, path, depth, "one")
            elif hits > 1:
                self.fail(path, f"{_show(value)} matches {hits} of oneOf's schemas, not one")
        negated = schema.get("not")
        if negated is not None and self.valid(value, negated, path, depth + 1):
            self.fail(path, f"{_show(value)} matches the schema under 'not'")

    def _no_branch(
        self, value: Any, branches: list[Any], path: str, depth: int, which: str
    ) -> None:
        nulls = [s for s in branches if isinstance(s, Mapping) and s.get("type") == "null"]
        if len(branches) == 2 and len(nulls) == 1 and value is not None:
            # An optional: say why the value does not fit the branch that is not null.
            before = len(self.errors)
            self.check(value, branches[1] if branches[0] is nulls[0] else branches[0], path, depth)
            if len(self.errors) > before:
                return
        self.fail(path, f"{_show(value)} matches none of the {which}Of schemas")
