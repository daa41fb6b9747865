"""A provider for any server that speaks OpenAI Chat Completions, over aiohttp.

Subclass :class:`OpenAICompatibleProvider` and set class attributes to make a preset
(``openrouter``, ``ollama``, ``vllm`` and ``azure`` are such presets). aiohttp is
imported when the first request is made, never at discovery.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, ClassVar

from ..config import parse_tier
from ..events import StreamEvent
from ..types import Capabilities, ModelTier, OutputMode, Request, Response
from ..wire._assembler import StreamAssembler
from ..wire._errors import request_id_from as request_id_from_headers
from ..wire._openai_chat import CALL_OPTIONS, ChunkParser, build_payload, parse_response
from ._families import self_hosted_capabilities
from ._http import HTTPProvider

__all__ = ["OpenAICompatibleProvider"]


class OpenAICompatibleProvider(HTTPProvider):
    """Chat Completions over aiohttp at ``base_url`` + :attr:`chat_path`.

    The defaults suit a hosted API: a key is required, and a tier with no model is an
    error. A preset for a self-hosted server sets ``requires_api_key = False`` (or
    ``default_auth_method = "none"``) and ``tiers_default_to_model = True``.
    """

    tokenizer = "tiktoken"
    call_options = CALL_OPTIONS
    default_capabilities = Capabilities(
        structured_output=OutputMode.NATIVE,  # response_format json_schema
    )
    """A generic server, conservatively: tools, JSON mode and native ``response_format``
    schemas. Images and thinking by model family (:meth:`model_capabilities`); anything
    more where a preset or the config's ``capabilities`` says so."""
    chat_path: ClassVar[str] = "/chat/completions"
    usage_in_stream: ClassVar[bool] = True
    """Send ``stream_options.include_usage`` (servers that reject it set this False)."""
    tiers_default_to_model: ClassVar[bool] = False
    """For a self-hosted server, which serves what it serves: a tier missing from every
    table falls back to ``config.model``."""

    def model_capabilities(self, model: str) -> Capabilities:
        """:attr:`default_capabilities`, with images for the open vision families and
        thinking for the open reasoning families, by name
        (:func:`~jackfield.provider.self_hosted_capabilities`)."""
        return self_hosted_capabilities(model, self.default_capabilities)

    def model_for_tier(self, tier: ModelTier | str) -> str:
        """As :meth:`Provider.model_for_tier`; a known tier with no model may fall back
        to ``config.model`` (:attr:`tiers_default_to_model`)."""
        parsed = parse_tier(tier)  # a misspelled tier is an error, never a fallback
        if self.tiers_default_to_model and self.config.model:
            model = self._tier_model(parsed)
            return model if model is not None else self.config.model
        return super().model_for_tier(parsed)

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
