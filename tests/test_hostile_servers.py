"""Hostile servers on raw sockets: no hang, no unbounded read, no fault blamed on the caller.

Every test runs the four kinds of provider (openai-compat over aiohttp, openai and
anthropic through their SDKs, the proxy over aiohttp) against a raw
``asyncio.start_server`` socket (:mod:`hostile`), never ``jackfield.testing``'s fake
server, so the server can break HTTP itself. Each call is bounded by ``asyncio.wait_for``:
a regression fails, it never hangs the suite.
"""

from __future__ import annotations

import asyncio
import gc
import time
import tracemalloc
import warnings
import zlib
from typing import Any

import pytest
from hostile import (
    WIRES,
    RawServer,
    answer,
    answer_events,
    call,
    chunked,
    closing,
    head,
    is_stream,
    make_provider,
    provider_params,
    read_request,
)

from jackfield.errors import (
    APIError,
    BadRequestError,
    ProviderTimeoutError,
    StreamError,
)
from jackfield.provider import Provider
from jackfield.types import Request, Response

PROVIDERS = provider_params()
MODES = [pytest.param(True, id="stream"), pytest.param(False, id="generate")]


# -- a deadline nothing outlives ---------------------------------------------------------


@pytest.mark.parametrize("framing", ["bad-chunk-size", "chunk-without-crlf"])
@pytest.mark.parametrize("streamed", MODES)
@pytest.mark.parametrize("name", PROVIDERS)
async def test_malformed_chunked_framing_ends_in_a_timeout(
    name: str, streamed: bool, framing: str
) -> None:
    """Headers, a pause, then broken chunked framing: the call ends by its deadline."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request = await read_request(reader)
        content_type, body = answer(WIRES[name], stream=is_stream(request))
        writer.write(head(content_type=content_type) + b"transfer-encoding: chunked\r\n\r\n")
        await writer.drain()
        await asyncio.sleep(0.05)
        if framing == "bad-chunk-size":
            writer.write(b"zz\r\n" + body[:20] + b"\r\n")
        else:
            writer.write(b"%x\r\n%sXX" % (20, body[:20]))
        await writer.drain()
        await asyncio.sleep(60)  # cancelled when the server closes

    async with (
        RawServer(handler) as server,
        closing(make_provider(name, server.port, timeout=0.5, max_retries=0)) as llm,
    ):
        started = time.perf_counter()
        with pytest.raises((ProviderTimeoutError, StreamError)):
            await call(llm, streamed, bound=5)
        assert time.perf_counter() - started < 3


@pytest.mark.parametrize("name", ["openai-compat", "openai", "anthropic"])
async def test_a_dripping_server_cannot_outlive_generates_timeout(name: str) -> None:
    """One byte every 50 ms: ``generate`` with ``timeout=1`` ends at about 1 s."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        _, body = answer(WIRES[name], stream=False, text="x" * 200)
        writer.write(head() + b"content-length: %d\r\n\r\n" % len(body))
        for byte in body:
            writer.write(bytes([byte]))
            await writer.drain()
            await asyncio.sleep(0.05)

    async with (
        RawServer(handler) as server,
        closing(make_provider(name, server.port, timeout=1, max_retries=0)) as llm,
    ):
        started = time.perf_counter()
        with pytest.raises(ProviderTimeoutError, match="timeout=1"):
            await call(llm, False, bound=10)
        assert time.perf_counter() - started < 2.5


