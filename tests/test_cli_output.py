"""The installed CLI prints any answer without a traceback, whatever stdout can encode."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPLY = '{"replies": ["caf\\u00e9 \\ud83d end"]}'  # JSON text: a lone high surrogate


@pytest.mark.parametrize(
    ("encoding", "expected"), [("utf-8", "caf\u00e9 ? end"), ("ascii", "caf? ? end")]
)
@pytest.mark.parametrize("mode", [[], ["--no-stream"]])
def test_a_lone_surrogate_is_replaced_not_a_traceback(
    tmp_path: Path, encoding: str, expected: str, mode: list[str]
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JACKFIELD_")}
    env.update(XDG_CONFIG_HOME=str(tmp_path), PYTHONIOENCODING=encoding)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "jackfield.cli",
            "prompt",
            "-p",
            "mock",
            "-o",
            f"extra={REPLY}",
            *mode,
            "hi",
        ],
        capture_output=True,
        env=env,
        timeout=60,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    assert b"Traceback" not in done.stderr
    assert done.stdout.decode(encoding) == expected + "\n"
