"""A broken cache never fails a call: corrupt or locked SQLite, then recovery.

(Redis killed mid-run is in test_cache_redis.py, next to the server fixture.)
"""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from jackfield.cache import ResponseCache, SQLiteBackend
from jackfield.cli import main
from jackfield.plugins.mock import MockProvider
from jackfield.retry import RetryPolicy


async def _no_sleep(seconds: float) -> None:
    return None


def _mock(*replies: Any, cache: ResponseCache) -> MockProvider:
    provider = MockProvider(
        replies=replies, retry_policy=RetryPolicy(max_retries=0, sleep=_no_sleep)
    )
    provider.response_cache = cache
    return provider


def _warnings(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [
        r for r in caplog.records if r.name == "jackfield.cache" and r.levelno >= logging.WARNING
    ]


def _corrupt(path: Path) -> None:
    for suffix in ("-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    with open(path, "r+b") as f:
        f.write(b"this is not a database, just garbage " * 200)


async def test_a_corrupt_sqlite_file(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "c.db"
    seed = SQLiteBackend(path)
    await seed.set("jackfield:v1:x", b"x", None)
    await seed.close()
    _corrupt(path)
    caplog.set_level(logging.DEBUG, logger="jackfield.cache")
    cache = ResponseCache(SQLiteBackend(path), cooldown=0)
    provider = _mock("one", "two", "three", cache=cache)
    assert (await provider.generate("q")).content == "one"
    assert (await provider.generate("q")).content == "two"
    assert (await provider.stream("q").collect()).content == "three"
    assert cache.stats.errors >= 3 and cache.stats.hits == 0
    assert len(_warnings(caplog)) == 1
    assert "DatabaseError" in _warnings(caplog)[0].getMessage()

    # the operator's way out: `jackfield cache clear` replaces a corrupt file
    assert await asyncio.to_thread(main, ["cache", "clear", "--cache", f"sqlite:{path}"]) == 0
    provider.script("four", "unused")
    assert (await provider.generate("q")).content == "four"
    assert (await provider.generate("q")).cached is True
    await cache.close()


async def test_a_file_corrupted_while_in_use(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "c.db"
    cache = ResponseCache(SQLiteBackend(path), cooldown=0)
    provider = _mock("one", "two", "three", cache=cache)
    await provider.generate("q")
    await cache.close()  # connections reopen on the next call and meet the garbage
    _corrupt(path)
    caplog.set_level(logging.WARNING, logger="jackfield.cache")
    assert (await provider.generate("q")).content == "two"
    assert (await provider.generate("q")).content == "three"
    assert cache.stats.errors >= 2
    assert len(_warnings(caplog)) == 1
    await cache.close()


@pytest.fixture
def locker(tmp_path: Path) -> Iterator[Any]:
    """``locker(path)``: hold an EXCLUSIVE transaction on ``path`` until the test ends."""
    held: list[sqlite3.Connection] = []

    def lock(path: Path) -> sqlite3.Connection:
        conn = sqlite3.connect(path, isolation_level=None)
        conn.execute("BEGIN EXCLUSIVE")
        held.append(conn)
        return conn

    yield lock
    for conn in held:
        conn.rollback()
        conn.close()


async def test_a_locked_sqlite_file(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, locker: Any
) -> None:
    path = tmp_path / "c.db"
    now = [0.0]
    cache = ResponseCache(SQLiteBackend(path, timeout=0.05), cooldown=1.0, clock=lambda: now[0])
    provider = _mock("one", "two", "three", "four", cache=cache)
    await provider.generate("stored before the lock")
    caplog.set_level(logging.WARNING, logger="jackfield.cache")
    lock = locker(path)
    assert (await provider.generate("q")).content == "two"  # the store times out
    now[0] += 1
    assert (await provider.generate("q")).content == "three"
    assert cache.stats.errors == 2
    assert len(_warnings(caplog)) == 1
    assert "locked" in _warnings(caplog)[0].getMessage()
    # WAL: readers are not blocked by the writer's lock
    now[0] += 1
    assert (await provider.generate("stored before the lock")).cached is True
    lock.rollback()
    now[0] += 1
    assert (await provider.generate("q")).content == "four"
    assert (await provider.generate("q")).cached is True  # stores work again
    await cache.close()


async def test_a_file_locked_before_it_was_ever_opened(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, locker: Any
) -> None:
    path = tmp_path / "c.db"
    locker(path)  # a rollback-journal database, exclusively locked: no reads either
    cache = ResponseCache(SQLiteBackend(path, timeout=0.05), cooldown=0)
    provider = _mock("one", "two", cache=cache)
    caplog.set_level(logging.WARNING, logger="jackfield.cache")
    assert (await provider.generate("q")).content == "one"
    assert (await provider.generate("q")).content == "two"
    assert cache.stats.errors >= 2
    assert len(_warnings(caplog)) == 1
    await cache.close()


async def test_an_unwritable_directory(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("a file where a directory should be")
    cache = ResponseCache(SQLiteBackend(blocker / "sub" / "c.db"), cooldown=0)
    provider = _mock("one", cache=cache)
    caplog.set_level(logging.WARNING, logger="jackfield.cache")
    assert (await provider.generate("q")).content == "one"
    assert cache.stats.errors == 2
    assert len(_warnings(caplog)) == 1
    await cache.close()


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="needs a non-root POSIX user")
async def test_a_read_only_file(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "c.db"
    seed = SQLiteBackend(path)
    await seed.set("k", b"v", None)
    await seed.close()
    for p in tmp_path.iterdir():  # noqa: ASYNC240 - test setup
        p.chmod(0o444)
    tmp_path.chmod(0o555)  # noqa: ASYNC240
    try:
        cache = ResponseCache(SQLiteBackend(path), cooldown=0)
        provider = _mock("one", cache=cache)
        assert (await provider.generate("q")).content == "one"
        assert cache.stats.errors >= 1
        await cache.close()
    finally:
        tmp_path.chmod(0o755)  # noqa: ASYNC240
