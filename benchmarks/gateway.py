"""The gateway's cost: ``python -m benchmarks.gateway [--requests N] [--streams N]
[--litellm PATH]``.

Three processes on loopback: the benchmark's fake OpenAI server (``benchmarks.server``,
near-zero CPU per answer), ``jackfield serve`` in front of it, and this client. It
measures, in one run:

* the gateway's CPU per proxied request (non-streamed OpenAI calls) and per streamed
  chunk (long streams, the per-request part taken out), read from ``/proc/<pid>/stat``
  for its whole process tree;
* the same costs for jackfield's own client calling the fake server directly (the
  ``openai-compat`` provider in this process, ``time.process_time``): the ratios say
  what a gateway hop costs against what any caller already pays;
* added latency: p50 and p99 of a small non-streamed call through the gateway minus
  the same call made directly to the fake server (same raw aiohttp client);
* the gateway's import time (``import jackfield.gateway`` and building its app module),
  its start time (process start to listening) and its RSS at idle.

LiteLLM's proxy is an optional contestant (it is not a dependency of jackfield; install
it in a venv of its own: ``pip install 'litellm[proxy]'``). The script looks for its
``litellm`` command at ``--litellm PATH``, else on ``PATH``; where it is absent it says
"not installed" and measures the gateway alone. Where it is found, after the gateway
has been measured and stopped, it starts it on a free loopback port with a generated
config (one model ``m`` = ``openai/m`` on the fake server, a master key used as the
client's bearer token, no database, no telemetry, local cost map so it never goes to
the network), waits for ``/health/liveliness``, and runs the same load: the same
warm-up, the same request bodies and counts, CPU summed over its whole process tree,
the same latency figures, its start time, the import time of
``litellm.proxy.proxy_server`` in its own interpreter, and its tree's RSS at idle. It
reports LiteLLM's CPU over the gateway's per request and per chunk, against the
issue's targets (at least 10x, and under 1 ms of added p50 latency for the gateway),
and kills LiteLLM's whole process tree afterwards, errors included.

Every answer is checked, whoever serves it: status 200, the fake server's text in a
non-streamed answer, and in a stream exactly as many content chunks as the fake server
sends, carrying its text; a contestant that fails cannot look cheap. A LiteLLM that is
found but fails (does not start, or answers wrongly) is reported as failed, after the
gateway's figures, and the script exits 1.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

from . import wire

_TICK = os.sysconf("SC_CLK_TCK")
_TARGET_RATIO = 10.0
_TARGET_P50_S = 0.001
_LITELLM_START_DEADLINE_S = 180.0

# What LiteLLM's proxy gets in its environment: nothing that points at a database or
# Redis, and every switch that keeps it off the network (telemetry, the model cost map
# and the other JSON files it otherwise downloads at start).
_LITELLM_ENV = {
    "LITELLM_LOG": "ERROR",
    "LITELLM_TELEMETRY": "False",
    "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    "LITELLM_LOCAL_ANTHROPIC_BETA_HEADERS": "True",
    "LITELLM_LOCAL_BLOG_POSTS": "True",
    "LITELLM_LOCAL_POLICY_TEMPLATES": "True",
    "LITELLM_LOCAL_AUTOROUTER_PRESETS": "True",
    "LITELLM_DONT_SHOW_FEEDBACK_BOX": "True",
    "DISABLE_ADMIN_UI": "True",
    "NO_DOCS": "True",
    "NO_REDOC": "True",
    "HF_HUB_OFFLINE": "1",
    "TOKENIZERS_PARALLELISM": "false",
}
_LITELLM_ENV_DROPPED = ("DATABASE_URL", "DIRECT_URL", "REDIS_", "LITELLM_", "OPENAI_")


# -- processes ----------------------------------------------------------------------------


def _stat_fields(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def _tree(root: int) -> list[int]:
    """``root`` and every live descendant (from the parent pids in ``/proc``)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            ppid = int(_stat_fields(int(entry))[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, ()))
    return found


def _tree_cpu_seconds(root: int) -> float:
    """utime + stime of the tree, plus what its reaped children had used."""
    ticks = 0
    for pid in _tree(root):
        try:
            fields = _stat_fields(pid)
        except OSError:
            continue
        ticks += sum(int(fields[i]) for i in (11, 12, 13, 14))
    return ticks / _TICK


