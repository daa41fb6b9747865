"""Each hook: its behaviour, and a meta-test that it has a docstring, docs and a test."""

from __future__ import annotations

import ast
import asyncio
import inspect
import re
from pathlib import Path
from typing import Any

import pytest

import jackfield
from jackfield import hookimpl
from jackfield.errors import ProviderError, RateLimitError
from jackfield.plugins.mock import MockProvider
from jackfield.registry import _hookspecs as hookspecs
from jackfield.types import ModelTier, Request, Response

ROOT = Path(__file__).resolve().parents[1]


def _registry(*plugins: object) -> jackfield.Registry:
    registry = jackfield.Registry(entry_points=False)
    registry.register_provider(MockProvider)
    for i, plugin in enumerate(plugins):
        registry.register_plugin(plugin, name=f"plugin{i}")
    return registry


async def _no_sleep(seconds: float) -> None:
    return None


def test_hook_jackfield_register_providers() -> None:
    class Custom(MockProvider):
        name = "custom-mock"

    class Plugin:
        calls = 0

        @hookimpl
        def jackfield_register_providers(self, register: Any) -> None:
            Plugin.calls += 1
            register(Custom, aliases=["cm"])

    registry = _registry(Plugin())
    assert registry.get_provider_class("cm") is Custom
    registry.get_provider_class("custom_mock")
    registry.list_providers()
    assert Plugin.calls == 1


def test_hook_jackfield_model_for_tier() -> None:
    seen: list[tuple[str, ModelTier]] = []

    class Policy:
        @hookimpl
        def jackfield_model_for_tier(self, provider: Any, tier: ModelTier) -> str | None:
            seen.append((provider.name, tier))
            return "policy-large" if tier is ModelTier.HOSTED_LARGE else None

    registry = _registry(Policy())
    mock = registry.create_provider("mock")
    assert mock.model_for_tier("hosted_large") == "policy-large"
    assert mock.model_for_tier("hosted_small") == "mock-small"  # None falls through
    assert seen == [("mock", ModelTier.HOSTED_LARGE), ("mock", ModelTier.HOSTED_SMALL)]
    overridden = registry.create_provider("mock", tier_models={"hosted_large": "cfg"})
    assert overridden.model_for_tier("hosted_large") == "cfg"  # config wins over the hook


def test_hook_jackfield_estimate_tokens() -> None:
    class Counter:
        @hookimpl
        def jackfield_estimate_tokens(
            self, provider: Any, model: str, messages: Any, tools: Any
        ) -> int | None:
            return 1000 + len(messages) if model == "mock-large" else None

    registry = _registry(Counter())
    mock = registry.create_provider("mock")
    two = [jackfield.Message.user("a"), jackfield.Message.user("b")]
    assert mock.estimate_tokens(two, model="mock-large") == 1002
    assert mock.estimate_tokens(two, model="mock-small") < 1000


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    @hookimpl
    def jackfield_request_started(self, provider: Any, request: Request, attempt: int) -> None:
        self.calls.append(
            ("started", {"provider": provider, "request": request, "attempt": attempt})
        )

    @hookimpl
    def jackfield_response_received(
        self, provider: Any, request: Request, response: Response, duration: float
    ) -> None:
        self.calls.append(("received", {"response": response, "duration": duration}))

    @hookimpl
    def jackfield_request_failed(
        self, provider: Any, request: Request, error: ProviderError, duration: float
    ) -> None:
        self.calls.append(("failed", {"error": error, "duration": duration}))

    @hookimpl
    def jackfield_retrying(
        self, provider: Any, request: Request, error: ProviderError, attempt: int, wait: float
    ) -> None:
        self.calls.append(("retrying", {"error": error, "attempt": attempt, "wait": wait}))


def _observed(replies: list[dict[str, Any]], stream: bool = False) -> tuple[Recorder, Any]:
    recorder = Recorder()
    registry = _registry(recorder)
    provider = registry.create_provider("mock", extra={"replies": replies}, max_retries=2)
    provider.retry_policy = jackfield.RetryPolicy(max_retries=2, sleep=_no_sleep)

    async def run() -> Any:
        if stream:
            return await provider.stream("hi").collect()
        return await provider.generate("hi")

    try:
        result = asyncio.run(run())
    except ProviderError as exc:
        result = exc
    return recorder, result


