"""The tinyagent proxy protocol: pure translation, shared by the ``proxy`` client (with
``protocol = "tinyagent"``) and the gateway's server side (``docs/proxy-protocol.md``).

The request is ``POST {proxy_url}/api/stream`` with ``{"model": {"id", ...}, "context":
{"systemPrompt", "messages", "tools"}, "options": {"temperature", "maxTokens",
"reasoning"}}`` (messages in the pi-ai shape: ``user``, ``assistant`` with ``text``,
``thinking`` and ``toolCall`` parts, ``toolResult``); the answer is server-sent events
whose ``data`` is one JSON object with a ``type``: ``start``, ``text_start/_delta/_end``,
``thinking_start/_delta/_end``, ``toolcall_start/_delta/_end`` (``contentIndex``,
``id``, ``toolName``, ``delta``, ``contentSignature``), then ``done`` (``reason``,
``usage``) or ``error`` (``reason``, ``errorMessage``). A failure before the stream is a
non-2xx answer with ``{"error": "<message>"}``.

The server half turns jackfield stream events into these (:func:`event_to_wire`); the
client half (:class:`EventReader`) rebuilds jackfield events with a
:class:`~jackfield.wire._assembler.StreamAssembler`. No I/O here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, Final

from ..errors import ERROR_CLASSES_BY_TYPE, BadRequestError, ProviderError, StreamError
from ..events import (
    StreamEnd,
    StreamEvent,
    StreamStart,
    TextDelta,
    TextEnd,
    TextStart,
    ThinkingDelta,
    ThinkingEnd,
    ThinkingStart,
    ToolCallDelta,
    ToolCallEnd,
    ToolCallStart,
)
from ..types import FinishReason, ImagePart, Message, Request, TextPart, Usage
from ._assembler import StreamAssembler
from ._errors import error_from_response as _generic_error_from_response, parse_retry_after

__all__ = [
    "STREAM_PATH",
    "EventReader",
    "build_payload",
    "error_body",
    "error_event",
    "error_from_response",
    "event_to_wire",
    "is_tinyagent_body",
    "parse_payload",
]

STREAM_PATH: Final = "/api/stream"
"""The protocol's endpoint, appended to the proxy URL (as in the jackfield protocol)."""

_REASON_OUT: Final[dict[str, str]] = {"stop": "stop", "length": "length", "tool_calls": "toolUse"}
_REASON_IN: Final[dict[str, FinishReason]] = {
    "stop": FinishReason.STOP,
    "length": FinishReason.LENGTH,
    "toolUse": FinishReason.TOOL_CALLS,
}


def is_tinyagent_body(data: Any) -> bool:
    """Whether a request body is the tinyagent protocol's (a ``context`` object and no
    top-level ``messages``), as opposed to the jackfield protocol's."""
    return isinstance(data, Mapping) and "context" in data and "messages" not in data


# -- usage ------------------------------------------------------------------------------


def usage_to_wire(usage: Usage) -> dict[str, Any]:
    """jackfield usage in the pi-ai shape (``input`` excludes cached tokens there)."""
    cached = usage.cache_read_tokens + usage.cache_write_tokens
    return {
        "input": max(usage.input_tokens - cached, 0),
        "output": usage.output_tokens,
        "cacheRead": usage.cache_read_tokens,
        "cacheWrite": usage.cache_write_tokens,
        "totalTokens": usage.total_tokens,
        "cost": {"input": 0, "output": 0, "cacheRead": 0, "cacheWrite": 0, "total": 0},
    }


def usage_from_wire(data: Any) -> Usage:
    """pi-ai usage as jackfield's (unknown or malformed counts are 0)."""
    if not isinstance(data, Mapping):
        return Usage()

    def count(name: str) -> int:
        value = data.get(name)
        return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0

    read, write = count("cacheRead"), count("cacheWrite")
    return Usage(
        input_tokens=count("input") + read + write,
        output_tokens=count("output"),
        cache_read_tokens=read,
        cache_write_tokens=write,
    )


# -- requests ---------------------------------------------------------------------------


def _parts_to_wire(content: Any) -> Any:
    if isinstance(content, str):
        return content
    out: list[dict[str, Any]] = []
    for part in content:
        if isinstance(part, TextPart):
            out.append({"type": "text", "text": part.text})
        elif isinstance(part, ImagePart) and part.data is not None:
            out.append({"type": "image", "data": part.data, "mimeType": part.media_type})
        else:
            raise BadRequestError(
                f"the tinyagent protocol carries text and inline images only, not {part.type!r}"
            )
    return out


