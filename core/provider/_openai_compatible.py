"""A provider for any server that speaks OpenAI Chat Completions, over aiohttp.

Subclass :class:`OpenAICompatibleProvider` and set class attributes to make a preset
(``openrouter``, ``ollama``, ``vllm`` and ``azure`` are such presets). aiohttp is
imported when the first request is made, never at discovery.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, ClassVar

from ..errors import ConfigurationError
from ..events import StreamEvent
from ..types import ModelTier, Request, Response
from ..wire._assembler import StreamAssembler
from ..wire._openai_chat import ChunkParser, build_payload, parse_response
from ._http import HTTPProvider, request_id_from_headers

__all__ = ["OpenAICompatibleProvider"]


class OpenAICompatibleProvider(HTTPProvider):
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

    def model_for_tier(self, tier: ModelTier | str) -> str:
        """As :meth:`Provider.model_for_tier`, falling back to ``config.model``."""
        try:
            return super().model_for_tier(tier)
        except ConfigurationError:
            if self.tiers_default_to_model and self.config.model:
                return self.config.model
            raise

    def chat_url(self, request: Request) -> str:
        """The endpoint of one call."""
        return f"{self.base_url}{self.chat_path}"

    def payload(self, request: Request, *, stream: bool) -> dict[str, Any]:
        """The JSON body of one call; presets may adjust it."""
        return build_payload(request, stream=stream, usage_in_stream=self.usage_in_stream)

    async def _generate(self, request: Request) -> Response:
        data, headers = await self.http.post_json(
            self.chat_url(request), self.payload(request, stream=False)
        )
        return parse_response(
            data,
            provider=self.name,
            model=request.model,
            request_id=request_id_from_headers(headers),
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
                    asm.request_id = request_id_from_headers(headers)
                for event in parser.feed(sse.data):
                    yield event
                if parser.done:
                    break
        finally:
            await events.aclose()  # type: ignore[attr-defined]
        for event in parser.close():
            yield event
