"""The memory and SQLite backends against the CacheBackend contract, caps and expiry."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from jackfield.cache import CacheBackend, MemoryBackend, SQLiteBackend


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["memory", "sqlite"])
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[CacheBackend]:
    path = tmp_path / "cache.sqlite3"
    b: CacheBackend = MemoryBackend() if request.param == "memory" else SQLiteBackend(path)
    yield b
    await b.close()


async def test_contract(backend: CacheBackend) -> None:
    assert isinstance(backend, CacheBackend)
    assert await backend.get("k") is None
    await backend.set("k", b"v1", None)
    assert await backend.get("k") == b"v1"
    await backend.set("k", b"v2", 60)
    assert await backend.get("k") == b"v2"
    await backend.delete("k")
    await backend.delete("k")  # absent: no error
    assert await backend.get("k") is None
    await backend.set("a", b"\x00binary\xff", None)
    await backend.set("b", b"", None)
    assert await backend.get("a") == b"\x00binary\xff"
    assert await backend.get("b") == b""
    info = await backend.info()
    assert info["backend"] == backend.name
    assert info["entries"] == 2
    for counter in ("hits", "misses", "stores", "errors"):
        assert info[counter] == 0
    await backend.clear()
    assert await backend.get("a") is None
    assert (await backend.info())["entries"] == 0
    await backend.close()
    await backend.set("again", b"x", None)  # usable after close
    assert await backend.get("again") == b"x"


# -- memory --------------------------------------------------------------------------


async def test_memory_lru_evicts_the_least_recently_used() -> None:
    m = MemoryBackend(max_entries=2)
    await m.set("a", b"1", None)
    await m.set("b", b"2", None)
    assert await m.get("a") == b"1"  # a is now the most recent
    await m.set("c", b"3", None)
    assert await m.get("b") is None
    assert await m.get("a") == b"1"
    assert await m.get("c") == b"3"
    assert len(m) == 2
    assert (await m.info())["evictions"] == 1


async def test_memory_ttl_with_an_injected_clock() -> None:
    clock = Clock()
    m = MemoryBackend(clock=clock)
    await m.set("short", b"s", 10)
    await m.set("forever", b"f", None)
    clock.now += 9.9
    assert await m.get("short") == b"s"
    clock.now += 0.1
    assert await m.get("short") is None
    assert await m.get("forever") == b"f"
    await m.set("x", b"x", 1)
    clock.now += 5
    assert m.purge_expired() == 1
    assert len(m) == 1


def test_memory_is_thread_safe() -> None:
    m = MemoryBackend(max_entries=50)

    def work(n: int) -> None:
        for i in range(2000):
            m.set_nowait(f"{n}-{i % 80}", i, None)
            m.get_nowait(f"{(n + 1) % 8}-{i % 80}")

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(m) == 50


def test_memory_rejects_a_bad_cap() -> None:
    with pytest.raises(ValueError, match="max_entries"):
        MemoryBackend(max_entries=0)


# -- sqlite --------------------------------------------------------------------------


async def test_sqlite_is_one_wal_file(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "dir" / "c.sqlite3"
    b = SQLiteBackend(path)
    await b.set("k", b"v", None)
    await b.close()
    assert path.exists()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()


async def test_sqlite_ttl_and_purge_with_an_injected_clock(tmp_path: Path) -> None:
    clock = Clock()
    b = SQLiteBackend(tmp_path / "c.db", clock=clock)
    await b.set("short", b"s", 10)
    await b.set("forever", b"f", None)
    clock.now += 10
    assert await b.get("short") is None  # expired: a miss even before purging
    assert (await b.info())["expired"] == 1
    assert await b.purge() == 1
    info = await b.info()
    assert info["entries"] == 1 and info["expired"] == 0 and info["bytes"] == 1
    await b.set("other", b"o", 10)
    clock.now += 20
    await b.set("new", b"n", None)  # every write purges what has expired
    info = await b.info()
    assert info["entries"] == 2
    assert await b.get("forever") == b"f"
    await b.close()


async def test_sqlite_max_entries_evicts_the_oldest(tmp_path: Path) -> None:
    b = SQLiteBackend(tmp_path / "c.db", max_entries=3)
    for i in range(5):
        await b.set(f"k{i}", b"x" * 10, None)
    assert [await b.get(f"k{i}") is not None for i in range(5)] == [False, False, True, True, True]
    await b.set("k2", b"new", None)  # rewriting makes it the newest
    await b.set("k5", b"x", None)
    assert await b.get("k3") is None
    assert await b.get("k2") == b"new"
    info = await b.info()
    assert info["entries"] == 3 and info["bytes"] == 10 + 3 + 1
    await b.close()


async def test_sqlite_max_bytes_evicts_the_oldest(tmp_path: Path) -> None:
    b = SQLiteBackend(tmp_path / "c.db", max_bytes=100, max_entries=None)
    for i in range(4):
        await b.set(f"k{i}", bytes(30), None)
    assert await b.get("k0") is None
    assert all([await b.get(f"k{i}") is not None for i in (1, 2, 3)])
    await b.set("big", bytes(95), None)
    info = await b.info()
    assert info["entries"] == 1 and info["bytes"] == 95
    await b.set("huge", bytes(500), None)  # larger than the cap: nothing can stay
    assert (await b.info())["entries"] == 0
    await b.close()


async def test_sqlite_counters_are_persisted_for_other_processes(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    b = SQLiteBackend(path)
    b.stats.add("hits", 3)
    b.stats.add("misses", 2)
    await b.set("k", b"v", None)  # writes carry the counters
    b.stats.add("hits")
    await b.close()  # so does closing
    other = SQLiteBackend(path)
    info = await other.info()
    assert info["hits"] == 4 and info["misses"] == 2 and info["entries"] == 1
    await other.clear()
    info = await other.info()
    assert info["hits"] == 0 and info["entries"] == 0
    await other.close()


async def test_sqlite_several_connections_write_concurrently(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    backends = [SQLiteBackend(path) for _ in range(4)]

    async def writer(n: int, b: SQLiteBackend) -> None:
        for i in range(25):
            await b.set(f"{n}-{i}", f"{n}-{i}".encode(), None)

    await asyncio.gather(*(writer(n, b) for n, b in enumerate(backends)))
    assert (await backends[0].info())["entries"] == 100
    assert await backends[3].get("0-24") == b"0-24"
    for b in backends:
        await b.close()


async def test_sqlite_new_file_opened_by_many_connections_at_once(tmp_path: Path) -> None:
    # The first connections race to switch a new file to WAL; SQLite answers that race
    # with "database is locked" without waiting, so the backend must retry it.
    for trial in range(15):
        path = tmp_path / f"race{trial}.db"
        backends = [SQLiteBackend(path) for _ in range(8)]
        await asyncio.gather(*(b.set(f"k{n}", b"v", None) for n, b in enumerate(backends)))
        assert (await backends[0].info())["entries"] == 8
        for b in backends:
            await b.close()


async def test_sqlite_stats_of_a_missing_file_creates_nothing(tmp_path: Path) -> None:
    b = SQLiteBackend(tmp_path / "nope" / "c.db")
    info = await b.info()
    assert info["entries"] == 0
    assert not (tmp_path / "nope").exists()
    await b.close()


def test_sqlite_rejects_bad_options(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="max_entries"):
        SQLiteBackend(tmp_path / "c.db", max_entries=0)
    with pytest.raises(ValueError, match="lots"):
        SQLiteBackend(tmp_path / "c.db", max_bytes="lots")


async def test_sqlite_counters_are_never_added_twice(tmp_path: Path) -> None:
    b = SQLiteBackend(tmp_path / "c.db", flush_interval=0)
    b.stats.add("hits", 5)
    await asyncio.gather(
        *(b.set(f"k{i}", b"v", None) for i in range(10)), *(b.get(f"k{i}") for i in range(10))
    )
    b.stats.add("misses", 2)
    await asyncio.gather(*(b.get("k1") for _ in range(10)))
    await b.close()
    info = await SQLiteBackend(tmp_path / "c.db").info()
    assert (info["hits"], info["misses"]) == (5, 2)
