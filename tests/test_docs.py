"""Every ```python block in README.md and docs/ runs, so the docs cannot go stale.

Blocks of one file run in order in one namespace, in a subprocess with a clean
environment (no keys) and a temporary working directory. Blocks in other languages
(```sh, ```text, ```toml) are not run. The blocks of the pages in ``STANDALONE`` also
run each on its own, so a reader can copy any one of them.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)

DOC_FILES = sorted([ROOT / "README.md", *(ROOT / "docs").rglob("*.md")])


STANDALONE = [ROOT / "docs" / "caching.md"]


def _blocks(path: Path) -> list[str]:
    return BLOCK.findall(path.read_text(encoding="utf-8"))


def test_docs_have_runnable_examples() -> None:
    with_code = [p.name for p in DOC_FILES if _blocks(p)]
    assert "README.md" in with_code
    assert len(with_code) >= 5, with_code


@pytest.mark.parametrize(
    "path", [p for p in DOC_FILES if _blocks(p)], ids=lambda p: str(p.relative_to(ROOT))
)
def test_doc_examples_run(path: Path, tmp_path: Path) -> None:
    _run("\n\n".join(_blocks(path)), path.name, tmp_path)


@pytest.mark.parametrize(
    ("path", "index"),
    [(p, i) for p in STANDALONE for i in range(len(_blocks(p)))],
    ids=lambda v: str(v.relative_to(ROOT)) if isinstance(v, Path) else f"block{v}",
)
def test_each_block_runs_alone(path: Path, index: int, tmp_path: Path) -> None:
    _run(_blocks(path)[index], f"{path.name} block {index}", tmp_path)


def _run(script: str, name: str, tmp_path: Path) -> None:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.endswith("_API_KEY") and not k.startswith("JACKFIELD_")
    }
    (tmp_path / "empty.toml").write_text("")
    env["JACKFIELD_CONFIG"] = str(tmp_path / "empty.toml")
    env["JACKFIELD_TOKENS_OFFLINE"] = "1"
    env["PYTHONWARNINGS"] = "error::ResourceWarning"
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, f"{name} examples failed:\n{result.stderr[-4000:]}"


def test_the_plugin_guides_test_count_is_current(tmp_path: Path) -> None:
    """The guide's `python -m pytest  # N passed, M skipped` is what its test file gives."""
    pytest.importorskip("jackfield_acme")
    guide = (ROOT / "docs" / "writing-a-plugin.md").read_text(encoding="utf-8")
    test_file = re.search(r"`tests/test_acme.py`:\n\n```text\n(.*?)^```", guide, re.S | re.M)
    claimed = re.search(r"^python -m pytest +# (\d+ passed, \d+ skipped)", guide, re.M)
    assert test_file and claimed, "the guide's test file or its stated count moved"
    (tmp_path / "test_acme.py").write_text(test_file.group(1))
    env = {k: v for k, v in os.environ.items() if not k.startswith("JACKFIELD_")}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_acme.py"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    summary = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert claimed.group(1) in summary, f"the guide says {claimed.group(1)!r}; pytest: {summary}"
