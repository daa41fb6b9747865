"""The response cache through the provider contract: hits, replay, what is never stored."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import attrs
import pytest

import jackfield
from jackfield.cache import (
    MemoryBackend,
    ResponseCache,
    SQLiteBackend,
    close_caches,
    open_cache,
)
from jackfield.errors import ProviderError, ServerError
from jackfield.events import (
    StreamEnd,
    ThinkingDelta,
    ThinkingEnd,
    ToolCallEnd,
)
from jackfield.plugins.mock import MockProvider, MockReply
from jackfield.retry import RetryPolicy
from jackfield.types import ToolCall


async def _no_sleep(seconds: float) -> None:
    return None


@pytest.fixture(autouse=True)
async def _fresh_shared_caches() -> AsyncIterator[None]:
    await close_caches()
    yield
    await close_caches()


@pytest.fixture(params=["memory", "sqlite"])
async def make_cache(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Any]:
    """``make_cache(**options)``: a private ResponseCache on a fresh backend."""
    made: list[ResponseCache] = []

    def make(**options: Any) -> ResponseCache:
        if request.param == "memory":
            backend: Any = MemoryBackend()
        else:
            backend = SQLiteBackend(tmp_path / f"c{len(made)}.db")
        cache = ResponseCache(backend, **options)
        made.append(cache)
        return cache

    yield make
    for cache in made:
        await cache.close()


def _mock(*replies: Any, cache: ResponseCache | None = None, **config: Any) -> MockProvider:
    provider = MockProvider(
        replies=replies, retry_policy=RetryPolicy(max_retries=0, sleep=_no_sleep), **config
    )
    if cache is not None:
        provider.response_cache = cache
    return provider


RICH = MockReply(
    text="The answer is 42.",
    thinking="Let me think about this carefully.",
    thinking_signature="sig-abc",
    tool_calls=(
        ToolCall("call_1", "lookup", {"q": "meaning", "n": 1}),
        ToolCall("call_2", "fetch", {"url": "http://x", "opts": {"a": [1, 2]}}),
    ),
)


async def test_generate_hit_is_equal_and_marked_cached(make_cache: Any) -> None:
    cache = make_cache()
    provider = _mock(RICH, cache=cache)
    first = await provider.generate("question")
    second = await provider.generate("question")
    assert len(provider.requests) == 1
    assert first.cached is False and second.cached is True
    assert second == first
    assert second.thinking == first.thinking and second.thinking[0].signature == "sig-abc"
    assert second.tool_calls == first.tool_calls
    assert second.usage == first.usage and second.request_id == first.request_id
    assert cache.stats.snapshot() == {
        "hits": 1,
        "misses": 1,
        "stores": 1,
        "errors": 0,
        "coalesced": 0,
    }


async def test_stream_replays_the_same_events_thinking_and_tools(make_cache: Any) -> None:
    cache = make_cache()
    provider = _mock(RICH, cache=cache)
    live = [e async for e in provider.stream("question")]
    replay = [e async for e in provider.stream("question")]
    assert len(provider.requests) == 1
    assert replay == live
    assert [type(e) for e in replay] == [type(e) for e in live]
    assert any(isinstance(e, ThinkingDelta) for e in replay)
    assert any(isinstance(e, ThinkingEnd) and e.signature == "sig-abc" for e in replay)
    assert [e.tool_call for e in replay if isinstance(e, ToolCallEnd)] == list(RICH.tool_calls)
    end_live, end_replay = live[-1], replay[-1]
    assert isinstance(end_live, StreamEnd) and isinstance(end_replay, StreamEnd)
    assert end_live.response.cached is False and end_replay.response.cached is True
    assert end_replay.response == end_live.response
    # ProviderStream.response and collect() see the cached response too
    stream = provider.stream("question")
    response = await stream.collect()
    assert response.cached is True and stream.response is response


async def test_stream_and_generate_are_cached_apart(make_cache: Any) -> None:
    provider = _mock("one", "two", cache=make_cache())
    assert (await provider.stream("q").collect()).content == "one"
    assert (await provider.generate("q")).content == "two"  # not the stream's entry
    assert (await provider.generate("q")).cached is True


async def test_a_partial_stream_is_not_stored(make_cache: Any) -> None:
    provider = _mock("first answer with many words", "second answer", cache=make_cache())
    stream = provider.stream("q")
    async with stream:
        async for event in stream:
            if isinstance(event, jackfield.TextDelta):
                break  # the consumer leaves early
    again = await provider.stream("q").collect()
    assert again.cached is False and again.content == "second answer"
    assert len(provider.requests) == 2
    assert (await provider.stream("q").collect()).cached is True


async def test_a_cancelled_stream_is_not_stored(make_cache: Any) -> None:
    provider = _mock(
        "slow answer",
        "fresh answer",
        cache=make_cache(),
        extra={"chunk_delay": 0.05},
    )
    first = asyncio.Event()

    async def consume() -> None:
        async for _ in provider.stream("q"):
            first.set()

    task = asyncio.ensure_future(consume())
    await asyncio.wait_for(first.wait(), 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    response = await provider.stream("q").collect()
    assert response.content == "fresh answer" and response.cached is False


async def test_a_failed_stream_is_not_stored(make_cache: Any) -> None:
    provider = _mock(
        MockReply(text="one two three four", error="server", fail_after_events=3),
        "recovered",
        cache=make_cache(),
    )
    seen: list[Any] = []

    async def consume() -> None:
        async for event in provider.stream("q"):
            seen.append(event)

    with pytest.raises(ServerError):
        await consume()
    assert len(seen) == 3
    response = await provider.stream("q").collect()
    assert response.content == "recovered" and response.cached is False
    assert len(provider.requests) == 2


async def test_errors_are_never_cached(make_cache: Any) -> None:
    cache = make_cache()
    provider = _mock(MockReply(error="rate_limit"), "ok", cache=cache)
    with pytest.raises(jackfield.RateLimitError):
        await provider.generate("q")
    assert (await provider.generate("q")).content == "ok"
    assert (await provider.generate("q")).cached is True
    assert len(provider.requests) == 2
    assert cache.stats.stores == 1 and cache.stats.errors == 0


async def test_per_call_cache_false_bypasses(make_cache: Any) -> None:
    cache = make_cache()
    provider = _mock("a", "b", "c", cache=cache)
    await provider.generate("q")
    bypass = await provider.generate("q", cache=False)
    assert bypass.content == "b" and bypass.cached is False
    stream = await provider.stream("q", cache=False).collect()
    assert stream.content == "c" and stream.cached is False
    assert (await provider.generate("q")).content == "a"  # the bypass stored nothing
    assert cache.stats.stores == 1


async def test_ttl_expiry_with_an_injected_clock(tmp_path: Path) -> None:
    now = [1000.0]

    def clock() -> float:
        return now[0]

    for backend in (MemoryBackend(clock=clock), SQLiteBackend(tmp_path / "c.db", clock=clock)):
        provider = _mock("old", "new", cache=ResponseCache(backend, ttl=60))
        assert (await provider.generate("q")).content == "old"
        now[0] += 59
        assert (await provider.generate("q")).cached is True
        now[0] += 1
        fresh = await provider.generate("q")
        assert fresh.content == "new" and fresh.cached is False
        await backend.close()


async def test_same_request_in_any_dict_order_hits(make_cache: Any) -> None:
    provider = _mock("x", cache=make_cache())
    await provider.generate("q", extra={"top_p": 0.5, "metadata": {"a": 1, "b": 2}})
    hit = await provider.generate("q", extra={"metadata": {"b": 2, "a": 1}, "top_p": 0.5})
    assert hit.cached is True
    miss = await provider.generate("q", extra={"metadata": {"b": 2, "a": 1}, "top_p": 0.6})
    assert miss.cached is False


async def test_a_callable_in_extra_does_not_break_caching(make_cache: Any) -> None:
    provider = _mock("x", cache=make_cache())
    # A call's extra= must be JSON, but a provider may put its own local option (the
    # proxy's signal) into a Request it builds: the cache key skips callables.
    base = provider.build_request("q")
    await provider.generate_request(attrs.evolve(base, extra={"on_chunk": lambda c: None}))
    hit = await provider.generate_request(attrs.evolve(base, extra={"on_chunk": print}))
    assert hit.cached is True


async def test_tier_and_model_share_entries(make_cache: Any) -> None:
    provider = _mock("x", cache=make_cache())
    await provider.generate("q", tier="hosted_large")
    assert (await provider.generate("q", model="mock-large")).cached is True
    assert (await provider.generate("q", model="mock-small")).cached is False


# -- configuration ------------------------------------------------------------------


async def test_config_cache_true_is_the_shared_memory_cache() -> None:
    one = MockProvider(replies=["from one"], cache=True)
    two = MockProvider(replies=["from two"], cache="memory")
    assert (await one.generate("shared q")).content == "from one"
    hit = await two.generate("shared q")
    assert hit.content == "from one" and hit.cached is True
    assert one.response_cache is two.response_cache is open_cache("memory")
    assert two.requests == []


async def test_config_sqlite_spec_persists_across_instances(tmp_path: Path) -> None:
    spec = f"sqlite:{tmp_path / 'c.db'}"
    first = MockProvider(replies=["stored"], cache=spec, cache_ttl=3600)
    await first.generate("q")
    await close_caches()  # as if the process restarted
    second = MockProvider(replies=["unused"], cache=spec)
    hit = await second.generate("q")
    assert hit.content == "stored" and hit.cached is True and second.requests == []
    assert second.response_cache is not None and second.response_cache.ttl is None


async def test_per_call_cache_true_without_config(tmp_path: Path) -> None:
    provider = MockProvider(replies=["a", "b"])
    assert provider.config.cache is None
    await provider.generate("per-call q", cache=True)
    assert (await provider.generate("per-call q", cache=True)).cached is True
    assert (await provider.generate("per-call q")).content == "b"  # off by default


def test_open_cache_shares_one_backend_per_spec(tmp_path: Path) -> None:
    a = open_cache(f"sqlite:{tmp_path / 'c.db'}")
    b = open_cache(f"sqlite:{tmp_path}/./c.db")
    assert a is b
    c = open_cache(f"sqlite:{tmp_path / 'c.db'}", ttl=10)
    assert c is not a and c.backend is a.backend and c.stats is a.stats and c.ttl == 10
    assert open_cache(f"sqlite:{tmp_path / 'c.db'}", ttl=10) is c
    assert open_cache("memory") is open_cache(True) is open_cache("memory:")
    assert open_cache("memory?max_entries=5") is not open_cache("memory")


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("nosuch:thing", "unknown backend 'nosuch'"),
        ("memory?max_entries=0", "max_entries"),
        ("memory?colour=blue", "colour"),
        ("sqlite:/tmp/x.db?max_bytes=lots", "lots"),
        ("", "backend spec"),
    ],
)
def test_bad_specs_are_configuration_errors(spec: str, message: str) -> None:
    with pytest.raises(jackfield.ConfigurationError, match=message) as info:
        open_cache(spec)
    assert info.value.field == "cache"


async def test_an_unreadable_entry_is_a_miss_dropped_and_warned_once(
    make_cache: Any, caplog: pytest.LogCaptureFixture
) -> None:
    cache = make_cache()
    provider = _mock("fresh", "fresher", cache=cache)
    request = provider.build_request("q")
    key = cache.key(provider, request)
    other = cache.key(provider, provider.build_request("q2"))
    await cache.backend.set(key, b"\x00not json", None)
    await cache.backend.set(other, b'{"v": 999}', None)
    caplog.set_level(logging.DEBUG, logger="jackfield.cache")
    response = await provider.generate("q")
    assert response.content == "fresh" and response.cached is False
    assert cache.stats.errors == 1 and cache.stats.misses == 1
    assert (await provider.generate("q")).cached is True  # the entry was replaced
    await provider.generate("q2")
    assert cache.stats.errors == 2
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1, warnings
    assert "reading an entry" in warnings[0].getMessage()


async def test_hooks_see_cache_hits() -> None:
    seen: list[bool] = []

    class Observer:
        @jackfield.hookimpl
        def jackfield_response_received(self, response: Any) -> None:
            seen.append(response.cached)

    registry = jackfield.Registry(entry_points=False)
    registry.register_provider(MockProvider)
    registry.register_plugin(Observer())
    provider = registry.create_provider("mock", fresh=True, cache="memory")
    await provider.generate("hook q")
    await provider.generate("hook q")
    await provider.stream("hook q").collect()
    await provider.stream("hook q").collect()
    assert seen == [False, True, False, True]


async def test_cache_errors_never_fail_the_call(caplog: pytest.LogCaptureFixture) -> None:
    class Broken:
        name = "broken"

        def __init__(self) -> None:
            self.stats = jackfield.cache.CacheStats()

        async def get(self, key: str) -> bytes | None:
            raise OSError("disk on fire")

        async def set(self, key: str, value: bytes, ttl: float | None) -> None:
            raise OSError("disk on fire")

        async def delete(self, key: str) -> None:
            raise OSError("disk on fire")

        async def clear(self) -> None:
            raise OSError("disk on fire")

        async def close(self) -> None:
            return None

        async def info(self) -> dict[str, Any]:
            return {"backend": self.name, **self.stats.snapshot()}

    backend = Broken()
    cache = ResponseCache(backend, cooldown=0)
    provider = _mock("a", "b", "c", cache=cache)
    caplog.set_level(logging.WARNING, logger="jackfield.cache")
    assert (await provider.generate("q")).content == "a"
    assert (await provider.generate("q")).content == "b"
    assert (await provider.stream("q").collect()).content == "c"
    assert backend.stats.errors == 6 and backend.stats.misses == 3
    assert len([r for r in caplog.records if r.name == "jackfield.cache"]) == 1


async def test_after_a_failure_the_backend_rests_for_the_cooldown() -> None:
    now = [0.0]
    calls: list[str] = []

    class Flaky(MemoryBackend):
        fail = True

        async def get(self, key: str) -> bytes | None:
            calls.append("get")
            if self.fail:
                raise ConnectionError("down")
            return await super().get(key)

        async def set(self, key: str, value: bytes, ttl: float | None) -> None:
            calls.append("set")
            await super().set(key, value, ttl)

    backend = Flaky()
    # a MemoryBackend subclass still goes through get/set when it is not used directly
    cache = ResponseCache(backend, cooldown=5, clock=lambda: now[0])
    cache._memory = None  # exercise the bytes path of the interface
    provider = _mock("a", "b", "c", cache=cache)
    await provider.generate("q")  # get fails: miss; the set is skipped (resting)
    await provider.generate("q")  # still resting: no backend call at all
    assert calls == ["get"]
    now[0] = 5
    backend.fail = False
    await provider.generate("q")
    assert calls == ["get", "get", "set"]
    assert (await provider.generate("q")).cached is True


async def test_unknown_names_raise_before_any_call() -> None:
    provider = MockProvider(cache="nosuch")
    with pytest.raises(jackfield.ConfigurationError, match="nosuch"):
        await provider.generate("q")
    assert provider.requests == []


async def test_a_provider_error_subclass_reaches_every_stream_reader(make_cache: Any) -> None:
    error = ProviderError("boom")
    provider = _mock(MockReply(error=error), cache=make_cache())
    with pytest.raises(ProviderError, match="boom"):
        await provider.stream("q").collect()
