"""The router's common path (issue 15, its cost per call): the plan it keeps per target
and route, the state it still reads on every call, and the retry layer it does not
stack around a target's one attempt."""

from __future__ import annotations

from typing import Any

import pytest
from routing import Clock, Events, mocks_of, registry_with, router_over, run

import jackfield
from jackfield.errors import ProviderError, ServerError, UnsupportedFeatureError
from jackfield.plugins.mock import MockProvider, MockReply
from jackfield.retry import RetryPolicy
from jackfield.router import Router
from jackfield.router._budget import BUDGET_HEADERS, budget_from_headers
from jackfield.router._state import MemoryState
from jackfield.schema import output_schema
from jackfield.types import OutputMode

# -- the plan is kept; the state is read on every call ------------------------------------


def test_a_breaker_that_opens_after_the_plan_is_kept_is_seen_by_the_next_call() -> None:
    clock = Clock()
    router = router_over(
        [{"target": "mock:a", "max_retries": 0}, "mock:b"],
        clock=clock,
        breaker_failures=2,
        breaker_cooldown=30,
    )
    a, b = mocks_of(router)
    assert run(router.generate("hi")).model == "a"  # a's plan is kept from here
    assert "@default" in router._targets[0].plans
    a.script(MockReply(error="server"), MockReply(error="server"))
    assert run(router.generate("hi")).model == "b"
    assert run(router.generate("hi")).model == "b"  # the second failure opens a's breaker
    assert len(a.requests) == 3
    assert run(router.generate("hi")).model == "b"
    assert len(a.requests) == 3  # open: not asked, though its plan is kept
    assert run(router.status())[0]["breaker"] == "open"
    clock.now += 31  # the cooldown is over: one probe, which closes it
    assert run(router.generate("hi")).model == "a"
    assert run(router.status())[0]["breaker"] == "closed"
    assert len(b.requests) == 3


def test_a_single_target_whose_breaker_opened_is_not_called() -> None:
    router = router_over([{"target": "mock:a", "max_retries": 0}], breaker_failures=1)
    (a,) = mocks_of(router)
    assert run(router.generate("hi")).model == "a"
    a.script(MockReply(error="server"))
    with pytest.raises(ServerError):
        run(router.generate("hi"))
    with pytest.raises(ServerError, match=r"no target is available.*breaker open"):
        run(router.generate("hi"))
    assert len(a.requests) == 2


def test_a_target_taken_out_after_the_plan_is_kept_is_skipped() -> None:
    clock = Clock()
    router = router_over(["mock:a", "mock:b"], clock=clock, quota_cooldown=60)
    a, _ = mocks_of(router)
    assert run(router.generate("hi")).model == "a"
    a.script(MockReply(error="quota"))
    assert run(router.generate("hi")).model == "b"
    assert run(router.generate("hi")).model == "b"
    assert len(a.requests) == 2
    clock.now += 61
    assert run(router.generate("hi")).model == "a"


def test_a_plan_follows_its_targets_config() -> None:
    router = router_over(["mock"])
    (mock,) = mocks_of(router)
    assert run(router.generate("hi")).model == "mock-small"
    assert run(router.generate("hi", tier="hosted_large")).model == "mock-large"
    mock.config = mock.config.evolve(model="other", tier_models={"hosted_large": "big-2"})
    assert run(router.generate("hi")).model == "other"
    assert run(router.generate("hi", tier="hosted_large")).model == "big-2"
    assert mock.requests[-1].temperature is None
    mock.config = mock.config.evolve(temperature=0.25, max_tokens=7)
    run(router.generate("hi"))
    assert (mock.requests[-1].temperature, mock.requests[-1].max_tokens) == (0.25, 7)
    assert run(router.generate("hi", model="explicit")).model == "explicit"
    assert router.models_for("@default") == {"mock": "other"}


def test_a_target_that_cannot_take_the_call_is_still_skipped_with_its_plan_kept() -> None:
    router = router_over([{"target": "mock:a", "capabilities": {"tools": False}}, "mock:b"])
    assert run(router.generate("hi")).model == "a"
    tool = {"name": "f", "description": "f", "parameters": {"type": "object"}}
    assert run(router.generate("hi", tools=[tool])).model == "b"
    only_a = router_over([{"target": "mock:a", "capabilities": {"tools": False}}])
    assert run(only_a.generate("hi")).model == "a"
    with pytest.raises(UnsupportedFeatureError):
        run(only_a.generate("hi", tools=[tool]))


def test_a_reset_state_is_read_afresh() -> None:
    router = router_over([{"target": "mock:a", "max_retries": 0}, "mock:b"], breaker_failures=1)
    a, _ = mocks_of(router)
    a.script(MockReply(error="server"))
    assert run(router.generate("hi")).model == "b"
    assert run(router.generate("hi")).model == "b"  # a's breaker is open
    run(router.reset_state())
    assert isinstance(router.state, MemoryState) and not router.state.states
    assert run(router.generate("hi")).model == "a"
    assert set(router.state.states) == {"mock:a", "mock:b"}  # read: kept afresh


