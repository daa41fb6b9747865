"""The plugin guide's stream pattern (``json.loads(sse.data)`` inside ``_stream``) passes
the conformance battery, its malformed-event test included: the Provider base maps a
JSON decoding error raised inside ``_stream`` to ``StreamError``.

``GuideStyleProvider`` is written exactly as docs/writing-a-plugin.md shows (an
``HTTPProvider``, ``self.http.stream_sse``, ``json.loads`` of each event's data, a
``StreamAssembler``), only speaking OpenAI Chat Completions so that the battery's fake
server can serve it.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from jackfield import ModelTier, Request, Response, StreamAssembler, Usage
from jackfield.errors import StreamError, UnknownError
from jackfield.events import StreamEvent
from jackfield.provider import HTTPProvider, error_from_payload
from jackfield.testing import FakeLLMServer, ProviderConformance
from jackfield.testing._fake_server import Malformed, Reply


class GuideStyleProvider(HTTPProvider):
    """A plugin in the guide's style for an OpenAI-compatible API."""

    name = "guide-style"
    tier_models = {tier: "fake-model" for tier in ModelTier}

    def payload(self, request: Request, *, stream: bool) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": request.model,
            "messages": [{"role": m.role, "content": m.text} for m in request.messages],
        }
        if request.max_tokens is not None:
            body["max_tokens"] = request.max_tokens
        if stream:
            body["stream"] = True
            body["stream_options"] = {"include_usage": True}
        return body

    async def _generate(self, request: Request) -> Response:
        url = f"{self.base_url}/chat/completions"
        data, _ = await self.http.post_json(url, self.payload(request, stream=False))
        choice = data["choices"][0]
        return Response(
            content=choice["message"]["content"] or "",
            model=request.model,
            provider=self.name,
            usage=Usage(data["usage"]["prompt_tokens"], data["usage"]["completion_tokens"]),
            finish_reason=choice["finish_reason"],
        )

    async def _stream(self, request: Request) -> AsyncIterator[StreamEvent]:
        asm = StreamAssembler(self.name, request.model)
        url = f"{self.base_url}/chat/completions"
        events = self.http.stream_sse(url, self.payload(request, stream=True))
        finish, usage = None, None
        try:
            async for sse in events:
                if not asm.started:
                    yield asm.start()
                if sse.data == "[DONE]":
                    for event in asm.finish(finish, usage):
                        yield event
                    return
                data = json.loads(sse.data)  # the guide's pattern
                if data.get("error"):  # an error the server sent inside the stream
                    raise error_from_payload(data, provider=self.name)
                if data.get("usage"):
                    usage = Usage(
                        data["usage"]["prompt_tokens"], data["usage"]["completion_tokens"]
                    )
                for choice in data.get("choices") or ():
                    for event in asm.text(choice["delta"].get("content") or ""):
                        yield event
                    finish = choice.get("finish_reason") or finish
        finally:
            await events.aclose()


class TestGuideStylePlugin(ProviderConformance):
    """The whole battery against the guide-style plugin."""

    wire = "openai"
    supports_tools = False  # the guide's pattern sends no tools

    def make_provider(self, server: FakeLLMServer, **config: Any) -> GuideStyleProvider:
        return GuideStyleProvider(base_url=server.openai_base_url, **config)


async def test_a_malformed_event_in_a_guide_style_stream_is_a_stream_error() -> None:
    """The battery's fault, stated on its own: text first, then ``data: {not json``."""
    async with FakeLLMServer() as server:
        server.enqueue(Malformed(after_events=4, reply=Reply("abcdefgh", chunk_size=2)))
        provider = GuideStyleProvider(base_url=server.openai_base_url, api_key="k")
        try:
            with pytest.raises(StreamError) as info:
                await provider.stream("hi").collect()
        finally:
            await provider.aclose()
    assert not isinstance(info.value, UnknownError)
    assert "malformed" in info.value.message and "JSONDecodeError" in info.value.message
    assert isinstance(info.value.__cause__, json.JSONDecodeError)
    assert not info.value.retryable


class GuideStyleStreamOnly(GuideStyleProvider):
    """The same plugin for an API that only streams: ``_generate`` reads the stream."""

    name = "guide-style-stream-only"

    async def _generate(self, request: Request) -> Response:
        return await self._generate_by_streaming(request)


async def test_a_malformed_event_read_by_generate_by_streaming_is_a_stream_error() -> None:
    async with FakeLLMServer() as server:
        server.enqueue(Malformed(after_events=4, reply=Reply("abcdefgh", chunk_size=2)))
        provider = GuideStyleStreamOnly(base_url=server.openai_base_url, api_key="k")
        try:
            with pytest.raises(StreamError) as info:
                await provider.generate("hi")
        finally:
            await provider.aclose()
    assert "malformed" in info.value.message
    assert server.request_count == 1  # not retried
