"""Structured output (``response_format``) on every built-in provider, against the fake
servers: each provider's mode reaches the wire, ``parsed`` is the validated object,
``output_mode`` names the mode, a reply that does not fit raises
``OutputValidationError`` (``output_retries`` re-asks), streams grow a partial object,
and cache hits carry ``parsed`` rebuilt."""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import itertools
import json
from typing import Any, Literal, TypedDict

import pytest
import test_conformance_builtin as builtin

from jackfield import (
    BadRequestError,
    Message,
    OutputMode,
    OutputValidationError,
    ToolSpec,
    create_provider,
)
from jackfield.cache import MemoryBackend, ResponseCache, SQLiteBackend
from jackfield.errors import UnsupportedFeatureError
from jackfield.events import StreamEnd, TextDelta, ToolCallStart
from jackfield.plugins.mock import MockProvider, MockReply
from jackfield.schema import output_schema
from jackfield.testing import ProviderConformance, Reply
from jackfield.testing._checks_structured import (
    ANSWER_OBJECT,
    ORDER_SCHEMA,
    StructuredOutputChecks,
)
from jackfield.testing._fake_server import FakeLLMServer
from jackfield.types import FinishReason, ToolCall

TIMEOUT = 20.0
KEY = "sk-test-structured-000000000000"


# -- the conformance checks, on every built-in provider --------------------------------------


def _checks_only(name: str, base: type[ProviderConformance]) -> type[Any]:
    """``base`` (a built-in's battery class) running only the structured-output checks."""
    hidden = {
        attr: None
        for attr in dir(base)
        if attr.startswith("test_") and not hasattr(StructuredOutputChecks, attr)
    }
    bases = (base,) if issubclass(base, StructuredOutputChecks) else (StructuredOutputChecks, base)
    return type(name, bases, hidden)


class _AnthropicToolMode(builtin.TestAnthropicConformance):
    """A Claude family without native structured output: the forced tool answers."""

    def make_provider(self, server: FakeLLMServer, **config: Any) -> Any:
        config.setdefault("model", "claude-3-5-haiku-latest")
        return super().make_provider(server, **config)


TestStructuredAnthropicToolMode = _checks_only(
    "TestStructuredAnthropicToolMode", _AnthropicToolMode
)


# -- the wires in detail ------------------------------------------------------------------


async def _served(server: FakeLLMServer, provider: Any, call: Any) -> Any:
    try:
        return await asyncio.wait_for(call(provider), TIMEOUT)
    finally:
        await provider.aclose()


async def test_openai_native_sends_the_schema_in_its_strict_form() -> None:
    async with FakeLLMServer() as server:
        server.enqueue(Reply(json.dumps(ANSWER_OBJECT)))
        provider = create_provider("openai-compat", base_url=server.openai_base_url, model="m")
        response = await _served(
            server, provider, lambda p: p.generate("x", response_format=ORDER_SCHEMA)
        )
        body = server.last_request.json
    spec = body["response_format"]["json_schema"]
    assert spec["name"] == "Order" and spec["strict"] is True
    schema = spec["schema"]
    assert schema["required"] == ["id", "status", "customer", "items", "note"]
    customer = schema["$defs"]["Customer"]
    assert customer["required"] == ["name", "email"]  # every property required ...
    assert customer["properties"]["email"]["type"] == ["string", "null"]  # ... optional: nullable
    assert customer["additionalProperties"] is False
    assert ORDER_SCHEMA["$defs"]["Customer"]["required"] == ["name"]  # the caller's is untouched
    assert response.parsed == ANSWER_OBJECT and response.output_mode is OutputMode.NATIVE


async def test_a_null_for_an_optional_made_nullable_reads_as_absent() -> None:
    answer = {**ANSWER_OBJECT, "customer": {"name": "Ada", "email": None}}
    async with FakeLLMServer() as server:
        server.enqueue(Reply(json.dumps(answer)))
        provider = create_provider("openai-compat", base_url=server.openai_base_url, model="m")
        response = await _served(
            server, provider, lambda p: p.generate("x", response_format=ORDER_SCHEMA)
        )
    assert response.parsed["customer"] == {"name": "Ada"}


