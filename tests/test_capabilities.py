"""Capabilities declared per provider and model family, shown by the CLI, overridable in
config; what a call asks beyond them is refused before any I/O."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

from jackfield import create_provider
from jackfield.cli import main
from jackfield.errors import BadRequestError, UnsupportedFeatureError
from jackfield.provider import family_capabilities, openai_model_capabilities
from jackfield.registry import Registry
from jackfield.types import AudioPart, Capabilities, ImagePart, Message, OutputMode, TextPart

KEY = "sk-test-capabilities-0000"


def _run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    return main(list(argv), out=out, err=err), out.getvalue(), err.getvalue()


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        (
            "gpt-5.4-mini",
            {"images": True, "thinking": True, "audio": False, "context_window": 400_000},
        ),
        ("gpt-5.4", {"context_window": 1_050_000, "temperature": False}),
        ("gpt-5.5", {"thinking": True, "context_window": None}),
        ("gpt-5-chat-latest", {"thinking": False, "temperature": True}),
        ("gpt-4o-mini-2024-07-18", {"images": True, "documents": True, "thinking": False}),
        ("gpt-4o-audio-preview", {"audio": True, "images": False, "structured_output": "tool"}),
        ("gpt-audio-mini", {"audio": True, "documents": False}),
        ("o3-mini", {"images": False, "thinking": True}),
        ("o1-mini", {"tools": False, "json_mode": False, "structured_output": "prompt"}),
        ("gpt-4.1-nano", {"context_window": 1_047_576, "structured_output": "native"}),
        ("gpt-4-0613", {"images": False, "json_mode": False, "structured_output": "tool"}),
        ("gpt-3.5-turbo", {"images": False, "context_window": 16_385}),
    ],
)
def test_openai_declares_by_model_family(model: str, expected: dict[str, Any]) -> None:
    caps = create_provider("openai", api_key=KEY, fresh=True).capabilities(model).to_dict()
    assert {k: caps[k] for k in expected} == expected


def test_a_family_prefix_matches_only_at_a_name_boundary() -> None:
    assert openai_model_capabilities("o10-preview", Capabilities()) == Capabilities()
    assert family_capabilities("openai/o1-2024-12-17", (("o1", Capabilities(audio=True)),))
    assert family_capabilities("gpt-4os", (("gpt-4o", Capabilities()),)) is None


def test_azure_declares_by_the_deployments_model() -> None:
    named = create_provider("azure", base_url="https://x.invalid", deployment="gpt-4o", api_key=KEY)
    assert named.capabilities().thinking is False  # the deployment is named after gpt-4o
    aliased = create_provider(
        "azure",
        base_url="https://x.invalid",
        deployment="prod-chat",
        api_key=KEY,
        extra={"deployment_model": "gpt-4o-audio-preview"},
    )
    assert aliased.capabilities().audio is True
    with pytest.raises(UnsupportedFeatureError, match="images"):
        aliased.build_request([Message.user([TextPart("x"), ImagePart(url="https://x/a.png")])])


def test_openrouter_declares_by_vendor() -> None:
    p = create_provider("openrouter", api_key=KEY)
    assert p.capabilities("openai/gpt-4o").thinking is False
    assert p.capabilities("openai/gpt-4o").documents is True  # OpenRouter parses PDFs
    assert p.capabilities("google/gemini-2.5-flash").audio is True
    assert p.capabilities("anthropic/claude-sonnet-4.5").structured_output is OutputMode.NATIVE
    other = p.capabilities("mistralai/mistral-small")
    assert other.structured_output is OutputMode.TOOL and other.audio is False


@pytest.mark.parametrize("name", ["ollama", "vllm", "openai-compat"])
def test_self_hosted_servers_are_conservative_and_config_knows_more(name: str) -> None:
    p = create_provider(name, base_url="http://127.0.0.1:9/v1", model="my-model", fresh=True)
    caps = p.capabilities()
    assert (caps.images, caps.documents, caps.audio, caps.thinking) == (False,) * 4
    assert caps.tools and caps.structured_output is OutputMode.NATIVE
    assert p.capabilities("llava:13b").images is True  # a vision family, by name
    assert p.capabilities("qwen3:8b").thinking is True  # a reasoning family
    with pytest.raises(UnsupportedFeatureError, match="thinking") as info:
        p.build_request("x", reasoning="high")
    assert info.value.feature == "thinking" and info.value.provider == name
    told = create_provider(
        name,
        base_url="http://127.0.0.1:9/v1",
        model="my-model",
        capabilities={"audio": True, "thinking": True},
        fresh=True,
    )
    told.build_request([Message.user([AudioPart(data="UklGR", format="wav")])], reasoning=True)


def test_every_registered_provider_answers_capabilities() -> None:
    registry = Registry(entry_points=True)
    for info in registry.list_providers():
        assert isinstance(info.capabilities, Capabilities), info.name
        assert info.to_dict()["capabilities"]["structured_output"] in ("native", "tool", "prompt")


def test_providers_json_and_summary_show_capabilities() -> None:
    code, out, _ = _run("providers", "--json")
    assert code == 0
    openai = next(p for p in json.loads(out) if p["name"] == "openai")
    assert openai["default_model"] == "gpt-5.4-mini"
    assert openai["capabilities"]["images"] is True and openai["capabilities"]["audio"] is False
    code, out, _ = _run("providers")
    lines = out.splitlines()
    summary = lines[lines.index(next(x for x in lines if x.startswith("openai:"))) + 1]
    assert summary.startswith("    can (gpt-5.4-mini): tools, ")
    assert "audio" not in summary and "structured output native" in summary


def test_capabilities_command_per_model() -> None:
    code, out, err = _run("capabilities", "openai", "-m", "gpt-4o-audio-preview", "--json")
    assert (code, err) == (0, "")
    data = json.loads(out)
    assert data["model"] == "gpt-4o-audio-preview" and data["audio"] is True
    code, out, _ = _run("capabilities", "ollama", "-o", 'capabilities={"images": true}')
    assert code == 0 and "images: true" in out


def test_tool_choice_without_tools_is_refused_before_io() -> None:
    p = create_provider("mock")
    with pytest.raises(BadRequestError, match="tool_choice 'required' needs tools"):
        p.build_request("x", tool_choice="required")
