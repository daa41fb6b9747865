"""The router (issue 15): decisions by typed error, config checks, strategies, breakers,
streams and budgets, over mock targets (fast, no I/O) and loopback fake servers."""

from __future__ import annotations

import asyncio
import math
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from routing import SLEPT, Clock, Events, mocks_of, registry_with, router_over, run

import jackfield
from jackfield.errors import (
    ConfigurationError,
    ContextWindowExceededError,
    ProviderError,
    RateLimitError,
    ServerError,
    StreamError,
)
from jackfield.events import TextDelta
from jackfield.plugins.mock import MockProvider, MockReply
from jackfield.router import TABLE, Action, Router
from jackfield.testing import ErrorReply, FakeLLMServer, Raw

# -- the decision table, row by row ----------------------------------------------------------

# error type -> (attempts on the first target, whether the call fails over to the second)
ROWS = {
    "rate_limit": (3, True),
    "overloaded": (3, True),
    "server": (3, True),
    "network": (3, True),
    "timeout": (3, True),
    "quota": (1, True),
    "authentication": (1, True),
    "permission": (1, True),
    "not_found": (1, True),
    "context_window": (1, True),
    "invalid_request": (1, False),
    "content_filter": (1, False),
    "configuration": (1, False),
    "stream": (1, True),
    "api_error": (1, True),
    "unknown": (1, True),
    "unsupported_feature": (1, True),
    "output_validation": (1, True),
}


def test_the_decision_table_covers_every_error_type() -> None:
    from jackfield.errors import ERROR_CLASSES_BY_TYPE

    assert set(TABLE) == set(ERROR_CLASSES_BY_TYPE) == set(ROWS)


@pytest.mark.parametrize("error_type", sorted(ROWS))
def test_every_row_of_the_decision_table(error_type: str) -> None:
    tries, fails_over = ROWS[error_type]
    a = {"target": "mock:a", "max_retries": 2, "context_window": 100}
    b = {"target": "mock:b", "context_window": 1000}
    router = router_over([a, b])
    first, second = mocks_of(router)
    first.script(*[MockReply(error=error_type)] * 3)
    second.script("from b")
    if fails_over:
        response = run(router.generate("hi"))
        assert response.content == "from b" and response.model == "b"
    else:
        with pytest.raises(ProviderError) as info:
            run(router.generate("hi"))
        assert info.value.error_type == error_type
        assert not second.requests
    assert len(first.requests) == tries


def test_bad_request_fails_over_when_configured() -> None:
    router = router_over(["mock:a", "mock:b"], failover_on=["content_filter"])
    first, _second = mocks_of(router)
    first.script(MockReply(error="content_filter"))
    assert run(router.generate("hi")).model == "b"


def test_a_short_retry_after_is_slept_on_the_same_target() -> None:
    SLEPT.clear()
    router = router_over([{"target": "mock:a", "max_retries": 2}, "mock:b"])
    first, second = mocks_of(router)
    first.script(MockReply(error="rate_limit", retry_after=1.5), "a again")
    assert run(router.generate("hi")).content == "a again"
    assert SLEPT == [1.5] and not second.requests


def test_a_retry_after_past_the_cap_fails_over_at_once_and_takes_the_target_out() -> None:
    SLEPT.clear()
    clock = Clock()
    router = router_over(
        [{"target": "mock:a", "max_retries": 2}, "mock:b"], clock=clock, retry_after_cap=5
    )
    first, _second = mocks_of(router)
    first.script(MockReply(error="rate_limit", retry_after=120))
    assert run(router.generate("hi")).model == "b"
    assert SLEPT == [] and len(first.requests) == 1
    assert run(router.generate("again")).model == "b"  # a is out: not asked
    assert len(first.requests) == 1
    status = run(router.status())
    assert status[0]["blocked_until"] == clock.now + 120
    assert status[0]["blocked_reason"] == "rate_limit"
    clock.now += 121
    assert run(router.generate("later")).model == "a"


def test_quota_takes_the_target_out_until_reset_or_cooldown() -> None:
    clock = Clock()
    router = router_over(["mock:a", "mock:b"], clock=clock, quota_cooldown=300)
    first, _ = mocks_of(router)
    first.script(MockReply(error="quota"))
    run(router.generate("hi"))
    assert run(router.status())[0]["blocked_until"] == clock.now + 300
    clock.now += 299
    assert run(router.generate("hi")).model == "b"
    clock.now += 2
    assert run(router.generate("hi")).model == "a"


