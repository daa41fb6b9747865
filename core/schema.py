"""JSON Schema from Python types, and tools from Python functions.

:func:`tool_from_function` builds the :class:`~jackfield.types.ToolSpec` a user would
write by hand from a function's signature, type hints and docstring (its first
paragraphs describe the tool; an ``Args:`` section, Google style, or ``:param name:``
lines, Sphinx style, describe the parameters). :func:`json_schema` gives the schema of
one type: ``str``, ``int``, ``float``, ``bool``, ``None``, lists, tuples, sets, ``dict``
with string keys, ``Literal``, ``Enum``, unions and optionals, dataclasses and
``TypedDict`` (as closed objects: ``additionalProperties: false``). Anything else is a
``TypeError`` naming it. :func:`output_schema` turns a call's ``response_format`` into
an :class:`~jackfield.types.OutputSchema`; :func:`schema_errors` validates a value
against a schema (one line per error) and :func:`sample_instance` makes a value that
fits one. Nothing here imports pydantic or any SDK.
"""

from __future__ import annotations

import dataclasses
import enum
import inspect
import re
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any

from ._schema_check import schema_errors
from ._schema_forms import sample_instance
from .types import OutputMode, OutputSchema, ToolSpec

__all__ = [
    "json_schema",
    "output_schema",
    "sample_instance",
    "schema_errors",
    "tool_from_function",
]

_SCALARS: dict[Any, str] = {str: "string", int: "integer", float: "number", bool: "boolean"}
_SEQUENCES = (list, tuple, set, frozenset)


def json_schema(tp: Any) -> dict[str, Any]:
    """The JSON schema of the type ``tp``; ``TypeError`` for a type it cannot express."""
    if tp is None or tp is type(None):
        return {"type": "null"}
    if tp in _SCALARS:
        return {"type": _SCALARS[tp]}
    if tp is Any:
        return {}
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is typing.Literal:
        values = list(args)
        kinds = {_SCALARS.get(type(v)) for v in values}
        schema: dict[str, Any] = {"enum": values}
        if len(kinds) == 1 and None not in kinds:
            schema = {"type": kinds.pop(), **schema}
        return schema
    if origin is typing.Union or origin is types.UnionType:
        return {"anyOf": [json_schema(arg) for arg in args]}
    if origin in _SEQUENCES or tp in _SEQUENCES:
        if origin is tuple and args and args[-1] is not Ellipsis:
            return {"type": "array", "prefixItems": [json_schema(a) for a in args]}
        items = args[0] if args else Any
        return {"type": "array", "items": json_schema(items)}
    if origin in (dict, Mapping) or tp is dict:
        if args and args[0] is not str:
            raise TypeError(f"no JSON schema for {_name(tp)}: JSON object keys are strings")
        return {"type": "object", "additionalProperties": json_schema(args[1] if args else Any)}
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        values = [member.value for member in tp]
        return json_schema(typing.Literal[tuple(values)])
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        hints = typing.get_type_hints(tp)
        fields = [f for f in dataclasses.fields(tp) if f.init]
        required = [
            f.name
            for f in fields
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        ]
        props = {}
        for f in fields:
            props[f.name] = json_schema(hints[f.name])
            if f.default is not dataclasses.MISSING:
                props[f.name]["default"] = _json_default(f.default)
        return _object(props, required)
    if typing.is_typeddict(tp):
        hints = typing.get_type_hints(tp)
        required_keys = getattr(tp, "__required_keys__", frozenset(hints))
        props = {key: json_schema(hint) for key, hint in hints.items()}
        return _object(props, [key for key in hints if key in required_keys])
    raise TypeError(f"no JSON schema for {_name(tp)}")


