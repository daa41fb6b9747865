"""The command line, called in-process (and once as the installed console script)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from jackfield.cli import main
from jackfield.plugins.mock import MockProvider

pytestmark = pytest.mark.usefixtures("global_registry")

HINT = "jackfield: no provider given (-p or $JACKFIELD_PROVIDER); using the mock\n"


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


# -- prompt -----------------------------------------------------------------------------------


def test_prompt_defaults_to_the_mock_with_a_hint() -> None:
    assert run("prompt", "hello") == (0, "echo: hello\n", HINT)


def test_prompt_with_provider() -> None:
    assert run("prompt", "hello", "-p", "mock") == (0, "echo: hello\n", "")
    assert run("prompt", "-p", "MOCK", "hello there") == (0, "echo: hello there\n", "")


def test_prompt_provider_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JACKFIELD_PROVIDER", "mock")
    assert run("prompt", "hi") == (0, "echo: hi\n", "")


def test_prompt_no_stream() -> None:
    assert run("prompt", "hello", "-p", "mock", "--no-stream") == (0, "echo: hello\n", "")


def test_prompt_json() -> None:
    code, out, err = run("prompt", "hello", "-p", "mock", "--json")
    assert (code, err) == (0, "")
    data = json.loads(out)
    assert data["content"] == "echo: hello"
    assert data["provider"] == "mock"
    assert data["model"] == "mock-small"
    assert data["finish_reason"] == "stop"
    assert set(data["usage"]) >= {"input_tokens", "output_tokens"}


def test_prompt_provider_model_spec_shows_the_model() -> None:
    code, out, _ = run("prompt", "hello", "-p", "mock:some-model", "--json")
    assert code == 0
    assert json.loads(out)["model"] == "some-model"


def test_prompt_options_reach_the_request() -> None:
    code, out, _ = run(
        "prompt", "one two three", "-p", "mock", "-t", "hosted_large", "--max-tokens", "2",
        "--json",
    )  # fmt: skip
    assert code == 0
    data = json.loads(out)
    assert data["model"] == "mock-large"
    assert data["content"] == "echo: one "
    assert data["finish_reason"] == "length"
    code, out, _ = run("prompt", "x", "-p", "mock", "-m", "chosen", "-s", "be brief", "--json")
    assert json.loads(out)["model"] == "chosen"


def test_prompt_reads_stdin(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("from stdin"))
    assert run("prompt", "-p", "mock") == (0, "echo: from stdin\n", "")


# -- inspection commands ----------------------------------------------------------------------


def test_providers() -> None:
    code, out, err = run("providers")
    assert (code, err) == (0, "")
    assert f"mock: {MockProvider.description}\n" in out


def test_providers_json() -> None:
    code, out, _ = run("providers", "--json")
    assert code == 0
    data = json.loads(out)
    mock = next(p for p in data if p["name"] == "mock")
    assert mock["auth_method"] == "none"
    assert mock["plugin"] == "jackfield"
    assert mock["aliases"] == []
    assert mock["extra_installed"] is True
    assert "provider_class" not in mock


def test_plugins_json() -> None:
    code, out, _ = run("plugins", "--json")
    assert code == 0
    data = json.loads(out)
    assert "mock" in data["plugins"]
    assert isinstance(data["failures"], list)


def test_plugins_plain() -> None:
    code, out, _ = run("plugins")
    assert code == 0
    assert "mock\n" in out


def test_tiers() -> None:
    code, out, _ = run("tiers", "mock", "--json")
    assert code == 0
    assert json.loads(out) == {
        "local_small": "mock-local",
        "hosted_small": "mock-small",
        "hosted_large": "mock-large",
    }
    code, out, _ = run("tiers", "mock")
    assert code == 0
    assert out == "local_small: mock-local\nhosted_small: mock-small\nhosted_large: mock-large\n"


def test_tokens() -> None:
    pytest.importorskip("jackfield.tokens")
    expected = MockProvider().estimate_tokens("hello world, how are you?")
    code, out, err = run("tokens", "hello world, how are you?", "-p", "mock", "--json")
    assert (code, err) == (0, "")
    assert json.loads(out) == {"tokens": expected}
    assert expected > 0
    assert run("tokens", "hello world, how are you?", "-p", "mock") == (0, f"{expected}\n", "")


# -- bad input --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "kind"),
    [
        (["prompt", "hi", "-p", "nosuch"], "ProviderNotFoundError"),
        (["tiers", "nosuch"], "ProviderNotFoundError"),
        (["prompt", "hi", "-p", "mock", "-t", "huge"], "ConfigurationError"),
        (["prompt", "hi", "-p", "mock", "--temperature", "9"], "BadRequestError"),
    ],
)
def test_bad_input_exits_1_with_one_line(argv: list[str], kind: str) -> None:
    code, out, err = run(*argv)
    assert code == 1
    assert out == ""
    assert err.count("\n") == 1 and err.endswith("\n")
    assert err.startswith(f"jackfield: {kind}: ")
    assert "Traceback" not in err


def test_unknown_provider_suggests_names() -> None:
    code, _, err = run("prompt", "hi", "-p", "mokc")
    assert code == 1
    assert (
        err == "jackfield: ProviderNotFoundError: no provider named 'mokc'; did you mean 'mock'?\n"
    )


@pytest.mark.parametrize(
    "argv",
    [
        ["tiers"],
        ["bogus-command"],
        ["prompt", "hi", "--temperature", "warm"],
        ["prompt", "hi", "--max-tokens", "many"],
        ["prompt", "hi", "--no-such-flag"],
    ],
)
def test_usage_errors_exit_2(argv: list[str]) -> None:
    code, out, err = run(*argv)
    assert code == 2
    assert out == ""
    assert err.startswith("jackfield: ")
    assert err.count("\n") == 1
    assert "Traceback" not in err


def test_no_command_prints_help_and_exits_2() -> None:
    code, out, _ = run()
    assert code == 2
    assert "prompt" in out and "providers" in out


# -- the installed script ---------------------------------------------------------------------


def test_console_script(tmp_path: Path) -> None:
    script = Path(sys.executable).parent / "jackfield"
    cmd = [str(script)] if script.exists() else [sys.executable, "-m", "jackfield.cli"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("JACKFIELD_")}
    env["XDG_CONFIG_HOME"] = str(tmp_path)
    done = subprocess.run(
        [*cmd, "prompt", "hello"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "echo: hello\n"
    assert done.stderr == HINT


def test_tiers_of_a_keyed_provider_need_no_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    code, out, err = run("tiers", "openai", "--json")
    assert code == 0, err
    assert json.loads(out)["hosted_large"] == "gpt-5.5"
    code, _, err = run("prompt", "-p", "openai", "hi")
    assert code == 1 and "no API key" in err  # calls still require one