def test_authentication_takes_the_target_out_until_the_config_changes() -> None:
    clock = Clock()
    router = router_over(["mock:a", "mock:b"], clock=clock)
    first, _ = mocks_of(router)
    first.script(MockReply(error="authentication"))
    run(router.generate("hi"))
    clock.now += 10**9
    assert run(router.generate("hi")).model == "b"
    status = run(router.status())[0]
    assert status["blocked_forever"] and status["available"] == "blocked"
    fresh = router_over(["mock:a", "mock:b"], clock=clock)  # a new config: a new state
    assert run(fresh.generate("hi")).model == "a"


def test_context_window_fails_over_only_to_larger_windows() -> None:
    router = router_over(
        [
            {"target": "mock:a", "context_window": 1000},
            {"target": "mock:small", "context_window": 500},
            {"target": "mock:unknown"},
            {"target": "mock:big", "context_window": 2000},
        ]
    )
    a, small, unknown, _big = mocks_of(router)
    a.script(MockReply(error="context_window"))
    assert run(router.generate("hi")).model == "big"
    assert not small.requests and not unknown.requests


def test_targets_too_small_for_the_prompt_are_skipped_before_any_io() -> None:
    router = router_over(
        [
            {"target": "mock:tiny", "context_window": 10},
            {"target": "mock:b", "context_window": 10**6},
        ]
    )
    tiny, _ = mocks_of(router)
    long = "word " * 200
    assert run(router.generate(long)).model == "b"
    assert not tiny.requests
    only_tiny = router_over([{"target": "mock:tiny", "context_window": 10}])
    with pytest.raises(ContextWindowExceededError, match="context window"):
        run(only_tiny.generate(long))
    assert not mocks_of(only_tiny)[0].requests


# -- one budget, one deadline -----------------------------------------------------------------


def test_retries_and_failovers_share_one_attempt_budget() -> None:
    router = router_over(
        [{"target": "mock:a", "max_retries": 5}, {"target": "mock:b", "max_retries": 5}],
        max_attempts=4,
    )
    a, b = mocks_of(router)
    a.script(*[MockReply(error="server")] * 10)
    b.script(*[MockReply(error="server")] * 10)
    with pytest.raises(ServerError) as info:
        run(router.generate("hi"))
    assert info.value.attempts == 4
    assert len(a.requests) + len(b.requests) == 4
    assert "attempt budget" in "".join(info.value.__notes__)


def test_one_deadline_bounds_the_whole_routed_call() -> None:
    router = router_over(
        [{"target": "mock:a", "extra": {"latency": 5}}, "mock:b"], retry_deadline=0.2
    )

    async def call() -> None:
        with pytest.raises(jackfield.ProviderTimeoutError, match="deadline"):
            await router.generate("hi")

    loop_started = asyncio.run(asyncio.wait_for(_timed(call()), 5))
    assert loop_started < 2


async def _timed(coro: Any) -> float:
    import time

    started = time.monotonic()
    await coro
    return time.monotonic() - started


def test_no_available_target_is_a_retryable_error_naming_each() -> None:
    clock = Clock()
    router = router_over(["mock:a", "mock:b"], clock=clock)
    a, b = mocks_of(router)
    a.script(MockReply(error="quota"))
    b.script(MockReply(error="authentication"))
    with pytest.raises(ProviderError):
        run(router.generate("hi"))
    with pytest.raises(ServerError, match="no target is available") as info:
        run(router.generate("hi"))
    assert info.value.retryable and "mock:a: out after quota" in str(info.value)


# -- configuration, checked at construction ---------------------------------------------------


