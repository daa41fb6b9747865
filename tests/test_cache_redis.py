"""The Redis backend against a real ``redis-server`` on loopback (no fake Redis).

The server is started by a fixture on a free 127.0.0.1 port with persistence off, in a
temporary directory, and stopped afterwards. Without ``redis-server`` (or the ``redis``
package) these tests are skipped, unless ``JACKFIELD_REQUIRE_REDIS=1`` (set by .ci/run):
then they fail.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import logging
import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from jackfield.cache import RedisBackend, ResponseCache, close_caches, open_cache
from jackfield.plugins.mock import MockProvider
from jackfield.retry import RetryPolicy


def _missing(what: str) -> None:
    message = f"{what}: the Redis cache tests need a real server (apt-get install redis-server)"
    if os.environ.get("JACKFIELD_REQUIRE_REDIS") == "1":
        pytest.fail(f"{message}; JACKFIELD_REQUIRE_REDIS=1 makes this a failure")
    pytest.skip(message)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class RedisServer:
    """A ``redis-server`` process on 127.0.0.1, persistence off, in ``directory``."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, port: int | None = None) -> RedisServer:
        """Start on ``port`` (to restart where clients expect it), else a free one."""
        exe = shutil.which("redis-server")
        if exe is None:
            _missing("redis-server is not on PATH")
        if importlib.util.find_spec("redis") is None:
            _missing("the redis package is not installed (pip install 'jackfield[redis]')")
        assert exe is not None
        self.directory.mkdir(parents=True, exist_ok=True)
        log = self.directory / "redis.log"
        for _ in range(3):  # another process may grab the free port first
            self.port = port or _free_port()
            self.proc = subprocess.Popen(
                [
                    exe,
                    "--port", str(self.port),
                    "--bind", "127.0.0.1",
                    "--save", "",
                    "--appendonly", "no",
                    "--dir", str(self.directory),
                    "--logfile", str(log),
                ],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )  # fmt: skip
            if self._ready():
                return self
            self.stop()
        tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
        raise RuntimeError(f"redis-server did not start:\n{tail}")

    def _ready(self, timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                return False
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        return True
            except OSError:
                pass
            time.sleep(0.02)
        return False

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def prefix() -> str:
    return f"t{uuid.uuid4().hex[:8]}:"


@pytest.fixture
async def backend(redis_server: RedisServer, prefix: str) -> AsyncIterator[RedisBackend]:
    b = RedisBackend(redis_server.url, prefix=prefix)
    yield b
    await b.clear()
    await b.close()


async def _raw(url: str) -> Any:
    import redis.asyncio

    return redis.asyncio.Redis.from_url(url)


async def _no_sleep(seconds: float) -> None:
    return None


def _mock(*replies: Any, cache: ResponseCache) -> MockProvider:
    provider = MockProvider(
        replies=replies, retry_policy=RetryPolicy(max_retries=0, sleep=_no_sleep)
    )
    provider.response_cache = cache
    return provider


# -- the backend ------------------------------------------------------------------------


async def test_contract(backend: RedisBackend) -> None:
    assert await backend.get("k") is None
    await backend.set("k", b"v\x00\xff", None)
    assert await backend.get("k") == b"v\x00\xff"
    await backend.delete("k")
    await backend.delete("k")
    assert await backend.get("k") is None
    await backend.set("jackfield:v1:a", b"1", None)
    await backend.set("jackfield:v1:b", b"2", 60)
    info = await backend.info()
    assert info["backend"] == "redis" and info["entries"] == 2
    await backend.clear()
    assert (await backend.info())["entries"] == 0


async def test_ttl_is_set_on_the_server(backend: RedisBackend, redis_server: RedisServer) -> None:
    raw = await _raw(redis_server.url)
    try:
        await backend.set("jackfield:v1:long", b"x", 60)
        await backend.set("jackfield:v1:forever", b"x", None)
        pttl = await raw.pttl(f"{backend.prefix}jackfield:v1:long")
        assert 59_000 < pttl <= 60_000
        assert await raw.pttl(f"{backend.prefix}jackfield:v1:forever") == -1
        await backend.set("jackfield:v1:short", b"x", 0.05)
        await asyncio.sleep(0.1)
        assert await backend.get("jackfield:v1:short") is None
    finally:
        await raw.aclose()


async def test_prefix_keeps_tenants_apart_and_clear_is_scoped(
    redis_server: RedisServer, prefix: str
) -> None:
    a = RedisBackend(redis_server.url, prefix=f"{prefix}a:")
    b = RedisBackend(redis_server.url, prefix=f"{prefix}b*")  # glob characters escaped
    raw = await _raw(redis_server.url)
    try:
        await raw.set(f"{prefix}unrelated", b"keep me")
        await a.set("jackfield:v1:k", b"from a", None)
        await b.set("jackfield:v1:k", b"from b", None)
        assert await a.get("jackfield:v1:k") == b"from a"
        await b.clear()
        assert await b.get("jackfield:v1:k") is None
        assert await a.get("jackfield:v1:k") == b"from a"
        assert await raw.get(f"{prefix}unrelated") == b"keep me"
        await a.clear()
        await raw.delete(f"{prefix}unrelated")
    finally:
        await raw.aclose()
        await a.close()
        await b.close()


async def test_counters_are_shared_through_the_server(
    redis_server: RedisServer, prefix: str
) -> None:
    one = RedisBackend(redis_server.url, prefix=prefix)
    two = RedisBackend(redis_server.url, prefix=prefix)
    one.stats.add("hits", 2)
    one.stats.add("misses")
    await one.set("jackfield:v1:k", b"v", None)  # a store carries the counters
    two.stats.add("hits")
    info = await two.info()
    assert info["hits"] == 3 and info["misses"] == 1 and info["entries"] == 1
    await two.clear()
    assert (await one.info())["hits"] == 0
    await one.close()
    await two.close()


async def test_counters_are_never_added_twice(redis_server: RedisServer, prefix: str) -> None:
    one = RedisBackend(redis_server.url, prefix=prefix, flush_interval=0)
    one.stats.add("hits", 5)
    await asyncio.gather(
        *(one.set(f"jackfield:v1:{i}", b"v", None) for i in range(10)),
        *(one.get(f"jackfield:v1:{i}") for i in range(10)),
    )
    info = await RedisBackend(redis_server.url, prefix=prefix).info()
    assert info["hits"] == 5
    await one.clear()
    await one.close()


def test_one_client_per_event_loop(redis_server: RedisServer, prefix: str) -> None:
    backend = RedisBackend(redis_server.url, prefix=prefix)

    async def use(value: bytes) -> bytes | None:
        await backend.set("jackfield:v1:k", value, None)
        return await backend.get("jackfield:v1:k")

    assert asyncio.run(use(b"first loop")) == b"first loop"
    assert asyncio.run(use(b"second loop")) == b"second loop"  # no "event loop is closed"
    assert len(backend._clients) == 0  # each loop's client closed with its loop

    async def finish() -> None:
        await backend.clear()
        await backend.close()

    asyncio.run(finish())


async def test_provider_config_spec_with_prefix(redis_server: RedisServer, prefix: str) -> None:
    await close_caches()
    spec = f"{redis_server.url}?prefix={prefix}&socket_timeout=2"
    one = MockProvider(replies=["stored in redis"], cache=spec, cache_ttl=30)
    two = MockProvider(replies=["unused"], cache=spec)
    assert (await one.generate("q")).cached is False
    hit = await two.generate("q")
    assert hit.cached is True and hit.content == "stored in redis" and two.requests == []
    streamed = await one.stream("s").collect()
    replay = [e async for e in two.stream("s")]
    assert replay[-1].response == streamed  # type: ignore[union-attr]
    cache = open_cache(spec)
    assert isinstance(cache.backend, RedisBackend) and cache.backend.prefix == prefix
    await cache.clear()
    await close_caches()


def test_a_password_never_shows() -> None:
    if importlib.util.find_spec("redis") is None:
        _missing("the redis package is not installed")
    backend = RedisBackend("redis://user:hunter2@127.0.0.1:1/0")
    assert "hunter2" not in repr(backend)


# -- faults -----------------------------------------------------------------------------


async def test_redis_killed_mid_run(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    server = RedisServer(tmp_path / "dying").start()
    try:
        backend = RedisBackend(server.url, prefix="kill:")
        cache = ResponseCache(backend, cooldown=0)
        provider = _mock("one", "two", "three", "four", cache=cache)
        caplog.set_level(logging.WARNING, logger="jackfield.cache")
        assert (await provider.generate("q")).cached is False
        assert (await provider.generate("q")).cached is True
        server.stop()  # the server dies between calls
        started = time.monotonic()
        after = await provider.generate("q")
        assert after.content == "two" and after.cached is False
        streamed = await provider.stream("q").collect()
        assert streamed.content == "three"
        assert (await provider.generate("q")).content == "four"
        assert time.monotonic() - started < 5  # degraded fast, no hang
        assert cache.stats.errors >= 3
        warnings = [r for r in caplog.records if r.name == "jackfield.cache"]
        assert len(warnings) == 1, warnings
        info_error = None
        try:
            await backend.info()
        except Exception as exc:
            info_error = exc
        assert info_error is not None  # operations (stats, clear) do report the outage
        await cache.close()
    finally:
        server.stop()


async def test_each_redis_outage_is_warned_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Killed, restarted, killed again: two outages, two warnings (not one per process,
    nor one per failed call), and the cache works between them."""
    server = RedisServer(tmp_path / "flaky").start()
    try:
        backend = RedisBackend(server.url, prefix="flaky:")
        cache = ResponseCache(backend, cooldown=0)
        provider = _mock(*(f"answer {i}" for i in range(12)), cache=cache)
        caplog.set_level(logging.DEBUG, logger="jackfield.cache")

        async def call(prompt: str = "q") -> Any:
            return await asyncio.wait_for(provider.generate(prompt), 10)

        def warnings() -> list[logging.LogRecord]:
            return [
                r
                for r in caplog.records
                if r.name == "jackfield.cache" and r.levelno >= logging.WARNING
            ]

        assert (await call()).cached is False
        assert (await call()).cached is True
        for outage in (1, 2):
            server.stop()
            for _ in range(3):
                assert (await call()).cached is False  # degraded to the provider
            assert len(warnings()) == outage, warnings()
            server.start(server.port)  # back, empty (no persistence)
            assert (await call(f"after {outage}")).cached is False  # stored again
            assert (await call(f"after {outage}")).cached is True
            assert len(warnings()) == outage, warnings()
        assert "lookup failed" in warnings()[1].getMessage()
        recovered = [r for r in caplog.records if "works again" in r.getMessage()]
        assert len(recovered) == 2 and all(r.levelno == logging.INFO for r in recovered)
        await cache.close()
    finally:
        server.stop()


async def test_nothing_listening_degrades_to_misses(caplog: pytest.LogCaptureFixture) -> None:
    if importlib.util.find_spec("redis") is None:
        _missing("the redis package is not installed")
    cache = ResponseCache(RedisBackend(f"redis://127.0.0.1:{_free_port()}/0"))
    provider = _mock("a", "b", cache=cache)
    caplog.set_level(logging.WARNING, logger="jackfield.cache")
    assert (await provider.generate("q")).content == "a"
    assert (await provider.generate("q")).content == "b"
    assert cache.stats.errors >= 1
    assert len([r for r in caplog.records if r.name == "jackfield.cache"]) == 1
    with contextlib.suppress(Exception):
        await cache.close()
