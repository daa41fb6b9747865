"""Every built-in provider runs jackfield's conformance battery (jackfield.testing).

One subclass of :class:`ProviderConformance` per built-in, each served by the
FakeLLMServer in its own wire format (the mock has no server: its network-fault tests
skip). Only 127.0.0.1 is ever contacted.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from types import ModuleType
from typing import Any, cast

import pytest

from jackfield.errors import BadRequestError, NotFoundError, ProviderError
from jackfield.events import StreamEvent, TextDelta
from jackfield.plugins.azure import AzureOpenAIProvider
from jackfield.plugins.mock import MockProvider, MockReply
from jackfield.plugins.ollama import OllamaProvider
from jackfield.plugins.openai_compat import OpenAICompatProvider
from jackfield.plugins.openrouter import OpenRouterProvider
from jackfield.plugins.vllm import VLLMProvider
from jackfield.provider import Provider
from jackfield.testing import ProviderConformance, Reply, ScriptItem
from jackfield.testing._fake_server import FakeLLMServer
from jackfield.types import Request, Response


def _plugin(name: str) -> ModuleType | None:
    """A built-in plugin module that may still be missing from this checkout."""
    try:
        return importlib.import_module(f"jackfield.plugins.{name}")
    except ImportError:
        return None


def _missing(plugin: str, sdk: str | None = None) -> pytest.MarkDecorator:
    module = _plugin(plugin)
    reason = f"jackfield.plugins.{plugin} is not in this checkout yet"
    if module is not None and sdk is not None and importlib.util.find_spec(sdk) is None:
        reason = f"the {sdk} SDK is not installed (pip install 'jackfield[{sdk}]')"
        module = None
    return pytest.mark.skipif(module is None, reason=reason)


class TestOpenAICompatConformance(ProviderConformance):
    """Thinking (delta.reasoning_content, as vLLM and DeepSeek send it) declared in config,
    as for a server known to reason; supports_* follow the declaration."""

    wire = "openai"
    requires_api_key = False

    def make_provider(self, server: FakeLLMServer, **config: Any) -> Provider:
        config.setdefault("capabilities", {"thinking": True})
        return OpenAICompatProvider(base_url=server.openai_base_url, model="compat-model", **config)


class TestOpenRouterConformance(ProviderConformance):
    wire = "openai"
    server_options = {"openai_reasoning_field": "reasoning"}  # OpenRouter's field

    def make_provider(self, server: FakeLLMServer, **config: Any) -> Provider:
        return OpenRouterProvider(base_url=server.openai_base_url, **config)


class TestOllamaConformance(ProviderConformance):
    """A reasoning family (qwen3): thinking declared by the model's name."""

    wire = "openai"
    requires_api_key = False

    def make_provider(self, server: FakeLLMServer, **config: Any) -> Provider:
        return OllamaProvider(base_url=server.openai_base_url, model="qwen3:8b", **config)


class TestVLLMConformance(ProviderConformance):
    """A served model of no known family: the conservative declaration (no thinking)."""

    wire = "openai"
    requires_api_key = False

    def make_provider(self, server: FakeLLMServer, **config: Any) -> Provider:
        return VLLMProvider(base_url=server.openai_base_url, model="served-model", **config)


class TestAzureConformance(ProviderConformance):
    """Azure's deployment path and ``api-key`` header, served by the fake server."""

    wire = "openai"
    supports_thinking = True

    def make_provider(self, server: FakeLLMServer, **config: Any) -> Provider:
        return AzureOpenAIProvider(
            base_url=server.azure_endpoint,
            deployment="conformance-deployment",
            tier_models={
                "local_small": "dep-small-local",
                "hosted_small": "dep-small",
                "hosted_large": "dep-large",
            },
            **config,
        )

    async def test_deployment_path(self) -> None:
        async with self.session() as s:
            s.script(Reply("ok"))
            await s.provider.generate("hi")
            request = s.server.last_request
            assert request.endpoint == "azure"
            assert request.path == "/openai/deployments/conformance-deployment/chat/completions"
            assert request.query["api-version"]
            assert request.headers["api-key"] == self.api_key


