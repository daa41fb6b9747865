"""Caches shared by OS processes: a write in one process is a hit in another.

Each process runs a small script through the public API with the mock provider (from
the entry points, as an application would), against one SQLite file or one real Redis.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_cache_redis import RedisServer

SCRIPT = r"""
import asyncio, json, sys

import jackfield
from jackfield.cache import close_caches

async def main() -> None:
    spec, tag, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    provider = jackfield.create_provider("mock", config={"cache": spec})
    results = []
    for i in range(count):
        response = await provider.generate(f"{tag} question {i}")
        streamed = await provider.stream(f"{tag} stream {i}").collect()
        results.append([response.content, response.cached, streamed.content, streamed.cached])
    stats = provider.response_cache.stats.snapshot()
    await close_caches()
    print(json.dumps({"results": results, "requests": len(provider.requests), "stats": stats}))

asyncio.run(main())
"""


def _run(spec: str, tag: str, count: int = 1, *, cwd: Path) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JACKFIELD_")}
    (cwd / "empty.toml").write_text("")
    env["JACKFIELD_CONFIG"] = str(cwd / "empty.toml")
    env["PYTHONWARNINGS"] = "error::ResourceWarning"
    return subprocess.Popen(
        [sys.executable, "-c", SCRIPT, spec, tag, str(count)],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _result(proc: subprocess.Popen[str]) -> dict[str, Any]:
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err[-3000:]
    data: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return data


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(params=["sqlite", "redis"])
def spec(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:{tmp_path / 'shared.sqlite3'}"
    server: RedisServer = request.getfixturevalue("redis_server")
    return f"{server.url}?prefix=proc-{uuid.uuid4().hex[:8]}:"


def test_a_write_in_one_process_is_a_hit_in_another(spec: str, tmp_path: Path) -> None:
    first = _result(_run(spec, "shared", cwd=tmp_path))
    second = _result(_run(spec, "shared", cwd=tmp_path))
    [[content, cached, streamed, stream_cached]] = first["results"]
    assert content == "echo: shared question 0" and cached is False and stream_cached is False
    assert first["requests"] == 2
    [[content2, cached2, streamed2, stream_cached2]] = second["results"]
    assert (content2, streamed2) == (content, streamed)
    assert cached2 is True and stream_cached2 is True
    assert second["requests"] == 0  # the mock in the second process saw nothing
    assert second["stats"]["hits"] == 2 and second["stats"]["errors"] == 0


def test_processes_writing_at_once(spec: str, tmp_path: Path) -> None:
    procs = [_run(spec, f"writer{n}", 15, cwd=tmp_path) for n in range(4)]
    results = [_result(p) for p in procs]
    for r in results:
        assert r["stats"]["errors"] == 0, r["stats"]
        assert r["stats"]["stores"] == 30
    again = _result(_run(spec, "writer2", 15, cwd=tmp_path))
    assert again["requests"] == 0 and again["stats"]["hits"] == 30