def test_the_in_flight_count_comes_back_to_zero() -> None:
    router = router_over([{"target": "mock:a", "max_retries": 0}, "mock:b"])
    a, _ = mocks_of(router)
    run(router.generate("hi"))
    a.script(MockReply(error="server"))
    run(router.generate("hi"))

    async def stream() -> str:
        return "".join([t async for t in router.stream("hi").text()])

    assert run(stream())
    for row in run(router.status()):
        assert row["in_flight"] == 0
        assert row["latency"] is not None


class _NotMemory(MemoryState):
    """The memory state, through the generic path (the router's inline path is for
    MemoryState itself)."""


def test_the_inline_path_and_the_generic_one_record_the_same_state() -> None:
    def script(router: Router) -> list[dict[str, Any]]:
        a, _ = mocks_of(router)
        server = MockReply(error="server")
        a.script(server, server, "a", MockReply(error="quota"))
        for _ in range(4):
            run(router.generate("hi"))
        rows = run(router.status())
        for row in rows:
            assert row.pop("latency") is not None
        return rows

    clock = Clock()
    options: dict[str, Any] = {"clock": clock, "breaker_failures": 5}
    targets = [{"target": "mock:a", "max_retries": 1}, "mock:b"]
    inline = script(router_over(targets, **options))
    generic = script(router_over(targets, state=_NotMemory(), **options))
    assert inline == generic
    assert inline[0]["failures"] == [clock.now, clock.now]
    assert inline[0]["blocked_reason"] == "quota"


# -- no retry layer stacked around a target's attempt ---------------------------------------


def test_a_targets_attempt_is_made_without_its_emptied_retry_layer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[int] = []
    original = RetryPolicy.call

    async def counted(self: RetryPolicy, fn: Any, **kwargs: Any) -> Any:
        calls.append(self.max_retries)
        return await original(self, fn, **kwargs)

    monkeypatch.setattr(RetryPolicy, "call", counted)
    router = router_over([{"target": "mock:a", "max_retries": 2}, "mock:b"])
    a, b = mocks_of(router)
    a.script(MockReply(error="server"), MockReply(error="server"), "third time")
    assert run(router.generate("hi")).content == "third time"
    assert len(a.requests) == 3 and not b.requests  # the router ran a's policy: 1 + 2
    assert calls == []  # and no layer of a's own around any attempt
    direct = registry_with().create_provider("mock", fresh=True)
    run(direct.generate("hi"))
    assert calls == [2]  # a provider called directly still retries by its policy


def test_an_attempts_error_counts_one_attempt_when_the_observers_see_it() -> None:
    events = Events()
    router = router_over(["mock:a", "mock:b"], events)
    a, _ = mocks_of(router)
    a.script(MockReply(error="not_found"))
    assert run(router.generate("hi")).model == "b"
    (failover,) = [e for e in events.seen if e.kind == "failover"]
    assert failover.error is not None and failover.error.attempts == 1


def test_a_target_that_routes_is_called_through_its_own_routing(tmp_path: Any) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[profiles.inner]\nprovider = "router"\ntargets = ["mock:x", "mock:y"]\n')
    registry = jackfield.Registry(entry_points=False, config_path=path)
    registry.register_provider(MockProvider)
    registry.register_provider(Router)
    router = Router(registry=registry, targets=["inner"])
    assert not router._targets[0].one_attempt
    inner = router.targets[0]
    assert isinstance(inner, Router)
    x, _y = inner.targets
    assert isinstance(x, MockProvider)
    x.script(MockReply(error="not_found"))
    assert run(router.generate("hi")).model == "y"


# -- the pieces the common path inlines -----------------------------------------------------


def test_a_budget_is_stated_only_by_the_budget_headers() -> None:
    assert budget_from_headers({"content-type": "application/json"}, 0.0) is None
    for name in BUDGET_HEADERS:
        assert budget_from_headers({name: "3"}, 0.0) is not None, name


def test_the_router_leaves_the_output_mode_to_each_target() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "string"}}}
    router = router_over(["mock:a"])
    request = router.build_request("hi", response_format=schema)
    assert request.output is not None and request.output.mode is None
    chosen = output_schema(schema, mode="tool")
    request = router.build_request("hi", response_format=chosen)
    assert request.output is not None and request.output.mode is OutputMode.TOOL
    direct = registry_with().create_provider("mock", fresh=True)
    request = direct.build_request("hi", response_format=schema)
    assert request.output is not None and request.output.mode is OutputMode.NATIVE


def test_an_error_raised_by_the_routed_call_names_every_attempt() -> None:
    router = router_over(
        [{"target": "mock:a", "max_retries": 1}, {"target": "mock:b"}], max_attempts=10
    )
    a, b = mocks_of(router)
    a.script(*[MockReply(error="server")] * 2)
    b.script(*[MockReply(error="server")] * 3)
    with pytest.raises(ProviderError) as info:
        run(router.generate("hi"))
    assert info.value.attempts == 2 + 3