@_missing("openai", sdk="openai")
class TestOpenAIConformance(ProviderConformance):
    """The official openai SDK provider on Chat Completions (``api="chat"``: its tier
    models reason, and would take the Responses API by default)."""

    wire = "openai"
    supports_thinking = True  # the shared Chat Completions parser reads reasoning_content

    def make_provider(self, server: FakeLLMServer, **config: Any) -> Provider:
        module = cast(ModuleType, _plugin("openai"))
        provider: Provider = module.OpenAIProvider(
            base_url=server.openai_base_url, extra={"api": "chat"}, **config
        )
        return provider


@_missing("openai", sdk="openai")
class TestOpenAIResponsesConformance(ProviderConformance):
    """The openai provider on the Responses API: its tier models (GPT-5) take it by
    default (``api="auto"``)."""

    wire = "responses"
    supports_thinking = True

    def make_provider(self, server: FakeLLMServer, **config: Any) -> Provider:
        module = cast(ModuleType, _plugin("openai"))
        provider: Provider = module.OpenAIProvider(base_url=server.openai_base_url, **config)
        return provider

    def bad_configs(self) -> list[tuple[dict[str, Any], str]]:
        """The API switch is checked with the rest of the config."""
        return [*super().bad_configs(), ({"extra": {"api": "completions"}}, "api")]


@_missing("openai", sdk="openai")
class TestOpenAIResponsesForcedConformance(ProviderConformance):
    """``api="responses"`` on a model that would default to Chat Completions."""

    wire = "responses"
    supports_thinking = True

    def make_provider(self, server: FakeLLMServer, **config: Any) -> Provider:
        module = cast(ModuleType, _plugin("openai"))
        config.setdefault("capabilities", {"thinking": True})
        provider: Provider = module.OpenAIProvider(
            base_url=server.openai_base_url, model="gpt-4.1", extra={"api": "responses"}, **config
        )
        return provider


@_missing("anthropic", sdk="anthropic")
class TestAnthropicConformance(ProviderConformance):
    """The official anthropic SDK provider."""

    wire = "anthropic"
    supports_thinking = True

    def make_provider(self, server: FakeLLMServer, **config: Any) -> Provider:
        module = cast(ModuleType, _plugin("anthropic"))
        provider: Provider = module.AnthropicProvider(base_url=server.anthropic_base_url, **config)
        return provider


@_missing("gemini", sdk="google.genai")
class TestGeminiConformance(ProviderConformance):
    """The official google-genai SDK provider, on Gemini's own wire."""

    wire = "gemini"
    supports_thinking = True

    def make_provider(self, server: FakeLLMServer, **config: Any) -> Provider:
        module = cast(ModuleType, _plugin("gemini"))
        provider: Provider = module.GeminiProvider(base_url=server.gemini_base_url, **config)
        return provider


@_missing("gemini", sdk="google.genai")
class TestGeminiVertexConformance(ProviderConformance):
    """The gemini provider on Vertex AI's paths (express mode: the key alone)."""

    wire = "gemini"
    supports_thinking = True

    def make_provider(self, server: FakeLLMServer, **config: Any) -> Provider:
        module = cast(ModuleType, _plugin("gemini"))
        extra = {"vertexai": True}
        provider: Provider = module.GeminiProvider(
            base_url=server.gemini_base_url, extra=extra, **config
        )
        return provider


@_missing("proxy")
class TestProxyConformance(ProviderConformance):
    """The jackfield proxy protocol client (bearer token checked by the fake server)."""

    wire = "proxy"
    supports_thinking = True

    def make_provider(self, server: FakeLLMServer, **config: Any) -> Provider:
        module = cast(ModuleType, _plugin("proxy"))
        provider: Provider = module.ProxyProvider(base_url=server.proxy_url, **config)
        return provider


