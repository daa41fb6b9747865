"""The long-line SSE benchmark (``python -m benchmarks.sse``) runs and reports a ratio.

Speed is measured by the harness, never asserted here: this checks the figures exist,
are positive, and reach the report.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_sse_long_line_benchmark_reports_per_mib_figures_and_a_ratio() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.sse", "--quick"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout)
    assert result["long_bytes"] == 8 * result["short_bytes"]
    for key in ("short_per_mib", "long_per_mib"):
        assert math.isfinite(result[key]["median"]) and result[key]["median"] > 0
    assert math.isfinite(result["ratio_long_vs_short"]) and result["ratio_long_vs_short"] > 0

    sys.path.insert(0, str(ROOT))
    try:
        from benchmarks.report import _micro_table
    finally:
        sys.path.remove(str(ROOT))
    row = _micro_table({"sse_long_line": result})
    assert "SSE decoder, one 2 MiB line in 1 KiB chunks" in row
    assert f"{result['ratio_long_vs_short']:.2f}" in row
