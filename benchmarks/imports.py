"""Import cost, measured in fresh interpreters.

Each sample is one new ``python -c`` process that times its own ``import`` statement
with ``time.perf_counter`` and ``resource.getrusage`` (it imports nothing else first,
so nothing is preloaded for the code under test) and reports which heavy modules the
statement pulled in. Samples of the two statements alternate.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from typing import Any

JACKFIELD = "import jackfield; jackfield.list_providers()"
BASELINE = "import attrs, pluggy"
HEAVY = (
    "aiohttp",
    "anthropic",
    "asyncio",
    "httpx",
    "httpx2",
    "importlib.metadata",
    "jiter",
    "openai",
    "pydantic",
    "redis",
    "sqlite3",
    "tenacity",
    "tiktoken",
)
"""Modules that must not load until used (reported, for the lazy-import check)."""

_TEMPLATE = """\
import time, resource
def _cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime
_c0 = _cpu(); _t0 = time.perf_counter()
{code}
_t1 = time.perf_counter(); _c1 = _cpu()
import sys, json
print(json.dumps({{"wall": _t1 - _t0, "cpu": _c1 - _c0,
                  "heavy": [m for m in {heavy!r} if m in sys.modules]}}))
"""


def _sample(code: str, cpu: int | None, env: dict[str, str]) -> dict[str, Any]:
    def pin() -> None:
        if cpu is not None:
            os.sched_setaffinity(0, {cpu})

    proc = subprocess.run(
        [sys.executable, "-c", _TEMPLATE.format(code=code, heavy=HEAVY)],
        capture_output=True,
        text=True,
        env=env,
        preexec_fn=pin,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"import sample failed: {code!r}\n{proc.stderr}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def bench_imports(repeat: int, cpu: int | None) -> dict[str, Any]:
    """Median import cost of jackfield (with discovery) and of ``attrs`` + ``pluggy``."""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # bytecode caches, as in any installation
    env.pop("PYTHONPROFILEIMPORTTIME", None)
    for code in (JACKFIELD, BASELINE):  # warm-up: compile bytecode, fill the page cache
        _sample(code, cpu, env)
    samples: dict[str, list[dict[str, Any]]] = {JACKFIELD: [], BASELINE: []}
    for _ in range(repeat):
        for code in (JACKFIELD, BASELINE):
            samples[code].append(_sample(code, cpu, env))

    def summary(code: str) -> dict[str, Any]:
        rows = samples[code]
        return {
            "code": code,
            "cpu_median": statistics.median(r["cpu"] for r in rows),
            "wall_median": statistics.median(r["wall"] for r in rows),
            "cpu_samples": [r["cpu"] for r in rows],
            "wall_samples": [r["wall"] for r in rows],
            "heavy_modules": sorted({m for r in rows for m in r["heavy"]}),
        }

    pb, base = summary(JACKFIELD), summary(BASELINE)

    def paired(key: str) -> float:  # samples alternate: pair each with its neighbour
        pairs = zip(samples[JACKFIELD], samples[BASELINE], strict=True)
        return statistics.median(p[key] / b[key] for p, b in pairs)

    return {
        "jackfield": pb,
        "baseline": base,
        "ratio_cpu": paired("cpu"),
        "ratio_wall": paired("wall"),
    }
