"""One resource per running event loop: ``LoopLocal``.

SDK clients (``openai.AsyncOpenAI``, ``anthropic.AsyncAnthropic``) and aiohttp sessions
hold connections bound to the event loop that opened them: a cached provider used from
a second ``asyncio.run`` must not reuse them ("event loop is closed"). A
:class:`LoopLocal` builds the resource on first use in each loop, hands back the same one
for the rest of that loop's life, and closes it when the loop shuts down (``asyncio.run``
finalises async generators before closing its loop), on :meth:`LoopLocal.aclose`, or
via :meth:`LoopLocal.close_nowait` from synchronous code::

    clients = LoopLocal(lambda: AsyncOpenAI(...), lambda c: c.close())
    client = clients.get()      # inside a coroutine
    await clients.aclose()      # closes this loop's client

Nothing here imports an SDK or an HTTP client.
"""

from __future__ import annotations

import contextlib
import threading
import weakref
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import TYPE_CHECKING, Any, Generic, TypeVar

if TYPE_CHECKING:
    import asyncio

__all__ = ["LoopLocal"]

T = TypeVar("T")

_BACKGROUND: set[asyncio.Future[Any]] = set()


def _keep(future: asyncio.Future[Any]) -> None:
    """Hold a reference to a background future until it is done (else it may be GC'd)."""
    _BACKGROUND.add(future)
    future.add_done_callback(_BACKGROUND.discard)


class LoopLocal(Generic[T]):
    """A resource per event loop, built by ``factory`` and released by ``close``.

    :param factory: builds the resource; called inside the running loop, at most once
        per loop (until the resource is closed).
    :param close: releases it (``client.close``, ``session.close``); awaited in the
        resource's own loop.
    :param is_closed: tells whether a resource was closed behind this object's back
        (``lambda s: s.closed``); :meth:`get` then builds a new one for the loop.
    """

    __slots__ = ("__weakref__", "_close", "_factory", "_is_closed", "_items", "_lock")

    def __init__(
        self,
        factory: Callable[[], T],
        close: Callable[[T], Awaitable[object]],
        *,
        is_closed: Callable[[T], bool] | None = None,
    ) -> None:
        self._factory = factory
        self._close = close
        self._is_closed = is_closed
        self._lock = threading.Lock()
        # loop -> (resource, the suspended generator that closes it at loop shutdown)
        self._items: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, tuple[T, AsyncGenerator[None, None]]
        ] = weakref.WeakKeyDictionary()

    def get(self) -> T:
        """The running loop's resource, built on first use (call from a coroutine)."""
        import asyncio  # here, not at the top: plugin discovery imports this module

        loop = asyncio.get_running_loop()
        item = self._items.get(loop)
        if item is not None and not self._stale(item[0]):
            return item[0]
        with self._lock:
            item = self._items.get(loop)
            if item is not None and self._stale(item[0]):
                # Closed behind our back: finalise its closer (which closes it again,
                # harmlessly, and leaves the entry alone) and build a new one below.
                del self._items[loop]
                _schedule_close(item[1])
                item = None
            if item is None:
                resource = self._factory()
                closer = self._closer(resource, loop)
                # Run the generator to its ``yield`` now, so the loop tracks it:
                # asyncio.run()'s shutdown_asyncgens() finalises it, awaiting the close.
                with contextlib.suppress(StopIteration):
                    closer.asend(None).send(None)
                item = (resource, closer)
                self._items[loop] = item
        return item[0]

    def _stale(self, resource: T) -> bool:
        return self._is_closed is not None and self._is_closed(resource)

    def peek(self) -> T | None:
        """The running loop's resource if one was built, else ``None`` (no building)."""
        import asyncio

        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return None
        item = self._items.get(loop)
        return None if item is None else item[0]

    def __len__(self) -> int:
        """How many loops currently hold a resource."""
        return len(self._items)

    async def _closer(
        self, resource: T, loop: asyncio.AbstractEventLoop
    ) -> AsyncGenerator[None, None]:
        try:
            yield
        finally:
            # A resource usually references its loop, so the weak-keyed entry would
            # never die on its own: drop it when the loop shuts down.
            with self._lock:
                item = self._items.get(loop)
                if item is not None and item[0] is resource:
                    del self._items[loop]
            await self._close(resource)

    async def aclose(self) -> None:
        """Close the running loop's resource; other loops' close when those loops end."""
        import asyncio

        loop = asyncio.get_running_loop()
        with self._lock:
            item = self._items.pop(loop, None)
        if item is not None:
            await item[1].aclose()  # runs the generator's finally: awaits close()

    def close_nowait(self) -> None:
        """Close every resource without awaiting (from sync code such as ``clear_cache``).

        Resources of running loops are closed by a task scheduled in their loop; the
        others are dropped and close when their loop shuts its async generators down.
        """
        with self._lock:
            items = list(self._items.items())
            self._items.clear()
        for loop, (_, closer) in items:
            if loop.is_running() and not loop.is_closed():
                with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                    loop.call_soon_threadsafe(_schedule_close, closer)


def _schedule_close(closer: AsyncGenerator[None, None]) -> None:
    import asyncio

    _keep(asyncio.ensure_future(closer.aclose()))