def _message_to_wire(m: Message) -> dict[str, Any]:
    if m.role == "tool":
        content = _parts_to_wire(m.content)
        return {
            "role": "toolResult",
            "toolCallId": m.tool_call_id,
            "toolName": m.name or "",
            "content": [{"type": "text", "text": content}] if isinstance(content, str) else content,
            "isError": False,
        }
    if m.role == "assistant":
        parts: list[dict[str, Any]] = []
        for t in m.thinking:
            block: dict[str, Any] = {"type": "thinking", "thinking": t.text}
            if t.signature is not None:
                block["thinkingSignature"] = t.signature
            parts.append(block)
        text = _parts_to_wire(m.content)
        if isinstance(text, str):
            if text:
                parts.append({"type": "text", "text": text})
        else:
            parts.extend(text)
        for call in m.tool_calls:
            parts.append(
                {"type": "toolCall", "id": call.id, "name": call.name, "arguments": call.arguments}
            )
        return {"role": "assistant", "content": parts}
    return {"role": "user", "content": _parts_to_wire(m.content)}


def build_payload(request: Request) -> dict[str, Any]:
    """The tinyagent request JSON for ``request`` (system messages join the context's
    system prompt, sent as ``systemPrompt`` and ``system_prompt``)."""
    system = [m for m in request.messages if m.role == "system"]
    prompt = "\n\n".join(m.text for m in system) or None
    context: dict[str, Any] = {
        "messages": [_message_to_wire(m) for m in request.messages if m.role != "system"],
    }
    if prompt is not None:
        context["systemPrompt"] = context["system_prompt"] = prompt
    if request.tools:
        context["tools"] = [
            {"name": t.name, "description": t.description, "parameters": t.parameters}
            for t in request.tools
        ]
    options: dict[str, Any] = {}
    if request.temperature is not None:
        options["temperature"] = request.temperature
    if request.max_tokens is not None:
        options["maxTokens"] = request.max_tokens
    if request.reasoning is not None and request.reasoning is not False:
        options["reasoning"] = "medium" if request.reasoning is True else request.reasoning
    return {"model": {"id": request.model}, "context": context, "options": options}


def _fail(message: str) -> BadRequestError:
    return BadRequestError(f"invalid tinyagent request: {message}")


def _content_in(content: Any, where: str) -> Any:
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise _fail(f"{where}.content must be a string or a list")
    out: list[dict[str, Any]] = []
    for i, part in enumerate(content):
        kind = part.get("type") if isinstance(part, Mapping) else None
        if kind == "text" and isinstance(part.get("text"), str):
            out.append({"type": "text", "text": part["text"]})
        elif kind == "image" and isinstance(part.get("data"), str):
            out.append({"type": "image", "data": part["data"], "media_type": part.get("mimeType")})
        else:
            raise _fail(f"{where}.content[{i}] must be a text or image part")
    return out


def _message_in(m: Any, where: str) -> dict[str, Any]:
    if not isinstance(m, Mapping):
        raise _fail(f"{where} must be an object")
    role = m.get("role")
    if role == "user":
        return {"role": "user", "content": _content_in(m.get("content", ""), where)}
    if role == "toolResult":
        content = _content_in(m.get("content", ""), where)
        if isinstance(content, list) and all(p["type"] == "text" for p in content):
            content = "".join(p["text"] for p in content)
        out = {"role": "tool", "tool_call_id": m.get("toolCallId"), "content": content}
        if isinstance(m.get("toolName"), str) and m["toolName"]:
            out["name"] = m["toolName"]
        return out
    if role == "assistant":
        content = m.get("content", [])
        if isinstance(content, str):
            return {"role": "assistant", "content": content}
        if not isinstance(content, list):
            raise _fail(f"{where}.content must be a string or a list")
        texts: list[str] = []
        calls: list[dict[str, Any]] = []
        thinking: list[dict[str, Any]] = []
        for i, part in enumerate(content):
            kind = part.get("type") if isinstance(part, Mapping) else None
            if kind == "text":
                texts.append(str(part.get("text", "")))
            elif kind == "thinking":
                thinking.append(
                    {
                        "text": str(part.get("thinking", "")),
                        "signature": part.get("thinkingSignature"),
                    }
                )
            elif kind == "toolCall":
                args = part.get("arguments")
                calls.append(
                    {
                        "id": str(part.get("id", "")),
                        "name": str(part.get("name", "")),
                        "arguments": args if isinstance(args, Mapping) else {},
                    }
                )
            else:
                raise _fail(f"{where}.content[{i}] has an unknown type {kind!r}")
        out = {"role": "assistant", "content": "".join(texts)}
        if calls:
            out["tool_calls"] = calls
        if thinking:
            out["thinking"] = thinking
        return out
    raise _fail(f"{where}.role must be user, assistant or toolResult (got {role!r})")