class TestMockConformance(ProviderConformance):
    """The mock has no server: it plays the battery's replies from its own script."""

    wire = None
    requires_api_key = False
    supports_thinking = True

    def make_provider(self, server: None, **config: Any) -> Provider:
        return MockProvider(**config)

    def script(self, server: Any, provider: Provider, *items: ScriptItem) -> None:
        mock = cast(MockProvider, provider)
        for item in items:
            if isinstance(item, str):
                item = Reply(item)
            if not isinstance(item, Reply):
                pytest.skip("the mock provider has no server: network faults do not apply")
            mock.script(
                MockReply(
                    text=item.text,
                    thinking=item.thinking,
                    thinking_signature=item.thinking_signature,
                    tool_calls=item.tool_calls,
                    usage=item.usage,
                    finish_reason=item.finish_reason,
                )
            )


# -- the battery catches broken providers ------------------------------------------------
#
# Each broken provider below has one defect; running the matching battery test on it
# must fail. (The classes start with "_" so pytest does not collect them.)


class _CompatCase(ProviderConformance):
    wire = "openai"
    requires_api_key = False
    provider_class: type[OpenAICompatProvider] = OpenAICompatProvider

    def make_provider(self, server: FakeLLMServer, **config: Any) -> Provider:
        return self.provider_class(base_url=server.openai_base_url, model="m", **config)


class _LeakyRepr(OpenAICompatProvider):
    def __repr__(self) -> str:
        key = self.api_key.get_secret_value() if self.api_key else None
        return f"<LeakyRepr key={key}>"


class _LeaksIntoRequest(OpenAICompatProvider):
    """Puts the key into the request's extra fields, where hooks see it."""

    def build_request(self, messages: Any, **kwargs: Any) -> Request:
        key = self.api_key.get_secret_value() if self.api_key else ""
        extra = {**(kwargs.pop("extra", None) or {}), "user_tag": key}
        return super().build_request(messages, **kwargs, extra=extra)


class _Misclassifies404(OpenAICompatProvider):
    async def _generate(self, request: Request) -> Response:
        try:
            return await super()._generate(request)
        except NotFoundError as exc:
            raise BadRequestError(exc.message, status_code=404) from exc


class _RetriesItself(OpenAICompatProvider):
    """Retries inside _generate, as an SDK left with max_retries=2 does."""

    async def _generate(self, request: Request) -> Response:
        try:
            return await super()._generate(request)
        except ProviderError:
            return await super()._generate(request)


class _ReadsWholeStream(OpenAICompatProvider):
    """Reads the entire stream before yielding: leaving early cannot close anything."""

    async def _stream(self, request: Request) -> AsyncIterator[StreamEvent]:
        events = [event async for event in super()._stream(request)]
        for event in events:
            yield event


class _DropsADelta(OpenAICompatProvider):
    async def _stream(self, request: Request) -> AsyncIterator[StreamEvent]:
        dropped = False
        async for event in super()._stream(request):
            if isinstance(event, TextDelta) and not dropped:
                dropped = True
                continue
            yield event


class _NoUsageInStream(OpenAICompatProvider):
    usage_in_stream = False


def _case(provider_class: type[OpenAICompatProvider]) -> _CompatCase:
    case = _CompatCase()
    case.provider_class = provider_class
    return case


