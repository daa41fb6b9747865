"""Turn what a caller passes into a validated :class:`Request`, before any I/O.

Problems raise :class:`BadRequestError` naming the offending message or tool.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from typing import Any

import attrs

from ..errors import BadRequestError
from ..types import (
    ROLES,
    AudioPart,
    CachePoint,
    ContentPart,
    DocumentPart,
    ImagePart,
    Message,
    OutputSchema,
    Request,
    TextPart,
    Thinking,
    ToolCall,
    ToolSpec,
)

__all__ = [
    "CALL_KEYWORDS",
    "build_request",
    "call_extra",
    "normalize_messages",
    "normalize_tools",
]

CALL_KEYWORDS: tuple[str, ...] = (
    "model",
    "tier",
    "temperature",
    "max_tokens",
    "tools",
    "tool_choice",
    "json_mode",
    "stop",
    "reasoning",
    "response_format",
    "output_retries",
    "cache",
    "extra",
)
"""The keyword arguments of ``Provider.generate`` and ``stream``: the contract's own."""

_TOOL_CHOICES = frozenset({"auto", "none", "required"})


def _bad(message: str, provider: str | None) -> BadRequestError:
    return BadRequestError(message, provider=provider)


def _check_text(text: str, where: str, provider: str | None) -> None:
    if text.isascii():  # the common case, and much cheaper than encoding
        return
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise _bad(f"{where} is not valid UTF-8 text (lone surrogate)", provider) from None


_SCALARS = frozenset({type(None), bool, int, float})


def _check_strings(value: Any, where: str, provider: str | None) -> None:
    """Every string in ``value`` -- nested in dicts (keys too), lists and tuples -- must
    be valid text: a lone surrogate cannot be encoded as UTF-8 for the wire."""
    kind = type(value)
    if kind in _SCALARS:  # before the isinstance checks: Mapping's is slow
        return
    if isinstance(value, str):
        _check_text(value, where, provider)
    elif kind is dict or isinstance(value, Mapping):
        for key, item in value.items():
            _check_strings(key, where, provider)
            _check_strings(item, where, provider)
    elif isinstance(value, list | tuple):
        for item in value:
            _check_strings(item, where, provider)


def _list(value: Any, where: str, provider: str | None) -> list[Any]:
    """``value`` as a list: ``None`` is empty; a list or tuple is taken; else refused."""
    if value is None:
        return []
    if isinstance(value, list | tuple):
        return list(value)
    raise _bad(f"{where} must be a list, not {type(value).__name__}", provider)


def _is_list(value: Any) -> bool:
    return isinstance(value, list | tuple)


def _optional_str(value: Any, where: str, provider: str | None) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise _bad(f"{where} must be a string, not {type(value).__name__}", provider)


def _part_from_mapping(part: Mapping[str, Any], where: str, provider: str | None) -> ContentPart:
    kind = part.get("type")
    if kind == "text":
        text = part.get("text", "")
        if not isinstance(text, str):
            raise _bad(f"{where}.text must be a string, not {type(text).__name__}", provider)
        return TextPart(text)
    if kind in ("image", "image_url"):
        nested = part.get("image_url")
        if isinstance(nested, str):  # {"image_url": "https://..."}, as some servers take
            nested = {"url": nested}
        elif nested is not None and not isinstance(nested, Mapping):
            raise _bad(f"{where}.image_url must be an object with a url", provider)
        url = part.get("url") or (nested or {}).get("url")
        return ImagePart(
            url=_optional_str(url, f"{where}.url", provider),
            data=_optional_str(part.get("data"), f"{where}.data", provider),
            media_type=_optional_str(part.get("media_type"), f"{where}.media_type", provider),
        )
    if kind == "document":
        return DocumentPart(
            data=_optional_str(part.get("data"), f"{where}.data", provider),
            url=_optional_str(part.get("url"), f"{where}.url", provider),
            text=_optional_str(part.get("text"), f"{where}.text", provider),
            media_type=_optional_str(part.get("media_type"), f"{where}.media_type", provider),
            title=_optional_str(part.get("title"), f"{where}.title", provider),
        )
    if kind == "audio":
        return AudioPart(
            data=_optional_str(part.get("data"), f"{where}.data", provider),
            url=_optional_str(part.get("url"), f"{where}.url", provider),
            format=_optional_str(part.get("format"), f"{where}.format", provider),
        )
    if kind == "cache_point":
        return CachePoint(ttl=_optional_str(part.get("ttl"), f"{where}.ttl", provider))
    raise _bad(f"{where} is not a content part ({_PART_KINDS})", provider)


