"""The SQLite backend: one file, safe for several processes at once.

The embedded default for a persistent cache. The file is in WAL mode (readers never wait
for a writer), writers wait up to ``timeout`` seconds for each other (SQLite's busy
timeout), every statement runs in a worker thread (``asyncio.to_thread``), never on the
event loop. Each write purges expired entries and evicts the oldest entries beyond
``max_entries`` / ``max_bytes``; the entry count and byte total are kept in the file,
updated in the same transactions, so enforcing the caps never scans the table.

Counters (hits, misses, stores, errors, coalesced) are persisted in the file too: this
process's increments are added with each write, at most every ``flush_interval``
seconds on reads, on :meth:`SQLiteBackend.close` and at interpreter exit, so
``jackfield cache stats`` shows totals over every process that used the file.

Default location: ``$XDG_CACHE_HOME/jackfield/responses.sqlite3`` (``~/.cache/...``) on
Linux, ``~/Library/Caches/jackfield/...`` on macOS, ``%LOCALAPPDATA%\\jackfield\\...`` on
Windows (see :func:`default_sqlite_path`).
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import os
import sqlite3
import sys
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from ._base import COUNTERS, CacheStats, CounterJournal

__all__ = ["DEFAULT_MAX_BYTES", "SQLiteBackend", "default_sqlite_path"]

DEFAULT_MAX_BYTES = 256 * 1024 * 1024
DEFAULT_TIMEOUT = 2.0
SCHEMA_VERSION = 1
_EVICT_BATCH = 64

_SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (
    key TEXT PRIMARY KEY,
    created REAL NOT NULL,
    expires REAL,
    size INTEGER NOT NULL,
    value BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS entries_expires ON entries(expires) WHERE expires IS NOT NULL;
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""
_META = ("schema", "entries", "bytes", *COUNTERS)


def user_cache_dir() -> Path:
    """The per-user cache directory of this platform (no third-party package needed)."""
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or os.path.join(
            os.path.expanduser("~"), "AppData", "Local"
        )
        return Path(base) / "jackfield" / "Cache"
    if sys.platform == "darwin":
        return Path(os.path.expanduser("~")) / "Library" / "Caches" / "jackfield"
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "jackfield"


def default_sqlite_path() -> Path:
    """Where ``"sqlite:"`` (no path) keeps its file."""
    return user_cache_dir() / "responses.sqlite3"


class SQLiteBackend:
    """A response-cache store in one SQLite file.

    :param path: the file (created with its directory); default :func:`default_sqlite_path`.
    :param max_entries: evict the oldest entries beyond this many (``None``: no cap).
    :param max_bytes: evict the oldest entries while the values exceed this many bytes
        (``None``: no cap); default 256 MiB.
    :param timeout: seconds a writer waits for another process's write (busy timeout).
    :param clock: wall-clock seconds, shared by processes (inject one in tests).
    :param flush_interval: seconds between counter flushes on reads.
    """

    name = "sqlite"

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        max_entries: int | str | None = None,
        max_bytes: int | str | None = DEFAULT_MAX_BYTES,
        timeout: float | str = DEFAULT_TIMEOUT,
        clock: Callable[[], float] = time.time,
        flush_interval: float = 1.0,
    ) -> None:
        self.path = Path(path) if path else default_sqlite_path()
        self.max_entries = _optional_int(max_entries, "max_entries")
        self.max_bytes = _optional_int(max_bytes, "max_bytes")
        self.timeout = float(timeout)
        if self.timeout < 0:
            raise ValueError("timeout must be >= 0")
        self.clock = clock
        self.stats = CacheStats()
        self._journal = CounterJournal(self.stats, flush_interval)
        self._read_lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._read: sqlite3.Connection | None = None
        self._write: sqlite3.Connection | None = None
        atexit.register(_flush_at_exit, weakref.ref(self))

    def __repr__(self) -> str:
        return f"<SQLiteBackend {str(self.path)!r}>"

    # -- connections (called in worker threads, under the role's lock) ------------------

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(
            self.path, timeout=self.timeout, isolation_level=None, check_same_thread=False
        )
        try:
            self._enable_wal(conn)
            conn.execute("PRAGMA synchronous=NORMAL")
            self._ensure_schema(conn)
        except BaseException:
            conn.close()
            raise
        return conn

    def _enable_wal(self, conn: sqlite3.Connection) -> None:
        # Switching a new file to WAL takes an exclusive lock, and SQLite answers
        # "database is locked" at once, without its busy handler, when several
        # connections switch it together: retry until `timeout`. WAL is a property of
        # the file, so once one connection has switched it the others just read it.
        deadline = time.monotonic() + self.timeout
        delay = 0.001
        while True:
            try:
                mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()
                break
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() >= deadline:
                    raise
                time.sleep(delay)
                delay = min(delay * 2, 0.05)
        if mode is None or str(mode[0]).lower() != "wal":  # pragma: no cover - odd fs
            conn.execute("PRAGMA journal_mode=WAL")

    def _ensure_schema(self, conn: sqlite3.Connection) -> None:
        has_meta = conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'"
        ).fetchone()
        row = None
        if has_meta:
            row = conn.execute("SELECT value FROM meta WHERE name = 'schema'").fetchone()
        if row is None:
            with _transaction(conn):  # several processes may race here: all idempotent
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        conn.execute(statement)
                conn.executemany(
                    "INSERT OR IGNORE INTO meta(name, value) VALUES (?, 0)",
                    [(n,) for n in _META],
                )
                conn.execute("UPDATE meta SET value = ? WHERE name = 'schema'", (SCHEMA_VERSION,))
        elif row[0] != SCHEMA_VERSION:
            raise sqlite3.DatabaseError(
                f"{self.path}: cache schema {row[0]}, expected {SCHEMA_VERSION}"
            )

    @contextlib.contextmanager
    def _use(self, role: str) -> Iterator[sqlite3.Connection]:
        """The read or write connection, opened on first use, dropped after an error."""
        lock = self._write_lock if role == "write" else self._read_lock
        with lock:
            conn = self._write if role == "write" else self._read
            if conn is None:
                conn = self._connect()
                if role == "write":
                    self._write = conn
                else:
                    self._read = conn
            try:
                yield conn
            except sqlite3.Error:
                # Reopen next time: the file may have been replaced or repaired.
                if role == "write":
                    self._write = None
                else:
                    self._read = None
                with contextlib.suppress(sqlite3.Error):
                    conn.close()
                raise

    # -- the interface --------------------------------------------------------------------

    async def get(self, key: str) -> bytes | None:
        """See :class:`~jackfield.cache.CacheBackend`."""
        return await asyncio.to_thread(self._get, key)

    async def set(self, key: str, value: bytes, ttl: float | None) -> None:
        """See :class:`~jackfield.cache.CacheBackend`."""
        await asyncio.to_thread(self._set, key, value, ttl)

    async def delete(self, key: str) -> None:
        """See :class:`~jackfield.cache.CacheBackend`."""
        await asyncio.to_thread(self._delete, key)

    async def clear(self) -> None:
        """Drop every entry and reset the counters; a corrupt file is replaced."""
        await asyncio.to_thread(self._clear)

    async def close(self) -> None:
        """Flush the counters and close the connections (they reopen on next use)."""
        await asyncio.to_thread(self.close_sync)

    async def info(self) -> dict[str, Any]:
        """Counters over every process, entries, bytes, caps and the file."""
        return await asyncio.to_thread(self._info)

    async def purge(self) -> int:
        """Delete expired entries now; returns how many."""
        return await asyncio.to_thread(self._purge_now)

    # -- synchronous bodies (worker threads) ------------------------------------------

    def _get(self, key: str) -> bytes | None:
        with self._use("read") as conn:
            row = conn.execute(
                "SELECT value, expires FROM entries WHERE key = ?", (key,)
            ).fetchone()
        if self._journal.due():
            self._flush_quietly()
        if row is None:
            return None
        value, expires = row
        if expires is not None and expires <= self.clock():
            return None
        return bytes(value)

    def _set(self, key: str, value: bytes, ttl: float | None) -> None:
        now = self.clock()
        expires = None if ttl is None else now + ttl
        size = len(value)
        with self._use("write") as conn:
            taken = self._journal.take()  # this process's counters ride along
            try:
                with _transaction(conn):
                    old = conn.execute("SELECT size FROM entries WHERE key = ?", (key,)).fetchone()
                    conn.execute(
                        "INSERT OR REPLACE INTO entries(key, created, expires, size, value) "
                        "VALUES (?, ?, ?, ?, ?)",
                        (key, now, expires, size, value),
                    )
                    if old is None:
                        _bump(conn, entries=1, bytes=size)
                    else:
                        _bump(conn, bytes=size - old[0])
                    self._purge(conn, now)
                    self._evict(conn)
                    _bump(conn, **taken)
            except BaseException:
                self._journal.restore(taken)
                raise

    def _delete(self, key: str) -> None:
        with self._use("write") as conn, _transaction(conn):
            old = conn.execute("SELECT size FROM entries WHERE key = ?", (key,)).fetchone()
            if old is not None:
                conn.execute("DELETE FROM entries WHERE key = ?", (key,))
                _bump(conn, entries=-1, bytes=-old[0])

    def _clear(self) -> None:
        try:
            with self._use("write") as conn, _transaction(conn):
                conn.execute("DELETE FROM entries")
                conn.execute("UPDATE meta SET value = 0 WHERE name != 'schema'")
        except sqlite3.OperationalError:
            raise  # locked, read-only, ...: not ours to delete
        except sqlite3.DatabaseError:
            self._replace_corrupt_file()
        self.stats.reset()
        self._journal.reset()

    def _replace_corrupt_file(self) -> None:
        with self._read_lock, self._write_lock:
            for conn in (self._read, self._write):
                if conn is not None:
                    with contextlib.suppress(sqlite3.Error):
                        conn.close()
            self._read = self._write = None
            for suffix in ("", "-wal", "-shm", "-journal"):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(f"{self.path}{suffix}")
        with self._use("write"):
            pass  # recreate the schema

    def _purge_now(self) -> int:
        with self._use("write") as conn, _transaction(conn):
            return self._purge(conn, self.clock())

    def _purge(self, conn: sqlite3.Connection, now: float) -> int:
        count, total = conn.execute(
            "SELECT count(*), total(size) FROM entries WHERE expires IS NOT NULL AND expires <= ?",
            (now,),
        ).fetchone()
        if count:
            conn.execute("DELETE FROM entries WHERE expires IS NOT NULL AND expires <= ?", (now,))
            _bump(conn, entries=-count, bytes=-int(total))
        return int(count)

    def _evict(self, conn: sqlite3.Connection) -> None:
        """Delete the oldest entries while a cap is exceeded."""
        max_entries, max_bytes = self.max_entries, self.max_bytes
        if max_entries is None and max_bytes is None:
            return
        entries, total = _totals(conn)

        def over() -> bool:
            return (max_entries is not None and entries > max_entries) or (
                max_bytes is not None and total > max_bytes
            )

        if not over():
            return
        rows: list[Any] = []
        while over():
            rows = conn.execute(
                "SELECT rowid, size FROM entries ORDER BY rowid LIMIT ?", (_EVICT_BATCH,)
            ).fetchall()
            if not rows:
                break
            for rowid, size in rows:
                if not over():
                    break
                conn.execute("DELETE FROM entries WHERE rowid = ?", (rowid,))
                entries -= 1
                total -= size
        if entries < 0 or total < 0 or not rows:  # the totals drifted: recount
            entries, total = conn.execute("SELECT count(*), total(size) FROM entries").fetchone()
        conn.execute("UPDATE meta SET value = ? WHERE name = 'entries'", (int(entries),))
        conn.execute("UPDATE meta SET value = ? WHERE name = 'bytes'", (int(total),))

    def _flush(self, busy_timeout: float | None = None) -> None:
        if not self._journal.pending():
            self._journal.last = time.monotonic()
            return
        with self._use("write") as conn:
            if busy_timeout is not None:
                conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
            try:
                taken = self._journal.take()
                try:
                    with _transaction(conn):
                        _bump(conn, **taken)
                except BaseException:
                    self._journal.restore(taken)
                    raise
            finally:
                if busy_timeout is not None:
                    conn.execute(f"PRAGMA busy_timeout = {int(self.timeout * 1000)}")

    def _flush_quietly(self, busy_timeout: float = 0.0) -> None:
        # Counters are best effort: a busy or broken file must not slow a read down.
        with contextlib.suppress(sqlite3.Error, OSError):
            self._flush(busy_timeout)

    def close_sync(self) -> None:
        """Flush the counters (best effort) and close the connections."""
        self._flush_quietly(busy_timeout=min(self.timeout, 0.5))
        with self._read_lock, self._write_lock:
            for conn in (self._read, self._write):
                if conn is not None:
                    with contextlib.suppress(sqlite3.Error):
                        conn.close()
            self._read = self._write = None

    def _info(self) -> dict[str, Any]:
        if not self.path.exists() and self._read is None:  # looking creates nothing
            pending = self._journal.pending()
            counters = {k: pending.get(k, 0) for k in COUNTERS}
            return {
                "backend": self.name,
                **counters,
                "entries": 0,
                "bytes": 0,
                "path": str(self.path),
            }
        with self._use("read") as conn:
            stored = dict(conn.execute("SELECT name, value FROM meta").fetchall())
            oldest, newest = conn.execute(
                "SELECT min(created), max(created) FROM entries"
            ).fetchone()
            expired = conn.execute(
                "SELECT count(*) FROM entries WHERE expires IS NOT NULL AND expires <= ?",
                (self.clock(),),
            ).fetchone()[0]
        pending = self._journal.pending()
        size = 0
        for suffix in ("", "-wal"):
            with contextlib.suppress(OSError):
                size += os.path.getsize(f"{self.path}{suffix}")
        return {
            "backend": self.name,
            **{k: int(stored.get(k, 0)) + pending.get(k, 0) for k in COUNTERS},
            "entries": int(stored.get("entries", 0)),
            "bytes": int(stored.get("bytes", 0)),
            "expired": int(expired),
            "oldest": oldest,
            "newest": newest,
            "max_entries": self.max_entries,
            "max_bytes": self.max_bytes,
            "path": str(self.path),
            "file_bytes": size,
        }


def _optional_int(value: int | str | None, name: str) -> int | None:
    if value is None or value == "" or value == "none":
        return None
    number = int(value)
    if number < 1:
        raise ValueError(f"{name} must be at least 1")
    return number


@contextlib.contextmanager
def _transaction(conn: sqlite3.Connection) -> Iterator[None]:
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _bump(conn: sqlite3.Connection, **deltas: int) -> None:
    for name, delta in deltas.items():
        if delta:
            conn.execute("UPDATE meta SET value = value + ? WHERE name = ?", (delta, name))


def _totals(conn: sqlite3.Connection) -> tuple[int, int]:
    rows = dict(
        conn.execute("SELECT name, value FROM meta WHERE name IN ('entries', 'bytes')").fetchall()
    )
    return int(rows.get("entries", 0)), int(rows.get("bytes", 0))


def _flush_at_exit(ref: weakref.ref[SQLiteBackend]) -> None:
    backend = ref()
    if backend is not None:
        backend.close_sync()
