"""The gateway's limits counted in a real ``redis-server``: two gateway processes enforce
one limit, and the outage modes (fail open, fail closed) with the server killed mid-run.
"""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
from test_cache_redis import RedisServer
from test_gateway import auth, post, write_config

from jackfield.gateway import Gateway, TokenStore, load_config

BODY = {"model": "echo", "messages": [{"role": "user", "content": "x"}]}


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path / "redis").start()
    try:
        yield server
    finally:
        server.stop()


def _start_process(config: Path) -> tuple[subprocess.Popen[bytes], str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JACKFIELD_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "jackfield.cli", "serve", "-c", str(config), "--port", "0"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
    )
    assert proc.stderr is not None
    line = proc.stderr.readline()  # the process exits (EOF) if it cannot start
    match = re.search(rb"listening on (http://\S+)", line)
    assert match, line
    return proc, match.group(1).decode()


@pytest.fixture
def two_gateways(tmp_path: Path, redis_server: RedisServer) -> Iterator[tuple[list[str], str]]:
    path = write_config(tmp_path, {"echo": "mock"}, limits={"redis_url": redis_server.url})
    value = TokenStore(tmp_path / "tokens.json").create("shared-app", rpm=5)
    procs: list[subprocess.Popen[bytes]] = []
    try:
        urls = []
        for _ in range(2):
            proc, url = _start_process(path)
            procs.append(proc)
            urls.append(url)
        yield urls, value
    finally:
        for proc in procs:
            proc.terminate()  # SIGTERM: the gateway drains and exits
        for proc in procs:
            assert proc.wait(15) == 0
            assert proc.stderr is not None
            proc.stderr.close()


async def test_two_gateway_processes_enforce_one_rpm_limit(
    two_gateways: tuple[list[str], str],
) -> None:
    urls, value = two_gateways
    statuses = []
    for i in range(8):
        status, _, _ = await post(f"{urls[i % 2]}/v1/chat/completions", BODY, auth(value))
        statuses.append(status)
    assert statuses == [200] * 5 + [429] * 3


async def _gateway(tmp_path: Path, url: str, mode: str) -> Gateway:
    limits = {"redis_url": url, "on_redis_error": mode, "rpm": 2}
    return Gateway(load_config(write_config(tmp_path, {"echo": "mock"}, limits=limits)))


async def test_redis_killed_mid_run_fail_open(
    tmp_path: Path, redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="jackfield.gateway")
    async with await _gateway(tmp_path, redis_server.url, "open") as gw:
        assert gw.tokens is not None
        value = gw.tokens.create("app")
        url = f"{gw.url}/v1/chat/completions"
        assert [(await post(url, BODY, auth(value)))[0] for _ in range(3)] == [200, 200, 429]
        redis_server.stop()
        # counted nowhere now: calls go through, and the outage is warned about once
        assert [(await post(url, BODY, auth(value)))[0] for _ in range(3)] == [200] * 3
        warnings = [r for r in caplog.records if "unreachable" in r.getMessage()]
        assert len(warnings) == 1 and "uncounted" in warnings[0].getMessage()
        async with aiohttp.ClientSession() as session, session.get(f"{gw.url}/metrics") as r:
            text = await r.text()
        errors = re.search(r"jackfield_gateway_limit_store_errors (\d+)", text)
        assert errors is not None and int(errors.group(1)) >= 3


async def test_redis_killed_mid_run_fail_closed(tmp_path: Path, redis_server: RedisServer) -> None:
    async with await _gateway(tmp_path, redis_server.url, "closed") as gw:
        assert gw.tokens is not None
        value = gw.tokens.create("app")
        url = f"{gw.url}/api/stream"
        assert (await post(url, BODY, auth(value)))[0] == 200
        redis_server.stop()
        status, headers, raw = await post(url, BODY, auth(value))
        assert status == 503 and headers["Retry-After"] == "1"
        assert json.loads(raw)["error"]["error_type"] == "overloaded"
        redis_server.start(port=redis_server.port)  # back: counting resumes
        assert (await post(url, BODY, auth(value)))[0] == 200
