"""Strategies: the order in which a routed call tries its targets.

Each strategy orders the target indexes from the targets' weights and current state;
the router then walks that order, skipping targets that are out, and tries the next
one after a failure that fails over.

- ``fallback``: the configured order.
- ``weighted``: a random order where a target comes first with probability
  ``weight / sum(weights)`` (weighted sampling without replacement).
- ``least-busy``: fewest calls in flight first (ties in random order).
- ``latency``: lowest mean latency first; a target not yet measured comes first, so
  every target gets measured.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import Literal, TypeAlias

from ..errors import ConfigurationError
from ._breaker import TargetState

__all__ = ["STRATEGIES", "Strategy", "order_for"]

Strategy: TypeAlias = Literal["fallback", "weighted", "least-busy", "latency"]
STRATEGIES: tuple[str, ...] = ("fallback", "weighted", "least-busy", "latency")

Order: TypeAlias = Callable[[Sequence[float], Sequence[TargetState], random.Random], list[int]]


def _fallback(
    weights: Sequence[float], states: Sequence[TargetState], rng: random.Random
) -> list[int]:
    return list(range(len(weights)))


def _weighted(
    weights: Sequence[float], states: Sequence[TargetState], rng: random.Random
) -> list[int]:
    if len(weights) == 1:
        return [0]
    # Efraimidis-Spirakis: sort by u ** (1 / w), largest first.
    keys = [rng.random() ** (1.0 / w) for w in weights]
    return sorted(range(len(weights)), key=keys.__getitem__, reverse=True)


def _least_busy(
    weights: Sequence[float], states: Sequence[TargetState], rng: random.Random
) -> list[int]:
    ties = [rng.random() for _ in weights]
    return sorted(range(len(weights)), key=lambda i: (states[i].in_flight, ties[i]))


def _latency(
    weights: Sequence[float], states: Sequence[TargetState], rng: random.Random
) -> list[int]:
    return sorted(range(len(weights)), key=lambda i: states[i].latency or 0.0)


_ORDERS: dict[str, Order] = {
    "fallback": _fallback,
    "weighted": _weighted,
    "least-busy": _least_busy,
    "latency": _latency,
}


def order_for(name: object) -> Order:
    """The ordering function of strategy ``name``; a :class:`ConfigurationError` naming
    ``strategy`` for an unknown one."""
    if isinstance(name, str):
        found = _ORDERS.get(name.strip().lower().replace("_", "-"))
        if found is not None:
            return found
    raise ConfigurationError(
        f"unknown strategy {name!r}; known strategies: {', '.join(STRATEGIES)}",
        field="strategy",
    )
