"""Memory: no per-request leak, and a body over ``max_response_bytes`` is refused.

RSS is read from ``/proc/self/statm`` after a warm-up (first sessions, pools, caches,
interned strings and allocator arenas are paid for before the first reading) and after
a garbage collection, and compared with a generous bound: a leak of even 200 bytes per
request shows as 20 MB over 100,000 requests, while allocator noise stays far below.

The test kit's own records are cleared between batches: the mock's ``requests`` list and
the fake server's request log keep every request on purpose.

In CI the HTTP test sends 4,000 requests through ``openai-compat``. The full size sends
100,000 through every HTTP-speaking provider (the SDK-based ones take minutes)::

    JACKFIELD_MEMORY_FULL=1 python -m pytest tests/test_reliability_memory.py
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import re
import sys
from typing import Any

import pytest
from test_reliability_providers import Spec, provider_params

from jackfield.errors import APIError, ProviderError, StreamError
from jackfield.events import StreamStart, TextStart, event_to_dict
from jackfield.plugins.mock import MockProvider
from jackfield.testing._fake_server import FakeLLMServer, Raw, RecordedRequest, Reply, ScriptItem

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="reads RSS from /proc/self/statm"
)

GROWTH_BOUND = 20 * 1024 * 1024
FULL = os.environ.get("JACKFIELD_MEMORY_FULL", "") not in ("", "0")
HTTP_REQUESTS = 100_000 if FULL else 4_000


def _http_params() -> list[Any]:
    """Every HTTP provider at full size; ``openai-compat`` alone in CI."""
    params = provider_params()
    return params if FULL else [p for p in params if p.id == "openai-compat"]


def rss() -> int:
    """Resident set size of this process, in bytes, after a full collection."""
    gc.collect()
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


async def _mock_batch(provider: MockProvider, start: int, n: int) -> None:
    for i in range(start, start + n):
        if i % 2:
            response = await provider.generate(f"message {i}")
        else:
            response = await provider.stream(f"message {i}").collect()
        assert response.content == f"echo: message {i}"
    provider.requests.clear()  # the mock records every request by design


@pytest.mark.timeout(300)
async def test_100k_requests_through_one_provider_do_not_grow_memory() -> None:
    provider = MockProvider()
    await _mock_batch(provider, 0, 5_000)  # warm-up
    before = rss()
    for start in range(5_000, 105_000, 10_000):
        await _mock_batch(provider, start, 10_000)
    growth = rss() - before
    print(f"\nmock: RSS grew {growth / 1e6:.1f} MB over 100,000 requests")
    assert growth < GROWTH_BOUND, f"RSS grew {growth / 1e6:.1f} MB over 100,000 requests"


@pytest.mark.timeout(3600 if FULL else 300)
@pytest.mark.parametrize("spec", _http_params())
async def test_thousands_of_http_requests_do_not_grow_memory(spec: Spec) -> None:
    async with FakeLLMServer() as server:
        provider = spec.make(server)

        async def batch(start: int, n: int) -> None:
            async def one(i: int) -> None:
                if i % 2:
                    response = await provider.generate(f"message {i}")
                else:
                    response = await provider.stream(f"message {i}").collect()
                assert response.content == f"echo: message {i}"

            await asyncio.gather(*(one(i) for i in range(start, start + n)))
            server.clear()  # the server logs every request by design

        try:
            for start in range(0, 500, 50):  # warm-up
                await batch(start, 50)
            before = rss()
            for start in range(500, 500 + HTTP_REQUESTS, 50):
                await batch(start, 50)
            growth = rss() - before
        finally:
            await provider.aclose()
    print(f"\n{spec.name}: RSS grew {growth / 1e6:.1f} MB over {HTTP_REQUESTS:,} requests")
    assert growth < GROWTH_BOUND, f"RSS grew {growth / 1e6:.1f} MB over {HTTP_REQUESTS:,} requests"


# -- max_response_bytes ---------------------------------------------------------------------

LIMIT = 64 * 1024
BIG_TEXT = "x" * (4 * LIMIT)


def _big(rec: RecordedRequest) -> ScriptItem:
    return Reply(BIG_TEXT, chunk_size=1024)


async def _call(provider: Any, streamed: bool) -> None:
    if streamed:
        async for _ in provider.stream("big"):
            pass
    else:
        await provider.generate("big")


@pytest.mark.parametrize("spec", provider_params())
@pytest.mark.parametrize("streamed", [False, True], ids=["generate", "stream"])
async def test_a_body_over_max_response_bytes_raises_a_clear_error(
    spec: Spec, streamed: bool
) -> None:
    async with FakeLLMServer(handler=_big) as server:
        provider = spec.make(server, max_response_bytes=LIMIT, max_retries=0)
        try:
            with pytest.raises(ProviderError) as info:
                await _call(provider, streamed)
        finally:
            await provider.aclose()
        assert server.request_count == 1
        assert await server.wait_for_connections(0)
    err = info.value
    assert isinstance(err, APIError | StreamError), repr(err)
    assert f"max_response_bytes={LIMIT}" in str(err), str(err)
    assert err.retryable is False
    assert err.provider == spec.provider_class().name


def _endless(spec: Spec, streamed: bool) -> Raw:
    """256 MiB of answer on the wire, from one 64 KiB object repeated (cheap to serve)."""
    piece = b"x" * 65536
    if not streamed:
        return Raw(200, b"", {"content-type": "application/json"}, chunks=(piece,) * 4096)
    # A valid stream opening in the provider's own format, then one text delta per write.
    if spec.wire == "anthropic":
        head = [
            (
                "message_start",
                {
                    "type": "message_start",
                    "message": {
                        "id": "msg_1",
                        "type": "message",
                        "role": "assistant",
                        "model": "fake-model",
                        "content": [],
                        "stop_reason": None,
                        "stop_sequence": None,
                        "usage": {"input_tokens": 1, "output_tokens": 1},
                    },
                },
            ),
            (
                "content_block_start",
                {
                    "type": "content_block_start",
                    "index": 0,
                    "content_block": {"type": "text", "text": ""},
                },
            ),
        ]
        delta = b'{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"'
        event = b"event: content_block_delta\ndata: " + delta + piece + b'"}}\n\n'
    elif spec.wire == "proxy":
        head = [
            ("start", event_to_dict(StreamStart(model="fake-model", provider="fake"))),
            ("text_start", event_to_dict(TextStart(0))),
        ]
        event = b'event: text_delta\ndata: {"type":"text_delta","index":0,"text":"'
        event += piece + b'"}\n\n'
    else:
        head = []
        event = b'data: {"choices":[{"index":0,"delta":{"content":"' + piece + b'"}}]}\n\n'
    opening = b"".join(
        f"event: {name}\ndata: {json.dumps(data)}\n\n".encode() for name, data in head
    )
    chunks = (opening, *(event,) * 4096) if opening else (event,) * 4096
    return Raw(200, b"", {"content-type": "text/event-stream"}, chunks=chunks)


@pytest.mark.parametrize("spec", provider_params())
@pytest.mark.parametrize("streamed", [False, True], ids=["generate", "stream"])
async def test_a_huge_body_is_cut_off_without_filling_memory(spec: Spec, streamed: bool) -> None:
    """256 MiB on the wire against a 1 MiB limit: refused early, memory untouched."""
    raw = _endless(spec, streamed)

    def answer(rec: RecordedRequest) -> ScriptItem:
        return Reply("warm") if rec.last_user_text == "warm-up" else raw

    async with FakeLLMServer(handler=answer) as server:
        provider = spec.make(server, max_response_bytes=1024 * 1024, max_retries=0)
        try:
            # Warm up first: building the client imports the SDK (tens of MB of RSS).
            await provider.generate("warm-up")
            await provider.stream("warm-up").collect()
            before = rss()
            with pytest.raises(ProviderError) as info:
                async with asyncio.timeout(30):
                    await _call(provider, streamed)
            growth = rss() - before
        finally:
            await provider.aclose()
        assert await server.wait_for_connections(0)
    err = info.value
    assert isinstance(err, APIError | StreamError), repr(err)
    # Named after the setting (the SSE decoder, given the same bound, names its own).
    assert re.search(r"max_(response|event)_bytes=1048576", str(err)), str(err)
    assert growth < GROWTH_BOUND, f"RSS grew {growth / 1e6:.1f} MB"
