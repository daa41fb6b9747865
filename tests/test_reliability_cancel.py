"""Cancellation: streams stopped at random points leave nothing behind.

1,000 streams per HTTP-speaking provider are stopped at random points (an early
``break`` inside ``async with``, a ``break`` with the stream just dropped, a task
cancelled while events arrive, while waiting for the response headers, while waiting to
retry, and a cancelled ``generate``). Afterwards the fake server has no open connection
-- before the provider is closed, because a connection abandoned mid-answer can never
be reused -- no task is pending but the test's own, and neither a ``ResourceWarning``
("Unclosed client session", unclosed transports, ...) nor an event-loop error was
reported.
"""

from __future__ import annotations

import asyncio
import gc
import os
import random
import warnings
from typing import Any

import pytest
from test_reliability_providers import Spec, provider_params

from jackfield.events import StreamEvent
from jackfield.retry import RetryPolicy
from jackfield.testing._fake_server import (
    Delay,
    FakeLLMServer,
    RecordedRequest,
    Reply,
    Reset,
    ScriptItem,
    Stall,
)

STREAMS = 1000
CONCURRENCY = 100
MODES = (
    "break",  # break after j events inside `async with stream`
    "break_and_drop",  # break after j events, no `async with`: the stream is dropped
    "cancel_streaming",  # the task is cancelled while events arrive
    "cancel_stalled",  # the task is cancelled while the server stalls mid-stream
    "cancel_before_headers",  # the task is cancelled before the response starts
    "cancel_in_retry",  # the task is cancelled during the request or its retry wait
    "cancel_generate",  # a non-streamed call is cancelled in flight
)
# A long, slow answer: 200 events at >= 2 ms each, so a stop within the first 60 ms
# (the cancel timer starts before the request does) always lands mid-answer.
LONG = Reply("ab" * 200, chunk_size=2, event_delay=0.002)


def _seed() -> int:
    value = os.environ.get("JACKFIELD_CANCEL_SEED")
    return int(value) if value else random.SystemRandom().randrange(2**32)


def _answer(rec: RecordedRequest) -> ScriptItem:
    mode = rec.last_user_text.rsplit(" ", 1)[-1]
    if mode == "cancel_stalled":
        return Stall(after_events=3, reply=LONG)
    if mode in ("cancel_before_headers", "cancel_generate"):
        return Delay(5.0, then=LONG)
    if mode == "cancel_in_retry":
        return Reset()  # a retryable NetworkError, then a real backoff wait
    return LONG


async def _run_one(provider: Any, i: int, mode: str, rng: random.Random) -> None:
    prompt = f"c{i} {mode}"
    if mode in ("break", "break_and_drop"):
        stop_after = rng.randrange(1, 30)
        seen: list[StreamEvent] = []
        if mode == "break":
            async with provider.stream(prompt) as stream:
                async for event in stream:
                    seen.append(event)
                    if len(seen) == stop_after:
                        break
        else:
            stream = provider.stream(prompt)
            async for event in stream:
                seen.append(event)
                if len(seen) == stop_after:
                    break
            del stream  # never closed explicitly: its finaliser must close the connection
        assert len(seen) == stop_after
        return

    async def consume() -> None:
        if mode == "cancel_generate":
            await provider.generate(prompt)
            return
        async for _ in provider.stream(prompt):
            pass

    task = asyncio.create_task(consume())
    await asyncio.sleep(rng.uniform(0.0, 0.06))
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert task.cancelled()


async def _cancel_many(spec: Spec, seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    loop = asyncio.get_running_loop()
    loop_errors: list[dict[str, Any]] = []
    previous_handler = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: loop_errors.append(context))
    try:
        async with FakeLLMServer(handler=_answer) as server:
            provider = spec.make(server, retry_policy=RetryPolicy(max_retries=2))
            semaphore = asyncio.Semaphore(CONCURRENCY)
            plan = [(i, rng.choice(MODES), random.Random(rng.random())) for i in range(STREAMS)]

            async def bounded(i: int, mode: str, r: random.Random) -> None:
                async with semaphore:
                    await _run_one(provider, i, mode, r)

            await asyncio.gather(*(bounded(*p) for p in plan))
            gc.collect()  # finalise dropped streams now (CPython already has, by refcount)
            # Nothing was read to its end, so no connection is reusable: all must be
            # closed already, before the provider itself is closed.
            closed_before_aclose = await server.wait_for_connections(0, timeout=10.0)
            open_before_aclose = server.open_connections
            await provider.aclose()
            idle = await server.wait_idle(timeout=10.0)
            requests = server.request_count
        await asyncio.sleep(0)  # let done-callbacks of finished tasks run
        pending = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    finally:
        loop.set_exception_handler(previous_handler)
    return {
        "closed": closed_before_aclose,
        "open": open_before_aclose,
        "idle": idle,
        "pending": pending,
        "loop_errors": loop_errors,
        "requests": requests,
        "modes": {m for _, m, _ in plan},
    }


@pytest.mark.timeout(300)
@pytest.mark.parametrize("spec", provider_params())
async def test_1000_streams_cancelled_at_random_points_leave_nothing_behind(spec: Spec) -> None:
    seed = _seed()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            run = await _cancel_many(spec, seed)
            gc.collect()
        assert run["modes"] == set(MODES)
        assert run["closed"], f"{run['open']} connections left open by cancelled streams"
        assert run["idle"], "server handlers still running"
        assert run["pending"] == [], f"tasks left pending: {run['pending']}"
        assert run["loop_errors"] == [], run["loop_errors"]
        resource = [w for w in caught if issubclass(w.category, ResourceWarning)]
        assert resource == [], [str(w.message) for w in resource]
        assert run["requests"] > 0
    except BaseException as exc:
        exc.add_note(f"cancel seed={seed}: rerun with JACKFIELD_CANCEL_SEED={seed}")
        raise
