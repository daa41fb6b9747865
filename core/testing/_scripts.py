"""Script items for :class:`~jackfield.testing._fake_server.FakeLLMServer`.

A test tells the fake server what to answer by queueing *script items*, one per request,
with :meth:`FakeLLMServer.enqueue`. A :class:`Reply` is a successful answer described
once, neutrally (text, thinking, tool calls, usage, finish reason); the server renders it
into whichever wire format the request hit (OpenAI Chat Completions, Anthropic Messages or
the jackfield proxy protocol), streamed or not. The other items are faults:

===================  ==========================================================
:class:`ErrorReply`  an HTTP error response (status, body, headers)
:class:`Reset`       the TCP connection is reset before any byte of the answer
:class:`Delay`       wait, then answer with another item
:class:`Stall`       stream some events, then hang until the client goes away
:class:`Truncate`    stream some events, then end without the terminal event
:class:`Malformed`   stream some events, then a garbage ``data:`` line
:class:`InStreamError`  stream some events, then the format's in-stream error event
:class:`Raw`         replay exact bytes (for example a captured ``.sse`` file)
===================  ==========================================================

"Events" are server-sent events of the rendered stream: for OpenAI each ``data:`` chunk
(``data: [DONE]`` included), for Anthropic each ``event:`` block (``ping`` included), for
the proxy each ``event:`` block. Where ``after_events`` is ``None`` every event but the
terminal ones is sent (OpenAI ``[DONE]``, Anthropic ``message_stop``, proxy ``end`` and
``[DONE]``).

Every item is a frozen attrs class, so a script can be built once and reused.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, TypeAlias

import attrs

from ..errors import ProviderError
from ..types import FinishReason, ToolCall, Usage

__all__ = [
    "Delay",
    "ErrorReply",
    "InStreamError",
    "Malformed",
    "Raw",
    "Reply",
    "Reset",
    "ScriptItem",
    "Stall",
    "Truncate",
]

DEFAULT_CHUNK_SIZE = 16
"""Characters of text (and thinking) per streamed delta unless a :class:`Reply` says."""

DEFAULT_ARGUMENTS_CHUNK_SIZE = 8
"""Characters of tool-call argument JSON per streamed fragment unless a :class:`Reply` says."""


def _tuple(value: Iterable[Any] | None) -> tuple[Any, ...]:
    return tuple(value) if value else ()


def _headers(
    value: Mapping[str, str] | Iterable[tuple[str, str]] | None,
) -> tuple[tuple[str, str], ...]:
    if not value:
        return ()
    items = value.items() if isinstance(value, Mapping) else value
    return tuple((str(k), str(v)) for k, v in items)


def _positive(_inst: Any, attribute: attrs.Attribute[int], value: int) -> None:
    if value < 1:
        raise ValueError(f"{attribute.name} must be at least 1, got {value}")


def _non_negative(_inst: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is not None and value < 0:
        raise ValueError(f"{attribute.name} must not be negative, got {value}")


@attrs.frozen(slots=True)
class Reply:
    """A successful answer, rendered into the wire format of the endpoint it is served on.

    :param text: the answer text; streamed in deltas of ``chunk_size`` characters.
    :param thinking: reasoning text, or ``None`` for none. Anthropic gets a ``thinking``
        block with a ``signature_delta``; OpenAI-format endpoints get
        ``delta.reasoning_content`` (the server's ``openai_reasoning_field``); the proxy
        gets thinking events.
    :param thinking_signature: the thinking block's signature. ``None`` gives Anthropic a
        deterministic made-up signature (the real service always sends one) and the proxy
        no signature.
    :param tool_calls: the tool calls, in order. OpenAI streams each as fragments by
        ``index`` with ``id`` and ``name`` only in the first; Anthropic as ``tool_use``
        blocks with ``input_json_delta`` fragments; fragments are
        ``arguments_chunk_size`` characters of the argument JSON.
    :param usage: token counts; ``None`` derives them from the request and the answer
        (about four characters per token).
    :param finish_reason: a :class:`~jackfield.types.FinishReason` or a wire value;
        ``None`` derives ``tool_calls`` when there are tool calls, else ``stop``. Mapped
        per format: OpenAI ``stop``/``length``/``tool_calls``/``content_filter``,
        Anthropic ``end_turn``/``max_tokens``/``tool_use``/``stop_sequence``/``refusal``.
        A value neither format knows is sent unchanged.
    :param model: the model name reported; ``None`` echoes the request's model.
    :param chunk_size: characters of text and thinking per streamed delta.
    :param arguments_chunk_size: characters of tool-call argument JSON per fragment.
    :param request_id: the request id the response reports (``x-request-id`` /
        ``request-id`` header, proxy ``request_id``); ``None`` makes a fresh one per
        request.
    :param event_delay: seconds to sleep after each write of a stream (each write holds
        the server's ``events_per_write`` events); lets a test act mid-stream.
    """

    text: str = ""
    thinking: str | None = None
    thinking_signature: str | None = None
    tool_calls: tuple[ToolCall, ...] = attrs.field(default=(), converter=_tuple)
    usage: Usage | None = None
    finish_reason: FinishReason | str | None = None
    model: str | None = None
    chunk_size: int = attrs.field(default=DEFAULT_CHUNK_SIZE, validator=_positive)
    arguments_chunk_size: int = attrs.field(
        default=DEFAULT_ARGUMENTS_CHUNK_SIZE, validator=_positive
    )
    request_id: str | None = None
    event_delay: float = attrs.field(default=0.0, validator=_non_negative)


@attrs.frozen(slots=True)
class ErrorReply:
    """An HTTP error response.

    :param status: the HTTP status, such as 429 or 529.
    :param body: a dict (sent as JSON), or ``str`` / ``bytes`` sent exactly as given.
    :param headers: extra response headers, such as ``{"retry-after": "2"}``. Unless
        given here, ``content-type`` is ``application/json`` (``text/plain`` for a body
        that is not JSON) and the format's request-id header is added.
    """

    status: int
    body: Mapping[str, Any] | str | bytes = attrs.field(factory=dict, hash=False)
    headers: tuple[tuple[str, str], ...] = attrs.field(default=(), converter=_headers)

    @classmethod
    def from_capture(cls, capture: str | Path | Mapping[str, Any]) -> ErrorReply:
        """An error reply from a captured error (a ``shared/wire/*-error-*.json`` file).

        ``capture`` is a path or the loaded dict ``{"status", "headers", "body"}``, with
        ``body_raw`` used verbatim when present. Hop-by-hop and length headers are dropped
        (the server computes its own).
        """
        data: Mapping[str, Any]
        if isinstance(capture, Mapping):
            data = capture
        else:
            data = json.loads(Path(capture).read_text(encoding="utf-8"))
        raw = data.get("body_raw")
        body: Mapping[str, Any] | str | bytes = (
            raw if isinstance(raw, str) else data.get("body") or {}
        )
        skip = {"content-length", "connection", "transfer-encoding", "keep-alive"}
        headers = {k: v for k, v in (data.get("headers") or {}).items() if k.lower() not in skip}
        return cls(int(data["status"]), body, headers)

    @classmethod
    def from_error(cls, error: ProviderError, *, status: int | None = None) -> ErrorReply:
        """A jackfield-proxy error response for ``error``: ``{"error": error.to_dict()}``.

        The status is ``status``, else the error's ``status_code``, else 500; a
        ``retry_after`` becomes a ``retry-after`` header.
        """
        code = status if status is not None else (error.status_code or 500)
        headers: dict[str, str] = {}
        if error.retry_after is not None:
            headers["retry-after"] = f"{error.retry_after:g}"
        return cls(code, {"error": error.to_dict()}, headers)


@attrs.frozen(slots=True)
class Reset:
    """Reset the TCP connection before sending any byte of the answer.

    The server sets ``SO_LINGER`` to zero and aborts the transport, so the client sees a
    connection reset (or a server disconnect), never an HTTP response.
    """


@attrs.frozen(slots=True)
class Delay:
    """Wait ``seconds``, then answer with ``then`` (``None``: the default reply).

    A client that gives up during the wait is counted in
    :attr:`FakeLLMServer.disconnects`.
    """

    seconds: float = attrs.field(validator=_non_negative)
    then: ScriptItem | None = None


@attrs.frozen(slots=True)
class Stall:
    """Stream ``after_events`` events of ``reply``, then hang.

    The handler waits until the client disconnects or the server stops; the client sees
    a read timeout. On a non-streaming request nothing is sent at all. ``reply`` ``None``
    is the default reply.
    """

    after_events: int | None = attrs.field(default=None, validator=_non_negative)
    reply: Reply | None = None


@attrs.frozen(slots=True)
class Truncate:
    """Stream ``after_events`` events of ``reply``, then end without the terminal event.

    With ``abort=False`` (the default) the HTTP response ends properly (the last chunk of
    the chunked body is sent): the stream just stops before ``[DONE]`` /
    ``message_stop`` / ``end``, which the official SDKs accept silently. With
    ``abort=True`` the connection is dropped mid-body, so the client sees an incomplete
    payload. On a non-streaming request the first half of the JSON body is sent, as a
    complete response (``abort=False``) or cut off before its ``content-length``
    (``abort=True``).
    """

    after_events: int | None = attrs.field(default=None, validator=_non_negative)
    reply: Reply | None = None
    abort: bool = False


@attrs.frozen(slots=True)
class Malformed:
    """Stream ``after_events`` events of ``reply``, then an event whose data is garbage.

    The garbage event is ``data: <data>`` under the event name the format uses for
    content (``content_block_delta`` for Anthropic, ``text_delta`` for the proxy, none for
    OpenAI), and the response ends after it. A non-streaming request gets ``data`` as a
    200 body.
    """

    after_events: int | None = attrs.field(default=None, validator=_non_negative)
    reply: Reply | None = None
    data: str = "{not json"


@attrs.frozen(slots=True)
class InStreamError:
    """Stream ``after_events`` events of ``reply``, then the format's error event.

    ``payload`` is the inner error object. Anthropic gets ``event: error`` with
    ``{"type": "error", "error": payload}``; OpenAI-format endpoints get a
    ``data: {"error": payload}`` chunk (as OpenRouter sends inside a 200 stream); the
    proxy gets ``event: error`` with ``{"error": payload}`` (use
    ``ProviderError.to_dict()`` for the payload). The response ends after the error. A
    non-streaming request gets the same envelope as a 200 JSON body.
    """

    payload: Mapping[str, Any] = attrs.field(hash=False)
    after_events: int | None = attrs.field(default=None, validator=_non_negative)
    reply: Reply | None = None

    @classmethod
    def from_error(
        cls, error: ProviderError, *, after_events: int | None = None, reply: Reply | None = None
    ) -> InStreamError:
        """An in-stream error whose payload is ``error.to_dict()`` (the proxy's shape)."""
        return cls(error.to_dict(), after_events, reply)


def _chunks(value: Iterable[bytes] | None) -> tuple[bytes, ...] | None:
    return None if value is None else tuple(value)


@attrs.frozen(slots=True)
class Raw:
    """Replay exact bytes.

    With ``chunks`` ``None`` the ``body`` is sent in one piece with a ``content-length``;
    with ``chunks`` each one is written (and flushed) separately in a chunked body, as a
    streaming server does. ``content-type`` defaults to ``text/event-stream;
    charset=utf-8`` when the bytes look like SSE, else ``application/json``.
    """

    status: int = 200
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = attrs.field(default=(), converter=_headers)
    chunks: tuple[bytes, ...] | None = attrs.field(default=None, converter=_chunks)

    @classmethod
    def from_file(
        cls,
        path: str | Path,
        *,
        status: int = 200,
        headers: Mapping[str, str] | None = None,
        split_events: bool = True,
    ) -> Raw:
        """Replay a captured body file, such as ``shared/wire/openai-stream-text-usage.sse``.

        An ``.sse`` file is streamed one event (up to and including its blank line) per
        write when ``split_events`` is true; anything else is sent as one body.
        """
        data = Path(path).read_bytes()
        if str(path).endswith(".sse"):
            hdrs = {"content-type": "text/event-stream; charset=utf-8", **(headers or {})}
            chunks = _split_sse(data) if split_events else [data]
            return cls(status, data, hdrs, chunks)
        hdrs = {"content-type": "application/json", **(headers or {})}
        return cls(status, data, hdrs)


def _split_sse(data: bytes) -> list[bytes]:
    """Split SSE bytes after each blank line, keeping every byte (LF or CRLF endings)."""
    out: list[bytes] = []
    start = 0
    i = 0
    n = len(data)
    while i < n:
        j = data.find(b"\n", i)
        if j < 0:
            break
        # A blank line: "\n\n" or "\r\n\r\n" ends an event.
        if data.startswith(b"\n", j + 1):
            end = j + 2
        elif data.startswith(b"\r\n", j + 1) and data[j - 1 : j] == b"\r":
            end = j + 3
        else:
            i = j + 1
            continue
        out.append(data[start:end])
        start = i = end
    if start < n:
        out.append(data[start:])
    return out


ScriptItem: TypeAlias = (
    Reply | ErrorReply | Reset | Delay | Stall | Truncate | Malformed | InStreamError | Raw
)
"""Anything :meth:`FakeLLMServer.enqueue` accepts (besides a plain ``str`` for a reply)."""
