"""Structured output's reply, validated and built: :func:`parse_output` turns the JSON
text of an answer into the object the call asked for, or raises
:class:`OutputValidationError` with one line per error.

A pydantic model validates itself (pydantic is never imported here: the class is
asked); anything else is checked by :func:`jackfield.schema.schema_errors` and then
built: a dataclass with its nested dataclasses, enums and tuples from its type hints,
a ``TypedDict`` or a plain schema as the dict itself.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import re
import types
import typing
from collections.abc import Mapping, Sequence
from typing import Any

from .._schema_check import schema_errors
from .._schema_forms import drop_added_nulls
from ..errors import OutputValidationError, redact
from ..types import FinishReason, OutputSchema

__all__ = ["build_value", "parse_output"]

_FENCE = re.compile(r"^```[A-Za-z0-9_-]*\s*\n?(.*?)\n?```$", re.DOTALL)


def _unfenced(text: str) -> str:
    """The JSON inside a Markdown code fence or around prose (prompt mode's habits)."""
    match = _FENCE.match(text)
    if match:
        return match.group(1).strip()
    start, end = text.find("{"), text.rfind("}")
    if 0 <= start < end:
        return text[start : end + 1]
    return text


def parse_output(
    text: str,
    output: OutputSchema,
    *,
    lenient: bool = False,
    finish_reason: FinishReason | str | None = None,
    secrets: Sequence[str] = (),
) -> Any:
    """The validated object ``text`` holds, or :class:`OutputValidationError`.

    ``lenient`` (prompt mode) takes the JSON out of a code fence or surrounding prose.
    """
    source = text.strip()
    if lenient:
        source = _unfenced(source)
    try:
        value = json.loads(source)
    except (ValueError, RecursionError) as exc:
        raise _invalid(text, output, [f"$: not JSON ({exc})"], finish_reason, secrets) from None
    value = drop_added_nulls(value, output.schema)
    target = output.target
    validate = getattr(target, "model_validate", None)
    if callable(validate) and hasattr(target, "model_json_schema"):  # pydantic v2
        try:
            return validate(value)
        except ValueError as exc:  # pydantic's ValidationError is a ValueError
            errors = _pydantic_errors(exc) or [f"$: {exc}"]
            raise _invalid(text, output, errors, finish_reason, secrets) from None
    errors = schema_errors(value, output.schema)
    if errors:
        raise _invalid(text, output, errors, finish_reason, secrets)
    if target is None:
        return value
    try:
        return build_value(target, value)
    except (TypeError, ValueError) as exc:  # a type the schema could not say all of
        raise _invalid(text, output, [f"$: {exc}"], finish_reason, secrets) from None


def _pydantic_errors(exc: Exception) -> list[str]:
    errors = getattr(exc, "errors", None)
    if not callable(errors):
        return []
    lines = []
    for error in errors():
        path = "$"
        for part in error.get("loc", ()):
            path += f"[{part}]" if isinstance(part, int) else f".{part}"
        lines.append(f"{path}: {error.get('msg', 'invalid')}")
    return lines


def _invalid(
    text: str,
    output: OutputSchema,
    errors: list[str],
    finish_reason: FinishReason | str | None,
    secrets: Sequence[str],
) -> OutputValidationError:
    errors = [redact(line, secrets) for line in errors]
    why = ""
    if finish_reason == FinishReason.LENGTH:
        why = " (the reply was cut at max_tokens)"
    elif finish_reason == FinishReason.REFUSAL:
        why = " (the model refused)"
    count = f"{len(errors)} error" + ("s" if len(errors) != 1 else "")
    return OutputValidationError(
        f"the reply does not fit the schema {output.name!r}{why}: {count}; first: {errors[0]}",
        text=text,
        errors=errors,
        secrets=tuple(secrets),
    )


def build_value(tp: Any, value: Any) -> Any:
    """``value`` (valid JSON for ``tp``'s schema) built as ``tp``: dataclasses with their
    nested dataclasses, enums, tuples and sets; ``TypeError`` if it does not fit."""
    if tp is Any or tp is None or tp is type(None):
        return value
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is typing.Union or origin is types.UnionType:
        return _build_union(args, value)
    if origin is typing.Literal:
        return value
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        if not isinstance(value, Mapping):
            raise TypeError(f"{tp.__name__} needs an object, not {type(value).__name__}")
        hints = typing.get_type_hints(tp)
        kwargs = {
            f.name: build_value(hints.get(f.name, Any), value[f.name])
            for f in dataclasses.fields(tp)
            if f.init and f.name in value
        }
        return tp(**kwargs)
    if typing.is_typeddict(tp):
        hints = typing.get_type_hints(tp)
        return {k: build_value(hints.get(k, Any), v) for k, v in value.items()}
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return tp(value)
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if origin in (list, set, frozenset, tuple) or tp in (list, set, frozenset, tuple):
        kind = origin or tp
        if origin is tuple and args and args[-1] is not Ellipsis:
            return tuple(build_value(a, v) for a, v in zip(args, value, strict=False))
        item = args[0] if args else Any
        return kind(build_value(item, v) for v in value)
    if origin in (dict, Mapping) and len(args) == 2:
        return {k: build_value(args[1], v) for k, v in value.items()}
    return value


def _build_union(args: tuple[Any, ...], value: Any) -> Any:
    if value is None and type(None) in args:
        return None
    candidates = [a for a in args if a is not type(None)]
    if len(candidates) == 1:
        return build_value(candidates[0], value)
    from ..schema import json_schema

    for arg in candidates:  # the first member the value fits
        try:
            fits = not schema_errors(value, json_schema(arg))
        except TypeError:
            fits = False
        if fits:
            return build_value(arg, value)
    return value
