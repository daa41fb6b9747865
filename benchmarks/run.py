"""The harness: starts the server and the client processes, runs every scenario, reports.

See docs/benchmarks.md for what is measured and how; ``python -m benchmarks --help``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, Any

from . import report
from .clients import CLIENTS, DEFAULT, FLOOR, OPT_IN, SDK, available
from .imports import bench_imports

ROOT = Path(__file__).resolve().parent.parent

SCENARIOS: dict[str, dict[str, Any]] = {
    "seq": {
        "title": "non-streamed, sequential",
        "unit": "request",
        "full": {"n": 300},
        "quick": {"n": 30},
        "warmup": {"n": 10},
    },
    "conc": {
        "title": "non-streamed, 64 concurrent",
        "unit": "request",
        "full": {"n": 3000, "concurrency": 64},
        "quick": {"n": 128, "concurrency": 64},
        "warmup": {"n": 64, "concurrency": 64},
    },
    "stream": {
        "title": "one stream",
        "unit": "chunk",
        "full": {"n": 20000},
        "quick": {"n": 1000},
        "warmup": {"n": 200},
    },
    "streams": {
        "title": "32 concurrent streams",
        "unit": "chunk",
        "full": {"n": 500, "concurrency": 32},
        "quick": {"n": 20, "concurrency": 32},
        "warmup": {"n": 5, "concurrency": 32},
    },
}


def describe(scenario: str, size: dict[str, Any]) -> str:
    """``'3,000 requests at 64 concurrent'`` and the like."""
    n, c = size["n"], size.get("concurrency")
    if scenario == "seq":
        return f"{n:,} sequential requests"
    if scenario == "conc":
        return f"{n:,} requests, {c} concurrent"
    if scenario == "stream":
        return f"1 stream of {n:,} chunks"
    return f"{c} concurrent streams of {n:,} chunks"


class Process:
    """A child process spoken to in JSON lines."""

    def __init__(self, name: str, argv: list[str]) -> None:
        self.name = name
        self.proc = subprocess.Popen(
            argv,
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            bufsize=1,
        )

    def readline(self) -> str:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            code = self.proc.wait()
            raise RuntimeError(f"{self.name} exited (status {code}) before answering")
        return line

    def ask(self, cmd: dict[str, Any]) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()
        reply: dict[str, Any] = json.loads(self.readline())
        if "error" in reply:
            raise RuntimeError(f"{self.name}: {reply['error']}")
        return reply

    def exit(self) -> None:
        """Ask the process to exit (without waiting)."""
        stdin: IO[str] | None = self.proc.stdin
        if stdin is not None and not stdin.closed:
            try:
                stdin.write(json.dumps({"op": "exit"}) + "\n")
                stdin.close()
            except BrokenPipeError:
                pass

    def close(self, timeout: float = 30) -> None:
        """Ask the process to exit and wait for it."""
        self.exit()
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _versions() -> dict[str, str | None]:
    import importlib.metadata

    out: dict[str, str | None] = {}
    for dist in (
        "jackfield",
        "aiohttp",
        "attrs",
        "pluggy",
        "openai",
        "anthropic",
        "google-genai",
        "httpx2",
        "tiktoken",
        "redis",
    ):
        try:
            out[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            out[dist] = None
    return out


def _redis_version() -> str | None:
    import shutil

    binary = shutil.which("redis-server")
    if binary is None:
        return None
    proc = subprocess.run([binary, "--version"], capture_output=True, text=True, check=False)
    return proc.stdout.strip() or None


def machine() -> dict[str, Any]:
    """Cores, CPU model, Python: the facts a reader needs to compare runs."""
    return {
        "cpus_online": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)),
        "cpu_model": _cpu_model(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "redis_server": _redis_version(),
    }


def _median(values: list[float]) -> float:
    return statistics.median(values)


def run_clients(
    names: list[str],
    base_url: str,
    mode: str,
    reps: int,
    cpu: int | None,
    log: Any,
    verbose: bool = False,
) -> tuple[dict[str, Any], dict[str, int]]:
    """Every scenario for every client, repetitions interleaved across clients."""
    argv = [sys.executable, "-m", "benchmarks.worker"]
    warmup = json.dumps([{"scenario": s, **spec["warmup"]} for s, spec in SCENARIOS.items()])
    workers: dict[str, Process] = {}
    try:
        # All start at once, unpinned: imports and warm-up runs overlap on every CPU.
        # Each pins itself to the client CPU before it answers "ready".
        for name in names:
            extra = ["--cpu", str(cpu)] if cpu is not None else []
            workers[name] = Process(name, [*argv, name, base_url, "--warmup", warmup, *extra])
        for name, worker in workers.items():
            ready = json.loads(worker.readline())
            if not ready.get("ready"):
                raise RuntimeError(f"{name} did not start: {ready.get('error')}")
        log(f"clients ready and warmed up: {', '.join(names)}")
        samples: dict[str, dict[str, list[dict[str, float]]]] = {
            s: {n: [] for n in names} for s in SCENARIOS
        }
        for rep in range(reps):
            for scenario, spec in SCENARIOS.items():
                order = names[rep % len(names) :] + names[: rep % len(names)]
                for name in order:
                    t0 = time.monotonic()
                    result = workers[name].ask({"op": "run", "scenario": scenario, **spec[mode]})
                    samples[scenario][name].append(result)
                    if verbose:
                        log(f"  {scenario:8} {name:17} {time.monotonic() - t0:6.2f}s")
            log(f"repetition {rep + 1}/{reps} done")
        rss = {name: int(w.ask({"op": "rss"})["maxrss_kib"]) for name, w in workers.items()}
    finally:
        for worker in workers.values():
            worker.exit()
        for worker in workers.values():
            worker.close()

    scenarios: dict[str, Any] = {}
    for scenario, spec in SCENARIOS.items():
        size = spec[mode]
        per_client: dict[str, Any] = {}
        for name in names:
            rows = samples[scenario][name]
            units = rows[0]["units"]
            cpu_us = [r["cpu"] / units * 1e6 for r in rows]
            wall_us = [r["wall"] / units * 1e6 for r in rows]
            per_client[name] = {
                "cpu_us": _median(cpu_us),
                "wall_us": _median(wall_us),
                "cpu_us_samples": cpu_us,
                "wall_us_samples": wall_us,
                "units": units,
            }
        for name, data in per_client.items():
            wire = CLIENTS[name].wire
            floor = per_client[FLOOR[wire]]["cpu_us_samples"]
            data["ratio_vs_floor"] = paired_ratio(data["cpu_us_samples"], floor)
            sdk = SDK[wire]
            if name.startswith("pb-") and sdk in per_client and name != "pb-openai-compat":
                sdk_samples = per_client[sdk]["cpu_us_samples"]
                data["ratio_vs_sdk"] = paired_ratio(data["cpu_us_samples"], sdk_samples)
        scenarios[scenario] = {
            "title": spec["title"],
            "description": describe(scenario, size),
            "unit": spec["unit"],
            "size": size,
            "clients": per_client,
        }
    return scenarios, rss


def paired_ratio(samples: list[float], baseline: list[float]) -> float:
    """The median of the repetitions' ratios: repetition ``i`` of both ran back to back.

    The speed of a shared machine can change by half between seconds; a ratio of two
    medians can then compare a fast moment with a slow one, a ratio per repetition
    cannot.
    """
    return statistics.median(a / b for a, b in zip(samples, baseline, strict=True))


def run_micro(base_url: str, quick: bool, cpu: int | None) -> dict[str, Any]:
    argv = [sys.executable, "-m", "benchmarks.micro", base_url]
    if cpu is not None:
        argv += ["--cpu", str(cpu)]
    if quick:
        argv.append("--quick")
    proc = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"benchmarks.micro failed:\n{proc.stderr}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def start_server(cpu: int | None) -> tuple[subprocess.Popen[str], int]:
    argv = [sys.executable, "-m", "benchmarks.server"]
    if cpu is not None:
        argv += ["--cpu", str(cpu)]
    proc = subprocess.Popen(
        argv, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line.startswith("PORT "):
        proc.kill()
        raise RuntimeError(f"the fake server did not start: {line!r}")
    return proc, int(line.split()[1])


def stop_server(proc: subprocess.Popen[str]) -> None:
    assert proc.stdin is not None
    proc.stdin.close()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="jackfield's performance harness (client CPU against a loopback server).",
    )
    parser.add_argument("--quick", action="store_true", help="small sizes, for CI (~30 s)")
    parser.add_argument("--reps", type=int, default=None, help="repetitions (default 5; 3 quick)")
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="directory for benchmarks.md and benchmarks.json (default: update "
        "docs/benchmarks.md and docs/benchmarks.json)",
    )
    parser.add_argument(
        "--clients",
        default=None,
        help=f"comma list (default: {','.join(DEFAULT)}; {', '.join(OPT_IN)} run only "
        "when named here)",
    )
    parser.add_argument("--verbose", action="store_true", help="log every run's duration")
    args = parser.parse_args(argv)
    mode = "quick" if args.quick else "full"
    reps = args.reps or (3 if args.quick else 5)
    started = time.monotonic()

    def log(message: str) -> None:
        print(f"[{time.monotonic() - started:6.1f}s] {message}", file=sys.stderr, flush=True)

    cpus = sorted(os.sched_getaffinity(0))
    server_cpu, client_cpu = (cpus[1], cpus[0]) if len(cpus) >= 2 else (None, None)
    wanted = args.clients.split(",") if args.clients else list(DEFAULT)
    for name in wanted:
        if name not in CLIENTS:
            parser.error(f"unknown client {name!r}")
    skipped = {name: why for name in wanted if (why := available(name))}
    names = [n for n in wanted if n not in skipped]
    for wire in FLOOR:  # a ratio needs its floor
        if any(CLIENTS[n].wire == wire for n in names) and FLOOR[wire] not in names:
            names.insert(0, FLOOR[wire])

    server, port = start_server(server_cpu)
    base_url = f"http://127.0.0.1:{port}"
    log(f"fake server on {base_url} (cpu {server_cpu}); clients on cpu {client_cpu}")
    try:
        scenarios, rss = run_clients(names, base_url, mode, reps, client_cpu, log, args.verbose)
        log("client scenarios done")
        micro = run_micro(base_url, args.quick, client_cpu)
        log("micro-benchmarks done")
    finally:
        stop_server(server)
    imports = bench_imports(3 if args.quick else 11, client_cpu)
    log("import timings done")

    command = "python -m benchmarks" + "".join(
        f" {shlex.quote(a)}" for a in (sys.argv[1:] if argv is None else argv)
    )
    results: dict[str, Any] = {
        "meta": {
            "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "command": command,
            "mode": mode,
            "repetitions": reps,
            "pinning": {"server_cpu": server_cpu, "client_cpu": client_cpu},
            "machine": machine(),
            "versions": _versions(),
            "clients": {n: CLIENTS[n].description for n in names},
            "skipped_clients": skipped,
            "duration_s": round(time.monotonic() - started, 1),
        },
        "scenarios": scenarios,
        "rss_kib": rss,
        "imports": imports,
        **micro,
    }
    results["targets"] = report.targets(results)
    out = args.out if args.out is not None else ROOT / "docs"
    out.mkdir(parents=True, exist_ok=True)
    json_path, md_path = out / "benchmarks.json", out / "benchmarks.md"
    json_path.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    report.write_markdown(md_path, results)
    log(f"wrote {json_path} and {md_path}")
    print(report.table(results))
    return 0
