"""The HTTP-speaking providers the reliability tests run against the fake server.

One table, :data:`HTTP_PROVIDERS`, shared by ``test_reliability_*.py``,
``test_secrets.py`` and ``test_bad_input.py`` (they import it from here): for each
provider, how to point it at a :class:`FakeLLMServer`, which wire format it speaks, and
the fault bodies of that format. SDK-based providers (``openai``, ``anthropic``) are
included when their plugin module and SDK import. The smoke test below proves every
entry of the table round-trips, streamed and not, before the heavier tests rely on it.
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
from collections.abc import Callable
from typing import Any

import attrs
import pytest

from jackfield.errors import OverloadedError, RateLimitError, ServerError
from jackfield.provider import Provider
from jackfield.testing._fake_server import Delay, ErrorReply, FakeLLMServer, InStreamError, Reply

KEY = "sk-canary-7f3a9c2e1b4d8f6a"
"""The API key every keyed provider gets: a canary that must never show up anywhere."""


@attrs.frozen
class Spec:
    """How to build one provider against a fake server, and its wire format's faults."""

    name: str
    module: str
    cls: str
    wire: str  # "openai", "responses", "anthropic", "gemini" or "proxy"
    options: Callable[[FakeLLMServer], dict[str, Any]]
    sdk: str | None = None
    provider: str | None = None
    """The registry name of the provider, when it is not :attr:`name` (a second
    configuration of one provider)."""

    @property
    def provider_name(self) -> str:
        """The name the registry knows the provider by."""
        return self.provider or self.name

    def available(self) -> bool:
        """Whether the plugin module exists and its SDK (if any) is installed."""
        if self.sdk is not None and importlib.util.find_spec(self.sdk) is None:
            return False
        try:
            return importlib.util.find_spec(self.module) is not None
        except ModuleNotFoundError:  # pragma: no cover - parent package missing
            return False

    def provider_class(self) -> type[Provider]:
        """The provider class (imports the plugin module)."""
        cls: type[Provider] = getattr(importlib.import_module(self.module), self.cls)
        return cls

    def make(self, server: FakeLLMServer, **overrides: Any) -> Provider:
        """The provider pointed at ``server``; ``overrides`` are config fields or
        ``retry_policy`` / ``hooks``."""
        options = {**self.options(server), **overrides}
        return self.provider_class()(**options)

    # -- faults in this wire format ------------------------------------------------------

    def rate_limited(self, retry_after: str = "0") -> ErrorReply:
        """A 429 rate limit with a ``Retry-After``."""
        headers = {"retry-after": retry_after}
        if self.wire == "proxy":
            err = RateLimitError("slow down", status_code=429)
            return ErrorReply(429, {"error": err.to_dict()}, headers)
        if self.wire == "anthropic":
            body = {"type": "error", "error": {"type": "rate_limit_error", "message": "slow"}}
            return ErrorReply(429, body, headers)
        if self.wire == "gemini":
            return ErrorReply(429, _google(429, "RESOURCE_EXHAUSTED", "slow down"), headers)
        body = {"error": {"message": "Rate limit reached", "type": "requests", "code": None}}
        return ErrorReply(429, body, headers)

    def server_error(self) -> ErrorReply:
        """A plain 500."""
        if self.wire == "proxy":
            return ErrorReply(500, {"error": ServerError("boom", status_code=500).to_dict()})
        if self.wire == "anthropic":
            return ErrorReply(
                500, {"type": "error", "error": {"type": "api_error", "message": "x"}}
            )
        if self.wire == "gemini":
            return ErrorReply(500, _google(500, "INTERNAL", "An internal error has occurred."))
        return ErrorReply(500, {"error": {"message": "The server had an error", "type": "server"}})

    def overloaded(self) -> ErrorReply:
        """A 529 overloaded."""
        if self.wire == "proxy":
            return ErrorReply(529, {"error": OverloadedError("busy", status_code=529).to_dict()})
        if self.wire == "gemini":  # Gemini says it with a 503 UNAVAILABLE
            return ErrorReply(503, _google(503, "UNAVAILABLE", "The model is overloaded."))
        body = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
        return ErrorReply(529, body)

    def in_stream_error(self, after_events: int, reply: Any) -> InStreamError:
        """The format's error event inside a 200 stream (a retryable server error)."""
        if self.wire == "proxy":
            payload = ServerError("upstream broke").to_dict()
        elif self.wire == "anthropic":
            payload = {"type": "overloaded_error", "message": "Overloaded"}
        elif self.wire == "gemini":
            payload = _google(500, "INTERNAL", "upstream broke")["error"]
        else:
            payload = {"message": "upstream broke", "type": "server_error", "code": 502}
        return InStreamError(payload, after_events=after_events, reply=reply)


