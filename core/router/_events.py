"""What the router reports to the ``jackfield_router_event`` observers."""

from __future__ import annotations

from typing import Literal, TypeAlias

import attrs

from ..errors import ProviderError

__all__ = ["RouterEvent", "RouterEventKind"]

RouterEventKind: TypeAlias = Literal["failover", "breaker", "take_out"]


@attrs.frozen(slots=True, kw_only=True)
class RouterEvent:
    """One failover, breaker change or take-out of a router.

    - ``failover``: the call moves from ``target`` (which failed with ``error``) to
      ``next_target``.
    - ``breaker``: ``target``'s circuit breaker went from ``previous`` to ``state``
      (``closed``, ``open``, ``half_open``); ``error`` is the failure that opened it.
    - ``take_out``: ``target`` is out until ``until`` (wall-clock seconds; ``inf``:
      until its config changes) after ``error`` (quota, authentication, a long
      ``Retry-After``).
    """

    kind: RouterEventKind
    target: str
    next_target: str | None = None
    error: ProviderError | None = None
    state: str | None = None
    previous: str | None = None
    until: float | None = None
