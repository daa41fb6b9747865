"""``jackfield cache stats`` and ``jackfield cache clear``."""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path

import pytest

from jackfield.cache import ResponseCache, SQLiteBackend
from jackfield.cache._sqlite import default_sqlite_path
from jackfield.cli import main
from jackfield.plugins.mock import MockProvider


def _cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def _fill(path: Path) -> None:
    async def run() -> None:
        cache = ResponseCache(SQLiteBackend(path))
        provider = MockProvider()
        provider.response_cache = cache
        await provider.generate("a")
        await provider.generate("a")
        await provider.stream("b").collect()
        await cache.close()

    asyncio.run(run())


def test_stats_json(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    _fill(path)
    code, out, err = _cli("cache", "stats", "--cache", f"sqlite:{path}", "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["backend"] == "sqlite" and data["path"] == str(path)
    assert data["entries"] == 2
    assert (data["hits"], data["misses"], data["stores"], data["errors"]) == (1, 2, 2, 0)


def test_stats_text_and_clear(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    _fill(path)
    code, out, _ = _cli("cache", "stats", "--cache", f"sqlite:{path}")
    assert code == 0 and "entries: 2\n" in out and "hits: 1\n" in out
    code, out, _ = _cli("cache", "clear", "--cache", f"sqlite:{path}")
    assert code == 0 and out == f"cleared sqlite:{path}\n"
    code, out, _ = _cli("cache", "stats", "--cache", f"sqlite:{path}", "--json")
    data = json.loads(out)
    assert data["entries"] == 0 and data["hits"] == 0


def test_default_spec_is_jackfield_cache_then_the_user_cache_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "from-env.db"
    _fill(path)
    monkeypatch.setenv("JACKFIELD_CACHE", f"sqlite:{path}")
    assert json.loads(_cli("cache", "stats", "--json")[1])["entries"] == 2
    monkeypatch.delenv("JACKFIELD_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    code, _, err = _cli("cache", "stats", "--json")
    assert code == 1 and f"cache sqlite:{default_sqlite_path()} does not exist" in err
    assert str(default_sqlite_path()).startswith(str(tmp_path / "xdg" / "jackfield"))
    _fill(default_sqlite_path())
    code, out, _ = _cli("cache", "--json", "stats")  # options before or after the action
    assert code == 0
    assert json.loads(out)["path"] == str(default_sqlite_path())


def test_errors_are_one_line_with_exit_codes(tmp_path: Path) -> None:
    code, _, err = _cli("cache", "purge")
    assert code == 2 and err.count("\n") == 1 and "invalid choice: 'purge'" in err
    code, _, err = _cli("cache", "stats", "--cache", "nosuch:x")
    assert code == 1 and err.count("\n") == 1 and "unknown backend 'nosuch'" in err
    bad = tmp_path / "garbage.db"
    bad.write_bytes(b"garbage" * 1000)
    code, _, err = _cli("cache", "stats", "--cache", f"sqlite:{bad}")
    assert code == 1 and err.count("\n") == 1 and "DatabaseError" in err
    code, _, err = _cli("cache", "stats", "--cache", "redis://:hunter2@127.0.0.1:1/0")
    assert code == 1 and err.count("\n") == 1 and "hunter2" not in err


def test_memory_stats_in_a_fresh_process_are_empty() -> None:
    code, out, _ = _cli("cache", "stats", "--cache", "memory", "--json")
    assert code == 0 and json.loads(out)["entries"] == 0
