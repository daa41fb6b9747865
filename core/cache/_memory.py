"""The in-process backend: an LRU of at most ``max_entries`` entries with per-entry TTL.

Thread- and task-safe (one lock around an ``OrderedDict``; no awaits inside). Entries
live as long as the process, shared by every event loop and thread in it. Through the
:class:`~jackfield.cache.CacheBackend` interface it stores bytes like any backend; the
:class:`~jackfield.cache.ResponseCache` also uses :meth:`MemoryBackend.get_nowait` and
:meth:`MemoryBackend.set_nowait` to keep decoded responses, so a hit costs no decoding.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from ._base import CacheStats

__all__ = ["DEFAULT_MAX_ENTRIES", "MemoryBackend"]

DEFAULT_MAX_ENTRIES = 1024


class MemoryBackend:
    """An LRU of at most ``max_entries`` values with per-entry TTL.

    :param max_entries: the least recently used entry is evicted beyond this.
    :param clock: a monotonic clock in seconds (inject one in tests).
    """

    name = "memory"

    def __init__(
        self,
        max_entries: int | str = DEFAULT_MAX_ENTRIES,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        entries = int(max_entries)
        if entries < 1:
            raise ValueError("max_entries must be at least 1")
        self.max_entries = entries
        self.clock = clock
        self.stats = CacheStats()
        self.evictions = 0
        self._lock = threading.Lock()
        # key -> (value, expires_at or None)
        self._data: OrderedDict[str, tuple[Any, float | None]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._data)

    def get_nowait(self, key: str) -> Any:
        """The value under ``key`` (any object), or ``None``; marks it recently used."""
        with self._lock:
            item = self._data.get(key)
            if item is None:
                return None
            expires = item[1]
            if expires is not None and self.clock() >= expires:
                del self._data[key]
                return None
            self._data.move_to_end(key)
            return item[0]

    def set_nowait(self, key: str, value: Any, ttl: float | None) -> None:
        """Store any object under ``key``, evicting the least recently used beyond the cap."""
        expires = None if ttl is None else self.clock() + ttl
        with self._lock:
            data = self._data
            data[key] = (value, expires)
            data.move_to_end(key)
            while len(data) > self.max_entries:
                data.popitem(last=False)
                self.evictions += 1

    async def get(self, key: str) -> bytes | None:
        """See :class:`~jackfield.cache.CacheBackend`."""
        value = self.get_nowait(key)
        return value if isinstance(value, bytes) or value is None else None

    async def set(self, key: str, value: bytes, ttl: float | None) -> None:
        """See :class:`~jackfield.cache.CacheBackend`."""
        self.set_nowait(key, value, ttl)

    async def delete(self, key: str) -> None:
        """See :class:`~jackfield.cache.CacheBackend`."""
        with self._lock:
            self._data.pop(key, None)

    async def clear(self) -> None:
        """Drop every entry and reset the counters."""
        with self._lock:
            self._data.clear()
        self.stats.reset()

    async def close(self) -> None:
        """Nothing to release (entries stay until cleared or the process ends)."""

    def purge_expired(self) -> int:
        """Drop expired entries now; returns how many."""
        now = self.clock()
        with self._lock:
            dead = [k for k, (_, exp) in self._data.items() if exp is not None and now >= exp]
            for k in dead:
                del self._data[k]
        return len(dead)

    async def info(self) -> dict[str, Any]:
        """Counters, entries and the cap."""
        return {
            "backend": self.name,
            **self.stats.snapshot(),
            "entries": len(self._data),
            "max_entries": self.max_entries,
            "evictions": self.evictions,
        }