_PART_KINDS = "text, image, document, audio or cache_point"
_PART_TYPES = (TextPart, ImagePart, DocumentPart, AudioPart, CachePoint)
_CACHE_TTLS = frozenset({"5m", "1h"})


_THINKING_KEYS = frozenset({"text", "signature", "redacted"})


def _thinking_from(value: Any, where: str, provider: str | None) -> Thinking:
    if isinstance(value, Thinking):
        return value
    if not isinstance(value, Mapping):
        raise _bad(f"{where} must be a Thinking or a dict, not {type(value).__name__}", provider)
    unknown = sorted(str(k) for k in value if k not in _THINKING_KEYS)
    if unknown:
        raise _bad(f"{where} has unknown keys {unknown}; use {sorted(_THINKING_KEYS)}", provider)
    text = value.get("text")
    if not isinstance(text, str):
        raise _bad(f"{where}.text must be a string", provider)
    redacted = value.get("redacted", False)
    if not isinstance(redacted, bool):
        raise _bad(f"{where}.redacted must be true or false", provider)
    signature = _optional_str(value.get("signature"), f"{where}.signature", provider)
    return Thinking(text, signature, redacted)


def _message_from_mapping(data: Mapping[str, Any], where: str, provider: str | None) -> Message:
    content = data.get("content", "")
    if content is None:
        content = ""
    parts: str | list[ContentPart]
    if isinstance(content, str):
        parts = content
    elif isinstance(content, list | tuple):
        parts = []
        for j, part in enumerate(content):
            if isinstance(part, _PART_TYPES):
                parts.append(part)
            elif isinstance(part, Mapping):
                parts.append(_part_from_mapping(part, f"{where}.content[{j}]", provider))
            else:
                raise _bad(f"{where}.content[{j}] is not a content part ({_PART_KINDS})", provider)
    else:
        raise _bad(f"{where}.content must be a string or a list of parts", provider)
    calls = []
    raw_calls = data.get("tool_calls")
    raw_calls = () if raw_calls is None else _list(raw_calls, f"{where}.tool_calls", provider)
    for j, c in enumerate(raw_calls):
        if isinstance(c, ToolCall):
            calls.append(c)
        elif isinstance(c, Mapping) and isinstance(c.get("name"), str):
            args = c.get("arguments") or {}
            if not isinstance(args, Mapping):
                raise _bad(f"{where}.tool_calls[{j}].arguments must be an object", provider)
            call_id = _optional_str(c.get("id"), f"{where}.tool_calls[{j}].id", provider)
            calls.append(ToolCall(call_id or f"call_{j}", c["name"], dict(args)))
        else:
            raise _bad(f"{where}.tool_calls[{j}] needs a name", provider)
    raw_thinking = data.get("thinking")
    thinking = (
        []
        if raw_thinking is None
        else [
            _thinking_from(t, f"{where}.thinking[{j}]", provider)
            for j, t in enumerate(_list(raw_thinking, f"{where}.thinking", provider))
        ]
    )
    return Message(
        data.get("role"),  # type: ignore[arg-type]  # checked by the caller
        parts,
        name=data.get("name"),
        tool_calls=calls,
        tool_call_id=data.get("tool_call_id"),
        thinking=thinking,
    )


def _is_empty(content: str | tuple[ContentPart, ...]) -> bool:
    if isinstance(content, str):
        return not content
    return all(
        isinstance(p, CachePoint) or (isinstance(p, TextPart) and not p.text) for p in content
    )


def _check_strs(part: Any, attrs_: tuple[str, ...], where: str, provider: str | None) -> None:
    for attr in attrs_:
        value = getattr(part, attr)
        _optional_str(value, f"{where}.{attr}", provider)
        _check_strings(value, f"{where}.{attr}", provider)


