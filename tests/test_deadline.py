"""The per-call deadline (``jackfield.provider._deadline``): never early, late by a bound."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from jackfield.errors import ProviderTimeoutError
from jackfield.provider._deadline import GRAIN, LOOKS, Deadline, idle_bounded

SECONDS = 0.4
SLACK = 0.15  # a loaded machine's scheduling delay


async def _events(gaps: list[float]) -> AsyncIterator[int]:
    for i, gap in enumerate(gaps):
        await asyncio.sleep(gap)
        yield i


async def _time_out(gaps: list[float]) -> tuple[list[int], float]:
    """The events received before the timeout, and how long the hung wait lasted."""
    got: list[int] = []
    began = time.monotonic()

    async def consume() -> None:
        nonlocal began
        async for event in idle_bounded(_events(gaps), SECONDS, max_connections=1):
            got.append(event)
            began = time.monotonic()

    with pytest.raises(ProviderTimeoutError, match="the next event did not arrive"):
        await consume()
    return got, time.monotonic() - began


async def test_a_later_wait_times_out_late_by_at_most_an_eighth() -> None:
    got, waited = await asyncio.wait_for(_time_out([0.0, 0.01, 0.01, 30.0]), 5)
    assert got == [0, 1, 2]
    assert SECONDS <= waited <= SECONDS + SECONDS / LOOKS + GRAIN + SLACK, waited


async def test_the_first_wait_times_out_on_time() -> None:
    got, waited = await asyncio.wait_for(_time_out([30.0]), 5)
    assert got == []
    assert SECONDS <= waited <= SECONDS + GRAIN + SLACK, waited


async def test_waits_just_under_the_deadline_are_never_cut() -> None:
    # each gap is 80% of the deadline: a deadline dated from an earlier wait would cut one
    gaps = [SECONDS * 0.8] * 5
    got = [e async for e in idle_bounded(_events(gaps), SECONDS, max_connections=1)]
    assert got == [0, 1, 2, 3, 4]


async def test_the_callers_own_time_between_events_is_not_counted() -> None:
    got = []
    async for event in idle_bounded(_events([0.0, 0.0, 0.0]), SECONDS, max_connections=1):
        got.append(event)
        await asyncio.sleep(SECONDS * 1.5)  # the caller's work, not a wait
    assert got == [0, 1, 2]


async def test_a_short_deadline_is_looked_at_often_beside_a_long_one() -> None:
    # a long-deadline stream arms the one timer rarely; a short one must re-arm it sooner
    async def long_stream() -> None:
        async for _ in idle_bounded(_events([0.0, 0.0, 30.0]), 600, max_connections=1):
            pass

    other = asyncio.create_task(long_stream())
    await asyncio.sleep(0.05)
    try:
        got, waited = await asyncio.wait_for(_time_out([0.0, 0.01, 30.0]), 5)
        assert got == [0, 1]
        assert waited <= SECONDS + SECONDS / LOOKS + GRAIN + SLACK, waited
    finally:
        other.cancel()
        with pytest.raises(asyncio.CancelledError):
            await other


async def test_a_whole_call_deadline_cancels_what_runs_inside() -> None:
    began = time.monotonic()
    with pytest.raises(ProviderTimeoutError, match="a complete answer did not arrive"):
        async with Deadline(SECONDS, what="a complete answer", max_connections=1):
            await asyncio.sleep(30)
    assert time.monotonic() - began <= SECONDS + GRAIN + SLACK
