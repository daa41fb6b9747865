"""OpenAI Chat Completions, served: ``POST /v1/chat/completions`` and ``GET /v1/models``.

Any OpenAI SDK application can use the gateway by changing its ``base_url``. The
request's messages, tools, ``tool_choice``, ``response_format`` (``json_object``,
``json_schema``), ``stop``, ``temperature``, ``max_tokens`` / ``max_completion_tokens``
and ``reasoning_effort`` are translated; a few sampling fields are forwarded to the
upstream as they are (:data:`FORWARDED`); fields that only label the call are accepted
and ignored (:data:`IGNORED`); any other field is refused with 400 naming it, never
dropped. Answers are ``chat.completion`` objects or ``chat.completion.chunk`` streams
(thinking as ``reasoning_content``), errors ``{"error": {"message", "type", "param",
"code"}}``.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Mapping
from typing import Any, Final

import attrs

from ..errors import BadRequestError, ProviderError
from ..events import (
    StreamEnd,
    StreamEvent,
    TextDelta,
    ThinkingDelta,
    ToolCallDelta,
    ToolCallStart,
)
from ..types import OutputSchema, Response, Usage
from ._calls import SSE_HEADERS, Call, Encoder

__all__ = ["FORWARDED", "IGNORED", "OPENAI", "model_list"]

FORWARDED: Final = frozenset(
    {"top_p", "seed", "presence_penalty", "frequency_penalty", "logit_bias", "parallel_tool_calls"}
)
"""Sampling fields sent to the upstream unchanged (as the call's ``extra``)."""

IGNORED: Final = frozenset({"user", "metadata", "store", "stream_options", "n", "service_tier"})
"""Fields that label or shape the call but not the answer; accepted, not forwarded."""

_KNOWN: Final = frozenset(
    {
        "model",
        "messages",
        "tools",
        "tool_choice",
        "response_format",
        "stop",
        "temperature",
        "max_tokens",
        "max_completion_tokens",
        "reasoning_effort",
        "stream",
        "functions",
    }
)

_FINISH: Final = {"stop": "stop", "length": "length", "tool_calls": "tool_calls"}
_TYPES: Final = {
    "invalid_request": "invalid_request_error",
    "context_window": "invalid_request_error",
    "content_filter": "invalid_request_error",
    "unsupported_feature": "invalid_request_error",
    "authentication": "authentication_error",
    "permission": "permission_error",
    "not_found": "not_found_error",
    "rate_limit": "rate_limit_error",
    "quota": "insufficient_quota",
}


def _fail(message: str, param: str | None = None) -> BadRequestError:
    return BadRequestError(f"invalid request: {message}", body=param)  # body: the param


def _content(value: Any, where: str) -> Any:
    if value is None or isinstance(value, str):
        return value or ""
    if not isinstance(value, list):
        raise _fail(f"{where}.content must be a string or a list of parts", where)
    parts: list[dict[str, Any]] = []
    for i, part in enumerate(value):
        kind = part.get("type") if isinstance(part, Mapping) else None
        if kind == "text":
            parts.append({"type": "text", "text": str(part.get("text", ""))})
        elif kind == "image_url":
            image = part.get("image_url")
            url = image.get("url") if isinstance(image, Mapping) else image
            if not isinstance(url, str):
                raise _fail(f"{where}.content[{i}].image_url.url must be a string", where)
            if url.startswith("data:") and ";base64," in url:
                media, _, data = url[5:].partition(";base64,")
                parts.append({"type": "image", "data": data, "media_type": media or None})
            else:
                parts.append({"type": "image", "url": url})
        else:
            raise _fail(f"{where}.content[{i}] has an unsupported type {kind!r}", where)
    return parts


def _message(m: Any, i: int) -> dict[str, Any]:
    where = f"messages[{i}]"
    if not isinstance(m, Mapping):
        raise _fail(f"{where} must be an object", where)
    role = m.get("role")
    if role in ("system", "developer"):
        return {"role": "system", "content": _content(m.get("content"), where)}
    if role == "user":
        out: dict[str, Any] = {"role": "user", "content": _content(m.get("content"), where)}
    elif role == "assistant":
        out = {"role": "assistant", "content": _content(m.get("content"), where)}
        calls = []
        for j, call in enumerate(m.get("tool_calls") or []):
            fn = call.get("function") if isinstance(call, Mapping) else None
            if not isinstance(fn, Mapping):
                raise _fail(f"{where}.tool_calls[{j}].function must be an object", where)
            raw = fn.get("arguments") or "{}"
            try:
                args = json.loads(raw) if isinstance(raw, str) else raw
            except ValueError:
                args = None
            entry: dict[str, Any] = {"id": str(call.get("id", "")), "name": str(fn.get("name", ""))}
            if isinstance(args, Mapping):
                entry["arguments"] = dict(args)
            else:
                entry["arguments"] = {}
                entry["raw_arguments"] = str(raw)
            calls.append(entry)
        if calls:
            out["tool_calls"] = calls
    elif role == "tool":
        content = _content(m.get("content"), where)
        if isinstance(content, list):
            content = "".join(p.get("text", "") for p in content)
        out = {"role": "tool", "tool_call_id": m.get("tool_call_id"), "content": content}
    else:
        raise _fail(f"{where}.role {role!r} is not supported", where)
    if isinstance(m.get("name"), str) and m["name"]:
        out["name"] = m["name"]
    return out


def _tools(value: Any) -> list[dict[str, Any]] | None:
    if not value:
        return None
    if not isinstance(value, list):
        raise _fail("tools must be a list", "tools")
    out = []
    for i, tool in enumerate(value):
        fn = tool.get("function") if isinstance(tool, Mapping) else None
        if not isinstance(fn, Mapping) or tool.get("type", "function") != "function":
            raise _fail(f"tools[{i}] must be a function tool", "tools")
        out.append(
            {
                "name": fn.get("name"),
                "description": fn.get("description") or "",
                "parameters": fn.get("parameters") or {"type": "object", "properties": {}},
            }
        )
    return out


def _tool_choice(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, Mapping):
        fn = value.get("function")
        if isinstance(fn, Mapping) and isinstance(fn.get("name"), str):
            return str(fn["name"])
    raise _fail("tool_choice must be auto, none, required or a function", "tool_choice")


def _response_format(value: Any) -> tuple[bool, OutputSchema | None]:
    if value is None:
        return False, None
    kind = value.get("type") if isinstance(value, Mapping) else None
    if kind == "text":
        return False, None
    if kind == "json_object":
        return True, None
    if kind == "json_schema":
        spec = value.get("json_schema")
        if not isinstance(spec, Mapping) or not isinstance(spec.get("schema"), Mapping):
            raise _fail("response_format.json_schema.schema must be an object", "response_format")
        return False, OutputSchema(
            dict(spec["schema"]),
            name=str(spec.get("name") or "output"),
            description=str(spec.get("description") or ""),
            strict=bool(spec.get("strict", True)),
        )
    raise _fail("response_format.type must be text, json_object or json_schema", "response_format")


def _finish(response: Response) -> str:
    reason = str(response.finish_reason)
    if reason in ("content_filter", "refusal"):
        return "content_filter"
    return _FINISH.get(reason, "stop")


def _usage(usage: Usage) -> dict[str, Any]:
    return {
        "prompt_tokens": usage.input_tokens,
        "completion_tokens": usage.output_tokens,
        "total_tokens": usage.total_tokens,
        "prompt_tokens_details": {"cached_tokens": usage.cache_read_tokens},
        "completion_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
    }


def _chunk(cid: str, created: int, model: str, delta: dict[str, Any], finish: str | None) -> bytes:
    body = {
        "id": cid,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}],
    }
    return b"data: " + json.dumps(body, separators=(",", ":")).encode() + b"\n\n"