class _Raises(Provider):
    name = "raises"
    requires_api_key = False

    def __init__(self, exc: BaseException, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.exc = exc

    async def _generate(self, request: Request) -> Response:
        raise self.exc


async def test_a_timeout_without_text_names_its_class() -> None:
    llm = _Raises(TimeoutError(), model="m", max_retries=0)
    with pytest.raises(ProviderTimeoutError) as caught:
        await llm.generate("hi")
    assert str(caught.value).endswith("request timed out: TimeoutError")
    llm = _Raises(TimeoutError("read took too long"), model="m", max_retries=0)
    with pytest.raises(ProviderTimeoutError, match=r"request timed out: read took too long$"):
        await llm.generate("hi")


# -- the server's garbage is the server's fault -------------------------------------------


@pytest.mark.parametrize("streamed", MODES)
@pytest.mark.parametrize("name", PROVIDERS)
async def test_a_bad_status_line_is_the_servers_fault(name: str, streamed: bool) -> None:
    """aiohttp reports an unparsable answer as a 400; it is an ``APIError``, not the
    caller's ``BadRequestError``."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 2OO Okay\r\ncontent-length: 0\r\n\r\n")
        await writer.drain()

    async with (
        RawServer(handler) as server,
        closing(make_provider(name, server.port, max_retries=0)) as llm,
    ):
        with pytest.raises(APIError, match=r"not valid HTTP .*Bad status line") as caught:
            await call(llm, streamed)
    assert not isinstance(caught.value, BadRequestError)
    assert caught.value.status_code is None
    assert "\n" not in str(caught.value)


# -- pooled connections -------------------------------------------------------------------


@pytest.mark.parametrize("name", PROVIDERS)
async def test_a_connection_closed_after_a_stream_is_not_reused(name: str) -> None:
    """The server sends ``keep-alive`` but closes each connection right after a stream's
    last byte (as ``llama-server`` does): the client takes it from the pool before it
    sees the close and fails writing the next request ("Can not write request body").
    With ``max_retries=0`` that call still succeeds, at once, on a new connection."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while request := await read_request(reader):
            streamed = is_stream(request)
            content_type, body = answer(WIRES[name], stream=streamed)
            writer.write(
                head(content_type=content_type, connection="keep-alive")
                + b"transfer-encoding: chunked\r\n\r\n"
                + chunked(body)
            )
            await writer.drain()
            if streamed:
                # A few loop turns: the client has taken the connection for its next
                # request, and has not yet written it, when the close arrives.
                for _ in range(3):
                    await asyncio.sleep(0)
                return

    async with (
        RawServer(handler) as server,
        closing(make_provider(name, server.port, max_retries=0)) as llm,
    ):
        for _ in range(3):
            assert (await call(llm, True)).content == "hello"
            started = time.perf_counter()
            assert (await call(llm, False)).content == "hello"
            assert time.perf_counter() - started < 0.4  # no backoff was waited
    assert server.connections >= 4  # the closed connections were replaced


def _slow_stream_handler(name: str, every: float) -> Any:
    """Streams of ten one-character text events, one every ``every`` seconds."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while await read_request(reader):
            content_type, events = answer_events(
                WIRES[name], stream=True, text="x" * 10, chunk_size=1
            )
            writer.write(head(content_type=content_type) + b"transfer-encoding: chunked\r\n\r\n")
            for event in events[:-1]:
                writer.write(b"%x\r\n%s\r\n" % (len(event), event))
                await writer.drain()
                await asyncio.sleep(every)
            writer.write(chunked(events[-1]))  # the end: the connection goes back to the pool
            await writer.drain()

    return handler


@pytest.mark.parametrize("name", PROVIDERS)
async def test_calls_queue_for_a_full_pool_instead_of_timing_out(name: str) -> None:
    """Three streams of about 1 s through two connections: the third waits for a free one,
    longer than ``connect_timeout``, and succeeds. (0.3 s, not less: a loaded CI machine can
    take 0.1 s to connect on loopback.)"""
    handler = _slow_stream_handler(name, every=0.1)
    async with RawServer(handler) as server:
        options = {"max_connections": 2, "connect_timeout": 0.3, "timeout": 5, "max_retries": 0}
        async with closing(make_provider(name, server.port, **options)) as llm:
            answers = await asyncio.gather(*(call(llm, True) for _ in range(3)))
    assert [a.content for a in answers] == ["x" * 10] * 3
    assert server.peak <= 2


@pytest.mark.parametrize("name", PROVIDERS)
async def test_a_pool_wait_past_the_deadline_says_so(name: str) -> None:
    """The third of three streams of about 1.4 s through two connections waits longer than
    ``timeout``: a ``ProviderTimeoutError`` saying that no connection was free."""
    handler = _slow_stream_handler(name, every=0.1)
    async with RawServer(handler) as server:
        options = {"max_connections": 2, "connect_timeout": 0.1, "timeout": 0.4, "max_retries": 0}
        async with closing(make_provider(name, server.port, **options)) as llm:
            results = await asyncio.gather(
                *(call(llm, True) for _ in range(3)), return_exceptions=True
            )
    errors = [r for r in results if isinstance(r, BaseException)]
    assert len(errors) == 1, results
    assert isinstance(errors[0], ProviderTimeoutError), errors[0]
    assert "no free connection within timeout=0.4 s" in str(errors[0])
    assert "max_connections=2" in str(errors[0])


# -- bounded reads -------------------------------------------------------------------------

LIMIT = 64 * 1024


def _gzip_bomb(size: int) -> bytes:
    """``size`` zero bytes, gzipped (about a thousandth of that), built in pieces."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = bytes(1 << 20)
    parts = [packer.compress(block) for _ in range(size >> 20)]
    return b"".join([*parts, packer.flush()])


BOMB = _gzip_bomb(100 << 20)


@pytest.mark.parametrize("status", [b"500 Internal Server Error", b"200 OK"], ids=["500", "200"])
@pytest.mark.parametrize("body", ["plain", "gzip-bomb"])
@pytest.mark.parametrize("streamed", MODES)
@pytest.mark.parametrize("name", PROVIDERS)
async def test_an_error_body_is_read_within_max_response_bytes(
    name: str, streamed: bool, body: str, status: bytes
) -> None:
    """A 500 whose body is 4 MB, or a gzip bomb expanding to 100 MB, both chunked (no
    length to refuse early): an ``APIError`` naming the limit, not retried, and the call
    allocates a few MB at most. A 200 answer of the same bytes is bounded alike (a
    ``StreamError`` within a stream)."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request = await read_request(reader)
        extra = {"content_encoding": "gzip"} if body == "gzip-bomb" else {}
        content_type = b"text/event-stream" if is_stream(request) else b"application/json"
        writer.write(head(status, content_type=content_type, **extra))
        writer.write(b"transfer-encoding: chunked\r\n\r\n")
        if body == "gzip-bomb":
            pieces = [BOMB[i : i + 16384] for i in range(0, len(BOMB), 16384)]
        else:
            pieces = [b"x" * 65536] * 64
        for piece in pieces:
            writer.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            await writer.drain()
        writer.write(b"0\r\n\r\n")
        await writer.drain()

    async with RawServer(handler) as server:
        llm = make_provider(name, server.port, max_response_bytes=LIMIT, max_retries=2)
        async with closing(llm):
            _warm_up(llm)
            tracemalloc.start()
            try:
                expected = APIError if status.startswith(b"500") else (APIError, StreamError)
                with pytest.raises(
                    expected, match=rf"max_(response|event)_bytes={LIMIT}"
                ) as caught:
                    await call(llm, streamed)
                _, peak = tracemalloc.get_traced_memory()
            finally:
                tracemalloc.stop()
    assert not caught.value.retryable
    assert caught.value.attempts in (None, 1)
    assert server.connections == 1  # not retried
    assert peak < 8 << 20, f"{peak / 2**20:.1f} MB allocated"


def _warm_up(llm: Provider) -> None:
    """Build the client (imports, sessions) before memory is measured."""
    client = getattr(llm, "client", None)
    if client is None:
        llm.http.session()  # type: ignore[attr-defined]


# -- a dropped connection, a dropped provider ------------------------------------------------


@pytest.mark.parametrize("cut", ["chunked-reset", "chunked-close", "length-close", "no-body"])
@pytest.mark.parametrize("name", PROVIDERS)
async def test_a_connection_dropped_mid_stream_is_a_stream_error(name: str, cut: str) -> None:
    """The same failure reads the same on every provider: ``StreamError``, whatever the
    framing and however the connection ends (reset or closed)."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        content_type, events = answer_events(WIRES[name], stream=True, text="x" * 40)
        half = b"".join(events[: len(events) // 2])
        if cut == "length-close":
            total = len(b"".join(events))
            writer.write(head(content_type=content_type) + b"content-length: %d\r\n\r\n" % total)
            writer.write(half)
        else:
            writer.write(head(content_type=content_type) + b"transfer-encoding: chunked\r\n\r\n")
            if cut != "no-body":
                writer.write(b"%x\r\n%s\r\n" % (len(half), half))
        await writer.drain()
        await asyncio.sleep(0.05)
        if cut == "chunked-reset":
            writer.transport.abort()

    async with (
        RawServer(handler) as server,
        closing(make_provider(name, server.port, max_retries=0)) as llm,
    ):
        with pytest.raises(StreamError, match="cut off"):
            await call(llm, True)


@pytest.mark.parametrize("name", PROVIDERS)
async def test_a_provider_dropped_without_aclose_closes_its_connections(name: str) -> None:
    """Decided: a finaliser closes a dropped provider's connections while its loop runs,
    with no ``ResourceWarning``; the provider itself is collected."""
    import weakref

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while request := await read_request(reader):
            content_type, body = answer(WIRES[name], stream=is_stream(request))
            writer.write(
                head(content_type=content_type) + b"content-length: %d\r\n\r\n" % len(body)
            )
            writer.write(body)
            await writer.drain()

    async with RawServer(handler) as server:
        llm = make_provider(name, server.port)
        assert (await call(llm, False)).content == "hello"
        alive = weakref.ref(llm)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            del llm
            gc.collect()
            assert alive() is None
            await asyncio.wait_for(server.closed_all.wait(), 5)
            gc.collect()
        assert [str(w.message) for w in caught if w.category is ResourceWarning] == []


async def test_a_stream_outlasting_timeout_is_not_cut_while_events_come() -> None:
    """``timeout`` bounds each wait for an event, not a stream: a 1.4 s stream with an
    event every 0.1 s passes ``timeout=0.4``, streamed and through the proxy's
    ``generate`` (which consumes a stream)."""
    async with (
        RawServer(_slow_stream_handler("proxy", every=0.1)) as server,
        closing(make_provider("proxy", server.port, timeout=0.4, max_retries=0)) as llm,
    ):
        assert (await call(llm, True)).content == "x" * 10
        assert (await call(llm, False)).content == "x" * 10