def output_schema(
    value: Any,
    *,
    mode: OutputMode | str | None = None,
    name: str | None = None,
    description: str | None = None,
    strict: bool | None = None,
) -> OutputSchema | None:
    """The :class:`OutputSchema` a call's ``response_format`` asks for.

    ``value`` is a JSON schema (a dict), a pydantic v2 model class (detected by its
    ``model_json_schema``; pydantic is never imported here), a dataclass or a
    ``TypedDict``, an :class:`OutputSchema`, or OpenAI's own spelling:
    ``{"type": "json_schema", "json_schema": {...}}``. OpenAI's ``{"type":
    "json_object"}`` gives ``None``: it is JSON mode, with no schema. The keywords
    override what ``value`` says: ``mode`` forces a weaker mode than the provider's
    strongest (``output_schema(Person, mode="tool")``), ``strict=False`` sends OpenAI's
    ``json_schema`` unstrict. The schema's root must be an object.
    ``TypeError``/``ValueError`` say what is wrong.
    """
    result = _output_schema(value)
    if result is None:
        if mode is not None or name is not None or strict is not None:
            raise ValueError("{'type': 'json_object'} is JSON mode: it takes no schema options")
        return None
    changes: dict[str, Any] = {}
    if mode is not None:
        try:
            changes["mode"] = OutputMode(mode)
        except ValueError:
            raise ValueError(
                f"mode {mode!r} is not one of {[str(m) for m in OutputMode]}"
            ) from None
    if name is not None:
        changes["name"] = _safe_name(name)
    if description is not None:
        changes["description"] = description
    if strict is not None:
        changes["strict"] = bool(strict)
    if changes:
        import attrs  # here: the common call changes nothing

        result = attrs.evolve(result, **changes)
    _check_root(result.schema)
    return result


def _check_root(schema: Mapping[str, Any]) -> None:
    """The wires take an object at the root (OpenAI's strict mode, a tool's parameters)."""
    root: Any = schema
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/"):
        for token in ref[2:].split("/"):
            root = root.get(token, {}) if isinstance(root, Mapping) else {}
    if not isinstance(root, Mapping):
        root = {}
    if root.get("type") != "object" and not isinstance(root.get("properties"), Mapping):
        raise ValueError(
            "the schema's root must be an object ({'type': 'object', 'properties': ...}); "
            "wrap a list or a scalar in an object's property"
        )


def _output_schema(value: Any) -> OutputSchema | None:
    if isinstance(value, OutputSchema):
        return value
    if isinstance(value, Mapping):
        kind = value.get("type")
        if kind == "json_object" and len(value) == 1:
            return None
        if kind == "json_schema" and isinstance(value.get("json_schema"), Mapping):
            spec = value["json_schema"]
            schema = spec.get("schema")
            if not isinstance(schema, Mapping):
                raise ValueError("json_schema.schema must be a JSON schema object")
            return OutputSchema(
                dict(schema),
                name=_safe_name(str(spec.get("name") or "output")),
                description=str(spec.get("description") or ""),
                strict=spec.get("strict") is not False,
            )
        if not value:
            raise ValueError("an empty schema asks for nothing")
        return OutputSchema(dict(value), name=_schema_name(value))
    if isinstance(value, type):
        builder = getattr(value, "model_json_schema", None)
        if callable(builder) and hasattr(value, "model_validate_json"):  # pydantic v2
            return OutputSchema(dict(builder()), name=_safe_name(value.__name__), target=value)
        if dataclasses.is_dataclass(value) or typing.is_typeddict(value):
            return OutputSchema(json_schema(value), name=_safe_name(value.__name__), target=value)
    raise TypeError(
        "must be a JSON schema dict, a pydantic model class, a dataclass or a TypedDict, "
        f"not {_name(value) if isinstance(value, type) else type(value).__name__}"
    )


def _schema_name(schema: Mapping[str, Any]) -> str:
    title = schema.get("title")
    return _safe_name(title) if isinstance(title, str) and title else "output"


def _safe_name(name: str) -> str:
    """A name the wires accept (letters, digits, ``_``, ``-``; at most 64)."""
    cleaned = re.sub(r"[^A-Za-z0-9_-]", "_", name)[:64]
    return cleaned or "output"


