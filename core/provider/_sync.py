"""Synchronous calls: any provider from plain code, threads, or a running event loop.

Every synchronous call runs on one background event loop per process (a daemon thread,
started on first use), and the caller's thread waits for it. So a script, many threads
at once, and code already inside a running loop (a notebook cell) all work the same
way and never deadlock: the caller's own loop, if it has one, is not touched. The
provider's connections for synchronous calls belong to that loop;
:meth:`Provider.close_sync` (or leaving ``with provider:``) closes them.

Ctrl-C while waiting cancels the call on the background loop, which closes its
connection, and raises ``KeyboardInterrupt`` as usual.
"""

from __future__ import annotations

import asyncio
import atexit
import threading
from collections.abc import Coroutine, Iterator
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from ..events import StreamEvent, TextDelta

if TYPE_CHECKING:
    from ..types import Response

__all__ = ["SyncStream", "run_sync"]

T = TypeVar("T")

_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None


def _background_loop() -> asyncio.AbstractEventLoop:
    global _loop
    with _lock:
        if _loop is None or _loop.is_closed():
            loop = asyncio.new_event_loop()
            thread = threading.Thread(target=loop.run_forever, name="jackfield-sync", daemon=True)
            thread.start()
            atexit.register(_stop, loop, thread)
            _loop = loop
        return _loop


def _stop(loop: asyncio.AbstractEventLoop, thread: threading.Thread) -> None:
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)
    if not thread.is_alive():  # stopped: close it, or it is an unclosed loop at exit
        loop.close()


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` on the background loop and wait for its result (or error)."""
    loop = _background_loop()
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is loop:
        coro.close()
        raise RuntimeError(
            "a synchronous jackfield call from jackfield's own background loop (a hook "
            "of a synchronous call?) would wait for itself: use the async call there"
        )
    future = asyncio.run_coroutine_threadsafe(coro, loop)
    try:
        return future.result()
    except BaseException:
        # KeyboardInterrupt, or the caller's thread stopped otherwise: cancel the call
        # (closing its connection) unless it already ended.
        if not future.done():
            future.cancel()
        raise


class _AsyncStream(Protocol):
    """What :class:`SyncStream` needs of a :class:`~jackfield.provider.ProviderStream`."""

    response: Response | None

    @property
    def partial(self) -> dict[str, Any] | None: ...

    def __anext__(self) -> Coroutine[Any, Any, StreamEvent]: ...

    def aclose(self) -> Coroutine[Any, Any, None]: ...


class SyncStream(Iterator[StreamEvent]):
    """The iterator :meth:`Provider.stream_sync` returns: a stream's typed events, one
    ordinary ``for`` loop away.

    Leaving the loop early (``break``, an exception) and then calling :meth:`close`, or
    using ``with``, closes the connection. After the stream ends, :attr:`response`
    holds the final :class:`~jackfield.types.Response`.
    """

    __slots__ = ("_closed", "_stream")

    def __init__(self, stream: _AsyncStream) -> None:
        self._stream = stream
        self._closed = False

    @property
    def response(self) -> Response | None:
        """The final response, once the stream has ended."""
        return self._stream.response

    def __iter__(self) -> SyncStream:
        return self

    def __next__(self) -> StreamEvent:
        if self._closed:
            raise StopIteration
        try:
            return run_sync(self._stream.__anext__())
        except StopAsyncIteration:
            self._closed = True
            raise StopIteration from None

    def close(self) -> None:
        """Stop the stream and close its connection (safe to call twice)."""
        if not self._closed:
            self._closed = True
            run_sync(self._stream.aclose())

    def __enter__(self) -> SyncStream:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def collect(self) -> Response:
        """Consume the whole stream and return the final response."""
        for _ in self:
            pass
        response = self._stream.response
        assert response is not None
        return response

    def text(self) -> Iterator[str]:
        """Iterate only the answer's text deltas."""
        for event in self:
            if isinstance(event, TextDelta):
                yield event.text

    @property
    def partial(self) -> dict[str, Any] | None:
        """The structured answer parsed so far (a call with ``response_format``)."""
        return self._stream.partial

    def objects(self) -> Iterator[dict[str, Any]]:
        """Iterate the structured answer as it grows (a call with ``response_format``);
        the validated final object is ``response.parsed``."""
        last: dict[str, Any] | None = None
        for event in self:
            if isinstance(event, TextDelta):
                current = self._stream.partial
                if current is not None and current != last:
                    last = current
                    yield current