def _tree_rss_mib(root: int) -> float:
    total = 0
    for pid in _tree(root):
        try:
            text = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        match = re.search(r"VmRSS:\s+(\d+) kB", text)
        total += int(match.group(1)) if match else 0
    return total / 1024


def _kill_tree(proc: subprocess.Popen[Any]) -> None:
    """SIGTERM the process, its group and its descendants; SIGKILL what is left."""
    pids = _tree(proc.pid) if proc.poll() is None else []

    def send(sig: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, sig)  # started with start_new_session: pgid == pid
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, sig)

    send(signal.SIGTERM)
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        send(signal.SIGKILL)
        proc.wait(15)
    send(signal.SIGKILL)  # orphans that outlived their parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


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


# -- the gateway --------------------------------------------------------------------------


def _start_gateway(folder: Path, upstream: str) -> tuple[subprocess.Popen[bytes], str, str, float]:
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
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "jackfield.cli", "serve", "-c", str(folder / "gateway.toml"),
         "--port", "0"],
        stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, env=env, start_new_session=True,
    )  # fmt: skip
    assert proc.stderr is not None
    line = proc.stderr.readline().decode()
    started = time.perf_counter() - t0
    match = re.search(r"listening on (http://\S+)", line)
    if match is None:
        _kill_tree(proc)
        raise RuntimeError(f"the gateway did not start: {line}")
    return proc, match.group(1), token, started


def _import_seconds() -> float:
    code = (
        "import time; t = time.perf_counter(); import jackfield.gateway;"
        " import jackfield.gateway._app; print(time.perf_counter() - t)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(done.stdout.strip())


# -- LiteLLM's proxy ----------------------------------------------------------------------


def find_litellm(path: str | None) -> str | None:
    """The ``litellm`` command: ``path`` if given and executable, else the one on PATH."""
    if path is not None:
        return path if os.access(path, os.X_OK) and Path(path).is_file() else None
    return shutil.which("litellm")


def _litellm_python(exe: str) -> str:
    """The interpreter of the venv ``exe`` belongs to (its shebang, else its sibling)."""
    first = Path(exe).read_bytes()[:512].split(b"\n", 1)[0]
    if first.startswith(b"#!"):
        words = first[2:].decode().split()
        if words and Path(words[0]).name.startswith("python"):
            return words[0]
    return str(Path(exe).with_name("python"))


def _litellm_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(_LITELLM_ENV_DROPPED)}
    env.update(_LITELLM_ENV)
    return env


def _litellm_version(python: str) -> str:
    code = "import importlib.metadata as m; print(m.version('litellm'))"
    try:
        done = subprocess.run([python, "-c", code], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return done.stdout.strip() or "unknown"


def _litellm_import_seconds(python: str) -> float:
    code = (
        "import time; t = time.perf_counter(); import litellm.proxy.proxy_server;"
        " print(time.perf_counter() - t)"
    )
    done = subprocess.run(
        [python, "-c", code], capture_output=True, text=True, timeout=300, env=_litellm_env(),
        check=True,
    )  # fmt: skip
    return float(done.stdout.strip().splitlines()[-1])


def _litellm_config(upstream: str, key: str) -> str:
    """LiteLLM's proxy config (YAML, written by hand: JSON strings are YAML scalars)."""
    return f"""\
model_list:
  - model_name: m
    litellm_params:
      model: openai/m
      api_base: {json.dumps(upstream)}
      api_key: "sk-dummy"
      max_retries: 0
general_settings:
  master_key: {json.dumps(key)}
  disable_spend_logs: true
  disable_error_logs: true
  disable_reset_budget: true
  background_health_checks: false
litellm_settings:
  telemetry: false
  num_retries: 0
"""


def _spawn_litellm(
    exe: str, folder: Path, upstream: str
) -> tuple[subprocess.Popen[bytes], str, str, Path]:
    key = "sk-bench-" + secrets.token_hex(16)
    config = folder / "litellm.yaml"
    config.write_text(_litellm_config(upstream, key))
    log = folder / "litellm.log"
    port = _free_port()
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [exe, "--config", str(config), "--host", "127.0.0.1", "--port", str(port),
             "--num_workers", "1"],
            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, cwd=folder,
            env=_litellm_env(), start_new_session=True,
        )  # fmt: skip
    return proc, f"http://127.0.0.1:{port}", key, log


