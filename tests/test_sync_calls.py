"""Synchronous calls (``generate_sync``, ``stream_sync``): from a script, from threads,
inside a running event loop, with the same events and errors, closing connections."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import pytest
from test_reliability_providers import Spec, provider_params

from jackfield.errors import BadRequestError, RateLimitError
from jackfield.events import StreamEnd, TextDelta
from jackfield.plugins.mock import MockProvider
from jackfield.provider._sync import run_sync
from jackfield.testing._fake_server import FakeLLMServer
from jackfield.testing._scripts import Reply


@pytest.fixture
def server() -> Iterator[FakeLLMServer]:
    """A fake server on a loop of its own thread: a synchronous call blocks the test's."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    fake = FakeLLMServer()
    asyncio.run_coroutine_threadsafe(fake.start(), loop).result(10)
    try:
        yield fake
    finally:
        asyncio.run_coroutine_threadsafe(fake.stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


def test_a_script_generates_and_streams() -> None:
    with MockProvider() as provider:
        assert provider.generate_sync("Hello").content == "echo: Hello"
        stream = provider.stream_sync("Hi there")
        events = list(stream)
        assert isinstance(events[-1], StreamEnd)
        assert stream.response is not None and stream.response.content == "echo: Hi there"
        assert "".join(provider.stream_sync("abc").text()) == "echo: abc"


async def test_inside_a_running_loop_without_deadlock() -> None:
    provider = MockProvider()
    assert provider.generate_sync("from a notebook").content == "echo: from a notebook"
    assert provider.stream_sync("cell").collect().content == "echo: cell"
    provider.close_sync()


@pytest.mark.parametrize("spec", provider_params())
def test_every_provider_from_threads(spec: Spec, server: FakeLLMServer) -> None:
    provider = spec.make(server, max_retries=0)
    results: list[str] = []
    errors: list[BaseException] = []

    def call(i: int) -> None:
        try:
            if i % 2:
                results.append(provider.generate_sync(f"n{i}").content)
            else:
                results.append(provider.stream_sync(f"n{i}").collect().content)
        except BaseException as exc:
            errors.append(exc)

    server.enqueue(*[Reply(f"answer {i}") for i in range(8)])
    threads = [threading.Thread(target=call, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    provider.close_sync()
    assert errors == []
    assert sorted(results) == sorted(f"answer {i}" for i in range(8))


@pytest.mark.parametrize("spec", provider_params())
def test_errors_are_the_same_and_bad_input_fails_before_io(
    spec: Spec, server: FakeLLMServer
) -> None:
    provider = spec.make(server, max_retries=0)
    try:
        server.enqueue(spec.rate_limited())
        with pytest.raises(RateLimitError):
            provider.generate_sync("hi")
        with pytest.raises(BadRequestError):
            provider.stream_sync("hi", temprature=0.1)  # refused at the call, no I/O
        with pytest.raises(BadRequestError):
            provider.generate_sync("")
        assert server.request_count == 1
    finally:
        provider.close_sync()


@pytest.mark.parametrize("spec", provider_params())
def test_stopping_a_stream_early_closes_its_connection(spec: Spec, server: FakeLLMServer) -> None:
    provider = spec.make(server, max_retries=0)
    server.enqueue(Reply("word " * 3000, chunk_size=5, event_delay=0.01))  # 30 s unread
    with provider.stream_sync("long") as stream:
        for event in stream:
            if isinstance(event, TextDelta):
                break
    assert stream.response is None
    try:  # the stream's own close ended it on the server (before the provider closes)
        for _ in range(250):
            if server.active_streams == 0:
                break
            threading.Event().wait(0.02)
        assert server.active_streams == 0
    finally:
        provider.close_sync()


def test_a_sync_call_from_the_background_loop_is_refused() -> None:
    provider = MockProvider()

    async def inside() -> str:
        return provider.generate_sync("x").content

    with pytest.raises(RuntimeError, match="would wait for itself"):
        run_sync(inside())


def test_the_background_loop_is_closed_at_exit() -> None:
    """A script that made a sync call exits without an unclosed-loop ResourceWarning."""
    import subprocess
    import sys

    code = (
        "from jackfield.plugins.mock import MockProvider\n"
        "p = MockProvider()\n"
        "assert p.generate_sync('x').content == 'echo: x'\n"
        "p.close_sync()\n"
    )
    result = subprocess.run(
        [sys.executable, "-X", "dev", "-c", code], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert "unclosed event loop" not in result.stderr, result.stderr
