"""The faults the flat tree let in, each pinned by a test (issue: rename and layout)."""

from __future__ import annotations

import ast
import importlib
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

import jackfield
from jackfield.plugins.azure import AzureOpenAIProvider
from jackfield.plugins.mock import MockProvider
from jackfield.plugins.ollama import OllamaProvider
from jackfield.provider import OpenAICompatibleProvider

CORE = Path(__file__).resolve().parents[1] / "core"


def test_a_misspelled_tier_is_an_error_even_where_tiers_fall_back_to_the_model() -> None:
    provider = OllamaProvider(model="x")
    assert provider.model_for_tier("hosted_large") == "llama3.3:70b"
    with pytest.raises(jackfield.ConfigurationError, match="bogus"):
        provider.model_for_tier("bogus")


def test_error_text_names_the_provider_once() -> None:
    with pytest.raises(jackfield.ConfigurationError) as info:
        AzureOpenAIProvider(api_key="k", base_url="http://127.0.0.1:9")
    assert str(info.value).count("azure") == 1, str(info.value)
    with pytest.raises(jackfield.ConfigurationError) as info:
        AzureOpenAIProvider(deployment="d", base_url="http://127.0.0.1:9")
    assert str(info.value).count("azure") == 1, str(info.value)


def test_a_hosted_preset_needs_no_switches_to_require_a_key_and_a_known_tier() -> None:
    class Hosted(OpenAICompatibleProvider):
        name = "hosted"
        default_base_url = "https://api.hosted.example/v1"
        api_key_env = "HOSTED_TEST_API_KEY"
        tier_models = {jackfield.ModelTier.HOSTED_SMALL: "h-mini"}

    with pytest.raises(jackfield.ConfigurationError, match="API key"):
        Hosted()
    provider = Hosted(api_key="k", model="m")
    with pytest.raises(jackfield.ConfigurationError, match="hosted_large"):
        provider.model_for_tier("hosted_large")


def test_no_key_is_one_switch() -> None:
    infos = {info.name: info for info in jackfield.list_providers()}
    assert infos["mock"].auth_method == "none" and infos["ollama"].auth_method == "none"
    # a key that is optional is still sent as a bearer token when given
    assert infos["vllm"].auth_method == "bearer"
    assert infos["openai-compat"].auth_method == "bearer"
    assert "requires_api_key" not in vars(MockProvider)


def _exports_and_type_block(module: str) -> tuple[dict[str, str], dict[str, str]]:
    mod = importlib.import_module(module)
    path = Path(mod.__file__)  # type: ignore[arg-type]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    typed: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            for stmt in node.body:
                assert isinstance(stmt, ast.ImportFrom)
                for alias in stmt.names:
                    typed[alias.asname or alias.name] = str(stmt.module)
    return dict(mod._EXPORTS), typed


@pytest.mark.parametrize("module", ["jackfield", "jackfield.testing", "jackfield.cache"])
def test_the_lazy_export_table_and_the_type_checking_block_agree(module: str) -> None:
    exports, typed = _exports_and_type_block(module)
    assert exports == typed
    mod = importlib.import_module(module)
    for name in exports:
        assert getattr(mod, name) is not None


def test_plugin_author_api_is_declared() -> None:
    import jackfield.provider as api

    for name in api.__all__:
        assert getattr(api, name) is not None, name
    assert {"Provider", "HTTPProvider", "OpenAICompatibleProvider", "RegisterProvider"} <= set(
        api.__all__
    )


def test_internal_modules_are_private() -> None:
    public = {"__init__", "__main__", "types", "events", "errors", "config", "retry", "tokens"}
    public |= {"schema"}
    public |= {"cli", "pytest_plugin"}
    for path in CORE.rglob("*.py"):
        assert path.stem in public or path.stem.startswith("_"), path.relative_to(CORE)


