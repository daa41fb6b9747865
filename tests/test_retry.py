"""The retry policy, alone and through the mock provider: attempts, waits, streams."""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any

import pytest

import jackfield.retry as retry_module
from jackfield import hookimpl
from jackfield.errors import (
    ProviderError,
    RateLimitError,
    ServerError,
)
from jackfield.events import StreamEnd, StreamStart, TextDelta
from jackfield.plugins.mock import MockProvider, MockReply
from jackfield.registry import Registry
from jackfield.retry import RetryPolicy

if TYPE_CHECKING:
    from conftest import FakeSleep

RETRYABLE = ["rate_limit", "server", "overloaded", "timeout", "network"]
NOT_RETRYABLE = ["quota", "authentication", "invalid_request", "context_window", "content_filter"]


def _mock(fake_sleep: FakeSleep, *replies: MockReply, max_retries: int = 2, **kw: Any) -> Any:
    return MockProvider(
        retry_policy=RetryPolicy(max_retries=max_retries, sleep=fake_sleep, **kw), replies=replies
    )


# -- attempts ---------------------------------------------------------------------------------


@pytest.mark.parametrize("error", RETRYABLE)
async def test_retryable_errors_are_retried_until_max_retries(
    error: str, fake_sleep: FakeSleep
) -> None:
    mock = _mock(fake_sleep, *[MockReply(error=error)] * 5, max_retries=3)
    with pytest.raises(ProviderError) as info:
        await mock.generate("hi")
    assert info.value.error_type == error
    assert len(mock.requests) == 4
    assert info.value.attempts == 4
    assert len(fake_sleep.waits) == 3


@pytest.mark.parametrize("error", RETRYABLE)
async def test_retryable_error_then_success(
    error: str, fake_sleep: FakeSleep, mock_provider: Any
) -> None:
    mock = mock_provider({"error": error}, MockReply(error=error), "ok")
    response = await mock.generate("hi")
    assert response.content == "ok"
    assert len(mock.requests) == 3
    assert len(fake_sleep.waits) == 2


@pytest.mark.parametrize("error", NOT_RETRYABLE)
async def test_non_retryable_errors_are_not_retried(error: str, fake_sleep: FakeSleep) -> None:
    mock = _mock(fake_sleep, MockReply(error=error), MockReply(text="never"), max_retries=5)
    with pytest.raises(ProviderError) as info:
        await mock.generate("hi")
    assert info.value.error_type == error
    assert info.value.attempts == 1
    assert len(mock.requests) == 1
    assert fake_sleep.waits == []


async def test_max_retries_zero_means_one_attempt(fake_sleep: FakeSleep) -> None:
    mock = _mock(fake_sleep, MockReply(error="rate_limit"), MockReply(text="x"), max_retries=0)
    with pytest.raises(RateLimitError) as info:
        await mock.generate("hi")
    assert info.value.attempts == 1
    assert len(mock.requests) == 1
    assert fake_sleep.waits == []


async def test_config_max_retries_drives_the_default_policy() -> None:
    mock = MockProvider(max_retries=0, replies=[MockReply(error="server")])
    assert mock.retry_policy.max_retries == 0
    with pytest.raises(ServerError) as info:
        await mock.generate("hi")
    assert info.value.attempts == 1


async def test_escaping_error_is_the_last_one_never_a_tenacity_wrapper(
    fake_sleep: FakeSleep,
) -> None:
    mock = _mock(
        fake_sleep,
        MockReply(error="rate_limit"),
        MockReply(error="server"),
        MockReply(error="overloaded", status_code=529),
    )
    with pytest.raises(ProviderError) as info:
        await mock.generate("hi")
    err = info.value
    assert type(err).__name__ == "OverloadedError"
    assert err.status_code == 529
    assert err.attempts == 3
    assert err.provider == "mock"
    assert err.model == "mock-small"
    import tenacity

    assert not isinstance(err, tenacity.RetryError)


async def test_a_non_retryable_error_after_retries_stops_at_once(fake_sleep: FakeSleep) -> None:
    mock = _mock(
        fake_sleep, MockReply(error="rate_limit"), MockReply(error="quota"), MockReply(text="x")
    )
    with pytest.raises(ProviderError) as info:
        await mock.generate("hi")
    assert info.value.error_type == "quota"
    assert info.value.attempts == 2
    assert len(mock.requests) == 2


async def test_retryable_flag_on_the_instance_wins(fake_sleep: FakeSleep) -> None:
    not_this_time = RateLimitError("no", retryable=False)
    mock = _mock(fake_sleep, MockReply(error=not_this_time), MockReply(text="x"))
    with pytest.raises(RateLimitError):
        await mock.generate("hi")
    assert len(mock.requests) == 1


async def test_policy_call_directly(fake_sleep: FakeSleep) -> None:
    calls = 0

    async def flaky() -> str:
        nonlocal calls
        calls += 1
        if calls < 3:
            raise ServerError(f"try {calls}")
        return "done"

    policy = RetryPolicy(max_retries=5, sleep=fake_sleep)
    assert await policy.call(flaky) == "done"
    assert calls == 3

    async def ok() -> int:
        return 7

    assert await RetryPolicy(max_retries=0).call(ok) == 7


