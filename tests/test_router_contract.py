"""The router and contract v2: a feature a target cannot express skips that target
before any I/O (never a dropped parameter); every request field reaches the target."""

from __future__ import annotations

import asyncio

import pytest

import jackfield
from jackfield import ImagePart, Message, OutputSchema, TextPart, UnsupportedFeatureError
from jackfield.plugins.mock import MockProvider
from jackfield.plugins.openai_compat import OpenAICompatProvider
from jackfield.router import Router
from jackfield.testing import FakeLLMServer

IMAGE = [Message.user([TextPart("what is this?"), ImagePart(url="https://x/a.png")])]


def _registry() -> jackfield.Registry:
    registry = jackfield.Registry(entry_points=False)
    for cls in (MockProvider, OpenAICompatProvider, Router):
        registry.register_provider(cls)
    return registry


def _router(targets: list[object]) -> Router:
    registry = _registry()
    return Router(registry=registry, hooks=registry.hooks, targets=targets)


async def test_a_target_that_cannot_express_the_call_is_skipped_before_any_io() -> None:
    async with FakeLLMServer() as server:
        compat = {"target": "openai-compat", "base_url": server.openai_base_url, "model": "m"}
        router = _router([compat, "mock"])
        response = await asyncio.wait_for(router.generate(IMAGE), 10)
        assert response.provider == "mock"
        assert server.requests == []  # the text-only server never saw the image
        await router.aclose()


async def test_a_call_no_target_can_express_is_the_typed_error() -> None:
    async with FakeLLMServer() as server:
        compat = {"target": "openai-compat", "base_url": server.openai_base_url, "model": "m"}
        router = _router([compat])
        with pytest.raises(UnsupportedFeatureError) as info:
            await asyncio.wait_for(router.generate(IMAGE), 10)
        assert info.value.feature == "images"
        assert server.requests == []
        await router.aclose()


def test_the_router_declares_what_any_of_its_targets_can_express() -> None:
    compat = {"target": "openai-compat", "base_url": "http://127.0.0.1:9", "model": "m"}
    router = _router([compat, "mock"])
    caps = router.capabilities()
    assert caps.images and caps.audio and caps.documents  # the mock's
    assert router.build_request(IMAGE).messages == tuple(IMAGE)


async def test_every_request_field_reaches_the_target() -> None:
    seen = []

    class Recording(MockProvider):
        async def _generate(self, request: jackfield.Request) -> jackfield.Response:
            seen.append(request)
            return await super()._generate(request)

    registry = _registry()
    registry.register_provider(Recording, name="recording")
    router = Router(registry=registry, hooks=registry.hooks, targets=["recording:model-b"])
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}
    request = router.build_request("x", response_format=OutputSchema(schema))
    await asyncio.wait_for(router.generate_request(request), 10)
    sent = seen[0]
    assert sent.model == "model-b"
    assert sent.output is not None and sent.output.schema == schema


SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "rank": {"type": "integer"}},
    "required": ["city", "rank"],
}


@pytest.mark.parametrize("streamed", [False, True], ids=["generate", "stream"])
async def test_each_target_gives_structured_output_in_its_own_mode(streamed: bool) -> None:
    tool_only = {"target": "mock", "capabilities": {"structured_output": "tool"}}
    router = _router([tool_only])
    if streamed:
        stream = router.stream("a city?", response_format=SCHEMA)
        response = await asyncio.wait_for(stream.collect(), 10)
    else:
        response = await asyncio.wait_for(router.generate("a city?", response_format=SCHEMA), 10)
    assert str(response.output_mode) == "tool"
    assert isinstance(response.parsed, dict) and set(response.parsed) == {"city", "rank"}
    assert response.tool_calls == ()  # the answer tool's call became the content


async def test_a_native_target_gets_the_schema_on_its_wire() -> None:
    async with FakeLLMServer() as server:
        server.enqueue('{"city": "Paris", "rank": 1}')
        compat = {"target": "openai-compat", "base_url": server.openai_base_url, "model": "m"}
        router = _router([compat])
        response = await asyncio.wait_for(router.generate("a city?", response_format=SCHEMA), 10)
        assert server.requests[0].json["response_format"]["type"] == "json_schema"
        assert str(response.output_mode) == "native"
        assert response.parsed == {"city": "Paris", "rank": 1}
        await router.aclose()
