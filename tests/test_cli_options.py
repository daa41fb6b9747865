"""The CLI configures any provider (--base-url, -o, --api-key-env), refuses empty prompts
before any I/O, prints tool calls, and tells the truth about providers, plugins and caches."""

from __future__ import annotations

import asyncio
import io
import json
import sys
import textwrap
from pathlib import Path

import pytest

import jackfield
from jackfield.cli import main
from jackfield.testing import FakeLLMServer

pytestmark = pytest.mark.usefixtures("global_registry")


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


async def run_beside(server: FakeLLMServer, *argv: str) -> tuple[int, str, str]:
    """The CLI (which runs its own event loop) in a thread, beside the test's server."""
    del server  # the server runs on this loop meanwhile
    return await asyncio.wait_for(asyncio.to_thread(run, *argv), 30)


def _profile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text(textwrap.dedent(text))
    monkeypatch.setenv("JACKFIELD_CONFIG", str(path))


# -- configuring a provider from the command line ---------------------------------------------


async def test_base_url_model_and_options_reach_an_openai_compatible_server() -> None:
    async with FakeLLMServer() as server:
        code, out, err = await run_beside(
            server, "prompt", "-p", "openai-compat", "--base-url", server.openai_base_url,
            "-m", "tiny", "-o", "max_retries=0", "-o", 'extra_headers={"X-Team": "a"}', "hello",
        )  # fmt: skip
        assert (code, out, err) == (0, "echo: hello\n", "")
        request = server.last_request
        assert request.json["model"] == "tiny"
        assert request.headers["x-team"] == "a"


async def test_api_key_env_names_the_variable_holding_the_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.setenv("MY_TEAM_KEY", "sk-team-key-123456")
    async with FakeLLMServer() as server:
        code, out, err = await run_beside(
            server, "prompt", "-p", "openai-compat", "--base-url", server.openai_base_url,
            "-m", "tiny", "--api-key-env", "MY_TEAM_KEY", "hi",
        )  # fmt: skip
        assert (code, out) == (0, "echo: hi\n"), err
        assert server.last_request.headers["authorization"] == "Bearer sk-team-key-123456"


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ("nonsense", "-o takes NAME=VALUE"),
        ("temprature=1", "unknown config field(s): temprature"),
        ("max_retries=-1", "max_retries"),
        ("api_key=sk-on-the-command-line", "--api-key-env"),
    ],
)
def test_bad_options_are_one_line(option: str, message: str) -> None:
    code, out, err = run("prompt", "-p", "mock", "-o", option, "hi")
    assert code in (1, 2) and out == ""
    assert message in err and err.count("\n") == 1
    assert "sk-on-the-command-line" not in err


def test_hints_show_the_cli_flags(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    code, _, err = run("prompt", "-p", "openai", "hi")
    assert code == 1 and err.count("\n") == 1
    assert "--api-key-env" in err and "$OPENAI_API_KEY" in err and "api_key=..." not in err
    code, _, err = run("prompt", "-p", "openai-compat", "hi")
    assert code == 1 and "--base-url URL" in err
    code, _, err = run("prompt", "-p", "openai-compat", "--base-url", "http://127.0.0.1:9/v1", "hi")
    assert code == 1 and err.count("\n") == 1
    assert "no model for tier 'hosted_small'" in err
    assert "-m MODEL" in err and "profile" in err and "tier_models={" not in err


def test_tiers_send_nothing_and_need_no_base_url_or_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AZURE_OPENAI_API_KEY", raising=False)
    code, out, err = run("tiers", "azure", "--json")
    assert code == 0, err
    assert set(json.loads(out)) == {"local_small", "hosted_small", "hosted_large"}
    code, out, err = run("tiers", "openai-compat", "-o", 'tier_models={"hosted_small": "s"}')
    assert code == 0, err
    assert "hosted_small: s\n" in out


def test_tokens_needs_no_key_and_warns_in_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.setenv("JACKFIELD_TOKENS_OFFLINE", "1")
    from jackfield import tokens

    with tokens._isolated_state():
        code, out, err = run("tokens", "-p", "openai", "Hello")
    assert code == 0, err
    assert int(out) > 0
    assert err.count("\n") <= 1 and len(err) < 300


def test_version() -> None:
    assert run("--version") == (0, f"jackfield {jackfield.__version__}\n", "")


# -- empty prompts ------------------------------------------------------------------------------


@pytest.mark.parametrize("stdin", ["", "\n", "  \n\n"])
def test_an_empty_prompt_is_refused_before_any_provider_is_created(
    monkeypatch: pytest.MonkeyPatch, stdin: str
) -> None:
    created: list[str] = []
    real = jackfield.registry.Registry.create_provider
    monkeypatch.setattr(
        jackfield.registry.Registry,
        "create_provider",
        lambda self, *a, **k: created.append("x") or real(self, *a, **k),
    )
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    assert run("prompt", "-p", "mock") == (2, "", "jackfield: empty prompt: give some text\n")
    assert run("prompt", "-p", "mock", "") == (2, "", "jackfield: empty prompt: give some text\n")
    assert created == []


def test_stdin_loses_the_one_newline_echo_adds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("two lines\nhere\n"))
    code, out, _ = run("prompt", "-p", "mock", "--json")
    assert code == 0 and json.loads(out)["content"] == "echo: two lines\nhere"