async def test_openai_unstrict_sends_the_schema_as_given() -> None:
    async with FakeLLMServer() as server:
        server.enqueue(Reply(json.dumps(ANSWER_OBJECT)))
        provider = create_provider("openai-compat", base_url=server.openai_base_url, model="m")
        fmt = output_schema(ORDER_SCHEMA, strict=False, name="order")
        await _served(server, provider, lambda p: p.generate("x", response_format=fmt))
        spec = server.last_request.json["response_format"]["json_schema"]
    assert spec == {"name": "order", "schema": ORDER_SCHEMA, "strict": False}


async def test_anthropic_native_merges_the_format_with_a_thinking_effort() -> None:
    async with FakeLLMServer() as server:
        server.enqueue(Reply(json.dumps(ANSWER_OBJECT)))
        provider = create_provider(
            "anthropic", base_url=server.anthropic_base_url, api_key=KEY, model="claude-opus-4-6"
        )
        assert provider.capabilities().structured_output is OutputMode.NATIVE
        schema = {**ORDER_SCHEMA, "properties": {**ORDER_SCHEMA["properties"]}}
        schema["properties"]["id"] = {"type": "integer", "minimum": 1, "description": "Order id"}
        response = await _served(
            server,
            provider,
            lambda p: p.generate("x", response_format=schema, reasoning="high"),
        )
        config = server.last_request.json["output_config"]
    assert config["effort"] == "high"
    sent = config["format"]["schema"]
    assert config["format"]["type"] == "json_schema"
    # Anthropic's decoder takes no numeric bounds: moved to the description, still validated.
    assert sent["properties"]["id"] == {
        "type": "integer",
        "description": "Order id\n\n{minimum: 1}",
    }
    assert response.parsed == ANSWER_OBJECT


@pytest.mark.parametrize(
    ("model", "mode"),
    [
        ("claude-haiku-4-5", OutputMode.NATIVE),
        ("claude-sonnet-4-5-20250929", OutputMode.NATIVE),
        ("claude-opus-4-7", OutputMode.NATIVE),
        ("claude-opus-4-1", OutputMode.TOOL),
        ("claude-3-7-sonnet-latest", OutputMode.TOOL),
        ("glm-4.6", OutputMode.TOOL),
    ],
)
def test_anthropic_declares_native_mode_per_model_family(model: str, mode: OutputMode) -> None:
    provider = create_provider("anthropic", api_key=KEY)
    assert provider.capabilities(model).structured_output is mode


async def test_anthropic_tool_mode_forces_the_answer_tool_and_returns_json_content() -> None:
    async with FakeLLMServer() as server:
        call = ToolCall("toolu_1", "Order", ANSWER_OBJECT)
        server.enqueue(Reply("Here it is.", tool_calls=[call]))
        provider = create_provider(
            "anthropic", base_url=server.anthropic_base_url, api_key=KEY, model="claude-3-7-sonnet"
        )
        response = await _served(
            server, provider, lambda p: p.generate("x", response_format=ORDER_SCHEMA)
        )
        body = server.last_request.json
    assert body["tool_choice"] == {"type": "tool", "name": "Order"}
    assert body["tools"][0]["name"] == "Order"
    assert body["tools"][0]["input_schema"] == ORDER_SCHEMA
    assert "output_config" not in body
    assert response.output_mode is OutputMode.TOOL
    assert json.loads(response.content) == ANSWER_OBJECT and response.parsed == ANSWER_OBJECT
    assert response.tool_calls == () and response.finish_reason == FinishReason.STOP


async def test_tool_mode_streams_the_answer_as_text_deltas() -> None:
    async with FakeLLMServer() as server:
        call = ToolCall("toolu_1", "Order", ANSWER_OBJECT)
        server.enqueue(Reply(tool_calls=[call], arguments_chunk_size=4))
        provider = create_provider(
            "anthropic", base_url=server.anthropic_base_url, api_key=KEY, model="claude-3-7-sonnet"
        )

        async def run(p: Any) -> list[Any]:
            return [e async for e in p.stream("x", response_format=ORDER_SCHEMA)]

        events = await _served(server, provider, run)
    assert not [e for e in events if isinstance(e, ToolCallStart)]
    text = "".join(e.text for e in events if isinstance(e, TextDelta))
    assert json.loads(text) == ANSWER_OBJECT
    end = events[-1]
    assert isinstance(end, StreamEnd) and end.response.content == text
    assert end.response.parsed == ANSWER_OBJECT and end.response.tool_calls == ()


