"""The response cache: keys, entries, single-flight and failure handling over a backend.

:class:`ResponseCache` is what :class:`jackfield.Provider` consults when caching is on
(``generate`` and ``stream`` call :meth:`ResponseCache.generate` and
:meth:`ResponseCache.stream` with the upstream call as a callable). It

* keys the request (:func:`jackfield.cache._keys.cache_key`);
* stores a response, or a stream's whole event sequence, as one versioned JSON entry
  (the memory backend keeps the decoded objects instead: a hit decodes nothing);
* stores only successes: an error is never stored, and a stream only once it has
  ended with its :class:`~jackfield.events.StreamEnd` (never a stream that failed or
  whose consumers all left early);
* makes identical concurrent calls in one event loop share one lookup and one upstream
  call (single-flight): the call belongs to all its callers and runs until the last one
  leaves, so a caller that stops early or is cancelled never strands the others;
  followers of a stream get the same events as they arrive, from the first;
* never fails a call because of the cache: a backend error or an unreadable entry is a
  miss, counted in ``stats.errors`` and logged on the ``jackfield.cache`` logger; an
  unreadable entry is deleted, and after a backend error the backend is not asked again
  for ``cooldown`` seconds. One ``logging.warning`` per outage: the first failure of a
  backend operation warns, later ones log at debug level until every operation that
  failed (lookup, store, delete) has succeeded again, which is logged at info level and
  ends the outage; the next failure warns again. Unreadable entries warn once per
  backend.

``Response.cached`` is true when a call did not reach the provider itself: a hit, or
a follower of an identical call in flight.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
import weakref
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from typing import Any

import attrs

from ..events import StreamEnd, StreamEvent, event_from_dict, event_to_dict
from ..types import Request, Response
from ._base import CacheBackend, CacheStats
from ._keys import FORMAT_VERSION, cache_key
from ._memory import MemoryBackend

__all__ = ["ResponseCache", "decode_entry", "encode_response", "encode_stream"]

log = logging.getLogger("jackfield.cache")

DEFAULT_COOLDOWN = 1.0

_KIND_RESPONSE = "response"
_KIND_STREAM = "stream"


# ------------------------------------------------------------------------ entry format


def _dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def encode_response(response: Response) -> bytes:
    """A response as a cache entry: ``{"v": 1, "kind": "response", "response": {...}}``."""
    return _dumps({"v": FORMAT_VERSION, "kind": _KIND_RESPONSE, "response": response.to_dict()})


def encode_stream(events: list[StreamEvent] | tuple[StreamEvent, ...]) -> bytes:
    """A complete stream as a cache entry: ``{"v": 1, "kind": "stream", "events": [...]}``."""
    if not events or not isinstance(events[-1], StreamEnd):
        raise ValueError("only a complete stream (ending with StreamEnd) can be stored")
    return _dumps(
        {"v": FORMAT_VERSION, "kind": _KIND_STREAM, "events": [event_to_dict(e) for e in events]}
    )


def _hit(response: Response) -> Response:
    return attrs.evolve(response, raw=None, cached=True)


def decode_entry(data: bytes, *, stream: bool) -> Response | tuple[StreamEvent, ...]:
    """Rebuild a cached response (``stream=False``) or event sequence; marks it cached.

    Raises ``ValueError`` (or ``KeyError``/``TypeError``) for an unreadable entry.
    """
    obj = json.loads(data)
    if not isinstance(obj, dict) or obj.get("v") != FORMAT_VERSION:
        raise ValueError("not a jackfield cache entry of this format version")
    kind = obj.get("kind")
    if not stream:
        if kind != _KIND_RESPONSE:
            raise ValueError(f"expected a {_KIND_RESPONSE!r} entry, found {kind!r}")
        return _hit(Response.from_dict(obj["response"]))
    if kind != _KIND_STREAM:
        raise ValueError(f"expected a {_KIND_STREAM!r} entry, found {kind!r}")
    events = [event_from_dict(e) for e in obj["events"]]
    last = events[-1] if events else None
    if not isinstance(last, StreamEnd):
        raise ValueError("a stored stream must end with its StreamEnd event")
    events[-1] = StreamEnd(_hit(last.response))
    return tuple(events)


# ------------------------------------------------------------------------- flights


class _GenerateFlight:
    """One upstream ``generate`` (lookup included) shared by identical calls."""

    __slots__ = ("task", "waiters")

    def __init__(self) -> None:
        self.task: asyncio.Task[Response] | None = None
        self.waiters = 0


class _StreamFlight:
    """One upstream stream (lookup included) whose events every reader replays.

    The upstream is pulled by one task, one event at a time when a reader wants an
    event it has not got (``wanted``), never ahead of the fastest reader: a stream whose
    readers all stop early is never read to its end, so it is never stored.
    """

    __slots__ = (
        "changed",
        "error",
        "events",
        "finished",
        "follower_end",
        "readers",
        "task",
        "wanted",
    )

    def __init__(self) -> None:
        self.events: list[StreamEvent] = []
        self.finished = False
        self.error: BaseException | None = None
        self.changed = asyncio.Event()
        self.wanted = asyncio.Event()
        self.readers = 0
        self.task: asyncio.Task[None] | None = None
        self.follower_end: StreamEnd | None = None

    def _wake(self) -> None:
        changed, self.changed = self.changed, asyncio.Event()
        changed.set()

    def publish(self, event: StreamEvent) -> None:
        self.events.append(event)
        self._wake()

    def finish(self, error: BaseException | None = None) -> None:
        self.error = error
        self.finished = True
        self._wake()


_Flight = _GenerateFlight | _StreamFlight


class _Shared:
    """What every view of one backend shares: flights, failure state."""

    def __init__(self, backend: CacheBackend, cooldown: float, clock: Callable[[], float]):
        self.backend = backend
        stats = getattr(backend, "stats", None)
        self.stats = stats if isinstance(stats, CacheStats) else CacheStats()
        self.cooldown = cooldown
        self.clock = clock
        self.failing: set[str] = set()
        """The backend operations failing now (an outage while not empty)."""
        self.warned_unreadable = False
        self.down_until = 0.0
        self.lock = threading.Lock()
        self.flights: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, _Flight]] = (
            weakref.WeakKeyDictionary()
        )

    def loop_flights(self) -> dict[str, _Flight]:
        loop = asyncio.get_running_loop()
        flights = self.flights.get(loop)
        if flights is None:
            with self.lock:
                flights = self.flights.setdefault(loop, {})
        return flights


def _drop(flights: dict[str, _Flight], key: str, flight: _Flight) -> None:
    if flights.get(key) is flight:
        del flights[key]


def _retrieve(task: asyncio.Task[Any]) -> None:
    # Mark the outcome as seen: the callers got it (or all left), never "never retrieved".
    if not task.cancelled():
        task.exception()


# ------------------------------------------------------------------------- the cache


class ResponseCache:
    """Response caching over one :class:`~jackfield.cache.CacheBackend`.

    :param backend: where entries live.
    :param ttl: seconds an entry lives (``None``: until evicted or cleared).
    :param cooldown: seconds the backend is left alone after it failed.
    :param clock: a monotonic clock for the cooldown (inject one in tests).

    :func:`jackfield.cache.open_cache` returns one shared instance per spec; build one
    directly to give a provider a private cache (``provider.response_cache = ...``).
    """

    def __init__(
        self,
        backend: CacheBackend,
        *,
        ttl: float | None = None,
        cooldown: float = DEFAULT_COOLDOWN,
        clock: Callable[[], float] = time.monotonic,
        _shared: _Shared | None = None,
    ) -> None:
        if ttl is not None and ttl <= 0:
            raise ValueError("ttl must be > 0 seconds (or None for no expiry)")
        self.backend = backend
        self.ttl = ttl
        self._shared = _shared or _Shared(backend, cooldown, clock)
        self._memory = backend if isinstance(backend, MemoryBackend) else None
        self.stats: CacheStats = self._shared.stats
        """This process's counters for the backend (shared by every view of it)."""

    def __repr__(self) -> str:
        return f"<ResponseCache backend={self.backend!r} ttl={self.ttl!r}>"

    def with_ttl(self, ttl: float | None) -> ResponseCache:
        """A view of this cache (same backend, flights and stats) with another TTL."""
        if ttl == self.ttl:
            return self
        return ResponseCache(self.backend, ttl=ttl, _shared=self._shared)

    # -- keys -----------------------------------------------------------------------------

    @staticmethod
    def key(provider: Any, request: Request, *, stream: bool = False) -> str:
        """The cache key of ``request`` for ``provider`` (its name and base URL)."""
        return cache_key(
            request,
            provider=str(provider.name),
            base_url=getattr(provider, "base_url", None),
            stream=stream,
        )

    # -- backend calls that never raise --------------------------------------------------

    def _failed(self, what: str, exc: BaseException, *, cooldown: bool = True) -> None:
        """Count and log a failure: ``cooldown`` marks a backend operation's (part of an
        outage, warned once per outage); else an unreadable entry's (warned once)."""
        shared = self._shared
        self.stats.add("errors")
        if cooldown:
            shared.down_until = shared.clock() + shared.cooldown
            with shared.lock:
                first = not shared.failing
                shared.failing.add(what)
        else:
            first, shared.warned_unreadable = not shared.warned_unreadable, True
        if first:
            log.warning(
                "response cache %r: %s failed (%s: %s); calls go on without the cache. "
                "Further cache errors of this %s are logged at debug level.",
                self.backend,
                what,
                type(exc).__name__,
                exc,
                "outage" if cooldown else "backend",
            )
        else:
            log.debug("response cache %r: %s failed", self.backend, what, exc_info=exc)

    def _worked(self, what: str) -> None:
        """A backend operation succeeded: the outage ends once none is failing."""
        shared = self._shared
        if not shared.failing:  # the common case: a set's truth, no lock
            return
        with shared.lock:
            was = bool(shared.failing)
            shared.failing.discard(what)
            ended = was and not shared.failing
        if ended:
            log.info("response cache %r: the backend works again", self.backend)

    def _available(self) -> bool:
        shared = self._shared
        return not shared.down_until or shared.clock() >= shared.down_until

    async def _lookup(self, key: str) -> bytes | None:
        if not self._available():
            return None
        try:
            data = await self.backend.get(key)
        except Exception as exc:
            self._failed("lookup", exc)
            return None
        self._worked("lookup")
        return data

    async def _put(self, key: str, data: bytes) -> None:
        if not self._available():
            return
        try:
            await self.backend.set(key, data, self.ttl)
        except Exception as exc:
            self._failed("store", exc)
        else:
            self._worked("store")
            self.stats.add("stores")

    async def _unreadable(self, key: str, exc: BaseException) -> None:
        self._failed("reading an entry", exc, cooldown=False)
        try:
            await self.backend.delete(key)
        except Exception as err:
            self._failed("deleting an unreadable entry", err)
        else:
            self._worked("deleting an unreadable entry")

    async def _read(self, key: str, *, stream: bool) -> Any:
        """The decoded entry, or ``None`` (a miss, an error, an unreadable entry)."""
        data = await self._lookup(key)
        if data is not None:
            entry = await self._decode(key, data, stream=stream)
            if entry is not None:
                return entry
        self.stats.add("misses")
        return None

    async def _decode(self, key: str, data: Any, *, stream: bool) -> Any:
        try:
            if isinstance(data, bytearray | memoryview):
                data = bytes(data)
            if not isinstance(data, bytes):
                raise TypeError(f"expected bytes, found {type(data).__name__}")
            entry = decode_entry(data, stream=stream)
        except Exception as exc:
            await self._unreadable(key, exc)
            return None
        self.stats.add("hits")
        return entry

    # -- generate -----------------------------------------------------------------------

    async def generate(
        self, provider: Any, request: Request, call: Callable[[], Awaitable[Response]]
    ) -> Response:
        """The cached response to ``request``, else ``await call()`` (then stored)."""
        key = self.key(provider, request)
        memory = self._memory
        if memory is not None:
            found = memory.get_nowait(key)
            if isinstance(found, Response):
                self.stats.add("hits")
                return found
            if found is not None:  # bytes stored through the interface
                entry = await self._decode(key, found, stream=False)
                if isinstance(entry, Response):
                    return entry
        flights = self._shared.loop_flights()
        flight = flights.get(key)
        if isinstance(flight, _GenerateFlight):
            self.stats.add("coalesced")
            response = await self._wait(flight, key, flights)
            return response if response.cached else attrs.evolve(response, cached=True)
        if memory is not None:
            self.stats.add("misses")
        flight = _GenerateFlight()
        task = asyncio.ensure_future(self._fill(key, call, flights, flight))
        task.add_done_callback(_retrieve)
        flight.task = task
        flights[key] = flight
        return await self._wait(flight, key, flights)

    @staticmethod
    async def _wait(flight: _GenerateFlight, key: str, flights: dict[str, _Flight]) -> Response:
        task = flight.task
        assert task is not None
        flight.waiters += 1
        try:
            return await asyncio.shield(task)
        finally:
            flight.waiters -= 1
            if flight.waiters == 0 and not task.done():
                # Every caller left: stop the upstream call; a new caller starts afresh.
                _drop(flights, key, flight)
                task.cancel()

    async def _fill(
        self,
        key: str,
        call: Callable[[], Awaitable[Response]],
        flights: dict[str, _Flight],
        flight: _GenerateFlight,
    ) -> Response:
        try:
            return await self._fill_inner(key, call)
        finally:
            _drop(flights, key, flight)  # now, not in a done callback: no late joiners

    async def _fill_inner(self, key: str, call: Callable[[], Awaitable[Response]]) -> Response:
        memory = self._memory
        if memory is None:
            found = await self._read(key, stream=False)
            if found is not None:
                assert isinstance(found, Response)
                return found
        response = await call()
        if memory is not None:
            memory.set_nowait(key, _hit(response), self.ttl)
            self.stats.add("stores")
        else:
            try:
                data = encode_response(response)
            except Exception as exc:
                self._failed("encoding a response", exc, cooldown=False)
            else:
                await self._put(key, data)
        return response

    # -- stream -------------------------------------------------------------------------

    async def stream(
        self,
        provider: Any,
        request: Request,
        call: Callable[[], AsyncIterator[StreamEvent]],
    ) -> AsyncGenerator[StreamEvent, None]:
        """Replay the cached events of ``request``, else stream ``call()`` (then stored)."""
        key = self.key(provider, request, stream=True)
        memory = self._memory
        if memory is not None:
            found = memory.get_nowait(key)
            if found is not None and not isinstance(found, tuple):
                found = await self._decode(key, found, stream=True)
            elif found is not None:
                self.stats.add("hits")
            if found is not None:
                for event in found:
                    yield event
                return
        flights = self._shared.loop_flights()
        flight = flights.get(key)
        leader = not isinstance(flight, _StreamFlight)
        if isinstance(flight, _StreamFlight):
            self.stats.add("coalesced")
        else:
            if memory is not None:
                self.stats.add("misses")
            flight = _StreamFlight()
            task = asyncio.ensure_future(self._pump(key, call, flights, flight))
            task.add_done_callback(_retrieve)
            flight.task = task
            flights[key] = flight
        assert isinstance(flight, _StreamFlight)
        flight.readers += 1
        index = 0
        try:
            while True:
                events = flight.events
                if index < len(events):
                    event = events[index]
                    index += 1
                    if not leader and isinstance(event, StreamEnd) and not event.response.cached:
                        if flight.follower_end is None:
                            flight.follower_end = StreamEnd(
                                attrs.evolve(event.response, cached=True)
                            )
                        event = flight.follower_end
                    yield event
                    continue
                if flight.finished:
                    if flight.error is not None:
                        raise flight.error
                    return
                changed = flight.changed
                flight.wanted.set()
                await changed.wait()
        finally:
            flight.readers -= 1
            pump = flight.task
            if flight.readers == 0 and pump is not None and not pump.done():
                # The last reader left early: close the upstream stream, store nothing.
                _drop(flights, key, flight)
                pump.cancel()
                await asyncio.wait([pump])

    async def _pump(
        self,
        key: str,
        call: Callable[[], AsyncIterator[StreamEvent]],
        flights: dict[str, _Flight],
        flight: _StreamFlight,
    ) -> None:
        try:
            memory = self._memory
            if memory is None:
                found = await self._read(key, stream=True)
                if found is not None:
                    _drop(flights, key, flight)
                    flight.events.extend(found)
                    flight.finish()
                    return
            events = call()
            end: StreamEnd | None = None
            wanted = flight.wanted
            try:
                while True:
                    await wanted.wait()
                    wanted.clear()
                    try:
                        event = await events.__anext__()
                    except StopAsyncIteration:
                        break
                    if isinstance(event, StreamEnd):
                        end = event  # held back until the stream is stored
                        break
                    flight.publish(event)
            finally:
                close = getattr(events, "aclose", None)
                if close is not None:
                    await close()
            if end is None:  # the provider contract forbids this; store nothing
                _drop(flights, key, flight)
                flight.finish()
                return
            if memory is not None:
                stored = (*flight.events, StreamEnd(_hit(end.response)))
                memory.set_nowait(key, stored, self.ttl)
                self.stats.add("stores")
            else:
                try:
                    data = encode_stream([*flight.events, end])
                except Exception as exc:
                    self._failed("encoding a stream", exc, cooldown=False)
                else:
                    await self._put(key, data)
            _drop(flights, key, flight)  # stored: a new caller now finds the entry
            flight.publish(end)
            flight.finish()
        except Exception as exc:
            _drop(flights, key, flight)
            flight.finish(exc)  # every reader raises it; nothing is stored
        except BaseException:
            _drop(flights, key, flight)
            raise

    # -- operations ---------------------------------------------------------------------

    async def clear(self) -> None:
        """Remove every entry of the backend (errors propagate: this is an operation)."""
        await self.backend.clear()

    async def close(self) -> None:
        """Close the backend's connections (it reopens on next use)."""
        await self.backend.close()

    async def info(self) -> dict[str, Any]:
        """The backend's description and counters (see ``jackfield cache stats``)."""
        return await self.backend.info()
