"""The router: one provider over several, with failover, load balancing and circuit
breaking decided by typed errors (see docs/router.md).

``jackfield.create_provider("router", targets=[...])`` or a TOML profile with
``provider = "router"`` builds a :class:`Router`; its targets' state lives in a
:class:`StateBackend` (:class:`MemoryState` by default, :class:`RedisState` to share it
between processes).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._breaker import BreakerSettings, TargetState
from ._decisions import TABLE, Action, Decision, decide
from ._events import RouterEvent
from ._provider import ROUTER_FIELDS, Router, router_status
from ._state import MemoryState, StateBackend, open_state
from ._strategies import STRATEGIES
from ._targets import TargetSpec, parse_targets

if TYPE_CHECKING:
    from ._redis_state import RedisState

__all__ = [
    "ROUTER_FIELDS",
    "STRATEGIES",
    "TABLE",
    "Action",
    "BreakerSettings",
    "Decision",
    "MemoryState",
    "RedisState",
    "Router",
    "RouterEvent",
    "StateBackend",
    "TargetSpec",
    "TargetState",
    "decide",
    "open_state",
    "parse_targets",
    "router_status",
]


def __getattr__(name: str) -> object:
    if name == "RedisState":  # imports the cache's Redis client module: on first use
        from ._redis_state import RedisState

        return RedisState
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
