"""Smoke test of the benchmark harness: ``python -m benchmarks --quick`` runs and its
outputs are well-formed.

Speed targets are measured by the harness (docs/benchmarks.md), never asserted here:
this test checks that every scenario ran and produced positive numbers and ratios.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = {"seq", "conc", "stream", "streams"}
FLOORS = {
    "openai": "floor-openai",
    "responses": "floor-responses",
    "anthropic": "floor-anthropic",
    "gemini": "floor-gemini",
}
GEMINI = ("floor-gemini", "sdk-gemini", "pb-gemini")


def _positive(value: Any) -> bool:
    return isinstance(value, int | float) and math.isfinite(value) and value > 0


def _run(out: Path, *args: str) -> tuple[dict[str, Any], str]:
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", *args, "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    results = json.loads((out / "benchmarks.json").read_text(encoding="utf-8"))
    markdown = (out / "benchmarks.md").read_text(encoding="utf-8")
    return results, markdown


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], str]:
    return _run(tmp_path_factory.mktemp("bench"))


@pytest.fixture(scope="module")
def gemini_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], str]:
    """The Gemini clients, which run only when ``--clients`` names them."""
    return _run(tmp_path_factory.mktemp("bench-gemini"), "--clients", ",".join(GEMINI))


def _check_scenarios(results: dict[str, Any], clients: set[str]) -> None:
    for name, scenario in results["scenarios"].items():
        assert set(scenario["clients"]) == clients, name
        for client, data in scenario["clients"].items():
            where = f"{name}/{client}"
            assert _positive(data["cpu_us"]) and _positive(data["wall_us"]), where
            size = scenario["size"]
            expected = size["n"] * size["concurrency"] if name == "streams" else size["n"]
            assert data["units"] == expected, where
            assert len(data["cpu_us_samples"]) == results["meta"]["repetitions"], where
            assert _positive(data["ratio_vs_floor"]), where
            if client in FLOORS.values():
                assert data["ratio_vs_floor"] == 1.0
            if client in ("pb-openai", "pb-openai-responses", "pb-anthropic", "pb-gemini"):
                assert _positive(data["ratio_vs_sdk"]), where


@pytest.mark.timeout(300)
def test_every_scenario_ran_with_positive_figures(run: tuple[dict[str, Any], str]) -> None:
    results, _ = run
    assert set(results["scenarios"]) == SCENARIOS
    clients = set(results["meta"]["clients"])
    assert {"floor-openai", "floor-responses", "floor-anthropic", "pb-openai-compat"} <= clients
    assert clients | set(results["meta"]["skipped_clients"]) == {
        "floor-openai",
        "floor-responses",
        "floor-anthropic",
        "sdk-openai",
        "sdk-responses",
        "sdk-anthropic",
        "pb-openai-compat",
        "pb-openai",
        "pb-openai-responses",
        "pb-anthropic",
    }
    _check_scenarios(results, clients)


@pytest.mark.timeout(300)
def test_rss_imports_and_micro_benchmarks(run: tuple[dict[str, Any], str]) -> None:
    results, _ = run
    assert set(results["rss_kib"]) == set(results["meta"]["clients"])
    assert all(_positive(v) for v in results["rss_kib"].values())
    imports = results["imports"]
    for side in ("jackfield", "baseline"):
        assert _positive(imports[side]["cpu_median"]) and _positive(imports[side]["wall_median"])
    assert _positive(imports["ratio_cpu"]) and _positive(imports["ratio_wall"])
    assert isinstance(imports["jackfield"]["heavy_modules"], list)
    create = results["create_provider"]
    assert _positive(create["by_name_and_config"]["median"])
    assert _positive(create["by_cache_key"]["median"])
    tokens = results["estimate_tokens"]
    assert tokens["tokens_raw"] >= 10_000 and _positive(tokens["tokens_estimated"])
    assert _positive(tokens["ratio_vs_encode_ordinary"]) and _positive(tokens["ratio_vs_encode"])
    cache = results["response_cache"]
    if "skipped" not in cache:
        assert _positive(cache["uncached"]["median"])
        for backend in ("memory", "sqlite"):
            assert _positive(cache[backend]["median"]), cache[backend]


@pytest.mark.timeout(300)
def test_targets_and_report_are_well_formed(run: tuple[dict[str, Any], str]) -> None:
    results, markdown = run
    meta = results["meta"]
    assert meta["command"] == f"python -m benchmarks --quick --out {meta['command'].split()[-1]}"
    assert meta["machine"]["python"] and meta["machine"]["cpu_model"]
    assert meta["versions"]["jackfield"]
    targets = results["targets"]
    assert len(targets) >= 15
    for target in targets:
        if target["measured"] is not None:
            assert target["met"] in (True, False), target
    assert "results:start" in markdown and "results:end" in markdown
    for scenario in results["scenarios"].values():
        assert scenario["description"] in markdown
    assert "| target | measured | limit | met |" in markdown
    assert meta["command"] in markdown


@pytest.mark.timeout(300)
def test_the_gemini_clients_run_when_named(gemini_run: tuple[dict[str, Any], str]) -> None:
    results, markdown = gemini_run
    assert set(results["scenarios"]) == SCENARIOS
    clients = set(results["meta"]["clients"])
    assert "floor-gemini" in clients
    assert clients | set(results["meta"]["skipped_clients"]) == set(GEMINI)
    _check_scenarios(results, clients)
    assert set(results["rss_kib"]) == clients
    gemini_targets = [t for t in results["targets"] if t["target"].startswith("gemini ")]
    if "pb-gemini" in clients:
        assert len(gemini_targets) == 4
        assert all(t["met"] in (True, False) for t in gemini_targets), gemini_targets
    for client in clients:
        assert f"`{client}`" in markdown
