"""The router's "done when" soak: real loopback servers per target, Redis for shared state.

One target fails at random (HTTP 500s and reset connections), another answers 429 with a
long ``Retry-After``, the third is healthy: every call succeeds, no stream carries
duplicated text, the flaky target's breaker opens and closes as configured, and two
processes sharing Redis see one breaker state.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from routing import Events
from test_cache_redis import RedisServer

import jackfield
from jackfield.events import TextDelta
from jackfield.plugins.mock import MockProvider
from jackfield.plugins.openai_compat import OpenAICompatProvider
from jackfield.router import Router
from jackfield.router._redis_state import RedisState
from jackfield.testing import ErrorReply, FakeLLMServer, RecordedRequest, Reset


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    try:
        yield server
    finally:
        server.stop()


def test_soak_every_call_succeeds_while_a_healthy_target_exists(
    redis_server: RedisServer,
) -> None:
    rng = random.Random(15)

    def flaky(request: RecordedRequest) -> Any:
        roll = rng.random()
        if roll < 0.25:
            return ErrorReply(500, {"error": {"message": "boom", "type": "server_error"}})
        if roll < 0.45:
            return Reset()
        return None  # the echo

    limited_body = {"error": {"message": "slow down", "type": "rate_limit_error"}}

    async def soak() -> dict[str, Any]:
        events = Events()
        registry = jackfield.Registry(entry_points=False)
        registry.register_provider(OpenAICompatProvider)
        registry.register_provider(Router)
        registry.register_plugin(events, name="events")
        async with (
            FakeLLMServer(handler=flaky) as bad,
            FakeLLMServer(
                default_reply=ErrorReply(429, limited_body, {"retry-after": "600"})
            ) as limited,
            FakeLLMServer() as good,
        ):
            state = RedisState(redis_server.url, prefix=f"soak{uuid.uuid4().hex[:8]}:")

            def target(server: FakeLLMServer, model: str) -> dict[str, Any]:
                return {
                    "target": "openai-compat",
                    "base_url": server.openai_base_url,
                    "model": model,
                    "weight": 1,
                    "max_retries": 0,
                    "timeout": 5,
                }

            router = Router(
                registry=registry,
                hooks=registry.hooks,
                state=state,
                targets=[target(bad, "bad"), target(limited, "limited"), target(good, "good")],
                strategy="weighted",
                breaker_failures=2,
                breaker_window=5,
                breaker_cooldown=0.15,
            )
            answers: list[tuple[str, str]] = []
            failures: list[BaseException] = []

            async def call(i: int) -> None:
                prompt = f"question {i}"
                try:
                    if i % 2:
                        pieces = [
                            e.text async for e in router.stream(prompt) if isinstance(e, TextDelta)
                        ]
                        answers.append((prompt, "".join(pieces)))
                    else:
                        answers.append((prompt, (await router.generate(prompt)).content))
                except Exception as exc:
                    failures.append(exc)

            def seen(kind: str, state_name: str) -> bool:
                return any(
                    e.kind == kind
                    and e.state == state_name
                    and e.target.startswith("openai-compat")
                    and "bad" in str(router._targets[0].spec.overrides.get("model"))
                    for e in events.seen
                    if e.target == router.target_keys[0]
                )

            started = time.monotonic()
            i = 0
            while i < 120 or not (seen("breaker", "open") and seen("breaker", "closed")):
                await asyncio.gather(*(call(i + k) for k in range(8)))
                i += 8
                if time.monotonic() - started > 12:
                    break
                if i >= 120:
                    await asyncio.sleep(0.05)  # let the open breaker's cooldown pass
            status = await router.status()
            await router.reset_state()
            await router.aclose()
            return {
                "answers": answers,
                "failures": failures,
                "events": list(events.seen),
                "keys": router.target_keys,
                "limited_requests": limited.request_count,
                "bad_requests": bad.request_count,
                "status": status,
                "calls": i,
            }

    result = asyncio.run(asyncio.wait_for(soak(), 30))
    assert result["failures"] == []
    assert len(result["answers"]) == result["calls"] >= 120
    for prompt, text in result["answers"]:
        assert text == f"echo: {prompt}", (prompt, text)  # no duplicated text, ever
    bad_key, limited_key, _ = result["keys"]
    changes = [
        (e.previous, e.state)
        for e in result["events"]
        if e.kind == "breaker" and e.target == bad_key
    ]
    assert ("closed", "open") in changes
    assert ("half_open", "closed") in changes
    assert result["bad_requests"] >= 3  # two failures opened it, a probe closed it
    # the 429 with Retry-After: 600 took the target out at once, for every later call
    assert 1 <= result["limited_requests"] <= 8
    take_outs = [e for e in result["events"] if e.kind == "take_out" and e.target == limited_key]
    assert take_outs and take_outs[0].error is not None and take_outs[0].error.retry_after == 600
    assert [row["in_flight"] for row in result["status"]] == [0, 0, 0]
    limited_status = result["status"][1]
    assert limited_status["blocked_reason"] == "rate_limit"


PROCESS = r"""
import asyncio, json, sys

