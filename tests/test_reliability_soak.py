"""Soak: many concurrent requests through each HTTP-speaking provider, with random faults.

Every request ends, within its deadline, in a success with exactly the server's text or a
typed :class:`ProviderError`; attempts never exceed the retry policy (and the error
says how many there were); a stream never yields text twice; and once the provider is
closed the fake server sees no open connection.

The CI size is 400 requests at concurrency 50 per provider. The full size (10,000 at
concurrency 200 per provider) is::

    PLUGBOARD_SOAK_FULL=1 python -m pytest tests/test_reliability_soak.py

``PLUGBOARD_SOAK_SEED=<n>`` replays a run: the fault of each attempt is a function of the
seed, the request and the attempt number, not of scheduling. A failure names its seed.
"""

from __future__ import annotations

import asyncio
import collections
import os
import random
import time
from typing import Any

import pytest
from test_reliability_providers import Spec, provider_params

from plugboard.errors import ProviderError, ProviderTimeoutError
from plugboard.events import StreamEnd, TextDelta
from plugboard.retry import RetryPolicy
from plugboard.testing.fake_server import (
    FakeLLMServer,
    RecordedRequest,
    Reply,
    Reset,
    ScriptItem,
    Stall,
    Truncate,
)

FULL = os.environ.get("PLUGBOARD_SOAK_FULL", "") not in ("", "0")
REQUESTS, CONCURRENCY = (10_000, 200) if FULL else (400, 50)
FAULT_RATE = 0.10
MAX_RETRIES = 2
# The provider's timeout: what a Stall costs per attempt. Generous, because the fake
# server and the clients share one event loop: at full size (and with the SDKs' CPU
# cost per chunk) the loop is saturated and a clean answer can take seconds.
TIMEOUT = 5.0 if FULL else 2.0
# A request may take at most every attempt's timeout; anything beyond that plus a wide
# margin for a busy machine is a hang.
DEADLINE = (MAX_RETRIES + 1) * TIMEOUT + 15.0
FAULTS = ("rate_limit", "server_error", "overloaded", "reset", "timeout", "truncate", "in_stream")


def _seed() -> int:
    value = os.environ.get("PLUGBOARD_SOAK_SEED")
    return int(value) if value else random.SystemRandom().randrange(2**32)


def _text_for(rid: str) -> str:
    return f"{rid} says hello " + "lorem ipsum dolor " * 3


class FaultyServer:
    """Answers each attempt of each request with a clean reply or, 10% of the time, a
    fault chosen from the seed, the request id and the attempt number."""

    def __init__(self, spec: Spec, seed: int) -> None:
        self.spec = spec
        self.seed = seed
        self.served: dict[str, list[str]] = collections.defaultdict(list)

    def __call__(self, rec: RecordedRequest) -> ScriptItem:
        rid = rec.last_user_text
        kinds = self.served[rid]
        rng = random.Random(f"{self.seed}:{rid}:{len(kinds)}")
        reply = Reply(_text_for(rid), chunk_size=7)
        kind = rng.choice(FAULTS) if rng.random() < FAULT_RATE else "ok"
        kinds.append(kind)
        spec = self.spec
        cut = rng.randrange(4)  # events before a cut: always before the text is complete
        items: dict[str, ScriptItem] = {
            "ok": reply,
            "rate_limit": spec.rate_limited(retry_after="0"),
            "server_error": spec.server_error(),
            "overloaded": spec.overloaded(),
            "reset": Reset(),
            "timeout": Stall(after_events=cut, reply=reply),
            "truncate": Truncate(after_events=cut, reply=reply, abort=rng.random() < 0.5),
            "in_stream": spec.in_stream_error(cut, reply),
        }
        return items[kind]


async def _one(provider: Any, rid: str, streamed: bool) -> tuple[str, Any, str]:
    """Run one request; returns (outcome, value, streamed text)."""
    parts: list[str] = []
    try:
        async with asyncio.timeout(DEADLINE):
            if streamed:
                final = None
                async with provider.stream(rid) as stream:
                    async for event in stream:
                        if isinstance(event, TextDelta):
                            parts.append(event.text)
                        elif isinstance(event, StreamEnd):
                            final = event.response
                return "ok", final, "".join(parts)
            return "ok", await provider.generate(rid), ""
    except ProviderError as exc:
        return "error", exc, "".join(parts)
    except TimeoutError as exc:
        return "hang", exc, "".join(parts)
    except Exception as exc:
        return "untyped", exc, "".join(parts)


