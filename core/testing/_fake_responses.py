"""The OpenAI Responses wire of :class:`~jackfield.testing._fake_server.FakeLLMServer`.

Served on ``POST /v1/responses`` (and ``/responses``). A
:class:`~jackfield.testing.Reply` becomes a ``response`` object whose ``output`` holds a
``reasoning`` item (the reply's thinking as one summary part), a ``message`` with the
text, then one ``function_call`` item per tool call; or the SSE stream the service sends
(``event:`` lines naming each event, no ``[DONE]``): ``response.created``,
``response.in_progress``, per item ``response.output_item.added``, its deltas
(``response.reasoning_summary_text.delta``, ``response.output_text.delta``,
``response.function_call_arguments.delta``) and their ``.done`` events,
``response.output_item.done``, then the terminal ``response.completed`` or, for a
``length`` or content-filter finish, ``response.incomplete`` with its
``incomplete_details.reason``.

The reasoning item carries ``encrypted_content`` when the request asked for it
(``include: ["reasoning.encrypted_content"]``): the reply's ``thinking_signature``, else
a made-up one. As the service does, the copy in ``output_item.added`` is incomplete (a
prefix) and the whole value comes with ``output_item.done``. Errors are OpenAI's
``{"error": {...}}`` bodies; in a stream an ``event: error`` block (``type``, ``code``,
``message``, ``param``).
"""

from __future__ import annotations

import base64
import hashlib
import time
from collections.abc import Mapping, MutableMapping
from typing import Any, Final

from ..types import Usage
from ._fake_openai import OPENAI
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
    sse_event,
    usage_of,
)
from ._scripts import Reply

__all__ = ["RESPONSES", "ResponsesWire", "responses_user_text"]

_INCOMPLETE: Final[dict[str, str]] = {
    "length": "max_output_tokens",
    "max_tokens": "max_output_tokens",
    "content_filter": "content_filter",
    "refusal": "content_filter",
}


def _fake_encrypted(seed: str) -> str:
    return "gAAAAA" + base64.urlsafe_b64encode(hashlib.sha256(seed.encode()).digest() * 3).decode()


def _usage(u: Usage) -> dict[str, Any]:
    return {
        "input_tokens": u.input_tokens,
        "input_tokens_details": {
            "cached_tokens": u.cache_read_tokens,
            "cache_write_tokens": u.cache_write_tokens,
        },
        "output_tokens": u.output_tokens,
        "output_tokens_details": {"reasoning_tokens": u.reasoning_tokens},
        "total_tokens": u.input_tokens + u.output_tokens,
    }


def responses_user_text(data: Any) -> str:
    """The text of the last user message of a Responses body's ``input``."""
    if not isinstance(data, dict):
        return ""
    items = data.get("input")
    if isinstance(items, str):
        return items
    if not isinstance(items, list):
        return ""
    for item in reversed(items):
        if not isinstance(item, dict) or item.get("role") != "user":
            continue
        content = item.get("content")
        if isinstance(content, str):
            return content
        if isinstance(content, list):
            return "".join(
                p["text"]
                for p in content
                if isinstance(p, dict)
                and p.get("type") == "input_text"
                and isinstance(p.get("text"), str)
            )
    return ""


