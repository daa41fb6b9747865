"""Where the router keeps its targets' state: the backend protocol and the memory one.

A backend holds one :class:`~._breaker.TargetState` per target key and changes it
atomically: :meth:`StateBackend.update` runs a function over the current state and
stores the result, so the breaker's logic (:mod:`._breaker`) is written once. The
memory backend is this process's view (the default); :class:`~._redis_state.RedisState`
shares one view between processes and machines.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeVar, runtime_checkable

from ._breaker import TargetState

__all__ = ["MemoryState", "StateBackend", "open_state"]

T = TypeVar("T")


@runtime_checkable
class StateBackend(Protocol):
    """The router's state store. Every method may be called from any event loop."""

    shared: bool
    """Whether other processes see the same state."""

    async def load(self, keys: Sequence[str]) -> list[TargetState]:
        """The current state of each key (a fresh one for an unknown key); read only."""
        ...

    async def update(self, key: str, change: Callable[[TargetState], T]) -> T:
        """Run ``change`` over the state of ``key`` (it mutates it) and store the result
        atomically; returns what ``change`` returned."""
        ...

    async def add_in_flight(self, key: str, delta: int) -> None:
        """Add ``delta`` to the number of calls in flight to ``key``."""
        ...

    async def reset(self, keys: Sequence[str]) -> None:
        """Forget the state of ``keys``."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...


class MemoryState:
    """This process's state: a dict, changed under a lock (sync calls run in threads)."""

    shared = False

    def __init__(self) -> None:
        self._states: dict[str, TargetState] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<MemoryState targets={len(self._states)}>"

    def _get(self, key: str) -> TargetState:
        state = self._states.get(key)
        if state is None:
            state = self._states.setdefault(key, TargetState())
        return state

    async def load(self, keys: Sequence[str]) -> list[TargetState]:
        """See :class:`StateBackend` (the live states: callers only read them)."""
        return self.load_now(keys)

    async def update(self, key: str, change: Callable[[TargetState], T]) -> T:
        """See :class:`StateBackend`."""
        with self._lock:
            return change(self._get(key))

    async def add_in_flight(self, key: str, delta: int) -> None:
        """See :class:`StateBackend`."""
        self.add_in_flight_now(key, delta)

    # The same without a coroutine each (the router's common case calls these).

    def load_now(self, keys: Sequence[str]) -> list[TargetState]:
        """:meth:`load`, synchronously."""
        get = self._get
        return [get(key) for key in keys]

    def apply(self, key: str, change: Callable[..., T], *args: Any) -> T:
        """``change(state, *args)`` over the state of ``key``: :meth:`update`,
        synchronously and without a closure."""
        with self._lock:
            return change(self._get(key), *args)

    def add_in_flight_now(self, key: str, delta: int) -> None:
        """:meth:`add_in_flight`, synchronously."""
        with self._lock:
            self._get(key).in_flight += delta

    async def reset(self, keys: Sequence[str]) -> None:
        """See :class:`StateBackend`."""
        with self._lock:
            for key in keys:
                self._states.pop(key, None)

    async def aclose(self) -> None:
        """Nothing to release."""


def open_state(spec: Any, *, prefix: str = "") -> StateBackend:
    """The backend a router's ``state`` option names: ``None`` or ``"memory"``, a
    ``redis://`` / ``rediss://`` / ``unix://`` URL, or a :class:`StateBackend`."""
    from ..errors import ConfigurationError

    if spec is None or spec == "memory":
        return MemoryState()
    if isinstance(spec, StateBackend):
        return spec
    if isinstance(spec, str) and spec.startswith(("redis://", "rediss://", "unix://")):
        from ._redis_state import RedisState

        return RedisState(spec, prefix=prefix)
    raise ConfigurationError(
        f"state must be 'memory' or a redis:// URL (got {spec!r})", field="state"
    )