@pytest.mark.parametrize(
    ("options", "field", "text"),
    [
        ({"targets": []}, "targets", "at least one target"),
        ({}, "targets", "at least one target"),
        ({"targets": "mock"}, "targets", "must be a list"),
        ({"targets": ["nope"]}, "targets[0]", "unknown target 'nope'"),
        ({"targets": ["mock", "mokc:x"]}, "targets[1]", "did you mean 'mock'"),
        ({"targets": ["mock", "mock:b"], "strategy": "weighted"}, "targets[0].weight", "weight"),
        (
            {"targets": [{"target": "mock", "weight": 1}, "mock:b"], "strategy": "weighted"},
            "targets[1].weight",
            "weight",
        ),
        ({"targets": [{"target": "mock", "weight": -1}]}, "targets[0].weight", "> 0"),
        (
            {"targets": [{"target": "mock", "context_window": 0}]},
            "targets[0].context_window",
            ">= 1",
        ),
        ({"targets": [{"target": "mock", "temprature": 1}]}, "targets[0].temprature", "unknown"),
        ({"targets": [{"weight": 1}]}, "targets[0].target", "provider name"),
        ({"targets": ["mock", "mock"]}, "targets[1]", "repeats"),
        ({"targets": ["mock"], "strategy": "fastest"}, "strategy", "known strategies"),
        ({"targets": ["mock"], "failover_on": ["typo"]}, "failover_on", "unknown error type"),
        ({"targets": ["mock"], "max_attempts": 0}, "max_attempts", ">= 1"),
        ({"targets": ["mock"], "breaker_failures": 0}, "breaker_failures", ">= 1"),
        ({"targets": ["mock"], "retry_after_cap": -1}, "retry_after_cap", ">= 0"),
        ({"targets": ["mock"], "state": "postgres://x"}, "state", "redis://"),
        ({"targets": ["mock"], "stratgy": "weighted"}, "stratgy", "unknown config field"),
    ],
)
def test_every_config_error_names_its_field(options: dict[str, Any], field: str, text: str) -> None:
    registry = registry_with()
    with pytest.raises(ConfigurationError, match=text) as info:
        registry.create_provider("router", **options)
    assert info.value.field == field


def test_a_cycle_of_routers_is_refused_naming_the_chain(tmp_path: Path) -> None:
    registry = registry_with(
        tmp_path,
        """
[profiles.smart]
provider = "router"
targets = ["mock", "backup"]

[profiles.backup]
provider = "router"
targets = ["mock:b", "smart"]
""",
    )
    with pytest.raises(
        ConfigurationError, match="cycle of routers: backup -> smart -> backup"
    ) as info:
        registry.create_provider("smart")
    assert info.value.field == "targets[1]"


def test_a_toml_profile_defines_a_router_and_a_nested_one(tmp_path: Path) -> None:
    registry = registry_with(
        tmp_path,
        """
[profiles.smart]
provider = "router"
strategy = "fallback"
targets = ["mock:a", {target = "inner", weight = 2}]

[profiles.inner]
provider = "router"
strategy = "weighted"
targets = [{target = "mock:x", weight = 1}]
""",
    )
    router = registry.create_provider("smart")
    assert isinstance(router, Router) and router.target_keys == ("mock:a", "inner")
    assert run(router.generate("hi", tier="hosted_large")).model == "mock-large"
    assert registry.create_provider("smart") is router  # cached like any provider


def test_tiers_map_through_each_targets_own_table() -> None:
    class Other(MockProvider):
        name = "other"
        tier_models = {jackfield.ModelTier.HOSTED_LARGE: "other-large"}

    registry = registry_with()
    registry.register_provider(Other)
    router = router_over(["mock", "other"], registry=registry)
    assert router.models_for(router.model_for_tier("hosted_large")) == {
        "mock": "mock-large",
        "other": "other-large",
    }
    mock, _other = mocks_of(router)
    mock.script(MockReply(error="server"), MockReply(error="server"), MockReply(error="server"))
    response = run(router.generate("hi", tier="hosted_large"))
    assert response.model == "other-large" and response.provider == "other"


# -- breakers ---------------------------------------------------------------------------------


def test_hook_jackfield_router_event() -> None:
    events = Events()
    clock = Clock()
    registry = registry_with(None, "", events)
    router = router_over(
        [{"target": "mock:a", "max_retries": 0}, "mock:b"],
        registry=registry,
        clock=clock,
        breaker_failures=2,
        breaker_window=60,
        breaker_cooldown=30,
    )
    a, _ = mocks_of(router)
    a.script(MockReply(error="server"), MockReply(error="server"))
    run(router.generate("1"))
    run(router.generate("2"))
    assert events.kinds() == [
        ("failover", "mock:a", "mock:b"),
        ("failover", "mock:a", "mock:b"),
        ("breaker", "mock:a", "open"),
    ] or events.kinds() == [
        ("failover", "mock:a", "mock:b"),
        ("breaker", "mock:a", "open"),
        ("failover", "mock:a", "mock:b"),
    ]
    assert isinstance(events.seen[0].error, ServerError)
    events.seen.clear()
    assert run(router.generate("3")).model == "b"  # open: a is not asked
    assert len(a.requests) == 2 and events.seen == []
    clock.now += 31  # the cooldown is over: one probe
    assert run(router.generate("4")).model == "a"
    assert events.kinds() == [("breaker", "mock:a", "half_open"), ("breaker", "mock:a", "closed")]
    assert events.seen[1].previous == "half_open"


