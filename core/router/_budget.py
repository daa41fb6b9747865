"""Rate-limit headers: what a provider says is left of its budget, and when it resets.

OpenAI (and Azure, OpenRouter, many compatible servers) send
``x-ratelimit-remaining-requests`` / ``-tokens`` and ``x-ratelimit-reset-requests`` /
``-tokens`` as durations (``1s``, ``6m0s``, ``250ms``); Anthropic sends
``anthropic-ratelimit-requests-remaining`` / ``-tokens-remaining`` and ``-reset`` as an
RFC 3339 time.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import attrs

__all__ = ["BUDGET_HEADERS", "Budget", "budget_from_headers", "parse_duration"]

DEFAULT_RESET = 60.0
"""Seconds a budget is believed when the headers give no reset time."""

BUDGET_HEADERS = (
    "x-ratelimit-remaining-requests",
    "x-ratelimit-remaining-tokens",
    "anthropic-ratelimit-requests-remaining",
    "anthropic-ratelimit-tokens-remaining",
)
"""The headers that state a budget: without any of them, :func:`budget_from_headers`
gives ``None``."""

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")


@attrs.frozen(slots=True)
class Budget:
    """What is left (``None``: not said) and the wall-clock time it resets."""

    remaining_requests: int | None
    remaining_tokens: int | None
    reset: float


def parse_duration(text: str) -> float | None:
    """``"6m0s"`` -> 360.0, ``"250ms"`` -> 0.25, ``"2"`` -> 2.0; ``None`` if unreadable."""
    text = text.strip()
    try:
        return float(text)
    except ValueError:
        pass
    total, end = 0.0, 0
    for match in _DURATION.finditer(text):
        if match.start() != end:
            return None
        total += float(match.group(1)) * _UNITS[match.group(2)]
        end = match.end()
    return total if end and end == len(text) else None


def _int(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(float(value))
    except ValueError:
        return None


def _time(value: str | None, now: float) -> float | None:
    if value is None:
        return None
    seconds = parse_duration(value)
    if seconds is not None:
        return now + seconds
    from datetime import datetime

    try:
        return datetime.fromisoformat(value.strip().replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def budget_from_headers(headers: Mapping[str, str], now: float) -> Budget | None:
    """The budget the headers state, or ``None`` if they state none."""
    get = headers.get
    requests = get("x-ratelimit-remaining-requests")
    if requests is not None or get("x-ratelimit-remaining-tokens") is not None:
        tokens = get("x-ratelimit-remaining-tokens")
        resets = (get("x-ratelimit-reset-requests"), get("x-ratelimit-reset-tokens"))
    else:
        requests = get("anthropic-ratelimit-requests-remaining")
        tokens = get("anthropic-ratelimit-tokens-remaining")
        if requests is None and tokens is None:
            return None
        resets = (
            get("anthropic-ratelimit-requests-reset"),
            get("anthropic-ratelimit-tokens-reset"),
        )
    times = [t for t in (_time(r, now) for r in resets) if t is not None]
    return Budget(
        remaining_requests=_int(requests),
        remaining_tokens=_int(tokens),
        reset=max(times) if times else now + DEFAULT_RESET,
    )
