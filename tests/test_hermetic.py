"""The suite's guard: a test that tries to leave loopback fails the run (conftest.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).parent


@pytest.mark.parametrize(
    ("target", "fails"),
    [(("example.com", 80), True), (("192.0.2.1", 9), True), (("127.0.0.1", 9), False)],
)
def test_a_test_that_leaves_loopback_fails_the_run(
    tmp_path: Path, target: tuple[str, int], fails: bool
) -> None:
    (tmp_path / "test_leaving.py").write_text(
        "import socket\n"
        "def test_connect():\n"
        "    try:\n"
        f"        socket.create_connection({target!r}, timeout=0.5).close()\n"
        "    except OSError:\n"
        "        pass  # refused or unreachable: only the guard may fail the run\n"
    )
    env = {**os.environ, "PYTHONPATH": str(TESTS)}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "conftest", "-p", "no:cacheprovider"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (done.returncode == 1) is fails, done.stdout + done.stderr
    assert ("tried to leave loopback" in done.stdout) is fails, done.stdout
    if fails:
        assert target[0] in done.stdout
