"""The Gemini ``generateContent`` wire of :class:`~jackfield.testing._fake_server.FakeLLMServer`.

Served on ``POST /{version}/.../models/{model}:generateContent`` (a JSON body) and
``:streamGenerateContent?alt=sse`` (a stream), the paths of the Gemini API
(``/v1beta/models/...``) and of Vertex AI (``/v1beta1/publishers/google/models/...``,
``/v1beta1/projects/{p}/locations/{l}/publishers/google/models/...``). The model comes
from the path.

A :class:`~jackfield.testing.Reply` becomes one candidate: a thought part
(``thought: true``), the text, then one ``functionCall`` part per tool call (with its
``id``). As Gemini 3 does, the first function call carries a ``thoughtSignature``, and an
answer without calls that thought ends with an empty part carrying it; the signature is
the reply's ``thinking_signature``, else a made-up one. A stream is one ``data:`` chunk
per piece of thought or text (CRLF-framed, as Google sends it), the calls in one chunk,
then a last chunk with the ``finishReason``; every chunk repeats ``usageMetadata``,
``modelVersion`` and ``responseId``. Errors are Google's ``{"error": {"code",
"message", "status"}}``; a request without the key gets Gemini's real answer, a
``400 INVALID_ARGUMENT`` with reason ``API_KEY_INVALID``.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Mapping
from typing import Any, Final

from ..types import Usage
from ._fake_wire import (
    PH_ID,
    Rejection,
    RenderContext,
    Rendered,
    WireRenderer,
    dumps,
    finish_reason,
    pieces,
    usage_of,
)
from ._scripts import Reply

__all__ = ["GEMINI", "GeminiWire", "gemini_error_body", "gemini_path"]

_TO_GEMINI: Final[dict[str, str]] = {
    "stop": "STOP",
    "length": "MAX_TOKENS",
    "tool_calls": "STOP",
    "function_call": "STOP",
    "content_filter": "SAFETY",
    "refusal": "SAFETY",
    "other": "OTHER",
}

_STATUS: Final[dict[int, str]] = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ABORTED",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    500: "INTERNAL",
    501: "NOT_IMPLEMENTED",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}

_PATH: Final = re.compile(
    r"^/(?:v1|v1beta|v1beta1|v1alpha)/(?:.*/)?models/([^/:]+):(generateContent|streamGenerateContent)$"
)


def gemini_path(path: str) -> tuple[str, bool] | None:
    """``(model, streamed)`` for a Gemini ``generateContent`` path, else ``None``."""
    match = _PATH.match(path)
    if match is None:
        return None
    return match.group(1), match.group(2) == "streamGenerateContent"


def gemini_error_body(status: int, message: str) -> dict[str, Any]:
    """Google's error body for ``status`` (``{"error": {"code", "message", "status"}}``)."""
    return {"error": {"code": status, "message": message, "status": _STATUS.get(status, "UNKNOWN")}}


def _fake_signature(seed: str) -> str:
    return base64.b64encode(hashlib.sha256(seed.encode()).digest() * 2).decode()


def _usage(usage: Usage) -> dict[str, Any]:
    thoughts = usage.reasoning_tokens
    candidates = max(0, usage.output_tokens - thoughts)
    meta: dict[str, Any] = {
        "promptTokenCount": usage.input_tokens,
        "candidatesTokenCount": candidates,
        "totalTokenCount": usage.input_tokens + usage.output_tokens,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": usage.input_tokens}],
    }
    if thoughts:
        meta["thoughtsTokenCount"] = thoughts
    if usage.cache_read_tokens:
        meta["cachedContentTokenCount"] = usage.cache_read_tokens
    return meta


class GeminiWire(WireRenderer):
    """Gemini's ``generateContent`` / ``streamGenerateContent`` wire."""

    name = "gemini"
    content_event = None
    error_event_name = None
    key_header = "x-goog-api-key"

    def render(self, reply: Reply, ctx: RenderContext) -> Rendered:
        reason = finish_reason(reply, _TO_GEMINI)
        usage = usage_of(reply, ctx)
        model = reply.model or ctx.model
        signature = reply.thinking_signature
        if signature is None and (reply.thinking is not None or reply.tool_calls):
            signature = _fake_signature(reply.thinking or reply.tool_calls[0].name)
        calls: list[dict[str, Any]] = []
        for i, call in enumerate(reply.tool_calls):
            part: dict[str, Any] = {
                "functionCall": {"id": call.id, "name": call.name, "args": call.arguments}
            }
            if i == 0 and signature is not None:
                part["thoughtSignature"] = signature
            calls.append(part)
        # A signed empty last part, as Gemini 3 ends an answer without calls that thought.
        closing = (
            [{"text": "", "thoughtSignature": signature}]
            if signature is not None and not calls
            else []
        )

        def chunk(parts: list[dict[str, Any]], meta: Usage, final: bool = False) -> dict[str, Any]:
            candidate: dict[str, Any] = {"content": {"parts": parts, "role": "model"}}
            if final:
                candidate["finishReason"] = reason
            candidate["index"] = 0
            return {
                "candidates": [candidate],
                "usageMetadata": _usage(meta),
                "modelVersion": model,
                "responseId": PH_ID,
            }

        if not ctx.stream:
            parts: list[dict[str, Any]] = []
            if reply.thinking is not None:
                parts.append({"text": reply.thinking, "thought": True})
            if reply.text:
                parts.append({"text": reply.text})
            parts += calls + closing
            return Rendered.json(chunk(parts, usage, final=True))

        prompt_only = Usage(input_tokens=usage.input_tokens)
        events: list[bytes] = []

        def emit(body: dict[str, Any]) -> None:
            events.append(f"data: {dumps(body)}\r\n\r\n".encode())

        if reply.thinking is not None:
            for piece in pieces(reply.thinking, reply.chunk_size):
                emit(chunk([{"text": piece, "thought": True}], prompt_only))
        for piece in pieces(reply.text, reply.chunk_size):
            emit(chunk([{"text": piece}], prompt_only))
        if calls:
            emit(chunk(calls, prompt_only))
        emit(chunk(closing or [{"text": ""}], usage, final=True))
        return Rendered.sse(events, 1)

    def auth_rejection(self) -> Rejection:
        message = "API key not valid. Please pass a valid API key."
        body = gemini_error_body(400, message)
        body["error"]["details"] = [
            {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": "API_KEY_INVALID",
                "domain": "googleapis.com",
                "metadata": {"service": "generativelanguage.googleapis.com"},
            }
        ]
        return Rejection(400, body)

    def body_rejection(self, data: Any) -> Rejection | None:
        if isinstance(data, dict) and isinstance(data.get("contents"), list):
            return None
        return Rejection(
            400,
            gemini_error_body(400, "* GenerateContentRequest.contents: contents is not specified"),
        )

    def error_envelope(self, payload: Mapping[str, Any]) -> str:
        return dumps({"error": dict(payload)})

    def add_headers(self, headers: Any, rid: str | None) -> None:
        headers["server"] = "scaffolding on HTTPServer2"


GEMINI: Final = GeminiWire()
