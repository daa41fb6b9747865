"""The synchronous half of the conformance battery: ``generate_sync``, ``stream_sync``
and ``estimate_tokens`` from plain code, from a thread and inside a running event loop,
with the same answers and errors as the async calls, and a stream left early closing
its connection. Mixed into :class:`~jackfield.testing.ProviderConformance`.

A synchronous call blocks its thread until the answer arrives, so these checks serve the
fake server from an event loop of its own thread (the test's loop stays blocked while a
call runs inside it, as in a notebook cell).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import warnings
from collections.abc import Coroutine, Iterator
from typing import TYPE_CHECKING, Any, TypeVar, cast

import pytest

from ..errors import BadRequestError, ProviderError
from ..events import StreamEnd, StreamEvent, StreamStart, TextDelta
from ..retry import RetryPolicy
from ._scripts import Reply

if TYPE_CHECKING:
    from ..provider._base import Provider
__all__ = ["SyncChecks"]

T = TypeVar("T")

_ANSWER = "Synchronous and complete: one, two, three."
_WAIT = 30.0
"""Seconds any one synchronous step may take before the check fails (never hangs)."""


class _ServerThread:
    """The battery's server, started and stopped on an event loop of its own thread."""

    def __init__(self, battery: Any) -> None:
        self.battery = battery
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.server: Any = None

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(_WAIT)

    def __enter__(self) -> _ServerThread:
        self.thread.start()
        self.server = self.run(self.battery.start_server())
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self.run(self.battery.stop_server(self.server))
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(_WAIT)
            self.loop.close()


class SyncChecks:
    """The battery's synchronous calls, for any provider."""

    @contextlib.contextmanager
    def _sync_session(self, **config: Any) -> Iterator[tuple[Any, Provider]]:
        battery = cast(Any, self)
        with _ServerThread(battery) as served:
            config.setdefault("timeout", 10.0)
            provider = battery.build(served.server, **config)
            provider.retry_policy = RetryPolicy(max_retries=0)
            try:
                yield served.server, provider
            finally:
                provider.close_sync()

    def _script(self, server: Any, provider: Provider, *items: Any) -> None:
        cast(Any, self).script(server, provider, *items)

    async def test_sync_calls_inside_a_running_loop(self) -> None:
        """generate_sync, stream_sync and estimate_tokens, called from inside this
        running event loop (a notebook cell), answer as the async calls do."""
        with self._sync_session() as (server, provider):
            self._script(server, provider, Reply(_ANSWER), Reply(_ANSWER, chunk_size=6))
            assert provider.generate_sync("Count to three.").content == _ANSWER
            stream = provider.stream_sync("Count to three.")
            events: list[StreamEvent] = list(stream)
            assert isinstance(events[0], StreamStart) and isinstance(events[-1], StreamEnd)
            assert "".join(e.text for e in events if isinstance(e, TextDelta)) == _ANSWER
            assert stream.response is not None and stream.response.content == _ANSWER
            with warnings.catch_warnings():  # no tokenizer vocabulary offline: a heuristic
                warnings.simplefilter("ignore", RuntimeWarning)
                assert provider.estimate_tokens("Count to three.") > 0

    async def test_sync_calls_from_threads(self) -> None:
        """Synchronous calls from several threads at once each get their own answer."""
        with self._sync_session() as (server, provider):
            self._script(server, provider, *[Reply(f"answer {i}") for i in range(4)])

            def call(i: int) -> str:
                if i % 2:
                    return provider.generate_sync(f"n{i}").content
                return provider.stream_sync(f"n{i}").collect().content

            results = await asyncio.wait_for(
                asyncio.gather(*[asyncio.to_thread(call, i) for i in range(4)]), _WAIT
            )
            assert sorted(results) == [f"answer {i}" for i in range(4)]

    async def test_sync_errors_are_the_async_errors(self) -> None:
        """A server error raises the class the async call raises; bad input fails at the
        call, before any request."""
        battery = cast(Any, self)
        with self._sync_session() as (server, provider):
            if server is None:
                pytest.skip("no server: the error mapping is checked by the async battery")
            self._script(server, provider, battery.error_reply(429), battery.error_reply(429))
            with pytest.raises(ProviderError) as sync_info:
                provider.generate_sync("hi")
            with pytest.raises(ProviderError) as async_info:
                await asyncio.wait_for(asyncio.to_thread(provider.generate_sync, "hi"), _WAIT)
            assert type(sync_info.value) is type(async_info.value) is battery.expected_error("429")
            before = server.request_count
            with pytest.raises(BadRequestError):
                provider.stream_sync("hi", temprature=0.1)
            with pytest.raises(BadRequestError):
                provider.generate_sync("")
            assert server.request_count == before

    async def test_sync_stream_left_early_closes_its_connection(self) -> None:
        """Leaving a synchronous stream early (``with`` + ``break``) ends the request on
        the server before the provider closes."""
        battery = cast(Any, self)
        with self._sync_session() as (server, provider):
            if server is None or not hasattr(server, "active_streams"):
                pytest.skip("no fake server to watch the connection")
            battery._need(battery.supports_streaming, "native streaming")
            self._script(server, provider, Reply("word " * 3000, chunk_size=5, event_delay=0.01))
            with provider.stream_sync("long") as stream:
                for event in stream:
                    if isinstance(event, TextDelta):
                        break
            assert stream.response is None
            loop = asyncio.get_running_loop()
            deadline = loop.time() + _WAIT
            while server.active_streams and loop.time() < deadline:  # noqa: ASYNC110
                await asyncio.sleep(0.01)  # the server's counter: no event to wait on
            assert server.active_streams == 0, "the stream's connection is still being served"