async def _wait_live(proc: subprocess.Popen[bytes], url: str, deadline: float) -> None:
    async with aiohttp.ClientSession() as session:
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"LiteLLM's proxy exited ({proc.returncode}) at start")
            if time.perf_counter() > deadline:
                raise RuntimeError(
                    f"LiteLLM's proxy was not live after {_LITELLM_START_DEADLINE_S:.0f} s"
                )
            with contextlib.suppress(TimeoutError, aiohttp.ClientError):
                async with session.get(
                    f"{url}/health/liveliness", timeout=aiohttp.ClientTimeout(total=2)
                ) as r:
                    if r.status == 200:
                        return
            await asyncio.sleep(0.05)


def _log_tail(log: Path, lines: int = 25) -> str:
    try:
        text = log.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


# -- the load -----------------------------------------------------------------------------


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
    """``n`` non-streamed calls, each checked; their wall times."""
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        async with session.post(url, json=body, headers=headers) as r:
            raw = await r.read()
        times.append(time.perf_counter() - t0)
        if r.status != 200:
            raise RuntimeError(f"{url}: status {r.status}: {raw[:300]!r}")
        text = json.loads(raw)["choices"][0]["message"]["content"]
        if text != wire.TEXT:
            raise RuntimeError(f"{url}: unexpected answer {text!r}")
    return times


def _content_chunks(raw: bytes) -> tuple[int, str]:
    """The content chunks of an OpenAI SSE stream: their count and their text."""
    count, parts = 0, []
    for line in raw.split(b"\n"):
        if not line.startswith(b"data:"):
            continue
        data = line[5:].strip()
        if data == b"[DONE]":
            continue
        for choice in json.loads(data).get("choices") or ():
            content = (choice.get("delta") or {}).get("content")
            if content:
                count += 1
                parts.append(content)
    return count, "".join(parts)


async def _streams(
    session: aiohttp.ClientSession, url: str, headers: dict[str, str], n: int, chunks: int
) -> None:
    """``n`` streams of ``chunks`` content chunks, each counted and checked."""
    body = _body(chunks, True)
    expected = wire.stream_text(chunks)
    for _ in range(n):
        async with session.post(url, json=body, headers=headers) as r:
            raw = await r.read()
        if r.status != 200:
            raise RuntimeError(f"{url}: stream status {r.status}: {raw[:300]!r}")
        count, text = _content_chunks(raw)
        if count != chunks or text != expected:
            raise RuntimeError(
                f"{url}: a stream carried {count} content chunks ({len(text)} characters),"
                f" the fake server sent {chunks} ({len(expected)} characters)"
            )


def _pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1] if len(values) > 1 else values[0]


async def _measure(
    session: aiohttp.ClientSession,
    url: str,
    headers: dict[str, str],
    pid: int,
    upstream: str,
    requests: int,
    streams: int,
    chunks: int,
) -> dict[str, float]:
    """One contestant under the load: the same for the gateway and for LiteLLM."""
    small = _body(1, False)
    endpoint = f"{url}/v1/chat/completions"
    await _calls(session, endpoint, headers, 20, small)  # warm up
    await _streams(session, endpoint, headers, 2, 100)
    await _calls(session, f"{upstream}/chat/completions", {}, 20, small)
    direct = await _calls(session, f"{upstream}/chat/completions", {}, requests, small)
    c0 = _tree_cpu_seconds(pid)
    via = await _calls(session, endpoint, headers, requests, small)
    per_request = (_tree_cpu_seconds(pid) - c0) / requests
    c0 = _tree_cpu_seconds(pid)
    await _streams(session, endpoint, headers, streams, chunks)
    per_stream = (_tree_cpu_seconds(pid) - c0) / streams
    return {
        "cpu_per_request_s": per_request,
        "cpu_per_chunk_s": max(per_stream - per_request, 0.0) / chunks,
        "added_latency_p50_s": _pct(via, 50) - _pct(direct, 50),
        "added_latency_p99_s": _pct(via, 99) - _pct(direct, 99),
        "direct_latency_p50_s": _pct(direct, 50),
    }


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


