"""The seam between :class:`~jackfield.testing._fake_server.FakeLLMServer` and its wires.

The server is wire-independent: it routes a request to one :class:`WireRenderer`
(:mod:`._fake_openai`, :mod:`._fake_responses`, :mod:`._fake_anthropic`,
:mod:`._fake_gemini` or :mod:`._fake_proxy`) and asks it how
to render a :class:`~jackfield.testing.Reply` (:meth:`WireRenderer.render`, cached as a
:class:`Rendered` template with id placeholders), the body and SSE event of an error or of
garbage, the ids and headers of a response, and whether a request's credentials or body
are refused (a :class:`Rejection`). This module holds that interface and the helpers the
renderers share.
"""

from __future__ import annotations

import abc
import json
import math
import secrets
import string
from collections.abc import Iterable, Mapping, MutableMapping
from typing import Any, ClassVar, Final, Literal, TypeAlias

import attrs

from ..types import Usage
from ._scripts import Reply

__all__ = [
    "ALNUM",
    "JSON_CONTENT_TYPE",
    "PH_ID",
    "PH_ID_B",
    "PH_RID",
    "PH_RID_B",
    "SSE_CONTENT_TYPE",
    "Rejection",
    "RenderContext",
    "Rendered",
    "WireName",
    "WireRenderer",
    "arguments_json",
    "bearer_ok",
    "dumps",
    "finish_reason",
    "pieces",
    "rand",
    "sse_event",
    "usage_of",
]

WireName: TypeAlias = Literal["openai", "responses", "anthropic", "gemini", "proxy"]

SSE_CONTENT_TYPE: Final = "text/event-stream; charset=utf-8"
JSON_CONTENT_TYPE: Final = "application/json"

# Placeholders for per-request ids inside pre-rendered (cached) bodies.
PH_ID: Final = "@@pb-id@@"
PH_RID: Final = "@@pb-rid@@"
PH_ID_B: Final = PH_ID.encode()
PH_RID_B: Final = PH_RID.encode()
ALNUM: Final = string.ascii_letters + string.digits


def dumps(value: Any) -> str:
    """Compact JSON, non-ASCII kept, as the services send it."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def rand(alphabet: str, n: int) -> str:
    """``n`` random characters of ``alphabet``."""
    return "".join(secrets.choice(alphabet) for _ in range(n))


def sse_event(data: str, event: str | None = None) -> bytes:
    """One SSE block: ``[event: <event>\\n]data: <data>\\n\\n``."""
    if event is None:
        return f"data: {data}\n\n".encode()
    return f"event: {event}\ndata: {data}\n\n".encode()


def bearer_ok(header: str | None, token: str) -> bool:
    """Whether an ``Authorization`` header is ``Bearer <token>``."""
    if not header:
        return False
    scheme, _, value = header.partition(" ")
    return scheme.lower() == "bearer" and secrets.compare_digest(value.strip(), token)


def pieces(text: str, size: int) -> list[str]:
    """``text`` cut into chunks of ``size`` characters (none for ``""``)."""
    return [text[i : i + size] for i in range(0, len(text), size)]


def arguments_json(call: Any) -> str:
    """A scripted tool call's arguments as sent: the raw text, else the JSON (``""``: none)."""
    raw: str | None = call.raw_arguments
    if raw is not None:
        return raw
    return dumps(call.arguments) if call.arguments else ""


def finish_reason(reply: Reply, table: Mapping[str, str]) -> str:
    """The reply's finish reason (as scripted, else ``tool_calls`` or ``stop``) in a wire's
    terms: mapped through ``table``, kept as it is when the table has no entry."""
    if reply.finish_reason is not None:
        value = str(reply.finish_reason)
    else:
        value = "tool_calls" if reply.tool_calls else "stop"
    return table.get(value, value)


@attrs.frozen(slots=True)
class Rendered:
    """A pre-rendered answer: SSE events (streams) or a body, with id placeholders.

    ``terminal`` is how many of the last ``events`` close the stream (a fault injected
    after the content stops before them).
    """

    stream: bool
    events: tuple[bytes, ...] = ()
    terminal: int = 0
    body: bytes = b""
    content_type: str = JSON_CONTENT_TYPE

    @classmethod
    def json(cls, value: Any) -> Rendered:
        """A JSON body (not streamed)."""
        return cls(False, body=dumps(value).encode())

    @classmethod
    def sse(cls, events: Iterable[bytes], terminal: int) -> Rendered:
        """An SSE stream whose last ``terminal`` events close it."""
        return cls(True, tuple(events), terminal=terminal, content_type=SSE_CONTENT_TYPE)


