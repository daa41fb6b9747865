"""The ``openai`` provider on the Responses API: the ``api`` switch and its per-family
default, the contract's mapping to the Responses body, what is refused before any I/O,
and a multi-turn tool loop whose reasoning round-trips (asserted on the requests the
fake server received)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

pytest.importorskip("openai", reason="the openai SDK is not installed")

import jackfield
from jackfield.errors import ConfigurationError, UnsupportedFeatureError
from jackfield.plugins.openai import OpenAIProvider
from jackfield.retry import RetryPolicy
from jackfield.testing._fake_server import FakeLLMServer, Reply
from jackfield.types import (
    AudioPart,
    CachePoint,
    DocumentPart,
    FinishReason,
    ImagePart,
    Message,
    TextPart,
    Thinking,
    ToolCall,
    ToolSpec,
)
from jackfield.wire import _responses as wire

pytestmark = pytest.mark.filterwarnings("error::ResourceWarning")

KEY = "sk-canary-responses-provider-42"
WEATHER = ToolSpec(
    "get_weather",
    "Current weather.",
    {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)


@pytest.fixture
async def server() -> AsyncIterator[FakeLLMServer]:
    async with FakeLLMServer(api_key=KEY) as srv:
        yield srv


@pytest.fixture
async def make(server: FakeLLMServer) -> AsyncIterator[Callable[..., OpenAIProvider]]:
    made: list[OpenAIProvider] = []

    def factory(**config: Any) -> OpenAIProvider:
        config.setdefault("api_key", KEY)
        config.setdefault("base_url", server.openai_base_url)
        provider = OpenAIProvider(**config)
        provider.retry_policy = RetryPolicy(max_retries=0)
        made.append(provider)
        return provider

    yield factory
    for provider in made:
        await provider.aclose()


def _wait(call: Any) -> Any:
    return asyncio.wait_for(call, 10)


# -- the switch ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "endpoint"),
    [
        ("gpt-5.5", "responses"),
        ("gpt-5.4-mini", "responses"),
        ("o3", "responses"),
        ("o4-mini-2025-04-16", "responses"),
        ("gpt-5-chat-latest", "openai"),
        ("gpt-4o", "openai"),
        ("gpt-4.1-mini", "openai"),
        ("fake-model", "openai"),
    ],
)
async def test_the_default_api_follows_the_model_family(
    server: FakeLLMServer, make: Callable[..., OpenAIProvider], model: str, endpoint: str
) -> None:
    provider = make(model=model)
    assert provider.api_for(model) == ("responses" if endpoint == "responses" else "chat")
    assert (await _wait(provider.generate("ping"))).content == "echo: ping"
    assert (await _wait(provider.stream("pong").collect())).content == "echo: pong"
    assert [r.endpoint for r in server.requests] == [endpoint, endpoint]


@pytest.mark.parametrize("api", ["chat", "responses"])
@pytest.mark.parametrize("how", ["keyword", "extra", "registry"])
async def test_the_api_is_chosen_in_config(
    server: FakeLLMServer, make: Callable[..., OpenAIProvider], api: str, how: str
) -> None:
    model = "gpt-4.1" if api == "responses" else "o3"  # against the default each time
    if how == "keyword":
        provider = make(model=model, api=api)
    elif how == "extra":
        provider = make(model=model, extra={"api": api})
    else:
        registry = jackfield.Registry(entry_points=False)
        registry.register_provider(OpenAIProvider)
        provider = registry.create_provider(
            "openai", api=api, model=model, api_key=KEY, base_url=server.openai_base_url
        )
    try:
        await _wait(provider.generate("hi"))
    finally:
        await provider.aclose()
    assert server.last_request.endpoint == ("responses" if api == "responses" else "openai")


async def test_a_bad_api_value_is_refused_before_any_request(server: FakeLLMServer) -> None:
    for bad in ("completions", "", 3):
        with pytest.raises(ConfigurationError) as info:
            OpenAIProvider(api_key=KEY, base_url=server.openai_base_url, api=bad)
        assert info.value.field == "api"
    assert server.request_count == 0


def test_capabilities_on_responses_have_no_audio_and_take_pdf_urls() -> None:
    chat = OpenAIProvider(api_key=KEY, api="chat")
    responses = OpenAIProvider(api_key=KEY, api="responses")
    assert chat.capabilities("gpt-4o-audio-preview").audio is True
    assert responses.capabilities("gpt-4o-audio-preview").audio is False
    assert chat.capabilities("gpt-4.1").document_urls is False
    assert responses.capabilities("gpt-4.1").document_urls is True
    assert OpenAIProvider(api_key=KEY).capabilities("o3").temperature is False


# -- the body -------------------------------------------------------------------------------


async def test_the_contract_maps_to_the_responses_body(
    server: FakeLLMServer, make: Callable[..., OpenAIProvider]
) -> None:
    provider = make(model="gpt-4.1", api="responses")
    messages = [
        Message.system("Be brief."),
        Message.user(
            [
                TextPart("Look."),
                ImagePart(data="iVBORw0KGgo=", media_type="image/png"),
                DocumentPart(data="JVBERi0=", title="report"),
                DocumentPart(url="https://example.com/a.pdf"),
                DocumentPart(text="Plain notes.", title="notes"),
            ]
        ),
    ]
    await _wait(
        provider.generate(
            messages,
            temperature=0.3,
            max_tokens=99,
            tools=[WEATHER],
            tool_choice="get_weather",
            verbosity="low",
            truncation="auto",
            include=["message.output_text.logprobs"],
        )
    )
    body = server.last_request.json
    assert body["instructions"] == "Be brief."
    assert body["input"] == [
        {
            "role": "user",
            "content": [
                {"type": "input_text", "text": "Look."},
                {
                    "type": "input_image",
                    "image_url": "data:image/png;base64,iVBORw0KGgo=",
                    "detail": "auto",
                },
                {
                    "type": "input_file",
                    "filename": "report.pdf",
                    "file_data": "data:application/pdf;base64,JVBERi0=",
                },
                {"type": "input_file", "file_url": "https://example.com/a.pdf"},
                {"type": "input_text", "text": "notes\n\nPlain notes."},
            ],
        }
    ]
    assert body["tools"] == [
        {
            "type": "function",
            "name": "get_weather",
            "description": "Current weather.",
            "parameters": WEATHER.parameters,
            "strict": False,
        }
    ]
    assert body["tool_choice"] == {"type": "function", "name": "get_weather"}
    assert (body["temperature"], body["max_output_tokens"]) == (0.3, 99)
    assert body["text"] == {"verbosity": "low"}
    assert body["truncation"] == "auto"
    assert body["include"] == ["message.output_text.logprobs"]  # gpt-4.1 does not reason
    assert body["store"] is False
    assert "stream" not in body and "messages" not in body


async def test_structured_output_json_mode_and_reasoning(
    server: FakeLLMServer, make: Callable[..., OpenAIProvider]
) -> None:
    provider = make(model="gpt-5.4-mini")
    schema = {"type": "object", "properties": {"city": {"type": "string"}}}
    server.enqueue(Reply('{"city": "Paris"}'), Reply("{}"))
    response = await _wait(provider.generate("City?", response_format=schema, reasoning="high"))
    assert response.parsed == {"city": "Paris"}
    body = server.last_request.json
    assert body["text"]["format"] == {
        "type": "json_schema",
        "name": "output",
        "schema": {
            "type": "object",
            "properties": {"city": {"type": ["string", "null"]}},
            "required": ["city"],
            "additionalProperties": False,
        },
        "strict": True,
    }
    assert body["reasoning"] == {"effort": "high", "summary": "auto"}
    assert body["include"] == ["reasoning.encrypted_content"]
    await _wait(provider.generate("JSON?", json_mode=True))
    assert server.last_request.json["text"] == {"format": {"type": "json_object"}}


async def test_cache_points_become_a_prompt_cache_key(
    server: FakeLLMServer, make: Callable[..., OpenAIProvider]
) -> None:
    provider = make(model="gpt-5.5")
    stable = Message.system([TextPart("Stable rules."), CachePoint()])
    await _wait(provider.generate([stable, Message.user("one")]))
    await _wait(provider.generate([stable, Message.user("two")]))
    first, second = (r.json for r in server.requests)
    assert first["prompt_cache_key"].startswith("jackfield-")
    assert first["prompt_cache_key"] == second["prompt_cache_key"]
    assert "cache_point" not in json.dumps(first)


@pytest.mark.parametrize(
    ("kwargs", "feature"),
    [
        ({"stop": ["END"]}, "stop"),
        ({"seed": 7}, "seed"),
        ({"frequency_penalty": 0.5}, "frequency_penalty"),
        ({"messages": [Message.user([AudioPart(data="UklGRg==", format="wav")])]}, "audio"),
    ],
)
async def test_what_responses_cannot_carry_is_refused_before_io(
    server: FakeLLMServer, make: Callable[..., OpenAIProvider], kwargs: Any, feature: str
) -> None:
    provider = make(model="gpt-4o-audio-preview", api="responses")
    messages = kwargs.pop("messages", "hi")
    for call in (provider.generate, lambda *a, **k: provider.stream(*a, **k).collect()):
        with pytest.raises(UnsupportedFeatureError) as info:
            await _wait(call(messages, **kwargs))
        assert info.value.feature == feature
    assert server.request_count == 0


async def test_a_responses_only_option_on_chat_is_refused_before_io(
    server: FakeLLMServer, make: Callable[..., OpenAIProvider]
) -> None:
    provider = make(model="gpt-4o")
    with pytest.raises(UnsupportedFeatureError, match="truncation") as info:
        await _wait(provider.generate("hi", truncation="auto"))
    assert info.value.feature == "truncation"
    assert server.request_count == 0


async def test_foreign_thinking_is_not_sent(
    server: FakeLLMServer, make: Callable[..., OpenAIProvider]
) -> None:
    provider = make(model="gpt-5.5")
    other = Message.assistant("Earlier.", thinking=(Thinking("Claude's", "EqQBCkYIBxgCKkA="),))
    await _wait(provider.generate([Message.user("a"), other, Message.user("b")]))
    assert server.last_request.json["input"] == [
        {"role": "user", "content": "a"},
        {"role": "assistant", "content": "Earlier."},
        {"role": "user", "content": "b"},
    ]


# -- a tool loop with reasoning -----------------------------------------------------------


@pytest.mark.parametrize("streamed", [False, True], ids=["generate", "stream"])
async def test_a_tool_loop_with_reasoning_round_trips_its_state(
    server: FakeLLMServer, make: Callable[..., OpenAIProvider], streamed: bool
) -> None:
    """Three steps: two tool calls, each after reasoning, then the answer. Every turn
    sends back each earlier reasoning item verbatim (id, summary, encrypted content),
    in place, with the calls and their outputs."""
    provider = make(model="gpt-5.5")
    server.enqueue(
        Reply(
            thinking="Need Paris weather.",
            thinking_signature="gAAAAA-step-one-encrypted",
            tool_calls=[ToolCall("call_a", "get_weather", {"city": "Paris"})],
        ),
        Reply(
            thinking="Now Rome.",
            thinking_signature="gAAAAA-step-two-encrypted",
            tool_calls=[ToolCall("call_b", "get_weather", {"city": "Rome"})],
        ),
        Reply("Paris is sunny, Rome is rainy.", thinking="Compare."),
    )

    async def call(history: list[Message]) -> Any:
        if streamed:
            return await _wait(provider.stream(history, tools=[WEATHER], reasoning=True).collect())
        return await _wait(provider.generate(history, tools=[WEATHER], reasoning=True))

    history = [Message.user("Weather in Paris and Rome?")]
    for answer in ('{"sky": "sunny"}', '{"sky": "rainy"}', None):
        response = await call(history)
        history.append(response.to_message())
        if answer is None:
            break
        assert response.finish_reason == FinishReason.TOOL_CALLS
        history.append(Message.tool(response.tool_calls[0].id, answer))
    assert response.content == "Paris is sunny, Rome is rainy."

    first, second, third = (r.json for r in server.requests)
    assert all(r.endpoint == "responses" for r in server.requests)
    assert all(b["store"] is False for b in (first, second, third))
    assert all(b["include"] == ["reasoning.encrypted_content"] for b in (first, second, third))
    assert first["input"] == [{"role": "user", "content": "Weather in Paris and Rome?"}]
    step_one = {
        "type": "reasoning",
        "summary": [{"type": "summary_text", "text": "Need Paris weather."}],
        "encrypted_content": "gAAAAA-step-one-encrypted",
    }
    step_two = {
        "type": "reasoning",
        "summary": [{"type": "summary_text", "text": "Now Rome."}],
        "encrypted_content": "gAAAAA-step-two-encrypted",
    }

    def shape(items: list[dict[str, Any]]) -> list[Any]:
        return [{k: v for k, v in i.items() if k != "id"} for i in items]

    call_a = {
        "type": "function_call",
        "call_id": "call_a",
        "name": "get_weather",
        "arguments": '{"city": "Paris"}',
    }
    out_a = {"type": "function_call_output", "call_id": "call_a", "output": '{"sky": "sunny"}'}
    assert shape(second["input"]) == [first["input"][0], step_one, call_a, out_a]
    assert all(i["id"].startswith("rs_") for i in second["input"] if i.get("type") == "reasoning")
    assert shape(third["input"])[:4] == shape(second["input"])
    assert shape(third["input"])[4:] == [
        step_two,
        {**call_a, "call_id": "call_b", "arguments": '{"city": "Rome"}'},
        {"type": "function_call_output", "call_id": "call_b", "output": '{"sky": "rainy"}'},
    ]
    # the ids of the items sent back are those the server gave
    ids = [i["id"] for i in third["input"] if i.get("type") == "reasoning"]
    assert len(set(ids)) == 2
    assert wire.decode_signature(history[1].thinking[0].signature) == {
        **step_one,
        "id": ids[0],
    }