class _Encoder:
    __slots__ = ("_calls", "cid", "created", "include_usage", "model", "started")

    def __init__(self, model: str, include_usage: bool) -> None:
        self.cid = "chatcmpl-" + secrets.token_hex(12)
        self.created = int(time.time())
        self.model = model
        self.include_usage = include_usage
        self.started = False
        self._calls: dict[int, int] = {}  # block index -> tool_calls index

    def event(self, event: StreamEvent) -> bytes:
        head = b""
        if not self.started:
            self.started = True
            head = _chunk(
                self.cid, self.created, self.model, {"role": "assistant", "content": ""}, None
            )
        delta: dict[str, Any] | None = None
        if isinstance(event, TextDelta):
            delta = {"content": event.text}
        elif isinstance(event, ThinkingDelta):
            delta = {"reasoning_content": event.text}
        elif isinstance(event, ToolCallStart):
            k = self._calls[event.index] = len(self._calls)
            call = {"index": k, "id": event.id, "type": "function",
                    "function": {"name": event.name, "arguments": ""}}  # fmt: skip
            delta = {"tool_calls": [call]}
        elif isinstance(event, ToolCallDelta):
            k = self._calls.get(event.index, 0)
            delta = {"tool_calls": [{"index": k, "function": {"arguments": event.arguments_delta}}]}
        elif isinstance(event, StreamEnd):
            response = event.response
            out = _chunk(self.cid, self.created, self.model, {}, _finish(response))
            if self.include_usage:
                body = {
                    "id": self.cid,
                    "object": "chat.completion.chunk",
                    "created": self.created,
                    "model": self.model,
                    "choices": [],
                    "usage": _usage(response.usage),
                }
                out += b"data: " + json.dumps(body, separators=(",", ":")).encode() + b"\n\n"
            return head + out
        if delta is None:
            return head
        return head + _chunk(self.cid, self.created, self.model, delta, None)

    def error(self, error: ProviderError) -> bytes:
        return b"data: " + json.dumps(_error_body(error)).encode() + b"\n\n"

    def done(self) -> bytes:
        return b"data: [DONE]\n\n"


