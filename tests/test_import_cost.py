"""``import jackfield`` and plugin discovery stay cheap: no SDK, HTTP client or tokenizer."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = (
    *("openai", "anthropic", "google.genai", "google.auth"),
    *("aiohttp", "tiktoken", "tenacity", "jiter", "redis"),
)

DISCOVERY_HEAVY = (
    *HEAVY,
    # the rest of the benchmark's list (benchmarks/imports.py): loaded when first used
    "asyncio",
    "httpx",
    "httpx2",
    "importlib.metadata",
    "pydantic",
    "sqlite3",
    # standard-library modules discovery once loaded and never needs
    "csv",
    "dataclasses",
    "datetime",
    "difflib",
    "email",
    "hashlib",
    "html",
    "http",
    "logging",
    "secrets",
    "socket",
    "ssl",
    "subprocess",
    "traceback",
    "zipfile",
)
"""Modules that ``import jackfield; jackfield.list_providers()`` must not load."""


def _run(code: str, tmp_path: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JACKFIELD_")}
    env["XDG_CONFIG_HOME"] = str(tmp_path)
    return subprocess.run(
        [sys.executable, *flags, "-c", code],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


def test_import_and_discovery_import_nothing_heavy(tmp_path: Path) -> None:
    code = f"""
import json, sys
import jackfield
names = [p.name for p in jackfield.list_providers()]
mock = jackfield.create_provider("mock")
heavy = [m for m in {HEAVY!r} if m in sys.modules]
print(json.dumps({{"names": names, "heavy": heavy}}))
"""
    done = _run(code, tmp_path)
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert "mock" in data["names"]
    assert data["heavy"] == []


def test_discovery_loads_no_heavy_module(tmp_path: Path) -> None:
    # What the import benchmark measures; only the modules the statement itself loads
    # count (the interpreter's startup may have loaded some of these already).
    code = """
import json, sys
before = set(sys.modules)
import jackfield
names = [p.name for p in jackfield.list_providers()]
print(json.dumps({"names": names, "new": sorted(set(sys.modules) - before)}))
"""
    done = _run(code, tmp_path)
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert {"mock", "openai", "anthropic", "gemini", "acme"} <= set(data["names"])
    loaded = [
        name
        for name in data["new"]
        if any(name == heavy or name.startswith(heavy + ".") for heavy in DISCOVERY_HEAVY)
    ]
    assert loaded == []


def test_bare_import_is_lazy(tmp_path: Path) -> None:
    code = """
import json, sys
import jackfield
print(json.dumps(sorted(m for m in sys.modules if m.startswith("jackfield"))))
"""
    done = _run(code, tmp_path)
    assert done.returncode == 0, done.stderr
    # _lazy is the 40-line helper behind the lazy table (it imports importlib only).
    assert json.loads(done.stdout) == ["jackfield", "jackfield._lazy"]


def test_import_time_of_jackfield_itself(tmp_path: Path) -> None:
    done = _run("import jackfield; jackfield.list_providers()", tmp_path, "-X", "importtime")
    assert done.returncode == 0, done.stderr
    # -X importtime misses modules loaded through importlib.import_module (jackfield's
    # lazy names), so the sys.modules test above is the real check; this one bounds the
    # cost of the import statement itself.
    imported = {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines()}
    assert "jackfield" in imported
    for heavy in HEAVY:
        assert not any(name == heavy or name.startswith(heavy + ".") for name in imported)
    top = [line for line in done.stderr.splitlines() if line.rstrip().endswith("| jackfield")]
    assert top, done.stderr[-2000:]
    cumulative_us = int(top[-1].split("|")[1])
    if cumulative_us > 500_000:  # pragma: no cover - a very slow machine
        pytest.fail(f"import jackfield took {cumulative_us / 1e6:.2f} s")
