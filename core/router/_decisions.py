"""The decision table: what the router does after a failed attempt, by typed error.

One row per ``error_type``; :func:`decide` reads the row and the error's own hints
(``retry_after``, ``retryable``) against the router's settings. docs/router.md shows the
same table.
"""

from __future__ import annotations

import enum
import math

import attrs

from ..errors import ProviderError

__all__ = ["TABLE", "Action", "Decision", "Row", "decide"]


class Action(enum.Enum):
    """What happens next."""

    RETRY = "retry the same target (its retry policy), then fail over"
    FAILOVER = "fail over to the next target"
    TAKE_OUT = "take the target out for a while, fail over"
    LARGER_WINDOW = "fail over, only to targets with a larger context window"
    RAISE = "raise: the same call would fail on any target"


@attrs.frozen(slots=True)
class Row:
    """One row of :data:`TABLE`: the default action for an error type, and whether it
    counts against the target's circuit breaker (its health)."""

    action: Action
    breaker: bool


TABLE: dict[str, Row] = {
    "rate_limit": Row(Action.RETRY, breaker=False),
    "overloaded": Row(Action.RETRY, breaker=True),
    "server": Row(Action.RETRY, breaker=True),
    "network": Row(Action.RETRY, breaker=True),
    "timeout": Row(Action.RETRY, breaker=True),
    "quota": Row(Action.TAKE_OUT, breaker=False),
    "authentication": Row(Action.TAKE_OUT, breaker=False),
    "permission": Row(Action.TAKE_OUT, breaker=False),
    "not_found": Row(Action.FAILOVER, breaker=False),
    "context_window": Row(Action.LARGER_WINDOW, breaker=False),
    "invalid_request": Row(Action.RAISE, breaker=False),
    "content_filter": Row(Action.RAISE, breaker=False),
    "configuration": Row(Action.RAISE, breaker=False),
    "stream": Row(Action.FAILOVER, breaker=True),
    "api_error": Row(Action.FAILOVER, breaker=True),
    "unknown": Row(Action.FAILOVER, breaker=True),
    # another target may take the feature, or give output that fits the schema
    "unsupported_feature": Row(Action.FAILOVER, breaker=False),
    "output_validation": Row(Action.FAILOVER, breaker=False),
}
"""``error_type`` -> the default decision. An error type not listed fails over."""


@attrs.frozen(slots=True)
class Decision:
    """The decision for one failed attempt.

    :param action: what to do.
    :param retry: whether the same target may be tried again first (its retry policy
        still decides how often, and the routed call's budget and deadline whether).
    :param take_out_for: seconds to take the target out (``inf``: until its config
        changes), else ``None``.
    :param breaker: whether the failure counts against the target's breaker.
    """

    action: Action
    retry: bool = False
    take_out_for: float | None = None
    breaker: bool = False


def decide(
    error: ProviderError,
    *,
    retry_after_cap: float,
    quota_cooldown: float,
    auth_cooldown: float,
    failover_on: frozenset[str] = frozenset(),
) -> Decision:
    """The decision for ``error`` under the router's settings.

    - rate limit, overload: the target's retry policy while ``retry_after`` is at most
      ``retry_after_cap``; past it, no sleep: the target is out for ``retry_after`` and
      the call fails over at once.
    - quota: out until ``retry_after`` (its reset) or ``quota_cooldown``; auth and
      permission: out for ``auth_cooldown`` (``inf``: until the config changes).
    - context window: only targets with a larger window.
    - bad request, content filter: raised, unless its type is in ``failover_on``.
    """
    row = TABLE.get(error.error_type, Row(Action.FAILOVER, breaker=True))
    action = row.action
    if action is Action.RETRY:
        hint = error.retry_after
        if hint is not None and hint > retry_after_cap:
            return Decision(Action.TAKE_OUT, take_out_for=hint, breaker=row.breaker)
        return Decision(Action.RETRY, retry=error.retryable, breaker=row.breaker)
    if action is Action.TAKE_OUT:
        if error.error_type == "quota":
            hint = error.retry_after
            seconds = hint if hint is not None and hint > 0 else quota_cooldown
        else:
            seconds = auth_cooldown
        return Decision(Action.TAKE_OUT, take_out_for=seconds, breaker=row.breaker)
    if action is Action.RAISE and error.error_type in failover_on:
        return Decision(Action.FAILOVER, breaker=row.breaker)
    return Decision(action, breaker=row.breaker)


FOREVER = math.inf