async def test_tool_mode_beside_the_callers_tools_lets_the_model_call_them() -> None:
    lookup = ToolSpec("lookup", "Look an order up", {"type": "object", "properties": {}})
    async with FakeLLMServer() as server:
        server.enqueue(Reply(tool_calls=[ToolCall("call_1", "lookup", {})]))
        provider = create_provider("openai-compat", base_url=server.openai_base_url, model="m")
        fmt = output_schema(ORDER_SCHEMA, mode="tool")
        response = await _served(
            server, provider, lambda p: p.generate("x", response_format=fmt, tools=[lookup])
        )
        body = server.last_request.json
    assert [t["function"]["name"] for t in body["tools"]] == ["lookup", "Order"]
    assert body["tool_choice"] == "required"
    assert "response_format" not in body
    assert response.tool_calls[0].name == "lookup"  # no answer yet: nothing to validate
    assert response.parsed is None and response.output_mode is OutputMode.TOOL


async def test_prompt_mode_takes_the_json_out_of_a_code_fence() -> None:
    fenced = "Sure!\n```json\n" + json.dumps(ANSWER_OBJECT) + "\n```"
    async with FakeLLMServer() as server:
        server.enqueue(Reply(fenced))
        provider = create_provider("openai-compat", base_url=server.openai_base_url, model="m")
        fmt = output_schema(ORDER_SCHEMA, mode="prompt")
        response = await _served(
            server,
            provider,
            lambda p: p.generate(
                [Message.system("Be exact."), Message.user("x")], response_format=fmt
            ),
        )
        messages = server.last_request.json["messages"]
    assert [m["role"] for m in messages] == ["system", "system", "user"]
    assert messages[0]["content"] == "Be exact."  # the caller's prompt stays first
    assert '"Customer"' in messages[1]["content"]
    assert response.parsed == ANSWER_OBJECT and response.content == fenced


async def test_a_reply_cut_at_max_tokens_says_so() -> None:
    async with FakeLLMServer() as server:
        server.enqueue(Reply('{"id": 7, "sta', finish_reason="length"))
        provider = create_provider("openai-compat", base_url=server.openai_base_url, model="m")
        with pytest.raises(OutputValidationError, match="cut at max_tokens") as info:
            await _served(server, provider, lambda p: p.generate("x", response_format=ORDER_SCHEMA))
    assert info.value.errors[0].startswith("$: not JSON")
    assert info.value.text == '{"id": 7, "sta'


async def test_the_key_in_a_failed_reply_is_redacted_everywhere() -> None:
    async with FakeLLMServer() as server:
        server.enqueue(Reply(json.dumps({**ANSWER_OBJECT, "status": KEY})))
        provider = create_provider(
            "openai-compat", base_url=server.openai_base_url, model="m", api_key=KEY
        )
        with pytest.raises(OutputValidationError) as info:
            await _served(server, provider, lambda p: p.generate("x", response_format=ORDER_SCHEMA))
    err = info.value
    assert KEY not in err.text and KEY not in str(err) and KEY not in str(err.body)
    assert not any(KEY in line for line in err.errors)
    assert KEY not in json.dumps(err.to_dict())


# -- types and validation ---------------------------------------------------------------------


class Size(enum.Enum):
    SMALL = "small"
    LARGE = "large"


@dataclasses.dataclass
class Line:
    sku: str
    qty: int


@dataclasses.dataclass
class Shipment:
    id: int
    size: Size
    lines: list[Line]
    dims: tuple[float, float]
    carrier: Line | None = None
    note: str | None = None


class Tags(TypedDict):
    name: str
    tags: list[str]


