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
    """This process's state: a dict, changed under a lock (sync calls run in threads).

    The router's common path reads :attr:`states` itself and changes a state under
    :attr:`lock`, without a coroutine or a call each."""

    shared = False

    def __init__(self) -> None:
        self.states: dict[str, TargetState] = {}
        """The live state of each key seen; change one only under :attr:`lock`."""
        self.lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<MemoryState targets={len(self.states)}>"

    def state(self, key: str) -> TargetState:
        """The live state of ``key`` (a fresh one, kept, for a key not seen yet)."""
        state = self.states.get(key)
        if state is None:
            state = self.states.setdefault(key, TargetState())
        return state

    async def load(self, keys: Sequence[str]) -> list[TargetState]:
        """See :class:`StateBackend` (the live states: callers only read them)."""
        get = self.state
        return [get(key) for key in keys]

    async def update(self, key: str, change: Callable[[TargetState], T]) -> T:
        """See :class:`StateBackend`."""
        with self.lock:
            return change(self.state(key))

    async def add_in_flight(self, key: str, delta: int) -> None:
        """See :class:`StateBackend`."""
        with self.lock:
            self.state(key).in_flight += delta

    async def reset(self, keys: Sequence[str]) -> None:
        """See :class:`StateBackend`."""
        with self.lock:
            for key in keys:
                self.states.pop(key, None)

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