def parse_payload(data: Any) -> dict[str, Any]:
    """A tinyagent request body as the keyword arguments of ``Provider.stream``, plus
    ``"model"`` (the model object's ``id``, or ``None``); raises :class:`BadRequestError`
    naming the field that is wrong."""
    if not isinstance(data, Mapping):
        raise _fail("the body must be a JSON object")
    model = data.get("model")
    model_id = model.get("id") if isinstance(model, Mapping) else model
    if model_id is not None and not isinstance(model_id, str):
        raise _fail("model.id must be a string")
    context = data.get("context")
    if not isinstance(context, Mapping):
        raise _fail("context must be an object")
    raw = context.get("messages")
    if not isinstance(raw, list) or not raw:
        raise _fail("context.messages must be a non-empty list")
    messages = [_message_in(m, f"context.messages[{i}]") for i, m in enumerate(raw)]
    system = context.get("systemPrompt", context.get("system_prompt"))
    if system is not None:
        if not isinstance(system, str):
            raise _fail("context.systemPrompt must be a string")
        if system:
            messages.insert(0, {"role": "system", "content": system})
    tools = context.get("tools") or []
    if not isinstance(tools, list):
        raise _fail("context.tools must be a list")
    options = data.get("options") or {}
    if not isinstance(options, Mapping):
        raise _fail("options must be an object")
    reasoning = options.get("reasoning")
    if reasoning in ("minimal", "xhigh"):
        reasoning = "low" if reasoning == "minimal" else "high"
    return {
        "model": model_id or None,
        "messages": messages,
        "tools": [
            {
                "name": t.get("name"),
                "description": t.get("description", ""),
                "parameters": t.get("parameters") or {"type": "object", "properties": {}},
            }
            for t in tools
            if isinstance(t, Mapping)
        ]
        or None,
        "temperature": options.get("temperature"),
        "max_tokens": options.get("maxTokens"),
        "reasoning": reasoning,
    }


# -- events: server side ----------------------------------------------------------------


def event_to_wire(event: StreamEvent) -> dict[str, Any]:
    """One jackfield stream event as its tinyagent event."""
    if isinstance(event, TextDelta):
        return {"type": "text_delta", "contentIndex": event.index, "delta": event.text}
    if isinstance(event, ThinkingDelta):
        return {"type": "thinking_delta", "contentIndex": event.index, "delta": event.text}
    if isinstance(event, ToolCallDelta):
        return {
            "type": "toolcall_delta",
            "contentIndex": event.index,
            "delta": event.arguments_delta,
        }
    if isinstance(event, StreamStart):
        return {"type": "start"}
    if isinstance(event, TextStart):
        return {"type": "text_start", "contentIndex": event.index}
    if isinstance(event, TextEnd):
        return {"type": "text_end", "contentIndex": event.index}
    if isinstance(event, ThinkingStart):
        return {"type": "thinking_start", "contentIndex": event.index}
    if isinstance(event, ThinkingEnd):
        out: dict[str, Any] = {"type": "thinking_end", "contentIndex": event.index}
        if event.signature is not None:
            out["contentSignature"] = event.signature
        return out
    if isinstance(event, ToolCallStart):
        return {
            "type": "toolcall_start",
            "contentIndex": event.index,
            "id": event.id,
            "toolName": event.name,
        }
    if isinstance(event, ToolCallEnd):
        return {"type": "toolcall_end", "contentIndex": event.index}
    assert isinstance(event, StreamEnd)
    response = event.response
    return {
        "type": "done",
        "reason": _REASON_OUT.get(str(response.finish_reason), "stop"),
        "usage": usage_to_wire(response.usage),
    }


def error_event(error: ProviderError) -> dict[str, Any]:
    """The ``error`` event for a failure inside the stream (``errorType`` is jackfield's
    addition: its client maps it to the exact class; other clients ignore it)."""
    return {
        "type": "error",
        "reason": "error",
        "errorMessage": error.message,
        "errorType": error.error_type,
        "usage": usage_to_wire(Usage()),
    }


def error_body(error: ProviderError) -> dict[str, Any]:
    """The JSON body of a failure before the stream: ``{"error": "<message>"}`` (what
    tinyagent clients read), with jackfield's ``error_type`` and ``retry_after`` beside."""
    return {
        "error": error.message,
        "error_type": error.error_type,
        "retry_after": error.retry_after,
    }


