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
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator
from typing import NoReturn

import attrs

from ..errors import StreamError

__all__ = ["DEFAULT_MAX_EVENT_BYTES", "SSEDecoder", "SSEEvent", "iter_sse"]

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
        "_bom_pending",
        "_data",
        "_event",
        "_failed",
        "_id",
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
        self._bom_pending = True  # the first bytes may still be (part of) a BOM
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
        parts = self._pending
        if self._bom_pending:  # only at the very start: the pending bytes are a BOM prefix
            chunk = b"".join(parts) + chunk if parts else chunk
            parts.clear()
            self._pending_size = 0
            if len(chunk) < 3 and _BOM.startswith(chunk):
                parts.append(chunk)
                self._pending_size = len(chunk)
                return []
            self._bom_pending = False
            if chunk.startswith(_BOM):
                chunk = chunk[3:]
                if not chunk:
                    return []
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

    def close(self) -> list[SSEEvent]:
        """End of stream: discard any unterminated event, as the spec says; returns ``[]``.

        Per the spec, an event is dispatched only by a blank line, so nothing is flushed
        here; :attr:`truncated` records whether something was discarded. The decoder is
        reset and may be fed a new stream (without BOM stripping).
        """
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
        self._data = []
        raise StreamError(message) from None

    def _check_lines(self, buf: bytes) -> None:
        limit = self._max
        for line in buf.split(b"\n"):
            if len(line) > limit:
                self._fail(f"SSE line exceeds max_event_bytes={limit}")


async def iter_sse(
    content: AsyncIterable[bytes], *, max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES
) -> AsyncIterator[SSEEvent]:
    """Yield the events of an SSE byte stream such as ``response.content.iter_any()``.

    An event left unterminated when ``content`` ends is discarded (see
    :meth:`SSEDecoder.close`). Raises :class:`~jackfield.errors.StreamError` for invalid
    UTF-8 or oversized lines and events. Does not close ``content``.
    """
    decoder = SSEDecoder(max_event_bytes=max_event_bytes)
    async for chunk in content:
        for event in decoder.feed(chunk):
            yield event
    for event in decoder.close():
        yield event
