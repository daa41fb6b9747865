"""Per-token limits: requests per minute, tokens per minute, tokens per day.

``admit`` runs before a call (it counts the request and refuses when any limit is
reached, with the seconds until it frees); ``record`` adds the call's tokens after it,
off the request path. :class:`MemoryLimiter` counts in this process; :class:`RedisLimiter`
counts in Redis so every gateway process using one server enforces one limit: the
request count is a sliding 60-second window (a sorted set, updated by one Lua script,
on the server's clock), the token counts fixed minute and UTC-day windows.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import deque
from typing import Any, Protocol

import attrs

from ..errors import OverloadedError, RateLimitError

__all__ = ["Limiter", "Limits", "MemoryLimiter", "RedisLimiter"]

log = logging.getLogger("jackfield.gateway")

WINDOW = 60.0
DAY = 86400


@attrs.frozen(slots=True)
class Limits:
    """One token's limits (``None``: unlimited)."""

    rpm: int | None = None
    tpm: int | None = None
    daily_tokens: int | None = None

    @property
    def counts_tokens(self) -> bool:
        """Whether a call's tokens must be recorded."""
        return self.tpm is not None or self.daily_tokens is not None


def _refuse(name: str, which: str, limit: int, retry_after: float) -> RateLimitError:
    return RateLimitError(
        f"token {name!r} reached its {which} limit ({limit})",
        status_code=429,
        retry_after=max(1.0, float(int(retry_after + 0.999))),
    )


def _to_minute_end(now: float) -> float:
    return WINDOW - (now % WINDOW)


def _to_day_end(now: float) -> float:
    return DAY - (now % DAY)


class Limiter(Protocol):
    """Counts calls and tokens per token name."""

    async def admit(self, name: str, limits: Limits) -> None:
        """Count one request, or raise :class:`RateLimitError` (or, Redis failing
        closed, :class:`OverloadedError`)."""

    async def record(self, name: str, limits: Limits, tokens: int) -> None:
        """Add ``tokens`` to the token counts."""

    async def aclose(self) -> None:
        """Release connections."""