async def test_a_dataclass_comes_back_built_with_its_nested_dataclasses() -> None:
    mock = MockProvider()
    value = {"id": 1, "size": "large", "lines": [{"sku": "a", "qty": 2}], "dims": [1, 2.5]}
    mock.script(json.dumps(value))
    response = await mock.generate("x", response_format=Shipment)
    assert response.parsed == Shipment(1, Size.LARGE, [Line("a", 2)], (1.0, 2.5))
    sample = await mock.generate("x", response_format=Shipment)  # the mock's own answer
    assert isinstance(sample.parsed, Shipment) and isinstance(sample.parsed.lines[0], Line)
    assert sample.parsed.carrier is None  # a default is the sample where there is one


async def test_a_typeddict_comes_back_as_a_dict() -> None:
    mock = MockProvider(replies=['{"name": "n", "tags": ["a"]}', '{"name": "n", "tags": [1]}'])
    assert (await mock.generate("x", response_format=Tags)).parsed == {"name": "n", "tags": ["a"]}
    with pytest.raises(OutputValidationError) as info:
        await mock.generate("x", response_format=Tags)
    assert info.value.errors == ("$.tags[0]: 1 is not of type 'string'",)


async def test_a_pydantic_model_validates_with_pydantic() -> None:
    pydantic = pytest.importorskip("pydantic")

    class Item(pydantic.BaseModel):  # type: ignore[name-defined,misc]
        sku: str
        qty: int = 1

    class Order(pydantic.BaseModel):  # type: ignore[name-defined,misc]
        id: int
        status: Literal["open", "shipped"]
        items: list[Item]
        note: str | None = None

    mock = MockProvider(
        replies=[
            '{"id": 3, "status": "open", "items": [{"sku": "a", "qty": null}], "note": null}',
            '{"id": "x", "status": "gone", "items": []}',
        ]
    )
    response = await mock.generate("x", response_format=Order)
    assert isinstance(response.parsed, Order)
    assert response.parsed.items == [Item(sku="a", qty=1)]  # a strict-mode null: the default
    with pytest.raises(OutputValidationError) as info:
        await mock.generate("x", response_format=Order)
    assert [line.split(":")[0] for line in info.value.errors] == ["$.id", "$.status"]
    sample = await mock.generate("x", response_format=Order)
    assert isinstance(sample.parsed, Order)


async def test_output_retries_sends_the_errors_back() -> None:
    mock = MockProvider(replies=['{"id": 1}', json.dumps(ANSWER_OBJECT)])
    response = await mock.generate("x", response_format=ORDER_SCHEMA, output_retries=2)
    assert response.parsed == ANSWER_OBJECT
    second = mock.requests[1].messages
    assert second[-2].role == "assistant" and second[-2].text == '{"id": 1}'
    assert "$: 'status' is required" in second[-1].text
    mock.script('{"id": 1}', '{"id": 2}')
    with pytest.raises(OutputValidationError) as info:
        await mock.generate("x", response_format=ORDER_SCHEMA, output_retries=1)
    assert info.value.attempts == 2 and json.loads(info.value.text) == {"id": 2}


def test_bad_structured_output_arguments_fail_before_io() -> None:
    mock = MockProvider()
    with pytest.raises(BadRequestError, match="output_retries needs a response_format"):
        mock.build_request("x", output_retries=1)
    with pytest.raises(BadRequestError, match="a stream cannot take back"):
        mock.stream("x", response_format=ORDER_SCHEMA, output_retries=1)
    with pytest.raises(BadRequestError, match="json_mode and a response_format schema"):
        mock.build_request("x", response_format=ORDER_SCHEMA, json_mode=True)
    with pytest.raises(BadRequestError, match="root must be an object"):
        mock.build_request("x", response_format={"type": "array", "items": {}})
    with pytest.raises(ValueError, match="mode 'fast' is not one of"):
        output_schema(ORDER_SCHEMA, mode="fast")
    with pytest.raises(BadRequestError, match="named 'Order', as a tool"):
        mock.build_request("x", response_format=ORDER_SCHEMA, tools=[ToolSpec("Order")])
    with pytest.raises(BadRequestError, match="objects\\(\\) needs"):
        mock.stream("x").objects()
    assert not mock.requests


