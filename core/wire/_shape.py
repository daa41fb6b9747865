"""Type checks for decoded wire bodies: a field of the wrong JSON type is named.

A 200 body that is valid JSON but not of the documented shape (``"tool_calls": [5]``,
``"usage": "x"``) must become an error that says which field was wrong, not an
``AttributeError`` deep in a parser. The parsers read fields through these helpers,
which raise :class:`Malformed`; each parser turns it into its taxonomy's error
(:class:`~jackfield.errors.APIError` for a body, :class:`~jackfield.errors.StreamError`
for a stream chunk) with the provider and model filled in.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Callable
from typing import Any

import attrs

__all__ = ["Malformed", "check_attrs", "count", "items", "obj", "opt_text", "text", "wrong"]


class Malformed(ValueError):
    """A field of a decoded body has the wrong JSON type; the message names the field."""


def _json_kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return f"the number {value!r}"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list | tuple):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def wrong(where: str, value: Any, expected: str) -> Malformed:
    """The :class:`Malformed` for ``value`` at ``where``, which should be ``expected``."""
    return Malformed(f"{where} is {_json_kind(value)}, not {expected}")


def text(value: Any, where: str) -> str:
    """A string field; absent or ``null`` is ``""``."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    raise wrong(where, value, "a string")


def opt_text(value: Any, where: str) -> str | None:
    """An optional string field; absent, ``null`` or empty is ``None``."""
    if isinstance(value, str):
        return value or None
    if value is None:
        return None
    raise wrong(where, value, "a string")


def obj(value: Any, where: str) -> dict[str, Any] | None:
    """An object field; absent or ``null`` is ``None``."""
    if isinstance(value, dict):
        return value
    if value is None:
        return None
    raise wrong(where, value, "an object")


def items(value: Any, where: str) -> list[Any]:
    """An array field; absent or ``null`` is ``[]``."""
    if isinstance(value, list):
        return value
    if value is None:
        return []
    raise wrong(where, value, "an array")


def count(value: Any, where: str) -> int:
    """A token count: a non-negative integer (``12.0`` too); absent or ``null`` is 0."""
    if value is None:
        return 0
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, float) and value.is_integer() and value >= 0:
        return int(value)
    raise wrong(where, value, "a non-negative integer")


def check_attrs(value: Any, where: str) -> None:
    """Check every field of the attrs instance ``value`` against its annotation
    (``str``, ``int``, ``bool``, ``dict``, ``X | None``, ``tuple[X, ...]``, nested
    attrs classes; anything else passes), for values built from untrusted JSON."""
    cls = type(value)
    checks = _CHECKERS.get(cls)
    if checks is None:  # annotations are resolved once per class
        hints = typing.get_type_hints(cls)
        checks = tuple((f.name, _compile(hints.get(f.name, Any))) for f in attrs.fields(cls))
        _CHECKERS[cls] = checks
    for name, check in checks:
        check(getattr(value, name), f"{where}.{name}")


_Check = Callable[[Any, str], None]
_CHECKERS: dict[type[Any], tuple[tuple[str, _Check], ...]] = {}


def _skip(value: Any, where: str) -> None:
    pass


def _compile(hint: Any) -> _Check:
    if hint is Any:
        return _skip
    origin = typing.get_origin(hint)
    if origin is typing.Union or origin is types.UnionType:
        options = typing.get_args(hint)
        if type(None) in options:
            rest = [o for o in options if o is not type(None)]
            inner = _compile(rest[0]) if len(rest) == 1 else _skip

            def optional(value: Any, where: str) -> None:
                if value is not None:
                    inner(value, where)

            return optional
        if all(isinstance(o, type) for o in options):  # FinishReason | str and the like
            expected = " or ".join(dict.fromkeys(_expected(o) for o in options))

            def one_of(value: Any, where: str) -> None:
                if not isinstance(value, options):
                    raise wrong(where, value, expected)

            return one_of
        return _skip
    if origin is tuple:
        item = _compile((typing.get_args(hint) or (Any,))[0])

        def array(value: Any, where: str) -> None:
            if not isinstance(value, tuple):
                raise wrong(where, value, "an array")
            for i, entry in enumerate(value):
                item(entry, f"{where}[{i}]")

        return array
    if origin is dict:
        hint = dict
    if hint is int:

        def integer(value: Any, where: str) -> None:
            if type(value) is not int or value < 0:
                raise wrong(where, value, "a non-negative integer")

        return integer
    if isinstance(hint, type) and attrs.has(hint):
        cls = hint

        def nested(value: Any, where: str) -> None:
            if not isinstance(value, cls):
                raise wrong(where, value, "an object")
            check_attrs(value, where)

        return nested
    if isinstance(hint, type):
        simple_cls: type[Any] = hint
        expected = _expected(simple_cls)

        def simple(value: Any, where: str) -> None:
            if not isinstance(value, simple_cls) or (
                simple_cls is not bool and isinstance(value, bool)
            ):
                raise wrong(where, value, expected)

        return simple
    return _skip


def _expected(cls: type[Any]) -> str:
    if issubclass(cls, str):
        return "a string"
    if cls is bool:
        return "a boolean"
    if cls is dict:
        return "an object"
    return f"a {cls.__name__}"