class MemoryLimiter:
    """Limits counted in this process (one gateway instance)."""

    def __init__(self) -> None:
        self._requests: dict[str, deque[float]] = {}
        self._minute: dict[str, tuple[int, int]] = {}
        self._day: dict[str, tuple[int, int]] = {}

    async def admit(self, name: str, limits: Limits) -> None:
        """See :class:`Limiter`."""
        now = time.time()
        if limits.daily_tokens is not None:
            day, used = self._day.get(name, (0, 0))
            if day == int(now // DAY) and used >= limits.daily_tokens:
                raise _refuse(name, "daily token", limits.daily_tokens, _to_day_end(now))
        if limits.tpm is not None:
            minute, used = self._minute.get(name, (0, 0))
            if minute == int(now // WINDOW) and used >= limits.tpm:
                raise _refuse(name, "tokens-per-minute", limits.tpm, _to_minute_end(now))
        if limits.rpm is not None:
            window = self._requests.setdefault(name, deque())
            while window and window[0] <= now - WINDOW:
                window.popleft()
            if len(window) >= limits.rpm:
                raise _refuse(name, "requests-per-minute", limits.rpm, window[0] + WINDOW - now)
            window.append(now)

    async def record(self, name: str, limits: Limits, tokens: int) -> None:
        """See :class:`Limiter`."""
        now = time.time()
        for table, key in ((self._minute, int(now // WINDOW)), (self._day, int(now // DAY))):
            period, used = table.get(name, (key, 0))
            table[name] = (key, (used if period == key else 0) + tokens)

    async def aclose(self) -> None:
        """Nothing to release."""


# KEYS: the request window (a sorted set), the minute's and the day's token counters.
# ARGV: rpm, tpm, daily (0: none), a unique member. Returns {code, milliseconds}:
# 0 admitted, 1 rpm (ms until the oldest request leaves the window), 2 tpm, 3 daily.
_ADMIT = """
local daily = tonumber(ARGV[3])
if daily > 0 and tonumber(redis.call('GET', KEYS[3]) or '0') >= daily then return {3, 0} end
local tpm = tonumber(ARGV[2])
if tpm > 0 and tonumber(redis.call('GET', KEYS[2]) or '0') >= tpm then return {2, 0} end
local rpm = tonumber(ARGV[1])
if rpm > 0 then
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - 60000)
  if redis.call('ZCARD', KEYS[1]) >= rpm then
    local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
    return {1, tonumber(oldest[2]) + 60000 - now}
  end
  redis.call('ZADD', KEYS[1], now, ARGV[4])
  redis.call('PEXPIRE', KEYS[1], 61000)
end
return {0, 0}
"""


class RedisLimiter:
    """Limits counted in Redis, shared by every gateway process that uses the server.

    When Redis cannot be reached, ``fail_open`` lets calls through uncounted (a warning
    once per outage); otherwise they are refused with :class:`OverloadedError` (503).
    """

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "jackfield:gateway:",
        fail_open: bool = True,
        socket_timeout: float = 0.5,
    ) -> None:
        import redis.asyncio
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff

        self._client: Any = redis.asyncio.Redis.from_url(
            url,
            socket_timeout=socket_timeout,
            socket_connect_timeout=socket_timeout,
            retry=Retry(NoBackoff(), 0),
        )
        self._script: Any = self._client.register_script(_ADMIT)
        self._errors: tuple[type[BaseException], ...] = (redis.RedisError, OSError, TimeoutError)
        self.prefix = prefix
        self.fail_open = fail_open
        self.outage = False
        self.failures = 0
        """Redis errors seen (exported as a metric)."""

    def _keys(self, name: str, now: float) -> list[str]:
        p = f"{self.prefix}{name}:"
        return [f"{p}rpm", f"{p}tpm:{int(now // WINDOW)}", f"{p}day:{int(now // DAY)}"]

    def _failed(self, exc: BaseException) -> None:
        self.failures += 1
        if not self.outage:
            self.outage = True
            mode = "letting calls through uncounted" if self.fail_open else "refusing calls"
            log.warning(
                "jackfield gateway: the limits' Redis is unreachable (%s); %s",
                type(exc).__name__,
                mode,
            )
        if not self.fail_open:
            raise OverloadedError(
                "the gateway cannot check its rate limits now", status_code=503, retry_after=1.0
            ) from None

    def _recovered(self) -> None:
        if self.outage:
            self.outage = False
            log.warning("jackfield gateway: the limits' Redis is reachable again")

    async def admit(self, name: str, limits: Limits) -> None:
        """See :class:`Limiter`."""
        if limits.rpm is None and not limits.counts_tokens:
            return
        now = time.time()
        args = [limits.rpm or 0, limits.tpm or 0, limits.daily_tokens or 0, uuid.uuid4().hex]
        try:
            code, wait_ms = await self._script(keys=self._keys(name, now), args=args)
        except self._errors as exc:
            self._failed(exc)
            return
        self._recovered()
        if code == 1:
            raise _refuse(name, "requests-per-minute", limits.rpm or 0, int(wait_ms) / 1000)
        if code == 2:
            raise _refuse(name, "tokens-per-minute", limits.tpm or 0, _to_minute_end(now))
        if code == 3:
            raise _refuse(name, "daily token", limits.daily_tokens or 0, _to_day_end(now))

    async def record(self, name: str, limits: Limits, tokens: int) -> None:
        """See :class:`Limiter` (an outage loses these counts; it never raises)."""
        if tokens <= 0 or not limits.counts_tokens:
            return
        _, minute, day = self._keys(name, time.time())
        try:
            async with self._client.pipeline(transaction=False) as pipe:
                pipe.incrby(minute, tokens).expire(minute, 120)
                pipe.incrby(day, tokens).expire(day, 2 * DAY)
                await pipe.execute()
        except self._errors as exc:
            self.failures += 1
            log.debug("jackfield gateway: token counts lost (%s)", type(exc).__name__)
            return
        self._recovered()

    async def aclose(self) -> None:
        """Close the Redis connections."""
        await self._client.aclose()
