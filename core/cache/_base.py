"""The interface of a response-cache backend, for built-in and third-party backends.

A backend is a dumb, bytes-in-bytes-out store with per-entry expiry. Everything else
(keys, serialisation, single-flight, failure handling, counting) is done once by
:class:`jackfield.cache.ResponseCache`, so a backend stays small::

    class MyBackend:
        name = "mine"

        def __init__(self) -> None:
            self.stats = CacheStats()

        async def get(self, key: str) -> bytes | None: ...
        async def set(self, key: str, value: bytes, ttl: float | None) -> None: ...
        async def delete(self, key: str) -> None: ...
        async def clear(self) -> None: ...
        async def close(self) -> None: ...
        async def info(self) -> dict[str, Any]: ...

Rules a backend follows:

* ``get`` returns the stored bytes, or ``None`` when the key is absent or expired.
* ``set`` stores ``value`` (replacing any entry of that key); ``ttl`` is seconds until
  the entry expires (``None``: never, until evicted or cleared).
* ``delete`` of an absent key and ``clear`` of an empty store are no-ops.
* Raise on failure (any ``Exception``): the :class:`~jackfield.cache.ResponseCache`
  catches it, counts it in ``stats.errors``, logs one warning per outage (until the
  failed operations succeed again) and carries on as if the entry were absent. Never
  swallow errors silently, and never block the event loop: do blocking I/O in a thread
  (``asyncio.to_thread``) and bound every wait (socket timeouts, busy timeouts), since a
  call waits for its cache lookup.
* Methods may be called from several event loops (one per ``asyncio.run``) and threads;
  a client bound to an event loop must be created per loop.
* ``stats`` is a :class:`CacheStats` the response cache increments; a backend may
  persist it (the SQLite and Redis backends do). ``info()`` returns a JSON-ready dict
  for ``jackfield cache stats``: at least ``backend`` and the counters, plus whatever
  describes the store (``entries``, ``bytes``, ``path``, ...).
"""

from __future__ import annotations

import threading
import time
from typing import Any, Protocol, runtime_checkable

__all__ = ["COUNTERS", "CacheBackend", "CacheStats", "CounterJournal"]

COUNTERS: tuple[str, ...] = ("hits", "misses", "stores", "errors", "coalesced")
"""The counter names of :class:`CacheStats`, in display order."""


class CacheStats:
    """Counters of one backend in this process; thread-safe.

    ``hits`` and ``misses`` count lookups, ``stores`` entries written, ``errors``
    backend failures and unreadable entries, ``coalesced`` calls that joined an
    identical call already in flight instead of looking up or calling the provider.
    """

    __slots__ = ("_lock", "coalesced", "errors", "hits", "misses", "stores")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0
        self.stores = 0
        self.errors = 0
        self.coalesced = 0

    def add(self, name: str, n: int = 1) -> None:
        """Add ``n`` to counter ``name`` (one of :data:`COUNTERS`)."""
        with self._lock:
            setattr(self, name, getattr(self, name) + n)

    def snapshot(self) -> dict[str, int]:
        """The counters as a dict."""
        with self._lock:
            return {name: getattr(self, name) for name in COUNTERS}

    def reset(self) -> None:
        """Set every counter to zero."""
        with self._lock:
            for name in COUNTERS:
                setattr(self, name, 0)

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={v}" for k, v in self.snapshot().items())
        return f"CacheStats({inner})"


class CounterJournal:
    """What part of a :class:`CacheStats` a backend has persisted (for shared stores).

    :meth:`take` returns the increments not yet persisted and marks them persisted, in
    one step (so two concurrent writers never add the same increments twice);
    :meth:`restore` gives them back when writing them failed.
    """

    __slots__ = ("_done", "_lock", "interval", "last", "stats")

    def __init__(self, stats: CacheStats, interval: float = 1.0) -> None:
        self.stats = stats
        self.interval = interval
        self.last = time.monotonic()
        self._lock = threading.Lock()
        self._done = dict.fromkeys(COUNTERS, 0)

    def due(self) -> bool:
        """Whether ``interval`` seconds passed since the last :meth:`take`."""
        return time.monotonic() - self.last >= self.interval

    def pending(self) -> dict[str, int]:
        """The increments not persisted yet (nothing is marked)."""
        now = self.stats.snapshot()
        with self._lock:
            return {k: now[k] - self._done[k] for k in COUNTERS if now[k] != self._done[k]}

    def take(self) -> dict[str, int]:
        """The increments not persisted yet, now marked as persisted."""
        now = self.stats.snapshot()
        with self._lock:
            taken = {k: now[k] - self._done[k] for k in COUNTERS if now[k] != self._done[k]}
            for k, v in taken.items():
                self._done[k] += v
            self.last = time.monotonic()
        return taken

    def restore(self, taken: dict[str, int]) -> None:
        """Un-mark increments whose write failed, so a later :meth:`take` retries them."""
        with self._lock:
            for k, v in taken.items():
                self._done[k] -= v

    def reset(self) -> None:
        """Forget everything (after the store and ``stats`` were cleared)."""
        with self._lock:
            self._done = dict.fromkeys(COUNTERS, 0)
            self.last = time.monotonic()


@runtime_checkable
class CacheBackend(Protocol):
    """What :class:`jackfield.cache.ResponseCache` needs from a store (see module doc)."""

    name: str
    """A short name for messages and stats (``"memory"``, ``"sqlite"``, ``"redis"``)."""

    stats: CacheStats
    """This process's counters, incremented by the response cache."""

    async def get(self, key: str) -> bytes | None:
        """The value stored under ``key``, or ``None`` if absent or expired."""
        ...

    async def set(self, key: str, value: bytes, ttl: float | None) -> None:
        """Store ``value`` under ``key`` for ``ttl`` seconds (``None``: no expiry)."""
        ...

    async def delete(self, key: str) -> None:
        """Remove ``key`` if present."""
        ...

    async def clear(self) -> None:
        """Remove every entry of this store (and reset persisted counters)."""
        ...

    async def close(self) -> None:
        """Release connections and files; the backend may be used again afterwards."""
        ...

    async def info(self) -> dict[str, Any]:
        """A JSON-ready description for ``jackfield cache stats`` (counters included)."""
        ...
