"""Event loops: a cached provider works from every event loop that uses it.

HTTP sessions and SDK clients belong to the loop that opened them. A provider cached by
the registry is used from two ``asyncio.run`` calls in a row and from two threads at
once, each with its own loop: every call works (no "event loop is closed", no "attached
to a different loop"), and each loop's connections are closed when that loop ends --
without anyone calling ``aclose`` -- so the server sees none left open and no
``ResourceWarning`` is raised (the suite turns them into errors).

The fake server runs in a thread of its own, so it outlives the clients' loops.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine, Iterator
from typing import Any, TypeVar

import pytest
from test_reliability_providers import Spec, provider_params

from jackfield.events import TextDelta
from jackfield.registry import Registry
from jackfield.testing._fake_server import FakeLLMServer

T = TypeVar("T")


class ServerThread:
    """A :class:`FakeLLMServer` serving from its own thread and event loop."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.server = FakeLLMServer()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
        """Run ``coro`` in the server's loop and return its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def __enter__(self) -> FakeLLMServer:
        self.thread.start()
        self.run(self.server.start())
        return self.server

    def __exit__(self, *exc_info: object) -> None:
        try:
            self.run(self.server.stop())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(10)
            self.loop.close()


@pytest.fixture
def server_thread() -> Iterator[ServerThread]:
    """A fake server in a background thread (its loop outlives the tests' loops)."""
    threaded = ServerThread()
    with threaded:
        yield threaded


async def _use(provider: Any, text: str) -> tuple[str, str]:
    """One call and one stream through ``provider`` in the running loop."""
    answer = await provider.generate(text)
    parts = [e.text async for e in provider.stream(text) if isinstance(e, TextDelta)]
    return answer.content, "".join(parts)


@pytest.mark.timeout(120)
@pytest.mark.parametrize("spec", provider_params())
def test_a_cached_provider_works_from_successive_loops_and_from_threads(
    spec: Spec, server_thread: ServerThread
) -> None:
    server = server_thread.server
    registry = Registry(entry_points=False, plugins=(), strict=False)
    registry.register_provider(spec.provider_class())
    options = spec.options(server)

    def cached() -> Any:
        return registry.create_provider(spec.provider_name, options)

    provider = cached()
    # Two asyncio.run calls in a row: the second loop must not reuse the first's
    # (closed) session or client.
    assert asyncio.run(_use(cached(), "first")) == ("echo: first", "echo: first")
    assert asyncio.run(_use(cached(), "second")) == ("echo: second", "echo: second")

    # Two threads, each with its own loop, using the one cached instance at once.
    barrier = threading.Barrier(2)
    results: dict[int, Any] = {}

    def in_thread(n: int) -> None:
        async def main() -> list[tuple[str, str]]:
            barrier.wait(10)
            return list(await asyncio.gather(*(_use(cached(), f"t{n}-{k}") for k in range(5))))

        try:
            results[n] = asyncio.run(main())
        except BaseException as exc:  # reported by the assertion below
            results[n] = exc

    threads = [threading.Thread(target=in_thread, args=(n,)) for n in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    for n in range(2):
        assert results[n] == [(f"echo: t{n}-{k}",) * 2 for k in range(5)], results[n]

    # And once more afterwards, from a fresh loop.
    assert asyncio.run(_use(cached(), "third")) == ("echo: third", "echo: third")
    assert cached() is provider
    assert registry.cache_keys() and len(registry.cache_keys()) == 1
    assert server.request_count == 2 * (3 + 2 * 5)
    # Each loop closed its own connections when asyncio.run ended it.
    assert server_thread.run(server.wait_for_connections(0, timeout=10.0)), (
        f"{server.open_connections} connections left open by finished loops"
    )
