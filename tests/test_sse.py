"""Tests for jackfield.wire._sse: the incremental SSE decoder and iter_sse."""

from __future__ import annotations

import itertools
import json
import random
import subprocess
import sys
from collections.abc import AsyncIterator, Iterable, Sequence
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import given, settings, strategies as st
from recorded import WIRE

from jackfield.errors import StreamError
from jackfield.wire._sse import DEFAULT_MAX_EVENT_BYTES, SSEDecoder, SSEEvent, iter_sse

WIRE_FILES = sorted(WIRE.glob("*.sse")) if WIRE.is_dir() else []

FAST = settings(max_examples=200, deadline=None)


def decode(chunks: Iterable[bytes], **kwargs: Any) -> list[SSEEvent]:
    """Feed every chunk, then close; return all events."""
    decoder = SSEDecoder(**kwargs)
    events: list[SSEEvent] = []
    for chunk in chunks:
        events.extend(decoder.feed(chunk))
    events.extend(decoder.close())
    return events


def bytewise(raw: bytes) -> list[bytes]:
    return [raw[i : i + 1] for i in range(len(raw))]


def chunked(raw: bytes, cuts: Iterable[int]) -> list[bytes]:
    points = sorted({0, len(raw), *(c for c in cuts if 0 <= c <= len(raw))})
    return [raw[a:b] for a, b in itertools.pairwise(points)]


def random_chunks(raw: bytes, rng: random.Random) -> list[bytes]:
    cuts = [rng.randrange(len(raw) + 1) for _ in range(rng.randrange(1, 64))]
    return chunked(raw, cuts)


# --- basic fields ---------------------------------------------------------------------


def test_single_data_event() -> None:
    assert decode([b'data: {"a":1}\n\n']) == [SSEEvent('{"a":1}')]


def test_data_without_space_and_only_one_space_stripped() -> None:
    assert decode([b"data:x\n\ndata:  y\n\ndata: \n\n"]) == [
        SSEEvent("x"),
        SSEEvent(" y"),
        SSEEvent(""),
    ]


def test_one_event_per_chunk_with_and_without_space() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"id: 9\n") == []
    assert decoder.feed(b"data:x\n\n") == [SSEEvent("x", id="9")]
    assert decoder.feed(b"data:  y\n\n") == [SSEEvent(" y", id="9")]
    assert decoder.feed(b"data: z\n\n") == [SSEEvent("z", id="9")]


def test_multiline_data_joined_with_newline() -> None:
    assert decode([b"data: a\ndata:\ndata: c\n\n"]) == [SSEEvent("a\n\nc")]


def test_comment_lines_ignored() -> None:
    raw = b": OPENROUTER PROCESSING\n\n: OPENROUTER PROCESSING\ndata: x\n: mid\ndata: y\n\n"
    assert decode([raw]) == [SSEEvent("x\ny")]


def test_event_id_retry_fields() -> None:
    raw = b"event: message_start\nid: 7\nretry: 1500\ndata: {}\n\n"
    assert decode([raw]) == [SSEEvent("{}", event="message_start", id="7", retry=1500)]


def test_event_and_retry_reset_after_dispatch_but_id_persists() -> None:
    raw = b"event: a\nid: 1\nretry: 5\ndata: x\n\ndata: y\n\nid\ndata: z\n\n"
    assert decode([raw]) == [
        SSEEvent("x", event="a", id="1", retry=5),
        SSEEvent("y", event=None, id="1", retry=None),
        SSEEvent("z", event=None, id="", retry=None),
    ]


def test_id_with_nul_is_ignored() -> None:
    assert decode([b"id: 1\ndata: a\n\nid: 2\x003\ndata: b\n\n"]) == [
        SSEEvent("a", id="1"),
        SSEEvent("b", id="1"),
    ]


@pytest.mark.parametrize("value", [b"abc", b"-5", b"1.5", b" 10", b"", b"9" * 5000, b"\xd9\xa1"])
def test_invalid_retry_is_ignored(value: bytes) -> None:
    assert decode([b"retry: " + value + b"\ndata: x\n\n"]) == [SSEEvent("x")]


