"""The OpenAI Chat Completions wire of :class:`~jackfield.testing._fake_server.FakeLLMServer`.

A :class:`~jackfield.testing.Reply` becomes a ``chat.completion`` object or a stream of
``chat.completion.chunk`` SSE ``data:`` blocks ending with ``data: [DONE]`` (with the usage
chunk when ``stream_options.include_usage`` asks for it); thinking goes in the field the
server's ``openai_reasoning_field`` names. Errors are ``{"error": {...}}``, in a stream a
bare ``data:`` block; responses carry ``x-request-id`` and ``openai-*`` headers. The same
wire serves Azure's deployment path, ``GET /v1/models`` and the 404 of unknown paths.
"""

from __future__ import annotations

import time
from collections.abc import MutableMapping, Sequence
from typing import Any, Final

from ..types import Usage
from ._fake_wire import (
    PH_ID,
    Rejection,
    RenderContext,
    Rendered,
    WireRenderer,
    arguments_json,
    dumps,
    finish_reason,
    pieces,
    usage_of,
)
from ._scripts import Reply

__all__ = ["OPENAI", "OpenAIWire", "render_model_list", "unknown_url_body"]

_FINGERPRINT: Final = "fp_fake0000"

_TO_OPENAI: Final[dict[str, str]] = {
    "stop": "stop",
    "length": "length",
    "tool_calls": "tool_calls",
    "content_filter": "content_filter",
    "refusal": "content_filter",
    "end_turn": "stop",
    "max_tokens": "length",
    "tool_use": "tool_calls",
    "stop_sequence": "stop",
    "pause_turn": "stop",
}


def _openai_usage(u: Usage) -> dict[str, Any]:
    return {
        "prompt_tokens": u.input_tokens,
        "completion_tokens": u.output_tokens,
        "total_tokens": u.input_tokens + u.output_tokens,
        "prompt_tokens_details": {
            "cached_tokens": u.cache_read_tokens,
            "cache_write_tokens": u.cache_write_tokens,
            "audio_tokens": 0,
        },
        "completion_tokens_details": {
            "reasoning_tokens": u.reasoning_tokens,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


class OpenAIWire(WireRenderer):
    """The OpenAI Chat Completions wire (also Azure's and OpenAI-compatible servers')."""

    name = "openai"
    error_event_name = None
    key_header = "api-key"  # Azure's

    def render(self, reply: Reply, ctx: RenderContext) -> Rendered:
        reasoning_field = ctx.reasoning_field
        reason = finish_reason(reply, _TO_OPENAI)
        usage = usage_of(reply, ctx)
        created = int(time.time())
        model = reply.model or ctx.model
        thinking = reply.thinking if reasoning_field else None
        if not ctx.stream:
            message: dict[str, Any] = {
                "role": "assistant",
                "content": reply.text if (reply.text or not reply.tool_calls) else None,
            }
            if thinking is not None and reasoning_field:
                message[reasoning_field] = thinking
            if reply.tool_calls:
                message["tool_calls"] = [
                    {
                        "id": c.id,
                        "type": "function",
                        "function": {"name": c.name, "arguments": arguments_json(c) or "{}"},
                    }
                    for c in reply.tool_calls
                ]
            message["refusal"] = None
            message["annotations"] = []
            body = {
                "id": f"chatcmpl-{PH_ID}",
                "object": "chat.completion",
                "created": created,
                "model": model,
                "choices": [
                    {"index": 0, "message": message, "logprobs": None, "finish_reason": reason}
                ],
                "usage": _openai_usage(usage),
                "service_tier": "default",
                "system_fingerprint": _FINGERPRINT,
            }
            return Rendered.json(body)

        head = (
            f'data: {{"id":"chatcmpl-{PH_ID}","object":"chat.completion.chunk",'
            f'"created":{created},"model":{dumps(model)},"service_tier":"default",'
            f'"system_fingerprint":"{_FINGERPRINT}","choices":'
        )
        tail = ',"usage":null}\n\n' if ctx.include_usage else "}\n\n"
        open_choice = '[{"index":0,"delta":'
        close_choice = ',"logprobs":null,"finish_reason":null}]'

        def chunk(delta_json: str) -> bytes:
            return (head + open_choice + delta_json + close_choice + tail).encode()

        events: list[bytes] = []
        first_content: str | None = "" if (reply.text or not reply.tool_calls) else None
        events.append(
            chunk(dumps({"role": "assistant", "content": first_content, "refusal": None}))
        )
        if thinking and reasoning_field:
            key = dumps(reasoning_field)
            for piece in pieces(thinking, reply.chunk_size):
                events.append(chunk("{" + key + ":" + dumps(piece) + "}"))
        for piece in pieces(reply.text, reply.chunk_size):
            events.append(chunk('{"content":' + dumps(piece) + "}"))
        for i, call in enumerate(reply.tool_calls):
            first = {
                "tool_calls": [
                    {
                        "index": i,
                        "id": call.id,
                        "type": "function",
                        "function": {"name": call.name, "arguments": ""},
                    }
                ]
            }
            events.append(chunk(dumps(first)))
            for piece in pieces(arguments_json(call), reply.arguments_chunk_size):
                events.append(
                    chunk(
                        '{"tool_calls":[{"index":'
                        + str(i)
                        + ',"function":{"arguments":'
                        + dumps(piece)
                        + "}}]}"
                    )
                )
        events.append(
            (
                head
                + open_choice
                + '{},"logprobs":null,"finish_reason":'
                + dumps(reason)
                + "}]"
                + tail
            ).encode()
        )
        if ctx.include_usage:
            events.append((head + '[],"usage":' + dumps(_openai_usage(usage)) + "}\n\n").encode())
        events.append(b"data: [DONE]\n\n")
        return Rendered.sse(events, 1)

    def auth_rejection(self) -> Rejection:
        body = {
            "error": {
                "message": "Incorrect API key provided. You can find your API key at "
                "https://platform.openai.com/account/api-keys.",
                "type": "invalid_request_error",
                "param": None,
                "code": "invalid_api_key",
            }
        }
        return Rejection(401, body)

    def add_headers(self, headers: MutableMapping[str, str], rid: str | None) -> None:
        super().add_headers(headers, rid)
        headers["openai-version"] = "2020-10-01"
        headers["openai-processing-ms"] = "1"


OPENAI: Final = OpenAIWire()


def unknown_url_body(method: str, path: str) -> dict[str, Any]:
    """OpenAI's 404 body for a path it does not serve."""
    return {
        "error": {
            "message": f"Unknown request URL: {method} {path}. Please check the URL for typos.",
            "type": "invalid_request_error",
            "param": None,
            "code": "unknown_url",
        }
    }


def render_model_list(models: Sequence[str]) -> Rendered:
    """The ``GET /v1/models`` body listing ``models``."""
    listing = {
        "object": "list",
        "data": [
            {"id": m, "object": "model", "created": 1700000000, "owned_by": "jackfield"}
            for m in models
        ],
    }
    return Rendered.json(listing)