async def test_should_retry_can_veto(fake_sleep: FakeSleep) -> None:
    calls = 0

    async def fail() -> None:
        nonlocal calls
        calls += 1
        raise ServerError("x")

    policy = RetryPolicy(max_retries=5, sleep=fake_sleep)
    with pytest.raises(ServerError) as info:
        await policy.call(fail, should_retry=lambda e: calls < 2)
    assert calls == 2
    assert info.value.attempts == 2


# -- waits ------------------------------------------------------------------------------------


async def test_retry_after_is_honoured(fake_sleep: FakeSleep) -> None:
    mock = _mock(
        fake_sleep,
        MockReply(error="rate_limit", retry_after=1.5),
        MockReply(error="rate_limit", retry_after=3.0),
        MockReply(text="ok"),
    )
    assert (await mock.generate("hi")).content == "ok"
    assert fake_sleep.waits == [1.5, 3.0]


async def test_retry_after_is_capped_at_max_server_wait(fake_sleep: FakeSleep) -> None:
    mock = _mock(fake_sleep, MockReply(error="rate_limit", retry_after=3600), MockReply(text="ok"))
    await mock.generate("hi")
    assert fake_sleep.waits == [60.0]
    assert RetryPolicy().max_server_wait == 60.0


def test_retry_after_zero_still_waits_min_wait() -> None:
    policy = RetryPolicy()
    assert policy.wait_for(RateLimitError("x", retry_after=0), 1) == policy.min_wait > 0


def test_backoff_without_hint_is_exponential_and_capped(monkeypatch: pytest.MonkeyPatch) -> None:
    policy = RetryPolicy(initial_wait=0.5, max_wait=8.0, jitter=0.25)
    err = ServerError("x")
    monkeypatch.setattr(retry_module.random, "random", lambda: 0.0)  # no jitter
    assert [policy.wait_for(err, n) for n in range(1, 8)] == [0.5, 1, 2, 4, 8, 8, 8]
    monkeypatch.setattr(retry_module.random, "random", lambda: 1.0)  # full jitter
    assert [policy.wait_for(err, n) for n in range(1, 6)] == [0.375, 0.75, 1.5, 3, 6]


def test_backoff_is_jittered_within_bounds() -> None:
    policy = RetryPolicy(initial_wait=0.5, max_wait=8.0, jitter=0.25)
    err = ServerError("x")
    rng_state = random.getstate()
    try:
        random.seed(1234)
        for attempt in range(1, 8):
            base = min(0.5 * 2 ** (attempt - 1), 8.0)
            waits = {policy.wait_for(err, attempt) for _ in range(50)}
            assert len(waits) > 1  # jittered
            assert all(0.75 * base <= w <= base for w in waits)
    finally:
        random.setstate(rng_state)


def test_backoff_is_never_zero() -> None:
    policy = RetryPolicy(initial_wait=0.0)
    for attempt in range(1, 5):
        assert policy.wait_for(ServerError("x"), attempt) == policy.min_wait
    assert policy.min_wait > 0
    # a negative hint is ignored (backoff instead), never a zero or negative wait
    assert RetryPolicy().wait_for(RateLimitError("x", retry_after=-3), 1) >= 0.375


async def test_backoff_through_the_provider(
    fake_sleep: FakeSleep, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(retry_module.random, "random", lambda: 0.0)
    mock = _mock(fake_sleep, *[MockReply(error="server")] * 6, max_retries=5, max_wait=4.0)
    with pytest.raises(ServerError):
        await mock.generate("hi")
    assert fake_sleep.waits == [0.5, 1.0, 2.0, 4.0, 4.0]


# -- deadline ---------------------------------------------------------------------------------


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


async def test_deadline_stops_retrying(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = _Clock()
    monkeypatch.setattr(retry_module, "time", clock)
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        clock.now += seconds

    mock = MockProvider(
        retry_policy=RetryPolicy(max_retries=50, deadline=3.0, sleep=sleep),
        replies=[MockReply(error="rate_limit", retry_after=1.0)] * 60,
    )
    with pytest.raises(RateLimitError) as info:
        await mock.generate("hi")
    # waits at t=0,1,2 end by t=3; a fourth would end at t=4 > deadline
    assert waits == [1.0, 1.0, 1.0]
    assert len(mock.requests) == 4
    assert info.value.attempts == 4


async def test_no_retry_when_the_first_wait_exceeds_the_deadline(fake_sleep: FakeSleep) -> None:
    mock = _mock(
        fake_sleep,
        MockReply(error="rate_limit", retry_after=30),
        MockReply(text="x"),
        max_retries=5,
        deadline=10.0,
    )
    with pytest.raises(RateLimitError) as info:
        await mock.generate("hi")
    assert info.value.attempts == 1
    assert fake_sleep.waits == []
    assert len(mock.requests) == 1


async def test_config_retry_deadline_reaches_the_policy() -> None:
    mock = MockProvider(retry_deadline=5.0, max_retries=4)
    assert mock.retry_policy.deadline == 5.0
    assert mock.retry_policy.max_retries == 4


# -- the retrying hook ------------------------------------------------------------------------


class RetryRecorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, int, float, str]] = []

    @hookimpl
    def jackfield_retrying(
        self, provider: Any, request: Any, error: ProviderError, attempt: int, wait: float
    ) -> None:
        self.calls.append((error.error_type, attempt, wait, request.model))