def _stage(tmp_path: Path) -> Path:
    root = CORE.parent
    shutil.copytree(CORE, tmp_path / "jackfield", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(
        root / "plugins", tmp_path / "jackfield" / "plugins",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    return tmp_path / "jackfield"


def _lint_imports(stage: Path) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("lint-imports")
    if exe is None:
        pytest.skip("import-linter is not installed (pip install -e '.[test]')")
    config = CORE.parent / "pyproject.toml"
    env = {**os.environ, "PYTHONPATH": str(stage.parent)}
    return subprocess.run(
        [exe, "--no-cache", str(config)],
        cwd=stage.parent, env=env, capture_output=True, text=True, timeout=300, check=False,
    )


@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        ("wire/_upward.py", "from ..registry import Registry\n", "layered"),
        ("plugins/_internal.py", "from jackfield.wire import _sse\n", "plugin-author API"),
        ("provider/_direct.py", "import aiohttp\n", "only the transport layer"),
    ],
)
def test_the_import_contract_catches_a_breach(
    tmp_path: Path, module: str, line: str, contract: str
) -> None:
    stage = _stage(tmp_path)
    (stage / module).write_text(f'"""A breach."""\n\n{line}', encoding="utf-8")
    result = _lint_imports(stage)
    assert result.returncode != 0, result.stdout
    assert _verdicts(result.stdout)[contract] == "BROKEN", result.stdout


def test_the_tree_keeps_every_import_contract(tmp_path: Path) -> None:
    result = _lint_imports(_stage(tmp_path))
    assert result.returncode == 0, result.stdout
    assert set(_verdicts(result.stdout).values()) == {"KEPT"}


def _verdicts(report: str) -> dict[str, str]:
    """The contracts' verdicts in a lint-imports report, by a key word of each name."""
    flat = " ".join(report.split())
    keys = ("layered", "plugin-author API", "only the transport layer", "no import cycles")
    found = {}
    for key in keys:
        match = re.search(re.escape(key) + r"(?:(?!KEPT|BROKEN).)*? (KEPT|BROKEN)", flat)
        assert match is not None, (key, report)
        found[key] = match.group(1)
    return found


def test_the_plugin_guide_imports_only_the_declared_api() -> None:
    guide = (CORE.parent / "docs" / "writing-a-plugin.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", guide, flags=re.S)
    assert blocks
    allowed = {"jackfield", "jackfield.provider", "jackfield.testing"}
    seen: set[tuple[str, str]] = set()
    for block in blocks:
        for node in ast.walk(ast.parse(block)):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("jackfield"):
                assert node.module in allowed, node.module
                seen.update((node.module, alias.name) for alias in node.names)
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.startswith("jackfield."):
                        assert alias.name in allowed, alias.name
    for module, name in seen:
        assert name in importlib.import_module(module).__all__, (module, name)
    assert ("jackfield.provider", "OpenAICompatibleProvider") in seen


@pytest.mark.parametrize("name", [info.name for info in jackfield.list_providers()])
def test_creation_errors_name_the_provider_once(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for var in list(os.environ):
        if var.endswith(("_API_KEY", "_TOKEN", "_ENDPOINT", "_URL")):
            monkeypatch.delenv(var)
    cls = jackfield.get_provider_class(name)
    configs: list[dict[str, Any]] = [
        {},
        {"api_key": "k"},
        {"auth_method": "x-api-key", "api_key": "k"},
        {"api_key": "k", "extra": {"latency": -1}},  # the mock's own check
    ]
    errors: list[jackfield.ConfigurationError] = []
    for config in configs:
        try:
            cls(**config)
        except jackfield.ConfigurationError as exc:
            errors.append(exc)
    if not errors:
        pytest.skip(f"{name} accepts every one of these configs (it has defaults for all)")
    for error in errors:
        assert error.provider == name, str(error)
        assert not error.message.startswith(f"{name}:"), str(error)
        assert f"[{name}] {name}" not in str(error)