def test_a_failed_probe_opens_the_breaker_again() -> None:
    clock = Clock()
    router = router_over(
        [{"target": "mock:a", "max_retries": 0}, "mock:b"],
        clock=clock,
        breaker_failures=1,
        breaker_cooldown=10,
    )
    a, _ = mocks_of(router)
    a.script(MockReply(error="server"), MockReply(error="server"))
    run(router.generate("1"))
    assert run(router.status())[0]["breaker"] == "open"
    clock.now += 11
    assert run(router.generate("probe")).model == "b"  # a probed, failed, b answered
    status = run(router.status())[0]
    assert status["breaker"] == "open" and status["open_until"] == clock.now + 10
    assert len(a.requests) == 2


def test_failures_outside_the_window_do_not_open_the_breaker() -> None:
    clock = Clock()
    router = router_over(
        [{"target": "mock:a", "max_retries": 0}, "mock:b"],
        clock=clock,
        breaker_failures=2,
        breaker_window=5,
    )
    a, _ = mocks_of(router)
    a.script(MockReply(error="server"), "ok", MockReply(error="server"))
    run(router.generate("1"))
    clock.now += 6
    run(router.generate("2"))
    run(router.generate("3"))
    assert run(router.status())[0]["breaker"] == "closed"


# -- streams ----------------------------------------------------------------------------------


def test_a_stream_fails_over_before_its_first_event() -> None:
    router = router_over([{"target": "mock:a", "max_retries": 0}, "mock:b"])
    a, b = mocks_of(router)
    a.script(MockReply(error="server"))
    b.script("one two three")

    async def collect() -> list[str]:
        return [e.text async for e in router.stream("hi") if isinstance(e, TextDelta)]

    assert "".join(run(collect())) == "one two three"


def test_a_stream_that_fails_after_text_raises_and_never_appends_a_second_answer() -> None:
    router = router_over([{"target": "mock:a", "max_retries": 0}, "mock:b"])
    a, b = mocks_of(router)
    a.script(MockReply(text="alpha beta gamma delta", error="server", fail_after_events=4))
    pieces: list[str] = []

    async def collect() -> None:
        async for event in router.stream("hi"):
            if isinstance(event, TextDelta):
                pieces.append(event.text)

    with pytest.raises(ServerError):
        run(collect())
    assert "".join(pieces) == "alpha beta "
    assert not b.requests


# -- strategies -------------------------------------------------------------------------------


def test_weighted_distributes_as_configured_over_1000_calls() -> None:
    import random

    router = router_over(
        [{"target": "mock:a", "weight": 1}, {"target": "mock:b", "weight": 3}],
        strategy="weighted",
        rng=random.Random(7),
    )

    async def calls() -> Counter[str]:
        got: Counter[str] = Counter()
        for _ in range(1000):
            got[(await router.generate("hi")).model] += 1
        return got

    got = run(calls())
    assert abs(got["b"] / 1000 - 0.75) < 0.04, got


def test_least_busy_prefers_the_idle_target() -> None:
    router = router_over(["mock:a", "mock:b"], strategy="least-busy")

    async def scenario() -> tuple[list[str], list[str]]:
        release = asyncio.Event()
        holding = asyncio.Event()

        async def hold() -> None:
            async with router.stream("hold") as stream:
                async for _ in stream:
                    holding.set()
                    await release.wait()

        slow = asyncio.ensure_future(hold())
        await holding.wait()
        busy = [row["target"] for row in await router.status() if row["in_flight"]]
        models = [(await router.generate("quick")).model for _ in range(20)]
        release.set()
        await slow
        return busy, models

    busy, models = run(scenario())
    assert len(busy) == 1
    idle = "b" if busy == ["mock:a"] else "a"
    assert models == [idle] * 20