def tool_from_function(
    fn: Callable[..., Any], *, name: str | None = None, description: str | None = None
) -> ToolSpec:
    """The :class:`~jackfield.types.ToolSpec` of ``fn``: its name, its docstring's
    description and a parameters schema from its signature (``self`` and ``cls`` of a
    bound method left out). ``TypeError`` names what cannot be expressed."""
    if not callable(fn) or isinstance(fn, type):
        raise TypeError(f"tool_from_function needs a function, not {type(fn).__name__}")
    label = f"{getattr(fn, '__name__', 'function')}()"
    try:
        signature = inspect.signature(fn)
        hints = typing.get_type_hints(fn)
    except (TypeError, ValueError, NameError) as exc:
        raise TypeError(f"{label}: cannot read its signature ({exc})") from exc
    summary, documented = _parse_docstring(inspect.getdoc(fn) or "")
    props: dict[str, Any] = {}
    required: list[str] = []
    for param in signature.parameters.values():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            star = "*" if param.kind is param.VAR_POSITIONAL else "**"
            raise TypeError(f"{label}: {star}{param.name} has no place in a tool's schema")
        if param.name not in hints:
            raise TypeError(f"{label}: parameter {param.name!r} has no type hint")
        try:
            schema = json_schema(hints[param.name])
        except TypeError as exc:
            raise TypeError(f"{label}: parameter {param.name!r}: {exc}") from None
        if param.default is param.empty:
            required.append(param.name)
        else:
            schema["default"] = _json_default(param.default)
        if param.name in documented:
            schema["description"] = documented[param.name]
        props[param.name] = schema
    return ToolSpec(
        name or fn.__name__,
        summary if description is None else description,
        _object(props, required),
    )


def _object(props: dict[str, Any], required: list[str]) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": props}
    if required:
        schema["required"] = required
    schema["additionalProperties"] = False
    return schema


def _json_default(value: Any) -> Any:
    return value.value if isinstance(value, enum.Enum) else value


def _name(tp: Any) -> str:
    return tp.__name__ if isinstance(tp, type) else repr(tp)


_SECTION = re.compile(r"^(Args|Arguments|Parameters|Returns?|Raises|Yields?|Examples?|Notes?):\s*$")
_GOOGLE_ARG = re.compile(r"^(\*{0,2}\w+)\s*(\([^)]*\))?\s*:\s*(.*)$")
_SPHINX_PARAM = re.compile(r"^:param\s+(?:[^:]*\s)?(\w+):\s*(.*)$")


def _parse_docstring(doc: str) -> tuple[str, dict[str, str]]:
    """The description (the paragraphs before any section or field) and each
    documented parameter's text, from a Google- or Sphinx-style docstring."""
    summary: list[str] = []
    params: dict[str, str] = {}
    section: str | None = None
    current: str | None = None
    indent = 0
    for line in doc.splitlines():
        stripped = line.strip()
        heading = _SECTION.match(stripped)
        if heading:
            section, current = heading.group(1), None
            continue
        sphinx = _SPHINX_PARAM.match(stripped)
        if sphinx:
            section, current = ":param", sphinx.group(1)
            params[current] = sphinx.group(2).strip()
            continue
        if stripped.startswith(":"):  # :returns:, :raises: ...
            section, current = ":field", None
            continue
        if section is None:
            summary.append(stripped)
        elif section in ("Args", "Arguments", "Parameters"):
            arg = _GOOGLE_ARG.match(stripped)
            if arg and (current is None or len(line) - len(line.lstrip()) <= indent):
                current, indent = arg.group(1).lstrip("*"), len(line) - len(line.lstrip())
                params[current] = arg.group(3).strip()
            elif current is not None and stripped:
                params[current] = f"{params[current]} {stripped}".strip()
        elif section == ":param" and current is not None and stripped:
            params[current] = f"{params[current]} {stripped}".strip()
    return "\n".join(summary).strip(), params