def _error_body(error: ProviderError) -> dict[str, Any]:
    param = error.body if isinstance(error, BadRequestError) and error.body else None
    return {
        "error": {
            "message": error.message,
            "type": _TYPES.get(error.error_type, "server_error"),
            "param": param,
            "code": "rate_limit_exceeded" if error.error_type == "rate_limit" else error.error_type,
        }
    }


@attrs.frozen(slots=True)
class OpenAIProtocol:
    """``POST /v1/chat/completions``."""

    name: str = "openai"
    stream_headers: Mapping[str, str] = SSE_HEADERS

    def parse(self, data: Any) -> Call:
        """See :class:`~jackfield.gateway._calls.WireProtocol`."""
        if not isinstance(data, Mapping):
            raise _fail("the body must be a JSON object")
        unknown = sorted(set(data) - _KNOWN - FORWARDED - IGNORED)
        if unknown:
            raise _fail(f"unsupported field {unknown[0]!r}", unknown[0])
        if data.get("functions"):
            raise _fail("functions is deprecated: use tools", "functions")
        model = data.get("model")
        if not isinstance(model, str) or not model:
            raise _fail("model must be a non-empty string", "model")
        messages = data.get("messages")
        if not isinstance(messages, list) or not messages:
            raise _fail("messages must be a non-empty list", "messages")
        if data.get("n", 1) != 1:
            raise _fail("n must be 1", "n")
        json_mode, output = _response_format(data.get("response_format"))
        stop = data.get("stop")
        stream_options = data.get("stream_options") or {}
        extra = {k: data[k] for k in FORWARDED if k in data}
        max_tokens = data.get("max_completion_tokens", data.get("max_tokens"))
        return Call(
            model=model,
            kwargs={
                "messages": [_message(m, i) for i, m in enumerate(messages)],
                "tools": _tools(data.get("tools")),
                "tool_choice": _tool_choice(data.get("tool_choice")),
                "json_mode": json_mode,
                "stop": [stop] if isinstance(stop, str) else (stop or None),
                "temperature": data.get("temperature"),
                "max_tokens": max_tokens,
                "reasoning": data.get("reasoning_effort"),
                "response_format": output,
                **({"extra": extra} if extra else {}),
            },
            stream=bool(data.get("stream")),
            options={
                "include_usage": isinstance(stream_options, Mapping)
                and bool(stream_options.get("include_usage"))
            },
        )

    def encoder(self, call: Call, model: str) -> Encoder:
        """See :class:`~jackfield.gateway._calls.WireProtocol`."""
        return _Encoder(model, bool(call.options.get("include_usage")))

    def complete(self, call: Call, model: str, response: Response) -> Any:
        """A ``chat.completion`` object."""
        message: dict[str, Any] = {"role": "assistant", "content": response.content or None}
        if response.tool_calls:
            message["tool_calls"] = [
                {
                    "id": c.id,
                    "type": "function",
                    "function": {
                        "name": c.name,
                        "arguments": c.raw_arguments
                        if c.raw_arguments is not None
                        else json.dumps(c.arguments),
                    },
                }
                for c in response.tool_calls
            ]
        if response.thinking:
            message["reasoning_content"] = response.thinking_text
        return {
            "id": "chatcmpl-" + secrets.token_hex(12),
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "finish_reason": _finish(response),
                    "logprobs": None,
                }
            ],
            "usage": _usage(response.usage),
        }

    def error_body(self, error: ProviderError) -> Any:
        """``{"error": {"message", "type", "param", "code"}}``."""
        return _error_body(error)


def model_list(names: list[str]) -> dict[str, Any]:
    """The ``GET /v1/models`` answer for ``names``."""
    return {
        "object": "list",
        "data": [
            {"id": n, "object": "model", "created": 0, "owned_by": "jackfield"} for n in names
        ],
    }


OPENAI: Final = OpenAIProtocol()