# -- what prompt prints -------------------------------------------------------------------------


TOOL_PROFILE = """
    [profiles.tools]
    provider = "mock"
    extra = { replies = [
        { tool_calls = [{ id = "c1", name = "get_weather", arguments = { city = "Paris" } }] },
    ] }
"""


@pytest.mark.parametrize("mode", [[], ["--no-stream"]])
def test_a_tool_call_only_answer_prints_the_calls(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: list[str]
) -> None:
    _profile(tmp_path, monkeypatch, TOOL_PROFILE)
    code, out, err = run("prompt", "-p", "tools", *mode, "weather?")
    assert (code, err) == (0, "")
    assert out == 'tool call: get_weather {"city": "Paris"}\n'


def test_json_has_tool_calls_and_cached(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _profile(tmp_path, monkeypatch, TOOL_PROFILE)
    code, out, _ = run("prompt", "-p", "tools", "--json", "weather?")
    data = json.loads(out)
    assert code == 0
    assert data["tool_calls"] == [
        {"id": "c1", "name": "get_weather", "arguments": {"city": "Paris"}}
    ]
    assert data["cached"] is False


def test_prompt_uses_the_cache_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JACKFIELD_CACHE", f"sqlite:{tmp_path / 'c.sqlite3'}")
    first = json.loads(run("prompt", "-p", "mock", "--json", "same")[1])
    jackfield.clear_cache()
    again = json.loads(run("prompt", "-p", "mock", "--json", "same")[1])
    assert (first["cached"], again["cached"]) == (False, True)
    code, out, _ = run("cache", "--json")
    assert code == 0 and json.loads(out)["entries"] == 1  # `cache` alone is `cache stats`
    path = tmp_path / "other.sqlite3"
    code, out, _ = run("prompt", "-p", "mock", "--cache", f"sqlite:{path}", "x")
    assert code == 0 and path.exists()


# -- providers, plugins, cache ------------------------------------------------------------------


def test_providers_marks_only_a_missing_extra() -> None:
    code, out, _ = run("providers")
    assert code == 0
    anthropic = next(line for line in out.splitlines() if line.startswith("anthropic:"))
    assert "needs" not in anthropic  # the SDK is installed here


def test_plugins_show_the_provider_names_they_register() -> None:
    code, out, _ = run("plugins")
    assert code == 0
    assert "openai_compat: openai-compat\n" in out
    assert "mock: mock\n" in out
    data = json.loads(run("plugins", "--json")[1])
    assert data["providers"]["openai_compat"] == ["openai-compat"]


@pytest.fixture
def broken_foo(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A distribution whose ``jackfield`` entry point ``foo`` fails to import."""
    dist = tmp_path / "pb_cli_foo-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: pb-cli-foo\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[jackfield]\nfoo = pb_cli_foo_missing_xyz\n")
    monkeypatch.syspath_prepend(str(tmp_path))


@pytest.mark.usefixtures("broken_foo")
def test_a_broken_plugin_is_named_by_prompt_and_providers() -> None:
    code, _, err = run("prompt", "-p", "foo", "hi")
    assert code == 1 and err.count("\n") == 1
    assert "no provider named 'foo'" in err
    assert "plugin 'foo' failed to load (import): ModuleNotFoundError" in err
    code, out, err = run("providers")
    assert code == 0 and "mock:" in out
    assert "plugin 'foo' failed to load (import)" in err


def test_cache_clear_prints_the_path_and_stats_of_a_missing_cache_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = tmp_path / "nowhere" / "c.sqlite3"
    code, out, err = run("cache", "stats", "--cache", f"sqlite:{missing}")
    assert (code, out) == (1, "")
    assert err == f"jackfield: JackfieldError: cache sqlite:{missing} does not exist\n"
    assert not missing.parent.exists()  # asking created nothing
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    from jackfield.cache._sqlite import default_sqlite_path

    assert run("prompt", "-p", "mock", "--cache", "sqlite:", "x")[0] == 0
    code, out, _ = run("cache", "clear")
    assert (code, out) == (0, f"cleared sqlite:{default_sqlite_path()}\n")