def test_empty_event_name_means_default() -> None:
    assert decode([b"event:\ndata: x\n\n"]) == [SSEEvent("x", event=None)]


def test_fields_without_colon() -> None:
    assert decode([b"data\n\n"]) == [SSEEvent("")]
    assert decode([b"event: x\nevent\ndata\ndata\n\n"]) == [SSEEvent("\n", event=None)]


def test_unknown_fields_ignored() -> None:
    assert decode([b"foo: bar\nDATA: no\nData: no\ndata : no\ndata: yes\n\n"]) == [SSEEvent("yes")]


def test_value_keeps_later_colons() -> None:
    assert decode([b"data: a: b:c\n\n"]) == [SSEEvent("a: b:c")]


def test_block_without_data_is_not_dispatched() -> None:
    assert decode([b"event: ping\nid: 3\nretry: 10\n\n: c\n\n\n\n"]) == []
    # ...and its event type does not leak into the next event, but the id does.
    assert decode([b"event: ping\nid: 3\n\ndata: x\n\n"]) == [SSEEvent("x", id="3")]


# --- line endings ---------------------------------------------------------------------


@pytest.mark.parametrize("eol", [b"\n", b"\r\n", b"\r"], ids=["LF", "CRLF", "CR"])
def test_line_endings(eol: bytes) -> None:
    raw = eol.join([b"event: e", b"data: a", b"data: b", b"", b": c", b"data: z", b"", b""])
    expected = [SSEEvent("a\nb", event="e"), SSEEvent("z")]
    assert decode([raw]) == expected
    assert decode(bytewise(raw)) == expected


def test_mixed_line_endings() -> None:
    raw = b"data: a\rdata: b\r\ndata: c\n\r\ndata: d\r\r"
    assert decode([raw]) == [SSEEvent("a\nb\nc"), SSEEvent("d")]
    assert decode(bytewise(raw)) == [SSEEvent("a\nb\nc"), SSEEvent("d")]


def test_crlf_split_across_chunks() -> None:
    # A CR at the end of a chunk then an LF: one line ending, not two.
    assert decode([b"data: a\r", b"\ndata: b\r\n\r", b"\n"]) == [SSEEvent("a\nb")]
    assert decode([b"data: a\r", b"\n", b"\r", b"\n"]) == [SSEEvent("a")]


def test_cr_then_cr_across_chunks_is_a_blank_line() -> None:
    assert decode([b"data: a\r", b"\r"]) == [SSEEvent("a")]


def test_event_dispatched_without_waiting_for_next_chunk_after_cr() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\r\r") == [SSEEvent("a")]
    assert decoder.feed(b"\ndata: b\n\n") == [SSEEvent("b")]


# --- chunking and encoding ------------------------------------------------------------


def test_lines_split_at_every_byte() -> None:
    raw = b'event: x\ndata: {"k": "v"}\n\ndata: 2\n\n'
    expected = [SSEEvent('{"k": "v"}', event="x"), SSEEvent("2")]
    for i in range(len(raw) + 1):
        assert decode([raw[:i], raw[i:]]) == expected
    assert decode(bytewise(raw)) == expected


def test_multibyte_utf8_split_inside_character() -> None:
    text = "héllo € 😀 日本"
    raw = f"event: ünï\ndata: {text}\n\n".encode()
    expected = [SSEEvent(text, event="ünï")]
    assert decode(bytewise(raw)) == expected
    for i in range(len(raw) + 1):
        assert decode([raw[:i], raw[i:]]) == expected


def test_bom_at_start_is_stripped() -> None:
    raw = b"\xef\xbb\xbfdata: x\n\n"
    assert decode([raw]) == [SSEEvent("x")]
    assert decode(bytewise(raw)) == [SSEEvent("x")]
    assert decode([b"\xef", b"\xbb\xbf", b"data: x\n\n"]) == [SSEEvent("x")]


