"""The gateway's cost: ``python -m benchmarks.gateway [--requests N] [--streams N]``.

Three processes on loopback: the benchmark's fake OpenAI server (``benchmarks.server``,
near-zero CPU per answer), ``jackfield serve`` in front of it, and this client. It
measures, in one run:

* the gateway process's CPU per proxied request (non-streamed OpenAI calls) and per
  streamed chunk (long streams, the per-request part taken out), read from
  ``/proc/<pid>/stat``;
* the same costs for jackfield's own client calling the fake server directly (the
  ``openai-compat`` provider in this process, ``time.process_time``): the ratios say
  what a gateway hop costs against what any caller already pays;
* added latency: p50 and p99 of a small non-streamed call through the gateway minus
  the same call made directly to the fake server (same raw aiohttp client);
* the gateway's import time (``import jackfield.gateway`` and building its app module)
  and its RSS at idle.

LiteLLM's proxy is an optional contestant that this script does not run yet: it only
reports whether ``litellm`` is installed (it is not a dependency here).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

_TICK = os.sysconf("SC_CLK_TCK")


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICK  # utime + stime


def _rss_mib(pid: int) -> float:
    text = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"VmRSS:\s+(\d+) kB", text)
    return int(match.group(1)) / 1024 if match else float("nan")


def _start_fake() -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.server"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    return proc, int(line.split()[1])


def _start_gateway(folder: Path, upstream: str) -> tuple[subprocess.Popen[bytes], str, str]:
    (folder / "gateway.toml").write_text(
        f"""
