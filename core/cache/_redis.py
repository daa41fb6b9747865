"""The Redis backend: one cache shared by many processes and machines.

Uses redis-py's asyncio client (``pip install 'jackfield[redis]'``), imported on first
use. Entries are plain string keys ``<prefix>jackfield:v1:<sha256>`` with a server-side
TTL (``SET ... PX``), so expiry needs no sweeping and every client sees the same
entries. The counters live in the hash ``<prefix>jackfield:stats`` (this process's
increments are added with each store, at most every ``flush_interval`` seconds on
reads, and when an event loop ends).

A client belongs to one event loop: this backend keeps one per loop (a provider may be
used from several ``asyncio.run`` calls) and closes it when its loop shuts down. Socket
timeouts are short and redis-py's own retries are off, so an outage costs one failed
connection attempt per call (and the response cache stops asking for a moment after a
failure) rather than a hang.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import threading
import weakref
from collections.abc import AsyncGenerator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from ..errors import MissingDependencyError
from ._base import COUNTERS, CacheStats, CounterJournal
from ._keys import NAMESPACE

__all__ = ["DEFAULT_URL", "RedisBackend", "redact_url"]

DEFAULT_URL = "redis://127.0.0.1:6379/0"
_SCAN_BATCH = 500

_BACKGROUND: set[asyncio.Future[Any]] = set()


def redact_url(url: str) -> str:
    """``url`` with any password replaced by ``***`` (for messages and stats)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


