"""The jackfield proxy protocol of :class:`~jackfield.testing._fake_server.FakeLLMServer`.

``POST /api/stream`` with JSON ``{"model": str | null, "messages": [...], "tools": [...],
"tool_choice": ..., "json_mode": bool, "stop": [...], "options": {"temperature": float |
null, "max_tokens": int | null, "reasoning": bool | str | null}, "extra": {...}}``; messages
and tools have the shape of :meth:`jackfield.types.Request.to_dict`. When the server has a
``proxy_token``, ``Authorization: Bearer <token>`` is required; otherwise (and for a body
that is not a JSON object with a ``messages`` list) the answer is a non-200 JSON
``{"error": {"error_type", "message", "provider", "model", "status_code", "retry_after",
"retryable", "request_id"}}`` (the shape of :meth:`ProviderError.to_dict`). A success is
``text/event-stream``: one ``event: <type>\\ndata: <json>\\n\\n`` per stream event, the data
being :func:`jackfield.events.event_to_dict` of it, ending with the ``end`` event (carrying
the full response) and then ``data: [DONE]\\n\\n``. An error inside the stream is
``event: error\\ndata: {"error": {...same shape...}}\\n\\n``.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any, Final

import attrs

from ..errors import AuthenticationError, BadRequestError, ProviderError
from ..events import StreamEnd, StreamEvent, event_to_dict
from ..types import FinishReason, OutputMode
from ..wire._assembler import StreamAssembler
from ..wire._proxy import PROTOCOL_HEADER
from ._fake_wire import (
    PH_RID,
    Rejection,
    RenderContext,
    Rendered,
    WireRenderer,
    arguments_json,
    dumps,
    finish_reason,
    pieces,
    sse_event,
    usage_of,
)
from ._scripts import Reply

__all__ = ["PROXY", "PROXY_V1", "ProxyWire"]

_TO_NEUTRAL: Final[dict[str, str]] = {
    "end_turn": "stop",
    "max_tokens": "length",
    "tool_use": "tool_calls",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "function_call": "tool_calls",
}


def _neutral_reason(reply: Reply) -> FinishReason | str:
    value = finish_reason(reply, _TO_NEUTRAL)
    try:
        return FinishReason(value)
    except ValueError:
        return value


def _proxy_event(event: StreamEvent) -> bytes:
    """One jackfield stream event as the proxy protocol sends it (an SSE block)."""
    return sse_event(dumps(event_to_dict(event)), event.type)


class ProxyWire(WireRenderer):
    """The jackfield proxy protocol (``POST /api/stream``, always streamed)."""

    name = "proxy"
    content_event = "text_delta"

    def __init__(self, version: int = 2) -> None:
        self.version = version
        """The newest protocol version this server speaks (1 or 2)."""

    def render(self, reply: Reply, ctx: RenderContext) -> Rendered:
        asm = StreamAssembler(ctx.provider, reply.model or ctx.model)
        events: list[StreamEvent] = [asm.start(request_id=PH_RID)]
        if reply.thinking is not None:
            for piece in pieces(reply.thinking, reply.chunk_size):
                events += asm.thinking(piece)
            if reply.thinking_signature is not None:
                events += asm.thinking("", signature=reply.thinking_signature)
            events += asm.end_block()
        for piece in pieces(reply.text, reply.chunk_size):
            events += asm.text(piece)
        for i, call in enumerate(reply.tool_calls):
            raw = arguments_json(call)
            for piece in pieces(raw, reply.arguments_chunk_size) or [""]:
                events += asm.tool_call(i, id=call.id, name=call.name, arguments=piece)
        events += asm.finish(_neutral_reason(reply), usage_of(reply, ctx))
        end = events[-1]
        mode = ctx.output_mode if self.version >= 2 and ctx.protocol_version >= 2 else None
        if isinstance(end, StreamEnd) and mode is not None and mode in set(OutputMode):
            response = attrs.evolve(end.response, output_mode=OutputMode(mode))
            events[-1] = StreamEnd(response)
        out = [_proxy_event(e) for e in events]
        out.append(b"data: [DONE]\n\n")
        return Rendered.sse(out, 2)

    def add_headers(self, headers: MutableMapping[str, str], rid: str | None) -> None:
        """The request id, and (version 2) the ``jackfield-protocol`` header."""
        super().add_headers(headers, rid)
        if self.version >= 2:
            headers[PROTOCOL_HEADER] = str(self.version)

    def auth_rejection(self) -> Rejection:
        return self._rejection(AuthenticationError, "missing or invalid bearer token", 401)

    def body_rejection(self, data: Any) -> Rejection | None:
        """A body that is not a JSON object with a ``messages`` list is refused (400)."""
        if isinstance(data, dict) and isinstance(data.get("messages"), list):
            return None
        return self._rejection(
            BadRequestError, "the body must be a JSON object with a 'messages' list", 400
        )

    def _rejection(self, error: type[ProviderError], message: str, status: int) -> Rejection:
        rid = self.new_request_id()
        err = error(message, status_code=status, request_id=rid)
        return Rejection(status, {"error": err.to_dict()}, rid)


PROXY: Final = ProxyWire()
PROXY_V1: Final = ProxyWire(version=1)
"""A version-1 server: no version header, exactly the version-1 events."""