[gateway]
tokens = "tokens.json"
[gateway.models]
m = "up"
[profiles.up]
provider = "openai-compat"
base_url = "{upstream}"
model = "m"
max_retries = 0
"""
    )
    from jackfield.gateway import TokenStore

    token = TokenStore(folder / "tokens.json").create("bench")
    env = {k: v for k, v in os.environ.items() if not k.startswith("JACKFIELD_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "jackfield.cli", "serve", "-c", str(folder / "gateway.toml"),
         "--port", "0"],
        stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, env=env,
    )  # fmt: skip
    assert proc.stderr is not None
    line = proc.stderr.readline().decode()
    match = re.search(r"listening on (http://\S+)", line)
    if match is None:
        raise RuntimeError(f"the gateway did not start: {line}")
    return proc, match.group(1), token


def _body(chunks: int, stream: bool) -> dict[str, Any]:
    return {
        "model": "m",
        "messages": [{"role": "user", "content": "hi"}],
        "max_tokens": chunks,
        "stream": stream,
    }


async def _calls(
    session: aiohttp.ClientSession, url: str, headers: dict[str, str], n: int, body: Any
) -> list[float]:
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        async with session.post(url, json=body, headers=headers) as r:
            await r.read()
            assert r.status == 200, r.status
        times.append(time.perf_counter() - t0)
    return times


def _pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1] if len(values) > 1 else values[0]


async def _direct_client_cost(
    upstream: str, requests: int, streams: int, chunks: int
) -> dict[str, float]:
    import jackfield

    provider = jackfield.create_provider("openai-compat", base_url=upstream, model="m",
                                         max_retries=0)  # fmt: skip
    try:
        await provider.generate("hi", max_tokens=1)  # warm up
        c0 = time.process_time()
        for _ in range(requests):
            await provider.generate("hi", max_tokens=1)
        per_request = (time.process_time() - c0) / requests
        c0 = time.process_time()
        for _ in range(streams):
            async for _event in provider.stream("hi", max_tokens=chunks):
                pass
        per_stream = (time.process_time() - c0) / streams
    finally:
        await provider.aclose()
    return {"request": per_request, "chunk": max(per_stream - per_request, 0.0) / chunks}


def _import_seconds() -> float:
    code = (
        "import time; t = time.perf_counter(); import jackfield.gateway;"
        " import jackfield.gateway._app; print(time.perf_counter() - t)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(done.stdout.strip())


async def run(requests: int, streams: int, chunks: int) -> dict[str, Any]:
    """Measure; returns the figures (seconds) as a dict."""
    fake, port = _start_fake()
    upstream = f"http://127.0.0.1:{port}/v1"
    folder = Path(tempfile.mkdtemp())
    gateway, url, token = _start_gateway(folder, upstream)
    headers = {"Authorization": f"Bearer {token}"}
    try:
        idle_rss = _rss_mib(gateway.pid)
        async with aiohttp.ClientSession() as session:
            small = _body(1, False)
            await _calls(session, f"{url}/v1/chat/completions", headers, 20, small)  # warm up
            await _calls(session, f"{upstream}/chat/completions", {}, 20, small)
            direct = await _calls(session, f"{upstream}/chat/completions", {}, requests, small)
            c0 = _cpu_seconds(gateway.pid)
            via = await _calls(session, f"{url}/v1/chat/completions", headers, requests, small)
            per_request = (_cpu_seconds(gateway.pid) - c0) / requests
            c0 = _cpu_seconds(gateway.pid)
            await _calls(session, f"{url}/v1/chat/completions", headers, streams,
                         _body(chunks, True))  # fmt: skip
            per_stream = (_cpu_seconds(gateway.pid) - c0) / streams
        client = await _direct_client_cost(upstream, requests, streams, chunks)
    finally:
        gateway.terminate()
        gateway.wait(15)
        if gateway.stderr is not None:
            gateway.stderr.close()
        if fake.stdin is not None:
            fake.stdin.close()
        fake.wait(15)
        if fake.stdout is not None:
            fake.stdout.close()
    per_chunk = max(per_stream - per_request, 0.0) / chunks
    return {
        "gateway_cpu_per_request_s": per_request,
        "gateway_cpu_per_chunk_s": per_chunk,
        "direct_client_cpu_per_request_s": client["request"],
        "direct_client_cpu_per_chunk_s": client["chunk"],
        "ratio_request": per_request / client["request"] if client["request"] else float("nan"),
        "ratio_chunk": per_chunk / client["chunk"] if client["chunk"] else float("nan"),
        "added_latency_p50_s": _pct(via, 50) - _pct(direct, 50),
        "added_latency_p99_s": _pct(via, 99) - _pct(direct, 99),
        "import_s": _import_seconds(),
        "idle_rss_mib": idle_rss,
        "litellm": "installed, not measured by this script"
        if importlib.util.find_spec("litellm")
        else "not installed",
    }


def main(argv: list[str] | None = None) -> int:
    """Run and print the figures."""
    p = argparse.ArgumentParser(prog="python -m benchmarks.gateway")
    p.add_argument("--requests", type=int, default=500)
    p.add_argument("--streams", type=int, default=20)
    p.add_argument("--chunks", type=int, default=1000)
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    out = asyncio.run(run(args.requests, args.streams, args.chunks))
    if args.json:
        print(json.dumps(out, indent=2))
        return 0
    us = 1e6
    print(
        f"gateway CPU per request   {out['gateway_cpu_per_request_s'] * us:8.1f} us"
        f"  ({out['ratio_request']:.2f}x jackfield's direct client)"
    )
    print(
        f"gateway CPU per chunk     {out['gateway_cpu_per_chunk_s'] * us:8.2f} us"
        f"  ({out['ratio_chunk']:.2f}x jackfield's direct client)"
    )
    print(
        f"added latency p50 / p99   {out['added_latency_p50_s'] * 1000:.3f} / "
        f"{out['added_latency_p99_s'] * 1000:.3f} ms"
    )
    print(f"import (gateway + app)    {out['import_s'] * 1000:8.1f} ms")
    print(f"RSS at idle               {out['idle_rss_mib']:8.1f} MiB")
    print(f"LiteLLM proxy             {out['litellm']}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