async def _soak(spec: Spec, seed: int) -> dict[str, Any]:
    faults = FaultyServer(spec, seed)
    async with FakeLLMServer(handler=faults) as server:
        sleep_calls: list[float] = []

        async def no_wait(seconds: float) -> None:
            """The retry policy's sleep: records the wait, never waits."""
            sleep_calls.append(seconds)

        provider = spec.make(
            server,
            timeout=TIMEOUT,
            retry_policy=RetryPolicy(max_retries=MAX_RETRIES, sleep=no_wait),
        )
        rng = random.Random(seed)
        plan = [(f"req-{i:05d}", rng.random() < 0.5) for i in range(REQUESTS)]
        semaphore = asyncio.Semaphore(CONCURRENCY)
        peak_connections = 0

        async def bounded(rid: str, streamed: bool) -> tuple[str, Any, str]:
            nonlocal peak_connections
            async with semaphore:
                peak_connections = max(peak_connections, server.open_connections)
                return await _one(provider, rid, streamed)

        started = time.perf_counter()
        try:
            results = await asyncio.gather(*(bounded(rid, s) for rid, s in plan))
        finally:
            await provider.aclose()
        elapsed = time.perf_counter() - started
        closed = await server.wait_for_connections(0, timeout=10.0)
        idle = await server.wait_idle(timeout=10.0)
        return {
            "plan": plan,
            "results": results,
            "served": faults.served,
            "sleeps": sleep_calls,
            "elapsed": elapsed,
            "closed": closed,
            "idle": idle,
            "open": server.open_connections,
            "peak": peak_connections,
        }


def _check(run: dict[str, Any]) -> collections.Counter[str]:
    outcomes: collections.Counter[str] = collections.Counter()
    attempts_allowed = MAX_RETRIES + 1
    for (rid, streamed), (outcome, value, text) in zip(run["plan"], run["results"], strict=True):
        served = run["served"][rid]
        expected = _text_for(rid)
        where = f"{rid} ({'stream' if streamed else 'generate'}, served {served})"
        assert outcome in ("ok", "error"), f"{where}: {outcome} {value!r}"
        assert 1 <= len(served) <= attempts_allowed, f"{where}: too many attempts"
        if outcome == "ok":
            outcomes["ok"] += 1
            # Success exactly when the last attempt was answered cleanly.
            assert served[-1] == "ok", f"{where}: succeeded on a fault"
            assert value.content == expected, f"{where}: content {value.content!r}"
            if streamed:
                assert text == expected, f"{where}: streamed {text!r}"
        else:
            outcomes[type(value).__name__] += 1
            if served[-1] == "ok":
                # A clean answer may fail only by the client's own clock running out on
                # a saturated loop: a typed, retryable timeout, counted below.
                assert isinstance(value, ProviderTimeoutError), f"{where}: {value!r}"
                outcomes["timeouts on clean answers"] += 1
            # An attempt that timed out before the server read it is not in `served`.
            assert len(served) <= value.attempts <= attempts_allowed, (
                f"{where}: attempts={value.attempts}"
            )
            assert value.provider, f"{where}: error without provider: {value!r}"
            # Output already shown is never shown again: at most the text, once.
            assert expected.startswith(text), f"{where}: streamed {text!r}"
    retries = sum(len(kinds) - 1 for kinds in run["served"].values())
    # Every retry waits, through the policy (attempts lost before reaching the server
    # under load retry too, hence >=).
    assert len(run["sleeps"]) >= retries, "a retry happened without the policy's wait"
    assert all(0 < s <= 60 for s in run["sleeps"])
    assert run["closed"], f"{run['open']} connections still open after aclose()"
    assert run["idle"], "server handlers still running"
    # Load timeouts are tolerated, not expected: many would mean a real hang or stall.
    assert outcomes["timeouts on clean answers"] <= len(run["plan"]) // 50, dict(outcomes)
    return outcomes


@pytest.mark.timeout(1800 if FULL else 300)
@pytest.mark.parametrize("spec", provider_params())
async def test_soak_every_request_ends_typed_without_duplicates_or_leaks(spec: Spec) -> None:
    seed = _seed()
    try:
        run = await _soak(spec, seed)
        outcomes = _check(run)
    except BaseException as exc:
        exc.add_note(f"soak seed={seed}: rerun with PLUGBOARD_SOAK_SEED={seed}")
        raise
    faults = sum(kind != "ok" for kinds in run["served"].values() for kind in kinds)
    assert faults > 0, "the soak injected no fault"
    print(
        f"\n{spec.name}: {REQUESTS} requests at concurrency {CONCURRENCY} in "
        f"{run['elapsed']:.1f}s, {faults} faults, peak {run['peak']} connections, "
        f"seed {seed}: {dict(outcomes)}"
    )