async def _measure_litellm(
    exe: str, folder: Path, upstream: str, requests: int, streams: int, chunks: int
) -> dict[str, Any]:
    python = _litellm_python(exe)
    out: dict[str, Any] = {"litellm_version": _litellm_version(python)}
    t0 = time.perf_counter()
    proc, url, key, log = _spawn_litellm(exe, folder, upstream)
    try:
        await _wait_live(proc, url, t0 + _LITELLM_START_DEADLINE_S)
        started = time.perf_counter() - t0
        await asyncio.sleep(1.0)  # let its start-up tasks settle before reading the idle RSS
        out["litellm_start_s"] = started
        out["litellm_idle_rss_mib"] = _tree_rss_mib(proc.pid)
        async with aiohttp.ClientSession() as session:
            figures = await _measure(
                session, url, {"Authorization": f"Bearer {key}"}, proc.pid, upstream,
                requests, streams, chunks,
            )  # fmt: skip
        out["litellm_processes"] = len(_tree(proc.pid))
    except BaseException as exc:
        tail = _log_tail(log)
        if tail and not isinstance(exc, KeyboardInterrupt):
            print(f"LiteLLM's log, last lines:\n{tail}", file=sys.stderr)
        raise
    finally:
        _kill_tree(proc)
    out.update({f"litellm_{k}": v for k, v in figures.items()})
    out["litellm_import_s"] = _litellm_import_seconds(python)
    return out


async def run(
    requests: int, streams: int, chunks: int, litellm: str | None = None
) -> dict[str, Any]:
    """Measure; returns the figures (seconds) as a dict.

    ``litellm``: the path of LiteLLM's ``litellm`` command, or None to skip it.
    """
    fake, port = _start_fake()
    upstream = f"http://127.0.0.1:{port}/v1"
    folder = Path(tempfile.mkdtemp())
    out: dict[str, Any] = {}
    try:
        gateway, url, token, started = _start_gateway(folder, upstream)
        headers = {"Authorization": f"Bearer {token}"}
        try:
            idle_rss = _tree_rss_mib(gateway.pid)
            async with aiohttp.ClientSession() as session:
                figures = await _measure(session, url, headers, gateway.pid, upstream,
                                         requests, streams, chunks)  # fmt: skip
        finally:
            _kill_tree(gateway)
            if gateway.stderr is not None:
                gateway.stderr.close()
        client = await _direct_client_cost(upstream, requests, streams, chunks)
        per_request, per_chunk = figures["cpu_per_request_s"], figures["cpu_per_chunk_s"]
        out = {
            "gateway_cpu_per_request_s": per_request,
            "gateway_cpu_per_chunk_s": per_chunk,
            "direct_client_cpu_per_request_s": client["request"],
            "direct_client_cpu_per_chunk_s": client["chunk"],
            "ratio_request": _ratio(per_request, client["request"]),
            "ratio_chunk": _ratio(per_chunk, client["chunk"]),
            "added_latency_p50_s": figures["added_latency_p50_s"],
            "added_latency_p99_s": figures["added_latency_p99_s"],
            "direct_latency_p50_s": figures["direct_latency_p50_s"],
            "import_s": _import_seconds(),
            "start_s": started,
            "idle_rss_mib": idle_rss,
            "target_p50_met": figures["added_latency_p50_s"] < _TARGET_P50_S,
            "requests": requests,
            "streams": streams,
            "chunks": chunks,
        }
        if litellm is None:
            out["litellm"] = "not installed"
        else:
            out["litellm"] = litellm
            try:
                out.update(await _measure_litellm(litellm, folder, upstream, requests,
                                                  streams, chunks))  # fmt: skip
            except (RuntimeError, OSError, subprocess.SubprocessError, ValueError) as exc:
                out["litellm_error"] = f"{type(exc).__name__}: {exc}"
                return out
            out["litellm_ratio_request"] = _ratio(out["litellm_cpu_per_request_s"], per_request)
            out["litellm_ratio_chunk"] = _ratio(out["litellm_cpu_per_chunk_s"], per_chunk)
            out["target_ratio_request_met"] = out["litellm_ratio_request"] >= _TARGET_RATIO
            out["target_ratio_chunk_met"] = out["litellm_ratio_chunk"] >= _TARGET_RATIO
    finally:
        if fake.stdin is not None:
            fake.stdin.close()
        fake.wait(15)
        if fake.stdout is not None:
            fake.stdout.close()
        shutil.rmtree(folder, ignore_errors=True)
    return out


