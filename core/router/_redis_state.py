"""The router's state in Redis: one view of breakers, take-outs, budgets, in-flight counts
and latencies for every process and machine that routes to the same targets.

Each target is two keys: ``<prefix>jackfield:router:v1:<target>`` holds its state as JSON,
changed in an optimistic transaction (``WATCH``, read, ``MULTI``/``EXEC``, again on a
conflict) so concurrent updates never lose one; ``...:<target>:busy`` counts the calls in
flight (``INCRBY``). The client is redis-py's asyncio one, one per event loop, as the
response cache's Redis backend keeps them (:class:`jackfield.cache.RedisBackend`), with
short socket timeouts and no retries of its own.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from ..cache import RedisBackend
from ._breaker import TargetState

__all__ = ["RedisState"]

T = TypeVar("T")

NAMESPACE = "jackfield:router:v1:"
_MAX_CONFLICTS = 50


class RedisState:
    """A :class:`~._state.StateBackend` in Redis, shared by every client of the server.

    :param url: ``redis://[[user]:password@]host[:port][/db]`` (as the cache takes).
    :param prefix: prepended to every key, to keep applications sharing a server apart.
    """

    shared = True

    def __init__(self, url: str, *, prefix: str = "", socket_timeout: float = 0.5) -> None:
        # The cache backend's per-loop clients, closed when their loop ends; only its
        # connection handling is used, none of its cache keys.
        self._redis = RedisBackend(
            url, prefix=prefix, socket_timeout=socket_timeout, socket_connect_timeout=0.5
        )
        self.prefix = prefix

    def __repr__(self) -> str:
        from ..cache._redis import redact_url

        return f"<RedisState {redact_url(self._redis.url)!r} prefix={self.prefix!r}>"

    def _key(self, key: str) -> str:
        return f"{self.prefix}{NAMESPACE}{key}"

    async def load(self, keys: Sequence[str]) -> list[TargetState]:
        """See :class:`~._state.StateBackend` (one round trip for all keys)."""
        pipe = self._redis._client().pipeline(transaction=False)
        for key in keys:
            pipe.get(self._key(key))
            pipe.get(self._key(key) + ":busy")
        values = await pipe.execute()
        out = []
        for i in range(0, len(values), 2):
            raw, busy = values[i], values[i + 1]
            state = TargetState.from_dict(json.loads(raw)) if raw else TargetState()
            state.in_flight = max(0, int(busy or 0))
            out.append(state)
        return out

    async def update(self, key: str, change: Callable[[TargetState], T]) -> T:
        """See :class:`~._state.StateBackend`: ``WATCH``/``MULTI`` until no conflict. A
        change of ``in_flight`` goes to the ``busy`` counter in the same transaction."""
        from redis.exceptions import WatchError

        name = self._key(key)
        client = self._redis._client()
        async with client.pipeline(transaction=True) as pipe:
            for _ in range(_MAX_CONFLICTS):
                try:
                    await pipe.watch(name)
                    raw = await pipe.get(name)
                    state = TargetState.from_dict(json.loads(raw)) if raw else TargetState()
                    result = change(state)
                    data = state.to_dict()
                    moved = data.pop("in_flight", 0)  # from 0: what change() added
                    pipe.multi()
                    pipe.set(name, json.dumps(data))
                    if moved:
                        pipe.incrby(name + ":busy", moved)
                    await pipe.execute()
                    return result
                except WatchError:
                    continue
        raise RuntimeError(f"router state {key!r}: {_MAX_CONFLICTS} conflicting updates in a row")

    async def add_in_flight(self, key: str, delta: int) -> None:
        """See :class:`~._state.StateBackend`."""
        await self._redis._client().incrby(self._key(key) + ":busy", delta)

    async def reset(self, keys: Sequence[str]) -> None:
        """See :class:`~._state.StateBackend`."""
        names: list[Any] = []
        for key in keys:
            names += [self._key(key), self._key(key) + ":busy"]
        if names:
            await self._redis._client().delete(*names)

    async def aclose(self) -> None:
        """Close this event loop's client."""
        await self._redis.close()