@pytest.mark.parametrize(
    ("provider_class", "test", "message"),
    [
        (_LeakyRepr, "test_api_key_never_leaks", "API key appears"),
        (_LeaksIntoRequest, "test_api_key_never_leaks", "API key appears"),
        (_Misclassifies404, "test_fault_maps_and_retries", "expected NotFoundError"),
        (_RetriesItself, "test_fault_maps_and_retries", "DID NOT RAISE"),
        (_ReadsWholeStream, "test_stream_early_exit_closes_connection", "whole response"),
        (_DropsADelta, "test_stream_is_well_formed", "its deltas say"),
        (_NoUsageInStream, "test_stream_reports_usage", "input_tokens"),
    ],
    ids=lambda v: getattr(v, "__name__", None) or str(v)[:20],
)
async def test_battery_catches_broken_provider(
    provider_class: type[OpenAICompatProvider],
    test: str,
    message: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    case = _case(provider_class)
    method = getattr(case, test)
    kwargs: dict[str, Any] = {}
    if "monkeypatch" in method.__code__.co_varnames:
        kwargs["monkeypatch"] = monkeypatch
    if test == "test_fault_maps_and_retries":
        kwargs["fault"] = "404" if provider_class is _Misclassifies404 else "401"
    with pytest.raises((AssertionError, pytest.fail.Exception), match=message):
        await method(**kwargs)


async def test_battery_passes_the_unbroken_base() -> None:
    """The control: the same tests pass on the provider the broken ones derive from."""
    case = _case(OpenAICompatProvider)
    await case.test_stream_early_exit_closes_connection()
    await case.test_stream_is_well_formed()
    await case.test_fault_maps_and_retries("404")


# -- the pytest plugin (pytest11 entry point) ---------------------------------------------

_FIXTURE_TESTS = """
import pytest

import jackfield
import jackfield.registry
from jackfield.testing import ErrorReply, Reply

SEEN = {}


@pytest.mark.asyncio
async def test_server(fake_llm_server):
    fake_llm_server.enqueue(Reply("hi"), ErrorReply(500))
    from jackfield.plugins.openai_compat import OpenAICompatProvider

    async with OpenAICompatProvider(
        base_url=fake_llm_server.openai_base_url, model="m", max_retries=0
    ) as p:
        assert (await p.generate("x")).content == "hi"
        with pytest.raises(jackfield.ServerError):
            await p.generate("x")
    assert fake_llm_server.request_count == 2


def test_global_before():
    SEEN["before"] = jackfield.get_registry()


def test_registry(jackfield_registry):
    assert jackfield_registry is not SEEN["before"]
    assert jackfield.get_registry() is jackfield_registry
    assert jackfield.create_provider("mock") is jackfield_registry.create_provider("mock")
    assert jackfield_registry.is_registered("ollama")


def test_registry_restored():
    assert jackfield.registry._registry._global is SEEN["before"]
"""


def _run_pytest(tmp_path: Path, ini: str, *args: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "pytest.ini").write_text(f"[pytest]\n{ini}\n")
    (tmp_path / "test_fixtures.py").write_text(_FIXTURE_TESTS)
    env = {k: v for k, v in os.environ.items() if not k.startswith("JACKFIELD_")}
    env["PYTHONWARNINGS"] = "error::ResourceWarning"
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("mode", ["strict", "auto"])
def test_fixtures_work_in_both_asyncio_modes(tmp_path: Path, mode: str) -> None:
    ini = f"asyncio_mode = {mode}\nasyncio_default_fixture_loop_scope = function"
    result = _run_pytest(tmp_path, ini, "-W", "error::ResourceWarning")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "4 passed" in result.stdout


def test_fake_llm_server_without_pytest_asyncio_fails_clearly(tmp_path: Path) -> None:
    result = _run_pytest(tmp_path, "", "-p", "no:asyncio", "-k", "test_server")
    assert result.returncode == 1
    assert "needs pytest-asyncio" in result.stdout, result.stdout[-3000:]


def test_pytest_plugin_imports_nothing_heavy() -> None:
    code = (
        "import sys, jackfield.testing.pytest_plugin, jackfield.testing\n"
        "heavy = {'aiohttp', 'openai', 'anthropic', 'tiktoken', 'tenacity', 'jiter',\n"
        "         'jackfield.registry', 'jackfield.provider', 'jackfield.testing._fake_server'}\n"
        "print(sorted(heavy & set(sys.modules)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "[]"


def test_testing_exports_resolve() -> None:
    import jackfield.testing as testing

    for name in testing.__all__:
        assert getattr(testing, name) is not None
    with pytest.raises(AttributeError):
        testing.NoSuchThing  # noqa: B018