def _ratio(a: float, b: float) -> float:
    return a / b if b else float("nan")


def _met(flag: bool) -> str:
    return "met" if flag else "NOT met"


def main(argv: list[str] | None = None) -> int:
    """Run and print the figures."""
    p = argparse.ArgumentParser(prog="python -m benchmarks.gateway")
    p.add_argument("--requests", type=int, default=500)
    p.add_argument("--streams", type=int, default=20)
    p.add_argument("--chunks", type=int, default=1000)
    p.add_argument(
        "--litellm",
        metavar="PATH",
        help="LiteLLM's `litellm` command (e.g. in a venv of its own); default: on PATH",
    )
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    litellm = find_litellm(args.litellm)
    if litellm is None and args.litellm is not None:
        print(f"LiteLLM proxy: {args.litellm} is not an executable file", file=sys.stderr)
    out = asyncio.run(run(args.requests, args.streams, args.chunks, litellm))
    if args.json:
        print(json.dumps(out, indent=2))
        return 1 if "litellm_error" in out else 0
    us, ms = 1e6, 1e3
    print(f"{args.requests} requests, {args.streams} streams of {args.chunks} chunks")
    print(
        f"gateway CPU per request   {out['gateway_cpu_per_request_s'] * us:8.1f} us"
        f"  ({out['ratio_request']:.2f}x jackfield's direct client)"
    )
    print(
        f"gateway CPU per chunk     {out['gateway_cpu_per_chunk_s'] * us:8.2f} us"
        f"  ({out['ratio_chunk']:.2f}x jackfield's direct client)"
    )
    print(
        f"added latency p50 / p99   {out['added_latency_p50_s'] * ms:.3f} / "
        f"{out['added_latency_p99_s'] * ms:.3f} ms"
        f"  (target p50 < 1 ms: {_met(out['target_p50_met'])})"
    )
    print(f"import (gateway + app)    {out['import_s'] * ms:8.1f} ms")
    print(f"start to listening        {out['start_s'] * ms:8.1f} ms")
    print(f"RSS at idle               {out['idle_rss_mib']:8.1f} MiB")
    if "litellm_error" in out:
        print(f"LiteLLM proxy             FAILED: {out['litellm_error']}")
        return 1
    if "litellm_version" not in out:
        print("LiteLLM proxy             not installed (skipped)")
        return 0
    print(f"LiteLLM proxy {out['litellm_version']} ({out['litellm_processes']} process(es))")
    print(
        f"  CPU per request         {out['litellm_cpu_per_request_s'] * us:8.1f} us"
        f"  ({out['litellm_ratio_request']:.1f}x the gateway's;"
        f" target >= {_TARGET_RATIO:.0f}x: {_met(out['target_ratio_request_met'])})"
    )
    print(
        f"  CPU per chunk           {out['litellm_cpu_per_chunk_s'] * us:8.2f} us"
        f"  ({out['litellm_ratio_chunk']:.1f}x the gateway's;"
        f" target >= {_TARGET_RATIO:.0f}x: {_met(out['target_ratio_chunk_met'])})"
    )
    print(
        f"  added latency p50 / p99 {out['litellm_added_latency_p50_s'] * ms:.3f} / "
        f"{out['litellm_added_latency_p99_s'] * ms:.3f} ms"
    )
    print(f"  import (proxy_server)   {out['litellm_import_s'] * ms:8.1f} ms")
    print(f"  start to live           {out['litellm_start_s'] * ms:8.1f} ms")
    print(f"  RSS at idle (tree)      {out['litellm_idle_rss_mib']:8.1f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
