"""A client process: runs scenarios on command and measures its own CPU and wall time.

Started by the harness as ``python -m benchmarks.worker CLIENT BASE_URL [--cpu N]
[--warmup JSON]``. It builds the client and runs the warm-up scenarios (imports, first
calls and connection set-up are not measured), then pins itself to its CPU, says
``{"ready": true}`` and answers one JSON command per stdin line with one JSON line:

* ``{"op": "run", "scenario": S, "n": N, "concurrency": C}`` runs scenario ``S`` once
  and answers ``{"cpu": seconds, "wall": seconds, "units": U}``; CPU is user + system
  time of this process from ``resource.getrusage(RUSAGE_SELF)``.
* ``{"op": "rss"}`` answers ``{"maxrss_kib": ...}`` (peak resident set size).
* ``{"op": "exit"}`` closes the client and exits.

Scenarios: ``seq`` (N non-streamed calls, one after another), ``conc`` (N calls, C at a
time), ``stream`` (one stream of N chunks), ``streams`` (C concurrent streams of N
chunks each). Every answer is checked, so a client cannot skip work.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import resource
import sys
import time
from typing import Any

from .clients import CLIENTS, Client
from .wire import TEXT, stream_text


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


async def _seq(client: Client, n: int) -> int:
    for _ in range(n):
        if await client.request() != TEXT:
            raise AssertionError(f"{client.name}: wrong answer")
    return n


async def _conc(client: Client, n: int, concurrency: int) -> int:
    remaining = n

    async def lane() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            if await client.request() != TEXT:
                raise AssertionError(f"{client.name}: wrong answer")

    await asyncio.gather(*(lane() for _ in range(concurrency)))
    return n


async def _stream(client: Client, n: int) -> int:
    parts = await client.stream(n)
    if len(parts) != n or "".join(parts) != stream_text(n):
        raise AssertionError(f"{client.name}: got {len(parts)} of {n} chunks")
    return n


async def _streams(client: Client, n: int, concurrency: int) -> int:
    await asyncio.gather(*(_stream(client, n) for _ in range(concurrency)))
    return n * concurrency


def run(loop: asyncio.AbstractEventLoop, client: Client, cmd: dict[str, Any]) -> dict[str, Any]:
    """Run one scenario once and measure it."""
    scenario, n, c = cmd["scenario"], int(cmd["n"]), int(cmd.get("concurrency") or 1)
    if scenario == "seq":
        coro = _seq(client, n)
    elif scenario == "conc":
        coro = _conc(client, n, c)
    elif scenario == "stream":
        coro = _stream(client, n)
    elif scenario == "streams":
        coro = _streams(client, n, c)
    else:
        raise ValueError(f"unknown scenario {scenario!r}")
    gc.collect()
    cpu0, wall0 = _cpu(), time.perf_counter()
    units = loop.run_until_complete(coro)
    wall, cpu = time.perf_counter() - wall0, _cpu() - cpu0
    return {"cpu": cpu, "wall": wall, "units": units}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("client", choices=sorted(CLIENTS))
    parser.add_argument("base_url")
    parser.add_argument("--cpu", type=int, default=None)
    parser.add_argument("--warmup", default="[]", help="JSON list of runs before pinning")
    args = parser.parse_args(argv)
    out = os.fdopen(os.dup(sys.stdout.fileno()), "w", buffering=1)
    sys.stdout = sys.stderr  # nothing a library prints can corrupt the protocol

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    client = CLIENTS[args.client]()
    try:
        loop.run_until_complete(client.setup(args.base_url))
        for cmd in json.loads(args.warmup):  # first calls: lazy imports, connections
            run(loop, client, cmd)
    except Exception as exc:
        out.write(json.dumps({"error": f"{type(exc).__name__}: {exc}"}) + "\n")
        return 1
    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})
    out.write(json.dumps({"ready": True}) + "\n")
    for line in sys.stdin:
        cmd = json.loads(line)
        op = cmd.get("op")
        if op == "run":
            try:
                reply = run(loop, client, cmd)
            except Exception as exc:  # reported, and the harness fails loudly
                reply = {"error": f"{type(exc).__name__}: {exc}"}
        elif op == "rss":
            reply = {"maxrss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}
        elif op == "exit":
            break
        else:
            reply = {"error": f"unknown op {op!r}"}
        out.write(json.dumps(reply) + "\n")
    loop.run_until_complete(client.aclose())
    loop.run_until_complete(asyncio.sleep(0))
    loop.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
