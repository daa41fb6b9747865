"""The shared aiohttp client: sessions per event loop, raw logging, bounded bodies."""

from __future__ import annotations

import asyncio
import gc
import threading
import weakref
from collections.abc import Iterator
from typing import Any

import pytest

import jackfield
from jackfield.errors import APIError, StreamError
from jackfield.testing._fake_server import FakeLLMServer
from jackfield.testing._scripts import Reply

KEY = "sk-http-client-test-0123456789"


@pytest.fixture
def threaded_server() -> Iterator[FakeLLMServer]:
    """A fake server on its own loop in a thread, so tests may call asyncio.run freely."""
    loop = asyncio.new_event_loop()
    server = FakeLLMServer()
    loop.run_until_complete(server.start())
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        asyncio.run_coroutine_threadsafe(server.stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


def test_a_cached_provider_keeps_no_event_loop_alive(threaded_server: FakeLLMServer) -> None:
    provider = jackfield.create_provider(
        "openai-compat", base_url=threaded_server.openai_base_url, model="m", fresh=True
    )
    loops: list[weakref.ref[asyncio.AbstractEventLoop]] = []

    async def call() -> str:
        loops.append(weakref.ref(asyncio.get_running_loop()))
        return (await provider.generate("hi")).content

    for _ in range(5):
        assert asyncio.run(call()) == "echo: hi"
    gc.collect()
    assert [ref() for ref in loops] == [None] * 5
    assert len(provider.http.sessions) == 0  # type: ignore[attr-defined]


async def test_one_session_per_loop_is_reused() -> None:
    async with FakeLLMServer() as server:
        provider = jackfield.create_provider(
            "openai-compat", base_url=server.openai_base_url, model="m", fresh=True
        )
        async with provider:
            await provider.generate("one")
            first = provider.http.session()
            await provider.generate("two")
            assert provider.http.session() is first
            assert server.request_count == 2


class Recorder:
    def __init__(self) -> None:
        self.seen: list[tuple[str, Any]] = []

    def on_request(self, provider: str, method: str, url: str, headers: Any, body: Any) -> None:
        self.seen.append(("request", (method, url, dict(headers), body)))

    def on_response(self, provider: str, status: int, headers: Any, body: Any) -> None:
        self.seen.append(("response", status))

    def on_chunk(self, provider: str, data: str) -> None:
        self.seen.append(("chunk", data))


async def test_raw_log_sees_traffic_without_the_key() -> None:
    async with FakeLLMServer() as server:
        server.enqueue(Reply(text="streamed answer"))
        provider = jackfield.create_provider(
            "openai-compat",
            base_url=server.openai_base_url,
            model="m",
            api_key=KEY,
            fresh=True,
        )
        recorder = Recorder()
        provider.raw_log = recorder  # type: ignore[attr-defined]
        async with provider:
            response = await provider.stream("hello").collect()
        assert response.content == "streamed answer"
        assert server.requests[0].headers["authorization"] == f"Bearer {KEY}"
        kinds = [kind for kind, _ in recorder.seen]
        assert kinds[:2] == ["request", "response"] and kinds.count("chunk") >= 3
        method, url, headers, body = recorder.seen[0][1]
        assert (method, url) == ("POST", f"{server.openai_base_url}/chat/completions")
        assert headers["Authorization"] == "[REDACTED]"
        assert body["messages"][0]["content"] == "hello"
        assert KEY not in repr(recorder.seen)


async def test_bodies_over_max_response_bytes_raise_instead_of_filling_memory() -> None:
    async with FakeLLMServer() as server:
        big = "x" * 5000
        server.enqueue(Reply(text=big), Reply(text=big, chunk_size=1000))
        provider = jackfield.create_provider(
            "openai-compat",
            base_url=server.openai_base_url,
            model="m",
            max_response_bytes=2000,
            max_retries=0,
            fresh=True,
        )
        async with provider:
            with pytest.raises(APIError, match="max_response_bytes"):
                await provider.generate("big please")
            with pytest.raises(StreamError, match="max_response_bytes"):
                await provider.stream("big please").collect()
