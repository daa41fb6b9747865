"""The Anthropic Messages wire of :class:`~jackfield.testing._fake_server.FakeLLMServer`.

A :class:`~jackfield.testing.Reply` becomes a ``message`` object or the SSE stream
``message_start``, ``ping``, one ``content_block_start`` / ``content_block_delta`` ... /
``content_block_stop`` run per thinking, text and tool-use block, ``message_delta`` and
``message_stop``; thinking without a scripted signature gets a fake one. Errors are
``{"type": "error", "error": {...}}``, in a stream an ``event: error`` block; responses
carry ``request-id``. The same wire serves ``POST /v1/messages/count_tokens``.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping, MutableMapping
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
    rand,
    sse_event,
    usage_of,
)
from ._scripts import Reply

__all__ = ["ANTHROPIC", "AnthropicWire", "render_count_tokens"]

_BASE58: Final = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"

_TO_ANTHROPIC: Final[dict[str, str]] = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "refusal",
}


def _fake_signature(thinking: str) -> str:
    return base64.b64encode(hashlib.sha256(thinking.encode()).digest() * 3).decode()


class AnthropicWire(WireRenderer):
    """The Anthropic Messages wire."""

    name = "anthropic"
    content_event = "content_block_delta"
    key_header = "x-api-key"

    def render(self, reply: Reply, ctx: RenderContext) -> Rendered:
        reason = finish_reason(reply, _TO_ANTHROPIC)
        stop_sequence = ctx.stop_sequence if reason == "stop_sequence" else None
        usage = usage_of(reply, ctx)
        model = reply.model or ctx.model
        signature = reply.thinking_signature
        if reply.thinking is not None and signature is None:
            signature = _fake_signature(reply.thinking)
        calls = [(c, arguments_json(c)) for c in reply.tool_calls]
        if not ctx.stream:
            content: list[dict[str, Any]] = []
            if reply.thinking is not None:
                content.append(
                    {"type": "thinking", "thinking": reply.thinking, "signature": signature}
                )
            if reply.text:
                content.append({"type": "text", "text": reply.text})
            for call, _raw in calls:
                content.append(
                    {"type": "tool_use", "id": call.id, "name": call.name, "input": call.arguments}
                )
            body = {
                "id": f"msg_{PH_ID}",
                "type": "message",
                "role": "assistant",
                "model": model,
                "content": content,
                "stop_reason": reason,
                "stop_sequence": stop_sequence,
                "usage": {
                    "input_tokens": _uncached(usage),
                    "cache_creation_input_tokens": usage.cache_write_tokens,
                    "cache_read_input_tokens": usage.cache_read_tokens,
                    "output_tokens": usage.output_tokens,
                    "service_tier": "standard",
                },
            }
            return Rendered.json(body)

        events: list[bytes] = []
        start = {
            "type": "message_start",
            "message": {
                "model": model,
                "id": f"msg_{PH_ID}",
                "type": "message",
                "role": "assistant",
                "content": [],
                "stop_reason": None,
                "stop_sequence": None,
                "usage": {
                    "input_tokens": _uncached(usage),
                    "cache_creation_input_tokens": usage.cache_write_tokens,
                    "cache_read_input_tokens": usage.cache_read_tokens,
                    "output_tokens": min(1, usage.output_tokens),
                    "service_tier": "standard",
                },
            },
        }
        events.append(sse_event(dumps(start), "message_start"))
        ping = sse_event('{"type": "ping"}', "ping")
        index = 0

        def block_start(block: dict[str, Any]) -> None:
            events.append(
                sse_event(
                    dumps({"type": "content_block_start", "index": index, "content_block": block}),
                    "content_block_start",
                )
            )
            if index == 0:
                events.append(ping)

        def delta(kind: str, key: str, value: str) -> None:
            events.append(
                sse_event(
                    f'{{"type":"content_block_delta","index":{index},'
                    f'"delta":{{"type":"{kind}","{key}":{dumps(value)}}}}}',
                    "content_block_delta",
                )
            )

        def block_stop() -> None:
            events.append(
                sse_event(f'{{"type":"content_block_stop","index":{index}}}', "content_block_stop")
            )

        if reply.thinking is not None:
            block_start({"type": "thinking", "thinking": "", "signature": ""})
            for piece in pieces(reply.thinking, reply.chunk_size):
                delta("thinking_delta", "thinking", piece)
            delta("signature_delta", "signature", signature or "")
            block_stop()
            index += 1
        if reply.text:
            block_start({"type": "text", "text": ""})
            for piece in pieces(reply.text, reply.chunk_size):
                delta("text_delta", "text", piece)
            block_stop()
            index += 1
        for call, raw in calls:
            block_start({"type": "tool_use", "id": call.id, "name": call.name, "input": {}})
            delta("input_json_delta", "partial_json", "")
            for piece in pieces(raw, reply.arguments_chunk_size):
                delta("input_json_delta", "partial_json", piece)
            block_stop()
            index += 1
        if index == 0:
            events.append(ping)
        message_delta = {
            "type": "message_delta",
            "delta": {"stop_reason": reason, "stop_sequence": stop_sequence},
            "usage": {
                "input_tokens": _uncached(usage),
                "cache_creation_input_tokens": usage.cache_write_tokens,
                "cache_read_input_tokens": usage.cache_read_tokens,
                "output_tokens": usage.output_tokens,
            },
        }
        events.append(sse_event(dumps(message_delta), "message_delta"))
        events.append(sse_event('{"type":"message_stop"}', "message_stop"))
        return Rendered.sse(events, 1)

    def auth_rejection(self) -> Rejection:
        rid = self.new_request_id()
        body: dict[str, Any] = {
            "type": "error",
            "error": {"type": "authentication_error", "message": "invalid x-api-key"},
            "request_id": rid,
        }
        return Rejection(401, body, rid)

    def error_envelope(self, payload: Mapping[str, Any]) -> str:
        return dumps({"type": "error", "error": dict(payload)})

    def new_request_id(self) -> str:
        return "req_011C" + rand(_BASE58, 20)

    def new_token(self) -> str:
        return "01" + rand(_BASE58, 22)

    def add_headers(self, headers: MutableMapping[str, str], rid: str | None) -> None:
        if rid is not None:
            headers["request-id"] = rid
            headers["anthropic-organization-id"] = "00000000-0000-0000-0000-000000000000"


ANTHROPIC: Final = AnthropicWire()


def render_count_tokens(input_tokens: int) -> Rendered:
    """The ``POST /v1/messages/count_tokens`` body."""
    return Rendered.json({"input_tokens": input_tokens})


def _uncached(usage: Usage) -> int:
    """Anthropic's ``input_tokens``: the contract's input less its cached parts."""
    return max(0, usage.input_tokens - usage.cache_read_tokens - usage.cache_write_tokens)