def test_bom_only_stripped_once_and_only_at_start() -> None:
    # A second BOM makes the first line's field name "\ufeffdata": unknown, ignored.
    assert decode([b"\xef\xbb\xbf\xef\xbb\xbfdata: x\n\ndata: y\n\n"]) == [SSEEvent("y")]
    assert decode([b"data: \xef\xbb\xbfx\n\n"]) == [SSEEvent("\ufeffx")]


def test_partial_bom_prefix_that_is_not_a_bom() -> None:
    with pytest.raises(StreamError):
        decode([b"\xef", b"\xbbdata: x\n\n"])


def test_accepts_bytearray_and_memoryview() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(bytearray(b"data: a\n")) == []
    assert decoder.feed(memoryview(b"\ndata: b\n\n")) == [SSEEvent("a"), SSEEvent("b")]


def test_empty_chunks_are_harmless() -> None:
    assert decode([b"", b"data: a", b"", b"\n", b"", b"\n", b""]) == [SSEEvent("a")]


def test_many_events_in_one_chunk() -> None:
    raw = b"".join(b"data: %d\n\n" % i for i in range(100))
    assert decode([raw]) == [SSEEvent(str(i)) for i in range(100)]


# --- end of stream --------------------------------------------------------------------


def test_unterminated_event_at_eof_is_discarded() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\n\ndata: half of it\n") == [SSEEvent("a")]
    assert decoder.close() == []
    assert decoder.truncated


def test_stream_cut_mid_line_is_discarded() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b'data: {"a":1}\n\ndata: {"b"') == [SSEEvent('{"a":1}')]
    assert decoder.close() == []
    assert decoder.truncated


def test_clean_end_is_not_truncated() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\n\n") == [SSEEvent("a")]
    assert decoder.close() == []
    assert not decoder.truncated


def test_pending_fields_without_data_at_eof() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\n\nevent: x\n") == [SSEEvent("a")]
    assert decoder.close() == []
    assert not decoder.truncated  # nothing that could have been an event was lost


# --- errors ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad",
    [
        b"\xff",  # never valid
        b"\xc3\x28",  # bad continuation byte
        b"\xc0\xaf",  # overlong encoding
        b"\xed\xa0\x80",  # encoded surrogate
        b"\xf4\x90\x80\x80",  # beyond U+10FFFF
    ],
)
def test_invalid_utf8_raises_stream_error(bad: bytes) -> None:
    raw = b"data: ok\n\ndata: " + bad + b"\n\n"
    with pytest.raises(StreamError, match="UTF-8"):
        decode([raw])
    with pytest.raises(StreamError, match="UTF-8"):
        decode(bytewise(raw))


def test_invalid_utf8_in_comment_and_field_name() -> None:
    with pytest.raises(StreamError):
        decode([b": \xff\n\n"])
    with pytest.raises(StreamError):
        decode([b"ev\xffent: x\n\n"])


def test_decoder_is_unusable_after_error() -> None:
    decoder = SSEDecoder()
    with pytest.raises(StreamError):
        decoder.feed(b"data: \xff\n\n")
    with pytest.raises(StreamError):
        decoder.feed(b"data: fine\n\n")


def test_max_event_bytes_line_without_newline() -> None:
    decoder = SSEDecoder(max_event_bytes=10)
    assert decoder.feed(b"data: 1234") == []  # 10 bytes: at the limit
    with pytest.raises(StreamError, match="max_event_bytes"):
        decoder.feed(b"5")


def test_max_event_bytes_complete_long_line_in_one_chunk() -> None:
    with pytest.raises(StreamError, match="max_event_bytes"):
        decode([b"data: x\n\n: " + b"c" * 100 + b"\n\n"], max_event_bytes=50)
    assert decode([b"data: 1234\n\n"], max_event_bytes=10) == [SSEEvent("1234")]