def test_latency_prefers_the_faster_target() -> None:
    router = router_over(
        [{"target": "mock:slow", "extra": {"latency": 0.03}}, "mock:fast"], strategy="latency"
    )

    async def calls() -> Counter[str]:
        got: Counter[str] = Counter()
        for _ in range(30):
            got[(await router.generate("hi")).model] += 1
        return got

    got = run(calls())
    assert got["fast"] >= 28, got


# -- budgets from rate-limit headers (loopback fake servers) ------------------------------------


def test_rate_limit_headers_steer_away_before_a_429() -> None:
    async def scenario() -> list[str]:
        async with FakeLLMServer() as one, FakeLLMServer() as two:
            registry = registry_with()
            router = router_over(
                [
                    {"target": "openai-compat", "base_url": one.openai_base_url, "model": "m1"},
                    {"target": "openai-compat", "base_url": two.openai_base_url, "model": "m2"},
                ],
                registry=registry,
            )
            spent = {"x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "30s"}
            one.enqueue(Raw(status=200, body=_chat_body("last one", "m1"), headers=spent))
            try:
                first = await router.generate("hi")
                second = await router.generate("hi")
                status = await router.status()
            finally:
                await router.aclose()
            assert status[0]["remaining_requests"] == 0
            return [first.content, second.model, str(one.request_count)]

    assert run(scenario()) == ["last one", "m2", "1"]


def _chat_body(text: str, model: str) -> bytes:
    import json

    return json.dumps(
        {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": 1,
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text},
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3},
        }
    ).encode()


def test_anthropic_style_budget_headers_are_read() -> None:
    from jackfield.router._budget import budget_from_headers, parse_duration

    budget = budget_from_headers(
        {
            "anthropic-ratelimit-requests-remaining": "0",
            "anthropic-ratelimit-tokens-remaining": "5000",
            "anthropic-ratelimit-requests-reset": "2030-01-01T00:00:00Z",
        },
        now=0.0,
    )
    assert budget is not None and budget.remaining_requests == 0
    assert budget.remaining_tokens == 5000 and budget.reset == 1893456000.0
    assert parse_duration("6m0s") == 360 and parse_duration("250ms") == 0.25
    assert parse_duration("soon") is None
    assert budget_from_headers({"content-type": "x"}, now=0.0) is None


def test_a_429_from_a_real_wire_with_a_long_retry_after_takes_the_target_out() -> None:
    async def scenario() -> tuple[str, int, float | None]:
        async with FakeLLMServer() as one, FakeLLMServer() as two:
            router = router_over(
                [
                    {"target": "openai-compat", "base_url": one.openai_base_url, "model": "m1"},
                    {"target": "openai-compat", "base_url": two.openai_base_url, "model": "m2"},
                ],
            )
            body = {"error": {"message": "slow down", "type": "rate_limit_error"}}
            one.enqueue(ErrorReply(429, body, {"retry-after": "600"}))
            try:
                answer = await router.generate("hi")
                await router.generate("hi")
                status = await router.status()
            finally:
                await router.aclose()
            return answer.model, one.request_count, status[0]["blocked_until"]

    model, count, until = run(scenario())
    assert model == "m2" and count == 1 and until is not None and not math.isinf(until)


def test_an_error_type_outside_the_table_fails_over() -> None:
    assert TABLE["server"].action is Action.RETRY
    router = router_over([{"target": "mock:a", "max_retries": 0}, "mock:b"])
    a, _ = mocks_of(router)
    a.script(MockReply(error=RateLimitError("x", retryable=False)))
    assert run(router.generate("hi")).model == "b"


def test_a_mid_stream_failure_counts_against_the_breaker() -> None:
    router = router_over([{"target": "mock:a", "max_retries": 0}, "mock:b"], breaker_failures=1)
    a, _ = mocks_of(router)
    a.script(MockReply(text="a b c d", error="stream", fail_after_events=3))

    async def drain() -> None:
        async for _ in router.stream("hi"):
            pass

    with pytest.raises(StreamError):
        run(drain())
    assert run(router.status())[0]["breaker"] == "open"


def test_a_call_that_began_before_the_breaker_opened_does_not_close_it() -> None:
    from jackfield.router import BreakerSettings, TargetState
    from jackfield.router._breaker import on_failure, on_success

    state = TargetState()
    settings = BreakerSettings(failures=1, cooldown=30)
    assert on_failure(state, 100.0, settings) == "closed" and state.breaker == "open"
    assert on_success(state) is None  # a straggler's success: still open
    assert state.breaker == "open"