async def test_retrying_hook_gets_attempt_and_wait(fake_sleep: FakeSleep) -> None:
    reg = Registry(entry_points=False)
    reg.register_provider(MockProvider)
    recorder = RetryRecorder()
    reg.register_plugin(recorder, name="recorder")
    mock = reg.create_provider(
        "mock",
        fresh=True,
        max_retries=3,
        extra={
            "replies": [
                {"error": "rate_limit", "retry_after": 0.5},
                {"error": "server", "retry_after": 2},
                {"text": "finally"},
            ]
        },
    )
    assert isinstance(mock, MockProvider)
    mock.retry_policy = RetryPolicy(max_retries=3, sleep=fake_sleep)
    response = await mock.generate("hi")
    assert response.content == "finally"
    assert recorder.calls == [
        ("rate_limit", 1, 0.5, "mock-small"),
        ("server", 2, 2.0, "mock-small"),
    ]
    assert fake_sleep.waits == [0.5, 2.0]


async def test_retrying_hook_is_called_for_streams_too(fake_sleep: FakeSleep) -> None:
    reg = Registry(entry_points=False)
    reg.register_provider(MockProvider)
    recorder = RetryRecorder()
    reg.register_plugin(recorder, name="recorder")
    mock = reg.create_provider(
        "mock", fresh=True, extra={"replies": [{"error": "overloaded", "retry_after": 1}]}
    )
    mock.retry_policy = RetryPolicy(max_retries=2, sleep=fake_sleep)
    response = await mock.stream("hi").collect()
    assert response.content == "echo: hi"
    assert recorder.calls == [("overloaded", 1, 1.0, "mock-small")]


async def _drain(stream: Any, seen: list[Any]) -> None:
    async for event in stream:
        seen.append(event)


# -- streams ----------------------------------------------------------------------------------


async def test_stream_error_before_first_event_is_retried(fake_sleep: FakeSleep) -> None:
    mock = _mock(fake_sleep, MockReply(error="server"), MockReply(text="hello there"))
    events = [e async for e in mock.stream("hi")]
    assert len(mock.requests) == 2
    assert sum(isinstance(e, StreamStart) for e in events) == 1
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "hello there"
    assert len(fake_sleep.waits) == 1


async def test_stream_error_after_stream_start_but_before_content_is_retried(
    fake_sleep: FakeSleep,
) -> None:
    mock = _mock(
        fake_sleep,
        MockReply(text="lost words", error="rate_limit", fail_after_events=1),
        MockReply(text="lost words", error="rate_limit", fail_after_events=1),
        MockReply(text="second try"),
    )
    events = [e async for e in mock.stream("hi")]
    assert len(mock.requests) == 3
    # the failed attempts' StreamStart never reached the consumer
    assert sum(isinstance(e, StreamStart) for e in events) == 1
    assert isinstance(events[0], StreamStart)
    assert isinstance(events[-1], StreamEnd)
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "second try"


async def test_stream_error_before_content_exhausts_retries(fake_sleep: FakeSleep) -> None:
    mock = _mock(fake_sleep, *[MockReply(error="server", fail_after_events=1)] * 4)
    seen: list[Any] = []
    with pytest.raises(ServerError) as info:
        await _drain(mock.stream("hi"), seen)
    assert seen == []  # nothing of the failed attempts was yielded
    assert len(mock.requests) == 3
    assert info.value.attempts == 3


async def test_stream_error_after_content_is_not_retried_and_text_not_duplicated(
    fake_sleep: FakeSleep,
) -> None:
    mock = _mock(
        fake_sleep,
        # StreamStart, TextStart, "one ", "two ", then the failure
        MockReply(text="one two three four", error="server", fail_after_events=4),
        MockReply(text="SHOULD NOT APPEAR"),
        max_retries=5,
    )
    seen: list[Any] = []
    with pytest.raises(ServerError) as info:
        await _drain(mock.stream("hi"), seen)
    texts = [e.text for e in seen if isinstance(e, TextDelta)]
    assert "".join(texts) == "one two "
    assert len(mock.requests) == 1
    assert info.value.attempts == 1
    assert info.value.provider == "mock"
    assert fake_sleep.waits == []


@pytest.mark.parametrize(
    ("field", "value"),
    [("min_wait", 0), ("max_retries", -1), ("max_wait", 0), ("jitter", 1.0), ("initial_wait", -1)],
)
def test_policy_bounds_are_validated(field: str, value: float) -> None:
    with pytest.raises(ValueError, match=field):
        RetryPolicy(**{field: value})