class RedisBackend:
    """A response-cache store in Redis.

    :param url: ``redis://[[user]:password@]host[:port][/db]``, ``rediss://`` for TLS or
        ``unix://path``; redis-py's query options (``?socket_timeout=2``) apply.
    :param prefix: prepended to every key, to keep applications sharing a server apart.
    :param socket_timeout: seconds to wait for a reply.
    :param socket_connect_timeout: seconds to wait for a connection.
    :param client_options: more keyword arguments for ``redis.asyncio.Redis.from_url``.
    """

    name = "redis"

    def __init__(
        self,
        url: str = DEFAULT_URL,
        *,
        prefix: str = "",
        socket_timeout: float = 0.5,
        socket_connect_timeout: float = 0.5,
        flush_interval: float = 1.0,
        **client_options: Any,
    ) -> None:
        if importlib.util.find_spec("redis") is None:
            raise MissingDependencyError("redis cache", "redis", "redis")
        self.url = url
        self.prefix = prefix
        self.client_options: dict[str, Any] = {
            "socket_timeout": socket_timeout,
            "socket_connect_timeout": socket_connect_timeout,
            "health_check_interval": 0,
            **client_options,
        }
        self.stats = CacheStats()
        self._journal = CounterJournal(self.stats, flush_interval)
        self._stats_key = f"{prefix}{NAMESPACE}:stats"
        self._healthy = True
        self._lock = threading.Lock()
        # loop -> (client, the suspended generator that closes it when the loop ends)
        self._clients: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, tuple[Any, AsyncGenerator[None, None]]
        ] = weakref.WeakKeyDictionary()

    def __repr__(self) -> str:
        return f"<RedisBackend {redact_url(self.url)!r} prefix={self.prefix!r}>"

    # -- one client per event loop ----------------------------------------------------

    def _new_client(self) -> Any:
        import redis.asyncio
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff

        options = {"retry": Retry(NoBackoff(), 0), **self.client_options}
        return redis.asyncio.Redis.from_url(self.url, **options)

    def _client(self) -> Any:
        loop = asyncio.get_running_loop()
        item = self._clients.get(loop)
        if item is not None:
            return item[0]
        with self._lock:
            item = self._clients.get(loop)
            if item is None:
                client = self._new_client()
                closer = self._closer(client)
                # Run the closer to its ``yield`` now: the loop then tracks it, and
                # asyncio.run()'s shutdown_asyncgens() finalises it (closing the client).
                with contextlib.suppress(StopIteration):
                    closer.asend(None).send(None)
                item = (client, closer)
                self._clients[loop] = item
        return item[0]

    async def _closer(self, client: Any) -> AsyncGenerator[None, None]:
        try:
            yield
        finally:
            # Forget the loop's entry (it would keep the closed loop alive), then close.
            with contextlib.suppress(RuntimeError), self._lock:
                loop = asyncio.get_running_loop()
                item = self._clients.get(loop)
                if item is not None and item[0] is client:
                    del self._clients[loop]
            if self._healthy:
                with contextlib.suppress(Exception):
                    await self._flush(client)
            close = getattr(client, "aclose", None) or client.close
            with contextlib.suppress(Exception):
                await close()

    # -- counters ---------------------------------------------------------------------

    async def _execute(self, pipe: Any, taken: dict[str, int]) -> Any:
        """Run a pipeline that carries ``taken`` counter increments."""
        for name, delta in taken.items():
            pipe.hincrby(self._stats_key, name, delta)
        try:
            result = await pipe.execute()
        except BaseException:
            self._journal.restore(taken)
            self._healthy = False
            raise
        self._healthy = True
        return result

    async def _flush(self, client: Any) -> None:
        if self._journal.pending():
            await self._execute(client.pipeline(transaction=False), self._journal.take())

    # -- the interface ----------------------------------------------------------------

    async def get(self, key: str) -> bytes | None:
        """See :class:`~jackfield.cache.CacheBackend`."""
        client = self._client()
        if not self._journal.due():
            try:
                value = await client.get(self.prefix + key)
            except BaseException:
                self._healthy = False
                raise
            self._healthy = True
        else:  # now and then, this process's counters ride along
            pipe = client.pipeline(transaction=False)
            pipe.get(self.prefix + key)
            value = (await self._execute(pipe, self._journal.take()))[0]
        return None if value is None else bytes(value)

    async def set(self, key: str, value: bytes, ttl: float | None) -> None:
        """See :class:`~jackfield.cache.CacheBackend` (``ttl`` rounds up to a millisecond)."""
        pipe = self._client().pipeline(transaction=False)
        if ttl is None:
            pipe.set(self.prefix + key, value)
        else:
            pipe.set(self.prefix + key, value, px=max(1, int(ttl * 1000 + 0.999)))
        await self._execute(pipe, self._journal.take())

    async def delete(self, key: str) -> None:
        """See :class:`~jackfield.cache.CacheBackend`."""
        await self._client().delete(self.prefix + key)

    def _pattern(self) -> str:
        escaped = "".join(f"\\{c}" if c in "*?[]\\" else c for c in self.prefix)
        return f"{escaped}{NAMESPACE}:*"

    async def clear(self) -> None:
        """Delete every ``<prefix>jackfield:*`` key (entries and counters)."""
        client = self._client()
        batch: list[Any] = []
        async for name in client.scan_iter(match=self._pattern(), count=_SCAN_BATCH):
            batch.append(name)
            if len(batch) >= _SCAN_BATCH:
                await client.unlink(*batch)
                batch = []
        if batch:
            await client.unlink(*batch)
        self.stats.reset()
        self._journal.reset()

    async def close(self) -> None:
        """Close this loop's client (clients of other loops close when those loops end)."""
        loop = asyncio.get_running_loop()
        with self._lock:
            item = self._clients.pop(loop, None)
            others = list(self._clients.items())
            self._clients.clear()
        if item is not None:
            await item[1].aclose()
        for other, (_, closer) in others:
            if other.is_running() and not other.is_closed():
                with contextlib.suppress(RuntimeError):
                    other.call_soon_threadsafe(_schedule_close, closer)

    async def info(self) -> dict[str, Any]:
        """Counters over every client of this server and prefix, and the entry count."""
        client = self._client()
        await self._flush(client)
        stored = await client.hgetall(self._stats_key)
        counters = {
            (k.decode() if isinstance(k, bytes) else str(k)): int(v) for k, v in stored.items()
        }
        entries = 0
        entry_pattern = self._pattern()[:-1] + "v*"
        async for _ in client.scan_iter(match=entry_pattern, count=_SCAN_BATCH):
            entries += 1
        return {
            "backend": self.name,
            **{k: counters.get(k, 0) for k in COUNTERS},
            "entries": entries,
            "url": redact_url(self.url),
            "prefix": self.prefix,
        }


def _schedule_close(closer: AsyncGenerator[None, None]) -> None:
    future = asyncio.ensure_future(closer.aclose())
    _BACKGROUND.add(future)
    future.add_done_callback(_BACKGROUND.discard)