def _check_part(part: Any, role: str, where: str, provider: str | None) -> None:
    """One content part: its kind fits the role, its fields are strings, it says what it
    carries (a URL, data or text)."""
    if isinstance(part, TextPart):
        if not isinstance(part.text, str):
            raise _bad(f"{where}.text must be a string", provider)
        _check_text(part.text, where, provider)
        return
    if isinstance(part, CachePoint):
        if part.ttl is not None and part.ttl not in _CACHE_TTLS:
            raise _bad(f"{where}.ttl {part.ttl!r} is not one of {sorted(_CACHE_TTLS)}", provider)
        return
    if role == "system":
        raise _bad(f"{where}: a system message holds only text parts and cache points", provider)
    if isinstance(part, ImagePart):
        if not part.url and not part.data:
            raise _bad(f"{where} image needs url or data", provider)
        _check_strs(part, ("url", "data", "media_type"), where, provider)
    elif isinstance(part, DocumentPart):
        given = [a for a in ("data", "url", "text") if getattr(part, a)]
        if len(given) != 1:
            raise _bad(f"{where} document needs exactly one of data, url or text", provider)
        _check_strs(part, ("data", "url", "text", "media_type", "title"), where, provider)
    elif isinstance(part, AudioPart):
        if not part.data and not part.url:
            raise _bad(f"{where} audio needs data or url", provider)
        _check_strs(part, ("data", "url", "format"), where, provider)
    else:
        raise _bad(f"{where} is not a content part ({_PART_KINDS})", provider)


def _check_message(msg: Message, where: str, provider: str | None) -> None:
    """The checks a :class:`Message` needs whether built by the caller or from a dict
    (attrs checks no types): role, content, names, tool calls, thinking."""
    role = msg.role
    if not isinstance(role, str) or role not in ROLES:
        raise _bad(f"{where}.role {role!r} is unknown; use one of {sorted(ROLES)}", provider)
    if isinstance(msg.content, str):
        _check_text(msg.content, f"{where}.content", provider)
    else:
        for j, part in enumerate(msg.content):
            _check_part(part, role, f"{where}.content[{j}]", provider)
    if role in ("user", "system") and (not msg.content or _is_empty(msg.content)):
        raise _bad(f"{where}.content is empty: a {role} turn needs text or an image", provider)
    if msg.tool_calls and role != "assistant":
        raise _bad(f"{where} has tool_calls but only assistant messages may", provider)
    if msg.name is not None or msg.tool_call_id is not None:
        _optional_str(msg.name, f"{where}.name", provider)
        _optional_str(msg.tool_call_id, f"{where}.tool_call_id", provider)
        _check_strings((msg.name, msg.tool_call_id), where, provider)
    for j, call in enumerate(msg.tool_calls):
        here = f"{where}.tool_calls[{j}]"
        if not isinstance(call, ToolCall):
            raise _bad(f"{here} must be a ToolCall, not {type(call).__name__}", provider)
        if not isinstance(call.id, str) or not isinstance(call.name, str):
            raise _bad(f"{here} needs a string id and name", provider)
        _check_strings((call.id, call.name, call.arguments), here, provider)
    for j, block in enumerate(msg.thinking):
        here = f"{where}.thinking[{j}]"
        if not isinstance(block, Thinking):
            raise _bad(f"{here} must be a Thinking, not {type(block).__name__}", provider)
        if not isinstance(block.text, str):
            raise _bad(f"{here}.text must be a string", provider)
        _optional_str(block.signature, f"{here}.signature", provider)
        _check_strings((block.text, block.signature), here, provider)


def normalize_messages(
    messages: str | Message | Mapping[str, Any] | Iterable[Message | Mapping[str, Any]],
    provider: str | None = None,
) -> tuple[Message, ...]:
    """Validate and convert the caller's messages; a plain string is one user message."""
    if type(messages) is str:  # the commonest call: one user turn, nothing else to check
        if not messages:
            raise _bad("messages[0].content is empty: the prompt has no text", provider)
        _check_text(messages, "messages[0].content", provider)
        return (Message("user", messages),)
    if isinstance(messages, str):
        items: list[Any] = [Message.user(messages)]
    elif isinstance(messages, Message | Mapping):
        items = [messages]
    else:
        try:
            items = list(messages)
        except TypeError:
            raise _bad("messages must be a string, a Message or a list of them", provider) from None
    if not items:
        raise _bad("messages is empty", provider)
    out: list[Message] = []
    call_ids: set[str] = set()
    for i, item in enumerate(items):
        where = f"messages[{i}]"
        if isinstance(item, Mapping):
            msg = _message_from_mapping(item, where, provider)
        elif isinstance(item, Message):
            msg = item
        else:
            raise _bad(f"{where} must be a Message or a dict, not {type(item).__name__}", provider)
        _check_message(msg, where, provider)
        if msg.tool_calls:
            call_ids.update(call.id for call in msg.tool_calls)
        if msg.role == "tool":
            if not msg.tool_call_id:
                raise _bad(f"{where} is a tool result without tool_call_id", provider)
            if msg.tool_call_id not in call_ids:
                raise _bad(
                    f"{where} answers tool call {msg.tool_call_id!r}, "
                    "which no earlier assistant message made",
                    provider,
                )
        out.append(msg)
    return tuple(out)


