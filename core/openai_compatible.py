"""A provider for any server that speaks OpenAI Chat Completions, over aiohttp.

Subclass :class:`OpenAICompatibleProvider` and set class attributes to make a preset
(``openrouter``, ``ollama``, ``vllm`` and ``azure`` are such presets). aiohttp is
imported when the first request is made, never at discovery.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from .assembler import StreamAssembler
from .errors import ConfigurationError
from .events import StreamEvent
from .openai_wire import ChunkParser, build_payload, parse_response
from .provider import Provider
from .types import ModelTier, Request, Response

if TYPE_CHECKING:
    from .http import HTTPClient, RawLog

__all__ = ["OpenAICompatibleProvider"]

REQUEST_ID_HEADERS = ("x-request-id", "request-id", "apim-request-id")


class OpenAICompatibleProvider(Provider):
    """Chat Completions over aiohttp at ``base_url`` + :attr:`chat_path`."""

    name = "openai-compat"
    description = "Any OpenAI-compatible Chat Completions endpoint (base_url required)"
    requires_api_key = False
    tokenizer = "tiktoken"
    chat_path: ClassVar[str] = "/chat/completions"
    usage_in_stream: ClassVar[bool] = True
    """Send ``stream_options.include_usage`` (servers that reject it set this False)."""
    tiers_default_to_model: ClassVar[bool] = True
    """A self-hosted server serves what it serves: a tier missing from every table
    falls back to ``config.model``."""

    raw_log: RawLog | None = None
    """Receives redacted requests, responses and chunks; set it on the instance."""

    _http_client: HTTPClient | None = None

    def validate_config(self) -> None:
        """A base URL is required (presets supply a default)."""
        super().validate_config()
        if not self.base_url:
            raise ConfigurationError(
                f"{self.name}: base_url is required (e.g. http://localhost:8000/v1)",
                field="base_url",
                provider=self.name,
            )

    def model_for_tier(self, tier: ModelTier | str) -> str:
        """As :meth:`Provider.model_for_tier`, falling back to ``config.model``."""
        try:
            return super().model_for_tier(tier)
        except ConfigurationError:
            if self.tiers_default_to_model and self.config.model:
                return self.config.model
            raise

    def default_headers(self) -> dict[str, str]:
        """Headers sent with every request: auth, then the preset's own."""
        from .http import auth_headers

        return auth_headers(self.auth_method, self.api_key)

    def chat_url(self, request: Request) -> str:
        """The endpoint of one call."""
        return f"{self.base_url}{self.chat_path}"

    def payload(self, request: Request, *, stream: bool) -> dict[str, Any]:
        """The JSON body of one call; presets may adjust it."""
        return build_payload(request, stream=stream, usage_in_stream=self.usage_in_stream)

    @property
    def http(self) -> HTTPClient:
        """The shared HTTP client (created on first use)."""
        client = self._http_client
        if client is None:
            from .http import HTTPClient

            client = HTTPClient(
                self.name,
                self.config,
                headers=self.default_headers(),
                raw_log=self.raw_log,
                secrets=self._secrets(),
            )
            self._http_client = client
        return client

    async def _generate(self, request: Request) -> Response:
        data, headers = await self.http.post_json(
            self.chat_url(request), self.payload(request, stream=False)
        )
        return parse_response(
            data, provider=self.name, model=request.model, request_id=_request_id(headers)
        )

    async def _stream(self, request: Request) -> AsyncIterator[StreamEvent]:
        headers: dict[str, str] = {}
        asm = StreamAssembler(self.name, request.model)
        parser = ChunkParser(asm)
        events = self.http.stream_sse(
            self.chat_url(request), self.payload(request, stream=True), headers_out=headers
        )
        try:
            async for sse in events:
                if not asm.started:
                    asm.request_id = _request_id(headers)
                for event in parser.feed(sse.data):
                    yield event
                if parser.done:
                    break
        finally:
            await events.aclose()  # type: ignore[attr-defined]
        for event in parser.close():
            yield event

    async def aclose(self) -> None:
        """Close this loop's HTTP session."""
        if self._http_client is not None:
            await self._http_client.aclose()

    def close_nowait(self) -> None:
        """Close HTTP sessions without awaiting."""
        if self._http_client is not None:
            self._http_client.close_nowait()


def _request_id(headers: Mapping[str, str]) -> str | None:
    for name in REQUEST_ID_HEADERS:
        value = headers.get(name)
        if value:
            return value
    return None