def test_hook_jackfield_request_started() -> None:
    recorder, _ = _observed([{"error": "server"}, {"text": "ok"}])
    started = [c for kind, c in recorder.calls if kind == "started"]
    assert [c["attempt"] for c in started] == [1, 2]
    assert started[0]["provider"].name == "mock"
    assert started[0]["request"].messages[0].text == "hi"


def test_hook_jackfield_response_received() -> None:
    for stream in (False, True):
        recorder, response = _observed([{"text": "fine"}], stream=stream)
        received = [c for kind, c in recorder.calls if kind == "received"]
        assert len(received) == 1
        assert received[0]["response"] == response
        assert received[0]["duration"] >= 0


def test_hook_jackfield_request_failed() -> None:
    recorder, error = _observed([{"error": "quota"}])
    failed = [c for kind, c in recorder.calls if kind == "failed"]
    assert len(failed) == 1 and failed[0]["error"] is error
    assert error.attempts == 1 and error.error_type == "quota"
    assert not [c for kind, c in recorder.calls if kind == "received"]


def test_hook_jackfield_retrying() -> None:
    recorder, response = _observed(
        [{"error": "rate_limit", "retry_after": 1.5}, {"error": "overloaded"}, {"text": "ok"}]
    )
    assert response.content == "ok"
    retrying = [c for kind, c in recorder.calls if kind == "retrying"]
    assert [c["attempt"] for c in retrying] == [1, 2]
    assert isinstance(retrying[0]["error"], RateLimitError)
    assert retrying[0]["wait"] == 1.5
    assert 0.05 <= retrying[1]["wait"] <= 1.0


def test_observer_that_raises_does_not_break_the_call(caplog: pytest.LogCaptureFixture) -> None:
    class Broken:
        @hookimpl
        def jackfield_request_started(self) -> None:
            raise RuntimeError("observer bug")

    registry = _registry(Broken())
    provider = registry.create_provider("mock")
    assert asyncio.run(provider.generate("hi")).content == "echo: hi"
    assert "observer bug" in caplog.text


def test_unimplemented_hooks_are_not_called_on_the_hot_path() -> None:
    registry = _registry()
    assert not registry.hooks.has("jackfield_request_started")
    registry.register_plugin(Recorder(), name="late")
    assert registry.hooks.has("jackfield_request_started")


# -- meta-test: every hook has a typed, documented spec, a docs section and a test ---------


def _test_names() -> set[str]:
    names: set[str] = set()
    for path in (ROOT / "tests").glob("test_*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names |= {
            node.name
            for node in ast.walk(tree)
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        }
    return names


@pytest.mark.parametrize("hook", hookspecs.HOOK_NAMES)
def test_every_hook_has_docstring_docs_and_test(hook: str) -> None:
    spec = getattr(hookspecs, hook)
    doc = inspect.getdoc(spec) or ""
    assert len(doc) > 40, f"{hook} needs a docstring saying when it is called and what it returns"
    params = [p for p in inspect.signature(spec).parameters]
    for name in params:
        assert f":param {name}:" in doc, f"{hook}: document parameter {name} with :param:"
    hints = inspect.get_annotations(spec)
    assert "return" in hints and all(p in hints for p in params), f"{hook} must be fully typed"
    docs = (ROOT / "docs" / "hooks.md").read_text(encoding="utf-8")
    assert re.search(rf"^## {hook}$", docs, re.M), f"docs/hooks.md needs a '## {hook}' section"
    assert f"test_hook_{hook}" in _test_names(), f"write a test named test_hook_{hook}"


def test_hook_names_follow_the_convention() -> None:
    assert len(hookspecs.HOOK_NAMES) == 9
    assert all(name.startswith("jackfield_") for name in hookspecs.HOOK_NAMES)
