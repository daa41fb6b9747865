"""The one retry policy every provider shares, built on tenacity.

Only errors whose ``retryable`` is true are retried. The wait is what the server asked
for (``retry_after``, capped), else exponential backoff with jitter, and never zero.
The first attempt runs without tenacity's machinery, which is imported only when a
retry is actually needed.
"""

from __future__ import annotations

import random
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import attrs

from .errors import ProviderError

__all__ = ["RetryPolicy"]

T = TypeVar("T")

SleepFn = Callable[[float], Awaitable[Any]]
OnRetry = Callable[[ProviderError, int, float], None]


@attrs.frozen(slots=True, kw_only=True)
class RetryPolicy:
    """How often and how long to wait before trying a failed call again.

    :param max_retries: retries after the first attempt (so attempts = max_retries + 1).
    :param deadline: total seconds across all attempts and waits; no retry starts after it.
    :param initial_wait: first backoff wait when the server gives no hint.
    :param max_wait: cap of the backoff wait.
    :param max_server_wait: cap of a server's ``Retry-After`` hint.
    :param min_wait: floor of every wait, so a retry never fires at once.
    :param sleep: the coroutine function used to wait (tests inject a fake).
    """

    max_retries: int = attrs.field(default=2, validator=attrs.validators.ge(0))
    deadline: float | None = None
    initial_wait: float = attrs.field(default=0.5, validator=attrs.validators.ge(0))
    max_wait: float = attrs.field(default=8.0, validator=attrs.validators.gt(0))
    max_server_wait: float = attrs.field(default=60.0, validator=attrs.validators.gt(0))
    min_wait: float = attrs.field(default=0.05, validator=attrs.validators.gt(0))
    jitter: float = attrs.field(
        default=0.25, validator=[attrs.validators.ge(0), attrs.validators.lt(1)]
    )
    sleep: SleepFn | None = attrs.field(default=None, eq=False)

    def wait_for(self, error: ProviderError, attempt: int) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        if error.retry_after is not None and error.retry_after >= 0:
            return max(self.min_wait, min(error.retry_after, self.max_server_wait))
        backoff = min(self.initial_wait * 2.0 ** (attempt - 1), self.max_wait)
        backoff *= 1 - self.jitter * random.random()
        return max(self.min_wait, backoff)

    async def call(
        self,
        fn: Callable[[], Awaitable[T]],
        *,
        on_retry: OnRetry | None = None,
        should_retry: Callable[[ProviderError], bool] | None = None,
    ) -> T:
        """Run ``fn`` until it succeeds or the policy gives up; returns its result.

        ``fn`` must raise :class:`ProviderError` on failure. The error that escapes is
        the last one, with ``attempts`` set. ``should_retry`` can veto a retry (a stream
        that has already yielded output, say).
        """
        started = time.monotonic()
        try:
            result = await fn()
        except ProviderError as exc:
            if not self._may_retry(exc, should_retry):
                exc.attempts = 1
                raise
            first = exc
        else:
            return result
        return await self._retry(fn, first, started, on_retry, should_retry)

    def _may_retry(
        self, exc: ProviderError, should_retry: Callable[[ProviderError], bool] | None
    ) -> bool:
        return (
            self.max_retries > 0 and exc.retryable and (should_retry is None or should_retry(exc))
        )

    async def _retry(
        self,
        fn: Callable[[], Awaitable[T]],
        first: ProviderError,
        started: float,
        on_retry: OnRetry | None,
        should_retry: Callable[[ProviderError], bool] | None,
    ) -> T:
        import asyncio

        import tenacity

        policy = self

        def stop(state: tenacity.RetryCallState) -> bool:
            exc = state.outcome.exception() if state.outcome else None
            if state.attempt_number > policy.max_retries:
                return True
            if policy.deadline is not None and isinstance(exc, ProviderError):
                elapsed = time.monotonic() - started
                return elapsed + policy.wait_for(exc, state.attempt_number) > policy.deadline
            return False

        def wait(state: tenacity.RetryCallState) -> float:
            exc = state.outcome.exception() if state.outcome else None
            assert isinstance(exc, ProviderError)
            seconds = policy.wait_for(exc, state.attempt_number)
            return seconds

        def before_sleep(state: tenacity.RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            if on_retry is not None and isinstance(exc, ProviderError):
                on_retry(exc, state.attempt_number, state.upcoming_sleep)

        retrying = tenacity.AsyncRetrying(
            stop=stop,
            wait=wait,
            retry=tenacity.retry_if_exception(
                lambda e: isinstance(e, ProviderError) and self._may_retry(e, should_retry)
            ),
            before_sleep=before_sleep,
            sleep=self.sleep or asyncio.sleep,
            reraise=True,
        )
        attempt = 0
        try:
            async for attempt_ctx in retrying:
                with attempt_ctx:
                    attempt += 1
                    if attempt == 1:
                        raise first
                    return await fn()
        except ProviderError as exc:
            exc.attempts = attempt
            raise
        raise AssertionError("unreachable: tenacity ended without a result")  # pragma: no cover
