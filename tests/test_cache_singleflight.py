"""Single-flight: identical concurrent calls make one upstream request (real loopback server)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from jackfield.cache import MemoryBackend, ResponseCache, SQLiteBackend
from jackfield.errors import BadRequestError
from jackfield.events import StreamEnd, StreamEvent, TextDelta
from jackfield.plugins.openai_compat import OpenAICompatProvider
from jackfield.retry import RetryPolicy
from jackfield.testing._fake_server import Delay, ErrorReply, FakeLLMServer, Reply
from jackfield.types import ToolCall

N = 100


@pytest.fixture
async def server() -> AsyncIterator[FakeLLMServer]:
    async with FakeLLMServer() as s:
        yield s


@pytest.fixture(params=["memory", "sqlite"])
async def cache(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[ResponseCache]:
    backend: Any = MemoryBackend() if request.param == "memory" else SQLiteBackend(tmp_path / "c")
    c = ResponseCache(backend)
    yield c
    await c.close()


@pytest.fixture
async def provider(
    server: FakeLLMServer, cache: ResponseCache
) -> AsyncIterator[OpenAICompatProvider]:
    p = OpenAICompatProvider(
        base_url=server.openai_base_url,
        model="m",
        api_key="sk-test",
        max_connections=200,
        retry_policy=RetryPolicy(max_retries=0),
    )
    p.response_cache = cache
    yield p
    await p.aclose()


REPLY = Reply(
    text="a shared answer, streamed in several pieces",
    thinking="thinking it over",
    tool_calls=(ToolCall("call_1", "lookup", {"q": "x"}),),
    chunk_size=6,
)


async def test_generate_100_identical_calls_make_one_request(
    server: FakeLLMServer, provider: OpenAICompatProvider, cache: ResponseCache
) -> None:
    server.enqueue(Delay(0.2, then=REPLY))
    results = await asyncio.gather(*(provider.generate("same question") for _ in range(N)))
    assert server.request_count == 1
    assert all(r == results[0] for r in results)
    assert results[0].tool_calls[0].arguments == {"q": "x"}
    assert sum(not r.cached for r in results) == 1  # the caller that started the flight
    stats = cache.stats.snapshot()
    assert stats["coalesced"] == N - 1 and stats["stores"] == 1 and stats["misses"] == 1
    again = await provider.generate("same question")
    assert again.cached is True and server.request_count == 1


async def test_stream_100_identical_calls_make_one_request(
    server: FakeLLMServer, provider: OpenAICompatProvider, cache: ResponseCache
) -> None:
    server.enqueue(Delay(0.1, then=Reply(**{**_fields(REPLY), "event_delay": 0.005})))

    async def consume(delay: float) -> list[StreamEvent]:
        await asyncio.sleep(delay)  # some join before, some during the stream
        return [e async for e in provider.stream("same stream")]

    runs = await asyncio.gather(*(consume(0.002 * (i % 50)) for i in range(N)))
    assert server.request_count == 1
    assert all(run == runs[0] for run in runs)
    assert any(isinstance(e, TextDelta) for e in runs[0])
    ends = [run[-1] for run in runs]
    assert all(isinstance(e, StreamEnd) for e in ends)
    assert sum(not e.response.cached for e in ends if isinstance(e, StreamEnd)) == 1
    replay = [e async for e in provider.stream("same stream")]
    assert replay == runs[0] and server.request_count == 1
    assert cache.stats.coalesced == N - 1


def _fields(reply: Reply) -> dict[str, Any]:
    import attrs

    return attrs.asdict(reply, recurse=False)


async def test_followers_get_the_leaders_error(
    server: FakeLLMServer, provider: OpenAICompatProvider, cache: ResponseCache
) -> None:
    body = {"error": {"message": "bad input", "type": "invalid_request_error"}}
    server.enqueue(Delay(0.1, then=ErrorReply(400, body)), "fine now")
    results = await asyncio.gather(
        *(provider.generate("q") for _ in range(10)), return_exceptions=True
    )
    assert server.request_count == 1
    assert all(isinstance(r, BadRequestError) for r in results)
    assert len({id(r) for r in results}) == 1  # the same error
    ok = await provider.generate("q")  # the error was not stored
    assert ok.content == "fine now" and ok.cached is False
    assert cache.stats.stores == 1


async def test_stream_followers_get_the_leaders_error(
    server: FakeLLMServer, provider: OpenAICompatProvider
) -> None:
    body = {"error": {"message": "bad input", "type": "invalid_request_error"}}
    server.enqueue(Delay(0.1, then=ErrorReply(400, body)), "fine now")

    async def consume() -> Any:
        try:
            return [e async for e in provider.stream("q")]
        except BadRequestError as exc:
            return exc

    results = await asyncio.gather(*(consume() for _ in range(10)))
    assert server.request_count == 1
    assert all(isinstance(r, BadRequestError) for r in results)
    assert (await provider.stream("q").collect()).content == "fine now"


async def test_a_stream_leader_that_stops_early_does_not_strand_followers(
    server: FakeLLMServer, provider: OpenAICompatProvider, cache: ResponseCache
) -> None:
    server.enqueue(Reply(**{**_fields(REPLY), "event_delay": 0.01}))
    leader_got: list[StreamEvent] = []
    started = asyncio.Event()

    async def leader() -> None:
        stream = provider.stream("q")
        async with stream:
            async for event in stream:
                leader_got.append(event)
                started.set()
                if isinstance(event, TextDelta):
                    break  # leaves early: the followers carry on

    async def follower() -> list[StreamEvent]:
        await started.wait()
        return [e async for e in provider.stream("q")]

    lead = asyncio.ensure_future(leader())
    runs = await asyncio.gather(*(follower() for _ in range(5)))
    await lead
    assert server.request_count == 1  # the followers continued the same upstream call
    assert all(run == runs[0] for run in runs)
    assert runs[0][: len(leader_got)] == leader_got
    assert isinstance(runs[0][-1], StreamEnd)
    assert cache.stats.stores == 1  # complete: read to its end by the followers
    assert (await provider.stream("q").collect()).cached is True


async def test_a_cancelled_generate_leader_does_not_strand_followers(
    server: FakeLLMServer, provider: OpenAICompatProvider
) -> None:
    server.enqueue(Delay(0.2, then=Reply("the answer")))
    lead = asyncio.ensure_future(provider.generate("q"))
    await server.wait_for_requests(1)
    followers = [asyncio.ensure_future(provider.generate("q")) for _ in range(5)]
    await asyncio.sleep(0.01)
    lead.cancel()
    results = await asyncio.gather(*followers)
    assert lead.cancelled()
    assert server.request_count == 1
    assert [r.content for r in results] == ["the answer"] * 5
    assert all(r.cached for r in results)


async def test_when_every_caller_leaves_the_upstream_call_stops(
    server: FakeLLMServer, provider: OpenAICompatProvider
) -> None:
    server.enqueue(Delay(5, then=Reply("never read")), Reply("second"))
    calls = [asyncio.ensure_future(provider.generate("q")) for _ in range(3)]
    await server.wait_for_requests(1)
    for call in calls:
        call.cancel()
    await asyncio.gather(*calls, return_exceptions=True)
    assert await server.wait_idle(2.0)  # the abandoned request was cut off, not awaited
    assert server.disconnects >= 1
    response = await provider.generate("q")  # a fresh call, not the abandoned one
    assert response.content == "second" and server.request_count == 2


async def test_different_requests_do_not_coalesce(
    server: FakeLLMServer, provider: OpenAICompatProvider
) -> None:
    results = await asyncio.gather(*(provider.generate(f"q{i}") for i in range(5)))
    assert server.request_count == 5
    assert [r.content for r in results] == [f"echo: q{i}" for i in range(5)]
