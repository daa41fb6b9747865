"""Incremental server-sent events (SSE) decoding, per the WHATWG EventSource spec.

:class:`SSEDecoder` turns network chunks into :class:`SSEEvent` values; :func:`iter_sse`
does the same for any async byte iterator (such as aiohttp's
``response.content.iter_any()``). This module does not import aiohttp.

Choices where the spec leaves room or where jackfield is stricter:

* Invalid UTF-8 raises :class:`~jackfield.errors.StreamError` (the spec would substitute
  U+FFFD and carry on; a provider that sends invalid UTF-8 is broken).
* An event still open when the stream ends (no terminating blank line) is discarded, as
  the spec says, so a stream cut mid-event never yields a complete-looking event.
  :attr:`SSEDecoder.truncated` tells whether :meth:`SSEDecoder.close` discarded anything.
* A line, or the data of one event, larger than ``max_event_bytes`` raises
  :class:`~jackfield.errors.StreamError`, so a garbage stream cannot fill memory.
* A body whose first non-blank byte is ``{`` or ``[`` is a JSON document, not events
  (no SSE line starts so): a server that ignored ``stream: true``, or answered with an
  error. It is kept whole (within ``max_event_bytes``) and :func:`iter_sse` raises the
  error it describes, or says that JSON came instead of a stream, rather than reporting
  a truncated stream.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator
from typing import NoReturn

import attrs

from ..errors import ProviderError, StreamError

__all__ = [
    "DEFAULT_MAX_EVENT_BYTES",
    "SSEDecoder",
    "SSEEvent",
    "iter_sse",
    "json_instead_of_events",
]

DEFAULT_MAX_EVENT_BYTES = 16 * 1024 * 1024
"""Default bound on one line and on the data of one event: 16 MiB."""

_BOM = b"\xef\xbb\xbf"


@attrs.frozen(slots=True)
class SSEEvent:
    """One dispatched server-sent event.

    ``data`` is the event's data lines joined with ``"\\n"``. ``event`` is the event
    type, ``None`` when the block had no (or an empty) ``event:`` field, which the spec
    calls ``"message"``. ``id`` is the last event id seen so far in the stream (it
    persists across events, as the spec's ``lastEventId`` does), ``None`` if none was
    sent. ``retry`` is the reconnection time in milliseconds if this event's block had a
    valid ``retry:`` field, else ``None``.
    """

    data: str
    event: str | None = None
    id: str | None = None
    retry: int | None = None


class SSEDecoder:
    """Incremental SSE decoder: :meth:`feed` it bytes, get back complete events.

    Chunks may split lines anywhere, including inside a multi-byte UTF-8 character or
    between the CR and LF of a CRLF; only complete lines are decoded. Accepts LF, CRLF
    and CR line endings and strips one UTF-8 BOM at the very start. After it raises
    :class:`~jackfield.errors.StreamError` the decoder is unusable: every later
    :meth:`feed` raises again.
    """

    __slots__ = (
        "_at_start",
        "_bom_pending",
        "_data",
        "_event",
        "_failed",
        "_id",
        "_json",
        "_json_body",
        "_max",
        "_pending",
        "_pending_size",
        "_retry",
        "_size",
        "_skip_lf",
        "_truncated",
    )

    def __init__(self, *, max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES) -> None:
        if isinstance(max_event_bytes, bool) or not isinstance(max_event_bytes, int):
            raise TypeError("max_event_bytes must be an int")
        if max_event_bytes < 1:
            raise ValueError("max_event_bytes must be at least 1")
        self._max = max_event_bytes
        # The unterminated tail, as the chunks that brought it (joined once, when its line
        # ends) and their total size; it never holds CR or LF.
        self._pending: list[bytes] = []
        self._pending_size = 0
        self._at_start = True  # before the first non-blank byte, or reading a JSON body
        self._bom_pending = True  # the first bytes may still be (part of) a BOM
        self._json: list[bytes] | None = None  # the body, when it is JSON, not events
        self._json_body: bytes | None = None
        self._skip_lf = False  # the previous chunk ended with CR: drop a leading LF
        self._failed = False
        self._truncated = False
        self._data: list[str] = []  # data lines of the event being read
        self._size = 0  # len("\n".join(self._data)) + 1 while self._data is non-empty
        self._event: str | None = None
        self._id: str | None = None
        self._retry: int | None = None

    @property
    def truncated(self) -> bool:
        """Whether :meth:`close` discarded an unterminated line or an undispatched event."""
        return self._truncated

    @property
    def json_body(self) -> bytes | None:
        """After :meth:`close`: the whole body when it was a JSON document (its first
        non-blank byte ``{`` or ``[``) instead of events, else ``None``."""
        return self._json_body

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        """Add ``chunk`` and return the events it completed (often none, often one)."""
        if self._failed:
            raise StreamError("the SSE stream already failed to decode")
        if not chunk:
            return []
        if type(chunk) is not bytes:
            chunk = bytes(chunk)
        if self._skip_lf:
            self._skip_lf = False
            if chunk[0] == 10:  # the LF of a CRLF split across chunks
                chunk = chunk[1:]
                if not chunk:
                    return []
        if self._at_start:
            started = self._start(chunk)
            if started is None:
                return []
            chunk = started
        parts = self._pending
        # Only the new chunk is scanned and normalised: the pending tail never holds CR
        # or LF, so each byte is looked at once and copied once, whatever the line length.
        if 13 in chunk:  # CR: normalise CRLF and lone CR to LF
            if chunk[-1] == 13:
                self._skip_lf = True
            chunk = chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        limit = self._max
        end = chunk.rfind(10)
        if end < 0:
            parts.append(chunk)
            size = self._pending_size + len(chunk)
            self._pending_size = size
            if size > limit:
                self._fail(f"SSE line exceeds max_event_bytes={limit}")
            return []
        if parts:
            end += self._pending_size
            buf = parts[0] + chunk if len(parts) == 1 else b"".join([*parts, chunk])
            parts.clear()
            self._pending_size = 0
        else:
            buf = chunk
        if len(buf) > limit:
            self._check_lines(buf)
        data = self._data
        if (
            end == len(buf) - 1
            and not data
            and buf.startswith(b"data:")
            and buf.find(10) == end - 1
        ):
            # Fast path, the common chunk: exactly one complete "data: ...\n\n" event.
            start = 6 if buf.startswith(b" ", 5) else 5
            try:
                value = buf[start : end - 1].decode("utf-8")
            except UnicodeDecodeError as exc:
                self._fail(f"SSE stream is not valid UTF-8: {exc}")
            single = SSEEvent(value, self._event, self._id, self._retry)
            self._event = self._retry = None
            return [single]
        if end + 1 < len(buf):
            tail = buf[end + 1 :]
            parts.append(tail)
            self._pending_size = len(tail)
        try:
            text = buf[:end].decode("utf-8")
        except UnicodeDecodeError as exc:
            self._fail(f"SSE stream is not valid UTF-8: {exc}")

        events: list[SSEEvent] = []
        event = self._event
        last_id = self._id
        retry = self._retry
        counted = len(data)  # data lines already included in self._size
        for line in text.split("\n"):
            if not line:  # blank line: dispatch
                if data:
                    value = "\n".join(data)
                    if len(value) > limit:
                        self._fail(f"SSE event data exceeds max_event_bytes={limit}")
                    events.append(SSEEvent(value, event, last_id, retry))
                    data.clear()
                    counted = 0
                event = retry = None
            elif line.startswith("data:"):
                data.append(line[6:] if line.startswith(" ", 5) else line[5:])
            else:
                colon = line.find(":")
                if colon == 0:  # comment
                    continue
                if colon < 0:
                    field, value = line, ""
                else:
                    field = line[:colon]
                    value = line[colon + 2 if line.startswith(" ", colon + 1) else colon + 1 :]
                if field == "data":
                    data.append(value)
                elif field == "event":
                    event = value or None
                elif field == "id":
                    if "\0" not in value:
                        last_id = value
                elif field == "retry" and len(value) <= 18 and value.isascii() and value.isdigit():
                    # ASCII digits only, per spec; absurdly long values (int() would
                    # refuse beyond 4300 digits) are ignored rather than raised on.
                    retry = int(value)
        self._event = event
        self._id = last_id
        self._retry = retry
        if data:  # bound the data of the pending event; O(new lines), not O(all lines)
            size = (self._size if counted else 0) + sum(map(len, data[counted:]))
            self._size = size = size + len(data) - counted
            if size - 1 > limit:
                self._fail(f"SSE event data exceeds max_event_bytes={limit}")
        return events

    def _start(self, chunk: bytes) -> bytes | None:
        """The start of the stream: strip a BOM and tell events from a JSON body.

        Returns the bytes to decode as events, or ``None`` when there are none yet.
        """
        if self._json is not None:  # a JSON body: kept whole, within the bound
            self._json.append(chunk)
            self._pending_size += len(chunk)
            if self._pending_size > self._max:
                self._fail(f"a JSON body instead of events exceeds max_event_bytes={self._max}")
            return None
        parts = self._pending
        if parts:  # a partial BOM, or blank bytes not yet ended by a newline
            chunk = b"".join([*parts, chunk])
            parts.clear()
            self._pending_size = 0
        if self._bom_pending:
            if len(chunk) < 3 and _BOM.startswith(chunk):
                parts.append(chunk)
                self._pending_size = len(chunk)
                return None
            self._bom_pending = False
            if chunk.startswith(_BOM):
                chunk = chunk[3:]
        head = chunk.lstrip()
        if not head:  # blank so far: decoded as usual (blank lines dispatch nothing)
            return chunk or None
        if head[0] in b"{[":  # no SSE line starts so; a JSON document does
            self._json = []
            return self._start(chunk)
        self._at_start = False
        return chunk

    def close(self) -> list[SSEEvent]:
        """End of stream: discard any unterminated event, as the spec says; returns ``[]``.

        Per the spec, an event is dispatched only by a blank line, so nothing is flushed
        here; :attr:`truncated` records whether something was discarded, and
        :attr:`json_body` holds a body that was JSON instead of events. The decoder is
        reset and may be fed a new stream (without BOM stripping).
        """
        if self._json is not None:
            self._json_body = b"".join(self._json)
            self._json = None
            self._pending = []
            self._pending_size = 0
        self._at_start = False
        self._truncated = bool(self._pending) or bool(self._data)
        self._pending = []
        self._pending_size = 0
        self._skip_lf = False
        self._bom_pending = False
        self._data = []
        self._event = None
        self._retry = None
        return []

    def _fail(self, message: str) -> NoReturn:
        self._failed = True
        self._pending = []
        self._pending_size = 0
        self._json = None
        self._data = []
        raise StreamError(message) from None

    def _check_lines(self, buf: bytes) -> None:
        limit = self._max
        for line in buf.split(b"\n"):
            if len(line) > limit:
                self._fail(f"SSE line exceeds max_event_bytes={limit}")


async def iter_sse(
    content: AsyncIterable[bytes],
    *,
    max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES,
    content_type: str | None = None,
) -> AsyncIterator[SSEEvent]:
    """Yield the events of an SSE byte stream such as ``response.content.iter_any()``.

    An event left unterminated when ``content`` ends is discarded (see
    :meth:`SSEDecoder.close`). Raises :class:`~jackfield.errors.StreamError` for invalid
    UTF-8 or oversized lines and events. A body that is a JSON document instead of
    events (a server that ignored ``stream``) raises, once it has been read: the
    :class:`~jackfield.errors.ProviderError` its error payload describes, else a
    :class:`~jackfield.errors.StreamError` saying so; ``content_type``, the response's
    header if known, goes into that message. Does not close ``content``.
    """
    decoder = SSEDecoder(max_event_bytes=max_event_bytes)
    async for chunk in content:
        for event in decoder.feed(chunk):
            yield event
    for event in decoder.close():
        yield event
    if decoder.json_body is not None:
        raise json_instead_of_events(decoder.json_body, content_type)


def json_instead_of_events(body: bytes, content_type: str | None = None) -> ProviderError:
    """The error for a stream request answered with the JSON document ``body``.

    An error payload (``{"error": ...}``, Anthropic's ``{"type": "error", ...}``, the
    proxy protocol's) maps to its class through the shared mapper, as an error event
    would; anything else is a :class:`~jackfield.errors.StreamError` that says the
    server sent JSON (``content_type``) instead of an event stream.
    """
    from ._errors import error_from_payload
    from ._json import loads

    try:
        data = loads(body)
    except (ValueError, RecursionError):
        data = None
    if isinstance(data, dict) and (
        data.get("type") == "error"
        or (data.get("error") and not data.get("choices") and not data.get("content"))
    ):
        return error_from_payload(data)
    kind = "a JSON body" if data is not None else "a JSON-looking (but invalid) body"
    if content_type:
        kind += f" (content-type {content_type})"
    return StreamError(
        f"the server answered the stream request with {kind} instead of an event "
        "stream (text/event-stream): it may not support streaming at this endpoint",
        body=data if data is not None else body[:1000].decode("utf-8", "replace"),
    )