def _google(code: int, status: str, message: str) -> dict[str, Any]:
    """Google's error body."""
    return {"error": {"code": code, "message": message, "status": status}}


def _compat(server: FakeLLMServer) -> dict[str, Any]:
    return {"base_url": server.openai_base_url, "model": "fake-model"}


def _keyed(server: FakeLLMServer) -> dict[str, Any]:
    return {"base_url": server.openai_base_url, "model": "fake-model", "api_key": KEY}


HTTP_PROVIDERS: tuple[Spec, ...] = (
    Spec(
        "openai-compat", "jackfield.plugins.openai_compat", "OpenAICompatProvider", "openai", _keyed
    ),
    Spec("openrouter", "jackfield.plugins.openrouter", "OpenRouterProvider", "openai", _keyed),
    Spec("ollama", "jackfield.plugins.ollama", "OllamaProvider", "openai", _compat),
    Spec("vllm", "jackfield.plugins.vllm", "VLLMProvider", "openai", _keyed),
    Spec(
        "azure",
        "jackfield.plugins.azure",
        "AzureOpenAIProvider",
        "openai",
        lambda s: {"base_url": s.azure_endpoint, "deployment": "fake-model", "api_key": KEY},
    ),
    Spec(
        "proxy",
        "jackfield.plugins.proxy",
        "ProxyProvider",
        "proxy",
        lambda s: {"base_url": s.proxy_url, "model": "fake-model", "api_key": KEY},
    ),
    Spec("openai", "jackfield.plugins.openai", "OpenAIProvider", "openai", _keyed, sdk="openai"),
    Spec(
        "openai-responses",
        "jackfield.plugins.openai",
        "OpenAIProvider",
        "responses",
        lambda s: {**_keyed(s), "api": "responses"},
        sdk="openai",
        provider="openai",
    ),
    Spec(
        "anthropic",
        "jackfield.plugins.anthropic",
        "AnthropicProvider",
        "anthropic",
        lambda s: {"base_url": s.anthropic_base_url, "model": "fake-model", "api_key": KEY},
        sdk="anthropic",
    ),
    Spec(
        "gemini",
        "jackfield.plugins.gemini",
        "GeminiProvider",
        "gemini",
        lambda s: {"base_url": s.gemini_base_url, "model": "fake-model", "api_key": KEY},
        sdk="google.genai",
    ),
)

AVAILABLE: tuple[Spec, ...] = tuple(s for s in HTTP_PROVIDERS if s.available())


def provider_params() -> list[Any]:
    """``pytest.param`` per provider of the table, skipped when it is not available."""
    return [
        pytest.param(
            s,
            id=s.name,
            marks=() if s.available() else pytest.mark.skip(reason=f"{s.module} not available"),
        )
        for s in HTTP_PROVIDERS
    ]


@pytest.mark.parametrize("spec", provider_params())
@pytest.mark.parametrize("streamed", [False, True], ids=["generate", "stream"])
async def test_every_provider_of_the_table_round_trips(spec: Spec, streamed: bool) -> None:
    async with FakeLLMServer() as server:
        provider = spec.make(server)
        try:
            if streamed:
                response = await provider.stream("ping").collect()
            else:
                response = await provider.generate("ping")
        finally:
            await provider.aclose()
        assert response.content == "echo: ping"
        assert server.request_count == 1
        endpoint = "azure" if spec.name == "azure" else spec.wire
        assert server.last_request.endpoint == endpoint
        assert await server.wait_for_connections(0)


@pytest.mark.parametrize("spec", provider_params())
async def test_max_connections_bounds_the_pool(spec: Spec) -> None:
    """``max_connections`` caps the connections a provider opens, whatever its transport."""
    async with FakeLLMServer(handler=lambda request: Delay(0.3, then=Reply("ok"))) as server:
        provider = spec.make(server, max_connections=5, max_retries=0)
        peak = 0

        async def watch() -> None:
            nonlocal peak
            while True:
                peak = max(peak, server.open_connections)
                await asyncio.sleep(0.01)

        watcher = asyncio.create_task(watch())
        try:
            answers = await asyncio.gather(*(provider.generate(f"q{i}") for i in range(20)))
        finally:
            watcher.cancel()
            await provider.aclose()
        assert [a.content for a in answers] == ["ok"] * 20
        assert 1 <= peak <= 5, f"{spec.name}: {peak} connections open with max_connections=5"