import jackfield

async def main() -> None:
    router = jackfield.create_provider("shared")
    answers = [(await router.generate("hi")).model for _ in range(2)]
    rows = await router.status()
    await router.aclose()
    print(json.dumps({"answers": answers, "breaker": rows[0]["breaker"]}))

asyncio.run(main())
"""


def _profile(path: Path, url: str, prefix: str, replies: str) -> Path:
    path.write_text(
        f"""
[profiles.shared]
provider = "router"
state = "{url}"
state_prefix = "{prefix}"
breaker_failures = 2
breaker_cooldown = 60
targets = [
  {{target = "mock:a", max_retries = 0, extra = {{replies = {replies}}}}},
  "mock:b",
]
"""
    )
    return path


def test_two_processes_sharing_redis_see_one_breaker_state(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    prefix = f"procs{uuid.uuid4().hex[:8]}:"
    failing = _profile(
        tmp_path / "failing.toml",
        redis_server.url,
        prefix,
        '[{error = "server"}, {error = "server"}]',
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("JACKFIELD_")}
    env["JACKFIELD_CONFIG"] = str(failing)
    env["PYTHONWARNINGS"] = "error::ResourceWarning"
    done = subprocess.run(
        [sys.executable, "-c", PROCESS], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr[-3000:]
    first = json.loads(done.stdout.strip().splitlines()[-1])
    assert first == {"answers": ["b", "b"], "breaker": "open"}

    # This process: mock:a would answer now, but the shared breaker is open: b answers.
    healthy = _profile(tmp_path / "healthy.toml", redis_server.url, prefix, "[]")
    registry = jackfield.Registry(entry_points=False, config_path=healthy)
    registry.register_provider(MockProvider)
    registry.register_provider(Router)
    router = registry.create_provider("shared")
    assert isinstance(router, Router)

    async def here() -> tuple[str, list[dict[str, Any]]]:
        try:
            return (await router.generate("hi")).model, await router.status()
        finally:
            await router.aclose()

    model, rows = asyncio.run(asyncio.wait_for(here(), 10))
    assert model == "b"
    assert rows[0]["target"] == "mock:a" and rows[0]["breaker"] == "open"
    assert not router.targets[0].requests  # type: ignore[attr-defined]

    # and the CLI view, in a third process, reads the same state
    env["JACKFIELD_CONFIG"] = str(healthy)
    cli = subprocess.run(
        [sys.executable, "-m", "jackfield.cli", "router", "status", "shared", "--json"],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert cli.returncode == 0, cli.stderr[-3000:]
    shown = json.loads(cli.stdout)
    assert shown["shared"][0]["target"] == "mock:a" and shown["shared"][0]["breaker"] == "open"