@attrs.frozen(slots=True)
class RenderContext:
    """What a rendering depends on besides the reply (the template cache key with it)."""

    stream: bool
    include_usage: bool
    model: str
    input_tokens: int
    stop_sequence: str | None
    reasoning_field: str | None
    """The OpenAI field carrying thinking (the server's ``openai_reasoning_field``)."""
    provider: str
    """The provider name the proxy reports (the server's ``proxy_provider``)."""
    protocol_version: int = 1
    """The proxy protocol version the request declares (``protocol_version``; 1 if none)."""
    output_mode: str | None = None
    """The structured-output mode a proxy request asks for (its ``output.mode``)."""
    encrypted_reasoning: bool = False
    """A Responses request asked for ``include: ["reasoning.encrypted_content"]``."""


def usage_of(reply: Reply, ctx: RenderContext) -> Usage:
    """The scripted usage, else an estimate (about four characters per token)."""
    if reply.usage is not None:
        return reply.usage
    chars = len(reply.text) + len(reply.thinking or "")
    chars += sum(len(arguments_json(c)) + len(c.name) for c in reply.tool_calls)
    return Usage(input_tokens=ctx.input_tokens, output_tokens=max(1, math.ceil(chars / 4)))


@attrs.frozen(slots=True)
class Rejection:
    """A JSON error answer to a request refused before any script item is used.

    ``request_id`` ``None`` lets the server make one up.
    """

    status: int
    body: dict[str, Any]
    request_id: str | None = None


class WireRenderer(abc.ABC):
    """How one wire format answers: bodies, SSE events, errors, ids, headers, auth.

    The defaults are the conventions the OpenAI wire and the jackfield proxy share.
    """

    name: ClassVar[WireName]
    content_event: ClassVar[str | None] = None
    """The SSE ``event:`` name of a content delta (``None``: a bare ``data:`` block)."""
    error_event_name: ClassVar[str | None] = "error"
    """The SSE ``event:`` name of an in-stream error (``None``: a bare ``data:`` block)."""
    key_header: ClassVar[str | None] = None
    """A header that may carry the secret instead of ``Authorization: Bearer``."""

    @abc.abstractmethod
    def render(self, reply: Reply, ctx: RenderContext) -> Rendered:
        """The reply as this wire's JSON body or SSE events, with id placeholders."""

    @abc.abstractmethod
    def auth_rejection(self) -> Rejection:
        """The answer to a request with missing or wrong credentials."""

    def authorized(self, headers: Mapping[str, str], secret: str) -> bool:
        """Whether the (lower-cased) request headers carry ``secret``."""
        if bearer_ok(headers.get("authorization"), secret):
            return True
        key = self.key_header
        return key is not None and secrets.compare_digest(headers.get(key, ""), secret)

    def body_rejection(self, data: Any) -> Rejection | None:
        """The answer to a request body this wire refuses (``None``: accepted)."""
        return None

    def error_envelope(self, payload: Mapping[str, Any]) -> str:
        """An error payload wrapped as this wire's error body."""
        return dumps({"error": dict(payload)})

    def error_event(self, payload: Mapping[str, Any]) -> bytes:
        """An error payload as this wire's in-stream error event."""
        return sse_event(self.error_envelope(payload), self.error_event_name)

    def garbage_event(self, data: str) -> bytes:
        """Undecodable ``data`` where this wire's next content event would be."""
        return sse_event(data, self.content_event)

    def new_request_id(self) -> str:
        """A fresh request id in this service's format."""
        return "req_" + secrets.token_hex(16)

    def new_token(self) -> str:
        """A fresh response-id suffix in this service's format."""
        return rand(ALNUM, 29)

    def add_headers(self, headers: MutableMapping[str, str], rid: str | None) -> None:
        """Add this service's response headers (the request id among them)."""
        if rid is not None:
            headers["x-request-id"] = rid