def normalize_tools(
    tools: Iterable[ToolSpec | Mapping[str, Any] | Callable[..., Any]] | None,
    provider: str | None = None,
) -> tuple[ToolSpec, ...]:
    """Validate tool specs; accepts :class:`ToolSpec`, dicts (neutral or OpenAI form) and
    functions (:func:`~jackfield.schema.tool_from_function`). A :class:`CachePoint` in
    the list marks a prompt-cache breakpoint after the tool before it."""
    if tools is None:
        return ()
    if isinstance(tools, str | bytes | Mapping) or not isinstance(tools, Iterable):
        raise _bad(
            f"tools must be a list of ToolSpec or dicts, not {type(tools).__name__}", provider
        )
    out: list[ToolSpec] = []
    seen: set[str] = set()
    for i, tool in enumerate(tools):
        where = f"tools[{i}]"
        if isinstance(tool, CachePoint) or (
            isinstance(tool, Mapping) and tool.get("type") == "cache_point"
        ):
            if not out:
                raise _bad(f"{where}: a cache point must follow a tool", provider)
            point = tool if isinstance(tool, CachePoint) else CachePoint(tool.get("ttl"))
            _check_part(point, "user", where, provider)
            out[-1] = attrs.evolve(out[-1], cache_point=point)
            continue
        if isinstance(tool, Mapping):
            data = tool.get("function", tool) if tool.get("type") == "function" else tool
            if not isinstance(data, Mapping) or not isinstance(data.get("name"), str):
                raise _bad(f"{where} needs a name", provider)
            schema = data.get("parameters", data.get("input_schema"))
            if schema is None:
                schema = {"type": "object", "properties": {}}
            if not isinstance(schema, Mapping):
                raise _bad(f"{where}.parameters must be a JSON schema object", provider)
            tool = ToolSpec(data["name"], str(data.get("description") or ""), dict(schema))
        elif callable(tool) and not isinstance(tool, ToolSpec | type):
            from ..schema import tool_from_function  # inspect and typing: on first use

            try:
                tool = tool_from_function(tool)
            except TypeError as exc:
                raise _bad(f"{where}: {exc}", provider) from None
        elif not isinstance(tool, ToolSpec):
            raise _bad(f"{where} must be a ToolSpec, a dict or a function", provider)
        if (
            not isinstance(tool.name, str)
            or not tool.name
            or not all(ch.isalnum() or ch in "_-" for ch in tool.name)
        ):
            raise _bad(f"{where}.name {tool.name!r} must be letters, digits, _ or -", provider)
        if tool.name in seen:
            raise _bad(f"{where}.name {tool.name!r} is used twice", provider)
        seen.add(tool.name)
        if tool.parameters.get("type") != "object":
            raise _bad(f"{where}.parameters must be a schema with type 'object'", provider)
        _check_strings(tool.description, f"{where}.description", provider)
        _check_strings(tool.parameters, f"{where}.parameters", provider)
        out.append(tool)
    return tuple(out)


def call_extra(
    options: Mapping[str, Any],
    extra: Any,
    *,
    allowed: Collection[str],
    provider: str | None = None,
) -> dict[str, Any]:
    """The wire fields of a call: its declared ``options`` (keywords the provider names in
    ``allowed``) and its ``extra`` mapping, merged; an unknown keyword is refused with a
    did-you-mean, before it could reach a server."""
    unknown = [name for name in options if name not in allowed]
    if unknown:
        import difflib  # here: only a refused call needs it

        known = [*CALL_KEYWORDS, *sorted(allowed)]
        hints = []
        for name in unknown:
            close = difflib.get_close_matches(name, known, n=1, cutoff=0.75)
            hint = f"did you mean {close[0]!r}?" if close else "not a keyword of this provider"
            hints.append(f"{name!r} ({hint})")
        raise _bad(
            f"unknown keyword argument{'s' if len(unknown) > 1 else ''} {', '.join(hints)}; "
            "pass provider-specific body fields as extra={...}",
            provider,
        )
    if extra is None:
        return dict(options)
    if not isinstance(extra, Mapping):
        raise _bad(f"extra must be a dict of body fields, not {type(extra).__name__}", provider)
    for key in extra:
        if not isinstance(key, str):
            raise _bad(f"extra keys must be strings (got {key!r})", provider)
        if key in options:
            raise _bad(f"{key!r} is given both as a keyword and in extra", provider)
    return {**options, **extra}


