"""A target's shared state and the circuit breaker's transitions over it.

:class:`TargetState` is what a state backend keeps per target (breaker, take-out,
rate-limit budget, latency); the functions here change one in place and report a
breaker change, so the memory and the Redis backends share one logic. Times are wall
clock seconds (``time.time()``): several processes and machines compare them.

The breaker: *closed* lets calls through; ``failures`` failures within ``window``
seconds open it; *open* refuses calls for ``cooldown`` seconds, then lets one probe
through (*half-open*); the probe's success closes it, its failure opens it again.
"""

from __future__ import annotations

import math
from typing import Any, Literal, TypeAlias

import attrs

__all__ = [
    "BreakerSettings",
    "BreakerState",
    "TargetState",
    "availability",
    "begin_probe",
    "on_failure",
    "on_success",
]

BreakerState: TypeAlias = Literal["closed", "open", "half_open"]


@attrs.frozen(slots=True)
class BreakerSettings:
    """``failures`` within ``window`` seconds open the breaker for ``cooldown`` seconds;
    a half-open probe holds its lease for ``probe_timeout`` seconds at most."""

    failures: int = 5
    window: float = 60.0
    cooldown: float = 30.0
    probe_timeout: float = 60.0


@attrs.define(slots=True)
class TargetState:
    """What the router knows of one target (shared through the state backend)."""

    breaker: BreakerState = "closed"
    failures: list[float] = attrs.field(factory=list)
    """Times of the recent failures that count against the breaker."""
    open_until: float = 0.0
    probe_until: float = 0.0
    blocked_until: float = 0.0
    blocked_reason: str | None = None
    remaining_requests: int | None = None
    remaining_tokens: int | None = None
    budget_reset: float = 0.0
    latency: float | None = None
    """Exponentially weighted mean of the seconds an attempt took (to the first event,
    for a stream)."""
    in_flight: int = 0

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (``inf`` as ``None`` in ``blocked_until``: until the config
        changes)."""
        data = attrs.asdict(self)
        if math.isinf(self.blocked_until):
            data["blocked_until"] = None
            data["blocked_forever"] = True
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TargetState:
        """The inverse of :meth:`to_dict` (unknown keys are ignored)."""
        names = {a.name for a in attrs.fields(cls)}
        fields = {k: v for k, v in data.items() if k in names}
        if data.get("blocked_forever"):
            fields["blocked_until"] = math.inf
        return cls(**fields)

    def budget_low(self, now: float) -> bool:
        """Whether the last rate-limit headers said nothing is left before their reset."""
        if now >= self.budget_reset:
            return False
        return (self.remaining_requests is not None and self.remaining_requests <= 0) or (
            self.remaining_tokens is not None and self.remaining_tokens <= 0
        )


Availability: TypeAlias = Literal["yes", "probe", "blocked", "open", "probing"]


def availability(state: TargetState, now: float) -> Availability:
    """Whether a call may go to the target now: ``"yes"``, ``"probe"`` (the open
    breaker's cooldown is over: this call may be the one probe), or why not."""
    if state.blocked_until > now:
        return "blocked"
    breaker = state.breaker
    if breaker == "closed":
        return "yes"
    if breaker == "open":
        return "probe" if now >= state.open_until else "open"
    return "probe" if now >= state.probe_until else "probing"


def begin_probe(
    state: TargetState, now: float, settings: BreakerSettings
) -> tuple[bool, BreakerState | None]:
    """Take the half-open probe lease if it is free: ``(taken, previous state if the
    breaker changed)``."""
    if availability(state, now) != "probe":
        return False, None
    previous = state.breaker
    state.breaker = "half_open"
    state.probe_until = now + settings.probe_timeout
    return True, (previous if previous != "half_open" else None)


def on_failure(state: TargetState, now: float, settings: BreakerSettings) -> BreakerState | None:
    """Count a failure; returns the previous state if the breaker opened."""
    if state.breaker == "half_open":  # the probe failed
        state.breaker = "open"
        state.open_until = now + settings.cooldown
        state.failures = []
        return "half_open"
    horizon = now - settings.window
    recent = [t for t in state.failures if t > horizon]
    recent.append(now)
    state.failures = recent[-settings.failures :]
    if state.breaker == "closed" and len(recent) >= settings.failures:
        state.breaker = "open"
        state.open_until = now + settings.cooldown
        state.failures = []
        return "closed"
    return None


def on_success(state: TargetState) -> BreakerState | None:
    """Record a success; returns the previous state if the breaker closed.

    Only a half-open breaker closes: a call that began before the breaker opened and
    succeeds afterwards says nothing of the cooldown's outcome."""
    if state.breaker != "half_open":
        return None
    previous = state.breaker
    state.breaker = "closed"
    state.failures = []
    state.probe_until = 0.0
    return previous