def test_max_event_bytes_multiline_event() -> None:
    raw = b"data: 12345\n" * 4 + b"\n"  # data "12345\n12345\n12345\n12345": 23 chars
    assert decode([raw], max_event_bytes=23) == [SSEEvent("\n".join(["12345"] * 4))]
    with pytest.raises(StreamError, match="max_event_bytes"):
        decode([raw], max_event_bytes=22)
    with pytest.raises(StreamError, match="max_event_bytes"):
        decode(bytewise(raw), max_event_bytes=22)
    # Pending data is bounded too, before the event is complete.
    decoder = SSEDecoder(max_event_bytes=22)
    for _ in range(3):
        assert decoder.feed(b"data: 12345\n") == []  # 17 chars so far
    with pytest.raises(StreamError, match="max_event_bytes"):
        decoder.feed(b"data: 12345\n")  # 23 chars, not dispatched yet


def test_max_event_bytes_garbage_without_newlines() -> None:
    decoder = SSEDecoder(max_event_bytes=1024)
    for _ in range(10):
        assert decoder.feed(b"x" * 100) == []
    with pytest.raises(StreamError, match="max_event_bytes"):
        decoder.feed(b"x" * 100)


def test_default_max_event_bytes() -> None:
    assert DEFAULT_MAX_EVENT_BYTES == 16 * 1024 * 1024


@pytest.mark.parametrize("bad", [0, -1])
def test_max_event_bytes_must_be_positive(bad: int) -> None:
    with pytest.raises(ValueError, match="max_event_bytes"):
        SSEDecoder(max_event_bytes=bad)


def test_sse_event_is_frozen() -> None:
    event = SSEEvent("x")
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        event.data = "y"  # type: ignore[misc]
    assert (event.event, event.id, event.retry) == (None, None, None)


def test_module_does_not_import_aiohttp() -> None:
    code = "import sys, jackfield.wire._sse; assert 'aiohttp' not in sys.modules, 'aiohttp'"
    subprocess.run([sys.executable, "-c", code], check=True)


# --- iter_sse -------------------------------------------------------------------------


async def agen(chunks: Sequence[bytes]) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk


async def test_iter_sse() -> None:
    chunks = [b"data: a\n", b"\nevent: e\r\ndata: b\r\n", b"\r\ndata: cut"]
    events = [event async for event in iter_sse(agen(chunks))]
    assert events == [SSEEvent("a"), SSEEvent("b", event="e")]


async def collect(events: AsyncIterator[SSEEvent], into: list[SSEEvent]) -> None:
    async for event in events:
        into.append(event)


async def test_iter_sse_raises_stream_error() -> None:
    seen: list[SSEEvent] = []
    with pytest.raises(StreamError, match="UTF-8"):
        await collect(iter_sse(agen([b"data: a\n\n", b"data: \xff\n\n"])), seen)
    assert seen == [SSEEvent("a")]


async def test_iter_sse_max_event_bytes() -> None:
    seen: list[SSEEvent] = []
    with pytest.raises(StreamError, match="max_event_bytes"):
        await collect(iter_sse(agen([b"data: " + b"x" * 100]), max_event_bytes=64), seen)
    assert seen == []


# --- real captured streams ------------------------------------------------------------


@pytest.mark.parametrize("path", WIRE_FILES or [None], ids=lambda p: p.name if p else "absent")
def test_wire_replay(path: Path | None) -> None:
    if path is None:
        pytest.skip(f"captured SSE streams not found: {WIRE} does not exist or has no *.sse")
    raw = path.read_bytes()
    whole_decoder = SSEDecoder()
    whole = whole_decoder.feed(raw) + whole_decoder.close()
    assert len(whole) >= 1
    assert not whole_decoder.truncated, "capture should end with a complete event"
    assert decode(bytewise(raw)) == whole
    rng = random.Random(path.name)
    for _ in range(20):
        assert decode(random_chunks(raw, rng)) == whole
    # The same stream with CRLF or CR line endings decodes identically.
    assert decode([raw.replace(b"\n", b"\r\n")]) == whole
    assert decode(random_chunks(raw.replace(b"\n", b"\r"), rng)) == whole
    # Every real event is JSON (or the OpenAI "[DONE]" sentinel); comments never leak.
    for event in whole:
        assert not event.data.startswith(":")
        if event.data != "[DONE]":
            payload = json.loads(event.data)
            if path.name.startswith("anthropic-"):
                assert event.event == payload["type"]