def _check_json(extra: Mapping[str, Any], provider: str | None) -> None:
    """Every body field must be JSON (``nan`` is not): found now, not by the encoder."""
    for key, value in extra.items():
        try:
            json.dumps(value, allow_nan=False)
        except (TypeError, ValueError, RecursionError) as exc:
            raise _bad(f"extra[{key!r}] is not JSON-serialisable: {exc}", provider) from None


def build_request(
    messages: Any,
    *,
    model: str,
    provider: str | None = None,
    temperature: float | None = None,
    max_tokens: int | None = None,
    tools: Iterable[ToolSpec | Mapping[str, Any] | Callable[..., Any]] | None = None,
    tool_choice: str | None = None,
    json_mode: bool = False,
    stop: str | Sequence[str] | None = None,
    reasoning: bool | str | None = None,
    response_format: Any = None,
    output_retries: int = 0,
    extra: Mapping[str, Any] | None = None,
) -> Request:
    """Validate every argument of a call and freeze them into a :class:`Request`."""
    msgs = normalize_messages(messages, provider)
    specs = normalize_tools(tools, provider)
    if temperature is not None and (
        isinstance(temperature, bool)
        or not isinstance(temperature, int | float)
        or math.isnan(temperature)
        or not 0 <= temperature <= 2
    ):
        raise _bad(f"temperature must be a number from 0 to 2 (got {temperature!r})", provider)
    if max_tokens is not None and (
        isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1
    ):
        raise _bad(f"max_tokens must be a positive integer (got {max_tokens!r})", provider)
    if tool_choice is not None:
        if not isinstance(tool_choice, str):
            raise _bad("tool_choice must be 'auto', 'none', 'required' or a tool name", provider)
        if tool_choice not in _TOOL_CHOICES and tool_choice not in {t.name for t in specs}:
            raise _bad(f"tool_choice {tool_choice!r} names no tool of this call", provider)
    stops: tuple[str, ...] = ()
    if stop is not None:
        stops = (stop,) if isinstance(stop, str) else tuple(stop) if _is_list(stop) else ()
        if not (stops or _is_list(stop)) or not all(isinstance(s, str) and s for s in stops):
            raise _bad(
                f"stop must be a string or a list of non-empty strings (got {stop!r})", provider
            )
        _check_strings(stops, "stop", provider)
    if not isinstance(model, str) or not model:
        raise _bad(f"model must be a non-empty string (got {model!r})", provider)
    _check_text(model, "model", provider)
    if reasoning is not None and not isinstance(reasoning, bool | str):
        raise _bad(f"reasoning must be true, false or an effort name (got {reasoning!r})", provider)
    _check_strings(reasoning, "reasoning", provider)
    if not isinstance(json_mode, bool):
        raise _bad(f"json_mode must be true or false (got {json_mode!r})", provider)
    if extra:
        _check_json(extra, provider)  # first: it also finds a cycle, which would recurse
        _check_strings(extra, "extra arguments", provider)
    output: OutputSchema | None = None
    if response_format is not None:
        from ..schema import output_schema  # typing and inspect: on first use

        try:
            output = output_schema(response_format)
        except (TypeError, ValueError) as exc:
            raise _bad(f"response_format: {exc}", provider) from None
        if output is None:  # {"type": "json_object"}: the OpenAI spelling of json_mode
            json_mode = True
        else:
            if json_mode:
                raise _bad("json_mode and a response_format schema: pass one of them", provider)
            try:
                json.dumps(output.schema, allow_nan=False)
            except (TypeError, ValueError, RecursionError) as exc:
                raise _bad(f"response_format: the schema is not JSON: {exc}", provider) from None
            _check_strings(output.schema, "response_format", provider)
            if output.name in {t.name for t in specs}:
                raise _bad(
                    f"response_format is named {output.name!r}, as a tool of this call is; "
                    "rename one (output_schema(X, name=...))",
                    provider,
                )
    if output_retries:
        if isinstance(output_retries, bool) or not isinstance(output_retries, int):
            raise _bad(f"output_retries must be an integer (got {output_retries!r})", provider)
        if not 0 <= output_retries <= 10:
            raise _bad(f"output_retries must be from 0 to 10 (got {output_retries})", provider)
        if output is None:
            raise _bad("output_retries needs a response_format schema to validate", provider)
        output = attrs.evolve(output, retries=output_retries)
    return Request(
        messages=msgs,
        model=model,
        temperature=temperature,
        max_tokens=max_tokens,
        tools=specs,
        tool_choice=tool_choice,
        json_mode=json_mode,
        stop=stops,
        reasoning=reasoning,
        extra=dict(extra or {}),
        output=output,
    )