# -- events: client side ----------------------------------------------------------------


def _int(data: Mapping[str, Any], name: str) -> int:
    value = data.get(name)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise StreamError(f"invalid tinyagent event: {name} must be an integer >= 0")
    return value


class EventReader:
    """Rebuilds jackfield stream events from tinyagent events, one call at a time."""

    def __init__(self, provider: str, model: str, secrets: Sequence[str] = ()) -> None:
        self._asm = StreamAssembler(provider, model)
        self._provider = provider
        self._secrets = secrets
        self._calls: dict[int, tuple[str, str]] = {}
        self.done = False

    def feed(self, data: str) -> list[StreamEvent]:
        """The events for one SSE ``data`` payload; raises the error an ``error`` event
        carries, or :class:`StreamError` for data of the wrong shape."""
        try:
            event = json.loads(data)
        except (ValueError, RecursionError):
            raise StreamError(
                f"malformed tinyagent event data: {data[:200]!r}", provider=self._provider
            ) from None
        if not isinstance(event, Mapping):
            raise StreamError("a tinyagent event must be a JSON object", provider=self._provider)
        kind = event.get("type")
        asm = self._asm
        try:
            if kind == "start":
                return [asm.start()]
            if not asm.started:
                raise StreamError(f"the tinyagent stream began with {kind!r}, not 'start'")
            if kind in ("text_start", "thinking_start", "text_end"):
                _int(event, "contentIndex")
                return []
            if kind == "text_delta":
                _int(event, "contentIndex")
                return asm.text(str(event.get("delta", "")))
            if kind == "thinking_delta":
                _int(event, "contentIndex")
                return asm.thinking(str(event.get("delta", "")))
            if kind == "thinking_end":
                _int(event, "contentIndex")
                signature = event.get("contentSignature")
                sig = signature if isinstance(signature, str) else None
                return [*asm.thinking("", signature=sig), *asm.end_block()]
            if kind == "toolcall_start":
                index = _int(event, "contentIndex")
                self._calls[index] = (str(event.get("id", "")), str(event.get("toolName", "")))
                call_id, name = self._calls[index]
                return asm.tool_call(index, id=call_id or None, name=name)
            if kind == "toolcall_delta":
                index = _int(event, "contentIndex")
                call_id, name = self._calls.get(index, ("", ""))
                return asm.tool_call(
                    index, id=call_id or None, name=name, arguments=str(event.get("delta", ""))
                )
            if kind == "toolcall_end":
                _int(event, "contentIndex")
                return asm.end_block()
            if kind == "done":
                reason = event.get("reason")
                self.done = True
                return asm.finish(
                    _REASON_IN.get(reason, FinishReason.STOP) if isinstance(reason, str) else None,
                    usage_from_wire(event.get("usage")),
                )
            if kind == "error":
                raise self._error(event)
        except StreamError as exc:
            if exc.provider is None:
                exc.provider = self._provider
            raise
        raise StreamError(f"unknown tinyagent event type {kind!r}", provider=self._provider)

    def _error(self, event: Mapping[str, Any]) -> ProviderError:
        message = event.get("errorMessage")
        text = message if isinstance(message, str) and message else "the proxy reported an error"
        if event.get("reason") == "aborted":
            text = f"aborted: {text}"
        kind = event.get("errorType")
        cls = ERROR_CLASSES_BY_TYPE.get(kind, StreamError) if isinstance(kind, str) else StreamError
        return cls(text, provider=self._provider, secrets=self._secrets)


def error_from_response(
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    *,
    provider: str | None = None,
    secrets: Sequence[str] = (),
) -> ProviderError:
    """The error for a non-2xx tinyagent answer: ``{"error": "<message>"}`` (with
    jackfield's ``error_type`` when a jackfield gateway sent it), else the shared mapper."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        data = None
    if isinstance(data, Mapping) and isinstance(data.get("error"), str):
        kind = data.get("error_type")
        cls = ERROR_CLASSES_BY_TYPE.get(kind) if isinstance(kind, str) else None
        if cls is not None:
            hint = data.get("retry_after")
            retry_after = (
                float(hint)
                if isinstance(hint, int | float) and not isinstance(hint, bool) and hint >= 0
                else parse_retry_after(headers)
            )
            return cls(
                data["error"],
                provider=provider,
                status_code=status,
                retry_after=retry_after,
                body=data,
                secrets=secrets,
            )
    return _generic_error_from_response(status, headers, body, provider=provider, secrets=secrets)