def test_wire_openrouter_comments_and_anthropic_events() -> None:
    files = {p.name: p for p in WIRE_FILES}
    name = "openrouter-stream-text-usage.sse"
    if name not in files or "anthropic-stream-text-short.sse" not in files:
        pytest.skip(f"captured SSE streams not found in {WIRE}")
    openrouter = decode([files[name].read_bytes()])
    assert files[name].read_bytes().startswith(b": OPENROUTER PROCESSING")
    assert openrouter[-1] == SSEEvent("[DONE]")
    assert all(e.event is None for e in openrouter)
    anthropic = decode([files["anthropic-stream-text-short.sse"].read_bytes()])
    assert [e.event for e in anthropic] == [
        "message_start",
        "content_block_start",
        "ping",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]


# --- properties -----------------------------------------------------------------------

_LINE_CHARS = st.characters(codec="utf-8", exclude_characters="\r\n")
_line_text = st.text(_LINE_CHARS, max_size=12)
_EOLS = ("\n", "\r\n", "\r")


@st.composite
def sse_streams(draw: st.DrawFn) -> tuple[bytes, list[SSEEvent], bool]:
    """A serialised stream, the events it must decode to, and whether it ends cut."""
    events = draw(
        st.lists(
            st.tuples(
                st.lists(_line_text, min_size=1, max_size=4),  # data lines
                st.none() | st.text(_LINE_CHARS, min_size=1, max_size=8),  # event
                st.none() | st.text(st.characters(codec="utf-8", exclude_characters="\r\n\0")),
                st.none() | st.integers(0, 10**9),  # retry
                st.booleans(),  # comment line
            ),
            max_size=6,
        )
    )
    lines: list[str] = []
    expected: list[SSEEvent] = []
    last_id: str | None = None
    for data_lines, name, event_id, retry, comment in events:
        if comment:
            lines.append(": " + draw(_line_text))
        if name is not None:
            lines.append("event: " + name)
        if event_id is not None:
            lines.append("id: " + event_id)
            last_id = event_id
        if retry is not None:
            lines.append(f"retry: {retry}")
        for value in data_lines:
            if value.startswith(" ") or draw(st.booleans()):
                lines.append("data: " + value)
            elif value:
                lines.append("data:" + value)
            else:
                lines.append("data")
        lines.append("")
        expected.append(SSEEvent("\n".join(data_lines), name, last_id, retry))
    cut = draw(st.booleans())
    tail = "data: this event is cut off" + draw(st.sampled_from(["", "\n"])) if cut else ""
    out: list[str] = []
    previous = ""
    for line in lines:
        eol = draw(st.sampled_from(_EOLS))
        if previous == "\r" and not line and eol == "\n":
            eol = "\r"  # "\r" then an empty line ended by "\n" would read as one CRLF
        out.append(line + eol)
        previous = eol
    raw = ("\ufeff" if draw(st.booleans()) else "") + "".join(out) + tail
    return raw.encode("utf-8"), expected, cut


@FAST
@given(stream=sse_streams(), data=st.data())
def test_property_any_chunking_gives_same_events(
    stream: tuple[bytes, list[SSEEvent], bool], data: st.DataObject
) -> None:
    raw, expected, cut = stream
    decoder = SSEDecoder()
    assert decoder.feed(raw) + decoder.close() == expected
    assert decoder.truncated is cut
    cuts = data.draw(st.lists(st.integers(0, len(raw)), max_size=30))
    assert decode(chunked(raw, cuts)) == expected


@FAST
@given(stream=sse_streams())
def test_property_bytewise_gives_same_events(stream: tuple[bytes, list[SSEEvent], bool]) -> None:
    raw, expected, _ = stream
    assert decode(bytewise(raw)) == expected


def _outcome(chunks: list[bytes], limit: int) -> list[SSEEvent] | type[StreamError]:
    try:
        events = decode(chunks, max_event_bytes=limit)
    except StreamError:
        return StreamError
    assert all(isinstance(e, SSEEvent) for e in events)
    return events


