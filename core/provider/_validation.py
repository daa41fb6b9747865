"""Turn what a caller passes into a validated :class:`Request`, before any I/O.

Problems raise :class:`BadRequestError` naming the offending message or tool.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ..errors import BadRequestError
from ..types import ROLES, ImagePart, Message, Request, TextPart, Thinking, ToolCall, ToolSpec

__all__ = ["build_request", "normalize_messages", "normalize_tools"]

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


def _message_from_mapping(data: Mapping[str, Any], where: str, provider: str | None) -> Message:
    role = data.get("role")
    content = data.get("content", "")
    if content is None:
        content = ""
    parts: str | list[TextPart | ImagePart]
    if isinstance(content, str):
        parts = content
    elif isinstance(content, Sequence):
        parts = []
        for j, part in enumerate(content):
            if isinstance(part, TextPart | ImagePart):
                parts.append(part)
            elif isinstance(part, Mapping) and part.get("type") == "text":
                parts.append(TextPart(str(part.get("text", ""))))
            elif isinstance(part, Mapping) and part.get("type") in ("image", "image_url"):
                url = part.get("url") or (part.get("image_url") or {}).get("url")
                parts.append(
                    ImagePart(url=url, data=part.get("data"), media_type=part.get("media_type"))
                )
            else:
                raise _bad(f"{where}.content[{j}] is not a text or image part", provider)
    else:
        raise _bad(f"{where}.content must be a string or a list of parts", provider)
    calls = []
    for j, c in enumerate(data.get("tool_calls") or ()):
        if isinstance(c, ToolCall):
            calls.append(c)
        elif isinstance(c, Mapping) and "name" in c:
            args = c.get("arguments") or {}
            if not isinstance(args, Mapping):
                raise _bad(f"{where}.tool_calls[{j}].arguments must be an object", provider)
            calls.append(ToolCall(str(c.get("id", f"call_{j}")), str(c["name"]), dict(args)))
        else:
            raise _bad(f"{where}.tool_calls[{j}] needs a name", provider)
    thinking = [
        t if isinstance(t, Thinking) else Thinking(**t) for t in (data.get("thinking") or ())
    ]
    return Message(
        role,  # type: ignore[arg-type]  # checked against ROLES by the caller
        parts,
        name=data.get("name"),
        tool_calls=calls,
        tool_call_id=data.get("tool_call_id"),
        thinking=thinking,
    )


def normalize_messages(
    messages: str | Message | Mapping[str, Any] | Iterable[Message | Mapping[str, Any]],
    provider: str | None = None,
) -> tuple[Message, ...]:
    """Validate and convert the caller's messages; a plain string is one user message."""
    if type(messages) is str:  # the commonest call: one user turn, nothing else to check
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
        if msg.role not in ROLES:
            raise _bad(
                f"{where}.role {msg.role!r} is unknown; use one of {sorted(ROLES)}", provider
            )
        if isinstance(msg.content, str):
            _check_text(msg.content, f"{where}.content", provider)
        else:
            for j, part in enumerate(msg.content):
                if isinstance(part, TextPart):
                    _check_text(part.text, f"{where}.content[{j}]", provider)
                elif isinstance(part, ImagePart):
                    if not part.url and not part.data:
                        raise _bad(f"{where}.content[{j}] image needs url or data", provider)
                else:
                    raise _bad(f"{where}.content[{j}] is not a text or image part", provider)
        if msg.tool_calls and msg.role != "assistant":
            raise _bad(f"{where} has tool_calls but only assistant messages may", provider)
        _check_strings((msg.name, msg.tool_call_id), where, provider)
        for j, call in enumerate(msg.tool_calls):
            _check_strings(
                (call.id, call.name, call.arguments), f"{where}.tool_calls[{j}]", provider
            )
            call_ids.add(call.id)
        for j, block in enumerate(msg.thinking):
            _check_strings((block.text, block.signature), f"{where}.thinking[{j}]", provider)
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
    tools: Iterable[ToolSpec | Mapping[str, Any]] | None, provider: str | None = None
) -> tuple[ToolSpec, ...]:
    """Validate tool specs; accepts :class:`ToolSpec` or dicts (neutral or OpenAI form)."""
    if not tools:
        return ()
    out: list[ToolSpec] = []
    seen: set[str] = set()
    for i, tool in enumerate(tools):
        where = f"tools[{i}]"
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
        elif not isinstance(tool, ToolSpec):
            raise _bad(f"{where} must be a ToolSpec or a dict", provider)
        if not tool.name or not all(ch.isalnum() or ch in "_-" for ch in tool.name):
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


def build_request(
    messages: Any,
    *,
    model: str,
    provider: str | None = None,
    temperature: float | None = None,
    max_tokens: int | None = None,
    tools: Iterable[ToolSpec | Mapping[str, Any]] | None = None,
    tool_choice: str | None = None,
    json_mode: bool = False,
    stop: str | Sequence[str] | None = None,
    reasoning: bool | str | None = None,
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
    stops: tuple[str, ...]
    if stop is None:
        stops = ()
    elif isinstance(stop, str):
        stops = (stop,)
    else:
        stops = tuple(stop)
    if not all(isinstance(s, str) and s for s in stops):
        raise _bad("stop must be a string or a list of non-empty strings", provider)
    _check_strings(stops, "stop", provider)
    _check_strings(model, "model", provider)
    _check_strings(reasoning, "reasoning", provider)
    _check_strings(extra, "extra arguments", provider)
    return Request(
        messages=msgs,
        model=model,
        temperature=temperature,
        max_tokens=max_tokens,
        tools=specs,
        tool_choice=tool_choice,
        json_mode=bool(json_mode),
        stop=stops,
        reasoning=reasoning,
        extra=dict(extra or {}),
    )