def test_a_stronger_mode_than_declared_is_refused_before_io() -> None:
    p = create_provider("openai-compat", base_url="http://127.0.0.1:9", model="m",
                        capabilities={"structured_output": "tool"})
    with pytest.raises(UnsupportedFeatureError, match="structured_output"):
        p.build_request("x", response_format=output_schema(ORDER_SCHEMA, mode="native"))
    assert p.build_request("x", response_format=ORDER_SCHEMA).output.mode is OutputMode.TOOL


# -- the mock -----------------------------------------------------------------------------


async def test_the_mock_answers_json_mode_and_schemas_with_fitting_json() -> None:
    mock = MockProvider()
    assert json.loads((await mock.generate("hi", json_mode=True)).content) == {"echo": "hi"}
    for mode in OutputMode:
        fmt = output_schema(ORDER_SCHEMA, mode=mode)
        response = await mock.generate("hi", response_format=fmt)
        assert response.output_mode is mode
        assert response.parsed == {
            "id": 1,
            "status": "open",
            "customer": {"name": "text", "email": "text"},
            "items": [{"sku": "text", "qty": 0}],
            "note": "text",
        }
        streamed = await mock.stream("hi", response_format=fmt).collect()
        assert streamed.parsed == response.parsed


# -- streams, sync calls and the cache -------------------------------------------------------------


async def test_objects_yields_the_partial_object_as_it_grows() -> None:
    mock = MockProvider()
    stream = mock.stream("x", response_format=ORDER_SCHEMA)
    seen = [obj async for obj in stream.objects()]
    assert len(seen) > 3 and seen[:2] == [{}, {"id": 1}]
    assert stream.response is not None and seen[-1] == stream.response.parsed
    assert all(set(a) <= set(b) for a, b in itertools.pairwise(seen))


def test_sync_calls_carry_parsed_and_partial_objects() -> None:
    mock = MockProvider()
    assert mock.generate_sync("x", response_format=Shipment).parsed.size is Size.SMALL
    with mock.stream_sync("x", response_format=ORDER_SCHEMA) as stream:
        seen = list(stream.objects())
        assert stream.partial == seen[-1]
    assert len(seen) > 3 and stream.response is not None
    assert stream.response.parsed == seen[-1]


@pytest.mark.parametrize("backend", ["memory", "sqlite"])
async def test_a_cache_hit_carries_a_fresh_parsed_object(backend: str, tmp_path: Any) -> None:
    store = MemoryBackend() if backend == "memory" else SQLiteBackend(tmp_path / "c.db")
    cache = ResponseCache(store)
    mock = MockProvider()
    mock.response_cache = cache
    try:
        first = await mock.generate("x", response_format=Shipment)
        hit = await mock.generate("x", response_format=Shipment)
        assert hit.cached and len(mock.requests) == 1
        assert hit.parsed == first.parsed and hit.parsed is not first.parsed
        assert hit.output_mode is OutputMode.NATIVE
        await mock.stream("x", response_format=Shipment).collect()
        replay = mock.stream("x", response_format=Shipment)
        end = await replay.collect()
        assert end.cached and isinstance(end.parsed, Shipment) and len(mock.requests) == 2
        assert replay.partial is not None
        plain = await mock.generate("x")  # another key: no schema
        assert plain.parsed is None and plain.output_mode is None
    finally:
        await cache.close()


async def test_an_invalid_reply_is_not_cached() -> None:
    mock = MockProvider(replies=['{"id": 1}'])
    mock.response_cache = ResponseCache(MemoryBackend())
    with pytest.raises(OutputValidationError):
        await mock.generate("x", response_format=ORDER_SCHEMA)
    again = await mock.generate("x", response_format=ORDER_SCHEMA)  # the mock's valid JSON
    assert not again.cached and again.parsed["status"] == "open"
    assert len(mock.requests) == 2


async def test_a_refusal_is_named_in_the_error() -> None:
    mock = MockProvider(replies=[MockReply(text="I can't help.", finish_reason="refusal")])
    with pytest.raises(OutputValidationError, match="the model refused"):
        await mock.generate("x", response_format=ORDER_SCHEMA)