_garbage = st.binary(max_size=300) | st.lists(
    st.sampled_from(
        [
            b"data:",
            b"data: ",
            b"\n",
            b"\r",
            b"\r\n",
            b":",
            b"event: x",
            b"id: 1",
            b"retry: 9",
            b"\xef\xbb\xbf",
            b"\xff",
            b"\xc3",
            b"\xa9",
            b"x",
            b" ",
        ]
    ),
    max_size=40,
).map(b"".join)


@FAST
@given(raw=_garbage, data=st.data(), limit=st.sampled_from([4, 16, DEFAULT_MAX_EVENT_BYTES]))
def test_property_garbage_gives_events_or_stream_error(
    raw: bytes, data: st.DataObject, limit: int
) -> None:
    whole = _outcome([raw], limit)  # anything but StreamError propagates and fails
    cuts = data.draw(st.lists(st.integers(0, len(raw)), max_size=20))
    assert _outcome(chunked(raw, cuts), limit) == whole


# --- long lines: linear, not quadratic --------------------------------------------------


def test_long_line_keeps_unterminated_chunks_without_joining_them() -> None:
    # Joining the pending tail with every new chunk re-copies it: O(n²) for one long line.
    decoder = SSEDecoder()
    for _ in range(1000):
        assert decoder.feed(b"x" * 1024) == []
    assert isinstance(decoder._pending, list)
    assert len(decoder._pending) == 1000  # one reference per chunk, never re-copied
    assert decoder.feed(b"\n\n") == []  # a line without a field name's colon: no data


def test_long_line_over_max_event_bytes_still_refused_in_small_chunks() -> None:
    decoder = SSEDecoder(max_event_bytes=4096)
    for _ in range(4):
        decoder.feed(b"x" * 1024)
    with pytest.raises(StreamError, match="max_event_bytes"):
        decoder.feed(b"x")


# --- a JSON document instead of events ---------------------------------------------------

JSON_BODY = b'{"error": {"message": "no streaming here", "type": "invalid_request_error"}}'


@pytest.mark.parametrize(
    "raw",
    [JSON_BODY, b"\xef\xbb\xbf" + JSON_BODY, b"\n  \r\n" + JSON_BODY + b"\n", b"[1, 2]"],
    ids=["plain", "bom", "leading-blank", "array"],
)
def test_a_json_body_is_kept_whole_and_yields_no_events(raw: bytes) -> None:
    for chunks in ([raw], bytewise(raw), chunked(raw, [1, 3, 7, 20])):
        decoder = SSEDecoder()
        assert [e for c in chunks for e in decoder.feed(c)] == []
        assert decoder.close() == []
        assert decoder.json_body is not None
        assert (
            decoder.json_body.strip().lstrip(b"\xef\xbb\xbf").strip()
            == raw.lstrip(b"\xef\xbb\xbf").strip()
        )
        assert not decoder.truncated


def test_an_event_stream_has_no_json_body() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b'\n\ndata: {"a": 1}\n\n') == [SSEEvent('{"a": 1}')]
    decoder.close()
    assert decoder.json_body is None


def test_a_json_body_over_max_event_bytes_is_refused() -> None:
    decoder = SSEDecoder(max_event_bytes=16)
    decoder.feed(b'{"a": "123456')
    with pytest.raises(StreamError, match=r"JSON body.*max_event_bytes"):
        decoder.feed(b'7890"}')


async def test_iter_sse_raises_for_a_json_body_naming_the_content_type() -> None:
    body = b'{"id": "x", "choices": [{"message": {"content": "whole"}}]}'
    with pytest.raises(StreamError) as info:
        await collect(iter_sse(agen([body]), content_type="application/json"), [])
    assert "application/json" in info.value.message
    assert "instead of an event stream" in info.value.message


async def test_iter_sse_maps_a_json_error_body_to_its_class() -> None:
    from jackfield.errors import OverloadedError

    body = b'{"type": "error", "error": {"type": "overloaded_error", "message": "busy"}}'
    with pytest.raises(OverloadedError):
        await collect(iter_sse(agen([body])), [])