class ResponsesWire(WireRenderer):
    """OpenAI's Responses wire (``POST /v1/responses``): OpenAI's headers, key check and
    error bodies, the Responses events."""

    name = "responses"
    content_event = "response.output_text.delta"
    error_event_name = "error"

    def auth_rejection(self) -> Rejection:
        return OPENAI.auth_rejection()

    def add_headers(self, headers: MutableMapping[str, str], rid: str | None) -> None:
        OPENAI.add_headers(headers, rid)

    def render(self, reply: Reply, ctx: RenderContext) -> Rendered:
        usage = usage_of(reply, ctx)
        model = reply.model or ctx.model
        reason = finish_reason(reply, {})
        incomplete = _INCOMPLETE.get(reason)
        created = int(time.time())
        encrypted: str | None = None
        if reply.thinking is not None and ctx.encrypted_reasoning:
            encrypted = reply.thinking_signature or _fake_encrypted(reply.thinking)

        reasoning_item: dict[str, Any] | None = None
        if reply.thinking is not None:
            reasoning_item = {"id": f"rs_{PH_ID}", "type": "reasoning"}
            if encrypted is not None:
                reasoning_item["encrypted_content"] = encrypted
            reasoning_item["summary"] = (
                [{"type": "summary_text", "text": reply.thinking}] if reply.thinking else []
            )
        message_item: dict[str, Any] | None = None
        if reply.text or not reply.tool_calls:
            message_item = {
                "id": f"msg_{PH_ID}",
                "type": "message",
                "status": "incomplete" if incomplete else "completed",
                "content": [
                    {"type": "output_text", "annotations": [], "logprobs": [], "text": reply.text}
                ],
                "role": "assistant",
            }
        calls = [
            {
                "id": f"fc_{i}_{PH_ID}",
                "type": "function_call",
                "status": "completed",
                "arguments": arguments_json(c) or "{}",
                "call_id": c.id,
                "name": c.name,
            }
            for i, c in enumerate(reply.tool_calls)
        ]
        output = [i for i in (reasoning_item, message_item) if i is not None] + calls

        def envelope(status: str, items: list[dict[str, Any]], final: bool) -> dict[str, Any]:
            body: dict[str, Any] = {
                "id": f"resp_{PH_ID}",
                "object": "response",
                "created_at": created,
                "status": status,
                "background": False,
                "error": None,
                "incomplete_details": {"reason": incomplete} if final and incomplete else None,
                "model": model,
                "output": items,
                "parallel_tool_calls": True,
                "store": False,
                "text": {"format": {"type": "text"}, "verbosity": "medium"},
                "tool_choice": "auto",
                "usage": _usage(usage) if final else None,
                "metadata": {},
            }
            return body

        status = "incomplete" if incomplete else "completed"
        if not ctx.stream:
            return Rendered.json(envelope(status, output, True))

        events: list[bytes] = []
        seq = 0

        def emit(kind: str, fields: dict[str, Any]) -> None:
            nonlocal seq
            events.append(sse_event(dumps({"type": kind, **fields, "sequence_number": seq}), kind))
            seq += 1

        emit("response.created", {"response": envelope("in_progress", [], False)})
        emit("response.in_progress", {"response": envelope("in_progress", [], False)})
        index = 0
        if reasoning_item is not None:
            rid = reasoning_item["id"]
            added = {"id": rid, "type": "reasoning", "summary": []}
            if encrypted is not None:  # incomplete in .added, as the service sends it
                added["encrypted_content"] = encrypted[: max(1, len(encrypted) // 2)]
            emit("response.output_item.added", {"item": added, "output_index": index})
            if reply.thinking:
                where = {"item_id": rid, "output_index": index, "summary_index": 0}
                part = {"type": "summary_text", "text": ""}
                emit("response.reasoning_summary_part.added", {**where, "part": part})
                for piece in pieces(reply.thinking, reply.chunk_size):
                    emit("response.reasoning_summary_text.delta", {**where, "delta": piece})
                emit("response.reasoning_summary_text.done", {**where, "text": reply.thinking})
                done_part = {"type": "summary_text", "text": reply.thinking}
                emit("response.reasoning_summary_part.done", {**where, "part": done_part})
            emit("response.output_item.done", {"item": reasoning_item, "output_index": index})
            index += 1
        if message_item is not None:
            mid = message_item["id"]
            added = {**message_item, "status": "in_progress", "content": []}
            emit("response.output_item.added", {"item": added, "output_index": index})
            where = {"item_id": mid, "output_index": index, "content_index": 0}
            empty = {"type": "output_text", "annotations": [], "logprobs": [], "text": ""}
            emit("response.content_part.added", {**where, "part": empty})
            for piece in pieces(reply.text, reply.chunk_size):
                emit("response.output_text.delta", {**where, "delta": piece, "logprobs": []})
            emit("response.output_text.done", {**where, "text": reply.text, "logprobs": []})
            emit("response.content_part.done", {**where, "part": message_item["content"][0]})
            emit("response.output_item.done", {"item": message_item, "output_index": index})
            index += 1
        for call, item in zip(reply.tool_calls, calls, strict=True):
            added = {**item, "status": "in_progress", "arguments": ""}
            emit("response.output_item.added", {"item": added, "output_index": index})
            where = {"item_id": item["id"], "output_index": index}
            for piece in pieces(arguments_json(call), reply.arguments_chunk_size):
                emit("response.function_call_arguments.delta", {**where, "delta": piece})
            emit("response.function_call_arguments.done", {**where, "arguments": item["arguments"]})
            emit("response.output_item.done", {"item": item, "output_index": index})
            index += 1
        terminal = "response.incomplete" if incomplete else "response.completed"
        emit(terminal, {"response": envelope(status, output, True)})
        return Rendered.sse(events, 1)

    def error_event(self, payload: Mapping[str, Any]) -> bytes:
        code = payload.get("code")
        if not isinstance(code, str):
            code = payload.get("type")
        event = {
            "type": "error",
            "code": code if isinstance(code, str) else None,
            "message": payload.get("message", ""),
            "param": payload.get("param"),
            "sequence_number": 0,
        }
        return sse_event(dumps(event), "error")


RESPONSES: Final = ResponsesWire()
