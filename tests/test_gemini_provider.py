"""The ``gemini`` provider against the fake server: what goes on the wire (the key in a
header, never the URL; the contract mapped to Gemini's fields), Vertex AI, configuration
errors before any I/O, the SDK's retries off, capabilities per family, and a multi-turn
tool loop with reasoning whose state round-trips (asserted on the requests received)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

pytest.importorskip("google.genai", reason="the google-genai SDK is not installed")

from jackfield.errors import (
    BadRequestError,
    ConfigurationError,
    ProviderError,
    UnsupportedFeatureError,
)
from jackfield.plugins.gemini import GeminiProvider
from jackfield.retry import RetryPolicy
from jackfield.testing._fake_server import ErrorReply, FakeLLMServer, Reply
from jackfield.types import (
    AudioPart,
    CachePoint,
    DocumentPart,
    ImagePart,
    Message,
    OutputMode,
    OutputSchema,
    Request,
    TextPart,
    Thinking,
    ToolCall,
    ToolSpec,
)
from jackfield.wire import _gemini as wire

pytestmark = pytest.mark.filterwarnings("error::ResourceWarning")

KEY = "AIzaSy-canary-provider-0123456789abc"
WEATHER = ToolSpec(
    "get_weather",
    "Weather for a city",
    {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)


@pytest.fixture
async def server() -> AsyncIterator[FakeLLMServer]:
    async with FakeLLMServer(api_key=KEY) as srv:
        yield srv


@pytest.fixture
async def make(server: FakeLLMServer) -> AsyncIterator[Callable[..., GeminiProvider]]:
    made: list[GeminiProvider] = []

    def factory(**config: Any) -> GeminiProvider:
        config.setdefault("api_key", KEY)
        config.setdefault("base_url", server.gemini_base_url)
        config.setdefault("model", "gemini-3.8-flash")
        provider = GeminiProvider(**config)
        provider.retry_policy = RetryPolicy(max_retries=0)
        made.append(provider)
        return provider

    yield factory
    for provider in made:
        await provider.aclose()


def _body(messages: list[Message], **fields: Any) -> dict[str, Any]:
    fields.setdefault("model", "gemini-3.8-flash")
    return wire.build_payload(Request(messages=messages, **fields))


# -- what goes on the wire --------------------------------------------------------------------


async def test_key_goes_in_a_header_never_in_the_url(
    server: FakeLLMServer, make: Callable[..., GeminiProvider]
) -> None:
    provider = make()
    await asyncio.wait_for(provider.generate("hi"), 10)
    await asyncio.wait_for(provider.stream("hi").collect(), 10)
    for request in server.requests:
        assert request.headers["x-goog-api-key"] == KEY
        assert "authorization" not in request.headers
        assert KEY not in request.path and KEY not in str(request.query)
        assert KEY not in request.body.decode()
    assert [r.query for r in server.requests] == [{}, {"alt": "sse"}]


async def test_sdk_retries_are_off(
    server: FakeLLMServer, make: Callable[..., GeminiProvider]
) -> None:
    server.enqueue(*[ErrorReply(503, {"error": {"code": 503, "status": "UNAVAILABLE"}})] * 3)
    with pytest.raises(ProviderError):
        await asyncio.wait_for(make().generate("hi"), 10)
    assert server.request_count == 1  # max_retries=0 in jackfield, and none in the SDK


def test_contract_maps_to_gemini_fields() -> None:
    body = _body(
        [
            Message.system("Be brief."),
            Message.user(
                [
                    TextPart("Look:"),
                    ImagePart(data="aW1n", media_type="image/jpeg"),
                    ImagePart(url="https://example.com/cat.png"),
                    ImagePart(url="data:image/webp;base64,d2VicA=="),
                    DocumentPart(data="JVBERg=="),
                    DocumentPart(url="https://example.com/paper.pdf"),
                    DocumentPart(text="Plain notes.", title="notes.txt"),
                    AudioPart(data="UklGRg==", format="wav"),
                    AudioPart(data="SUQz", format="mp3"),
                    CachePoint(),
                ]
            ),
            Message.system("Answer in French."),
        ],
        temperature=0.3,
        max_tokens=256,
        stop=("END",),
        tools=(WEATHER,),
        tool_choice="get_weather",
    )
    assert body["systemInstruction"] == {"parts": [{"text": "Be brief.\n\nAnswer in French."}]}
    assert body["contents"] == [
        {
            "role": "user",
            "parts": [
                {"text": "Look:"},
                {"inlineData": {"mimeType": "image/jpeg", "data": "aW1n"}},
                {"fileData": {"mimeType": "image/png", "fileUri": "https://example.com/cat.png"}},
                {"inlineData": {"mimeType": "image/webp", "data": "d2VicA=="}},
                {"inlineData": {"mimeType": "application/pdf", "data": "JVBERg=="}},
                {
                    "fileData": {
                        "mimeType": "application/pdf",
                        "fileUri": "https://example.com/paper.pdf",
                    }
                },
                {"text": "notes.txt\n\nPlain notes."},
                {"inlineData": {"mimeType": "audio/wav", "data": "UklGRg=="}},
                {"inlineData": {"mimeType": "audio/mp3", "data": "SUQz"}},
            ],
        }
    ]
    assert body["generationConfig"] == {
        "temperature": 0.3,
        "maxOutputTokens": 256,
        "stopSequences": ["END"],
    }
    assert body["tools"] == [
        {
            "functionDeclarations": [
                {
                    "name": "get_weather",
                    "description": "Weather for a city",
                    "parametersJsonSchema": WEATHER.parameters,
                }
            ]
        }
    ]
    assert body["toolConfig"] == {
        "functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["get_weather"]}
    }
    assert "model" not in body  # the model is in the URL


@pytest.mark.parametrize(
    ("choice", "config"),
    [("auto", {"mode": "AUTO"}), ("required", {"mode": "ANY"}), ("none", {"mode": "NONE"})],
)
def test_tool_choice_modes(choice: str, config: dict[str, Any]) -> None:
    body = _body([Message.user("x")], tools=(WEATHER,), tool_choice=choice)
    assert body["toolConfig"] == {"functionCallingConfig": config}


def test_native_structured_output_and_json_mode() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}
    native = OutputSchema(schema, mode=OutputMode.NATIVE)
    body = _body([Message.user("x")], output=native)
    assert body["generationConfig"] == {
        "responseMimeType": "application/json",
        "responseJsonSchema": schema,
    }
    prompt = OutputSchema(schema, mode=OutputMode.PROMPT)  # not carried natively
    assert "generationConfig" not in _body([Message.user("x")], output=prompt)
    assert _body([Message.user("x")], json_mode=True)["generationConfig"] == {
        "responseMimeType": "application/json"
    }


@pytest.mark.parametrize(
    ("model", "reasoning", "config"),
    [
        ("gemini-3.8-flash", True, {"includeThoughts": True}),
        ("gemini-3.8-flash", "minimal", {"includeThoughts": True, "thinkingLevel": "minimal"}),
        ("gemini-3.1-pro-preview", "max", {"includeThoughts": True, "thinkingLevel": "high"}),
        ("gemini-2.5-flash", "low", {"includeThoughts": True, "thinkingBudget": 2048}),
        ("gemini-2.5-pro", "12000", {"includeThoughts": True, "thinkingBudget": 12000}),
        ("gemini-3.8-flash", "0", {"includeThoughts": True, "thinkingBudget": 0}),
        ("gemini-3.8-flash", None, None),
        ("gemini-3.8-flash", False, None),
    ],
)
def test_thinking_config_per_family(model: str, reasoning: Any, config: Any) -> None:
    body = _body([Message.user("x")], model=model, reasoning=reasoning)
    assert body.get("generationConfig", {}).get("thinkingConfig") == config


def test_unknown_reasoning_effort_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="unknown reasoning effort"):
        _body([Message.user("x")], reasoning="ludicrous")


async def test_call_options_go_where_gemini_wants_them(
    server: FakeLLMServer, make: Callable[..., GeminiProvider]
) -> None:
    safety = [{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_NONE"}]
    await make().generate(
        "hi",
        temperature=0.2,
        generation_config={"topP": 0.5, "seed": 7, "temperature": 0.9},
        safety_settings=safety,
        labels={"team": "a"},
        extra={"generationConfig": {"candidateCount": 1}, "toolConfig": {"x": 1}},
    )
    body = server.last_request.json
    assert body["generationConfig"] == {
        "temperature": 0.9,  # the caller's wire value wins
        "topP": 0.5,
        "seed": 7,
        "candidateCount": 1,
    }
    assert body["safetySettings"] == safety
    assert body["labels"] == {"team": "a"}
    assert body["toolConfig"] == {"x": 1}  # extra: as written
    with pytest.raises(BadRequestError, match="top_p"):
        await make().generate("hi", top_p=1)


@pytest.mark.parametrize("model", ["gemini?key=x", "a/../b", "gemini flash", "m#frag", "m&x=1"])
async def test_a_model_that_would_change_the_url_is_refused_before_any_request(
    server: FakeLLMServer, make: Callable[..., GeminiProvider], model: str
) -> None:
    with pytest.raises(BadRequestError, match="cannot be part of a Gemini URL"):
        await make().generate("hi", model=model)
    assert server.request_count == 0


def test_a_tool_result_without_its_call_needs_a_name() -> None:
    with pytest.raises(BadRequestError, match="needs the function's name"):
        _body([Message.user("x"), Message.tool("nowhere", "42")])
    body = _body([Message.user("x"), Message.tool("nowhere", "42", name="lookup")])
    assert body["contents"] == [  # one user turn: consecutive user-role messages merge
        {
            "role": "user",
            "parts": [
                {"text": "x"},
                {
                    "functionResponse": {
                        "name": "lookup",
                        "response": {"output": 42},
                        "id": "nowhere",
                    }
                },
            ],
        }
    ]


def test_calls_gemini_did_not_sign_get_the_documented_placeholder() -> None:
    foreign = Message.assistant(
        tool_calls=[ToolCall("toolu_1", "get_weather", {"city": "Oslo"}), ToolCall("t2", "f")],
        thinking=[Thinking("Claude thought this.", signature="EqQBCkYIBxgCKkB-anthropic")],
    )
    body = _body([Message.user("x"), foreign, Message.tool("toolu_1", "rain")])
    parts = body["contents"][1]["parts"]
    assert parts[0] == {"text": "Claude thought this.", "thought": True}  # no foreign signature
    assert parts[1]["thoughtSignature"] == wire.FOREIGN_SIGNATURE
    assert "thoughtSignature" not in parts[2]


# -- a multi-turn tool loop with reasoning: the state round-trips ---------------------------


async def test_tool_loop_with_reasoning_round_trips_signatures(
    server: FakeLLMServer, make: Callable[..., GeminiProvider]
) -> None:
    provider = make()
    step1 = Reply(
        thinking="Need the weather first.",
        tool_calls=[ToolCall("fc_1", "get_weather", {"city": "Paris"})],
        thinking_signature="c2lnLXN0ZXAtMQ==",
    )
    step2 = Reply(
        thinking="Now the time.",
        tool_calls=[
            ToolCall("fc_2", "get_time", {"tz": "Europe/Paris"}),
            ToolCall("fc_3", "get_weather", {"city": "Lyon"}),
        ],
        thinking_signature="c2lnLXN0ZXAtMg==",
    )
    step3 = Reply(
        "Sunny and 21 degrees at noon.", thinking="Done.", thinking_signature="c2lnLWVuZA=="
    )
    server.enqueue(step1, step2, step3)
    tools = [WEATHER, ToolSpec("get_time", "Time", {"type": "object", "properties": {}})]
    history: list[Message] = [Message.user("Weather and time in Paris?")]

    first = await asyncio.wait_for(
        provider.stream(history, tools=tools, reasoning="high").collect(), 10
    )
    history += [first.to_message(), Message.tool("fc_1", {"celsius": 21})]
    second = await asyncio.wait_for(provider.generate(history, tools=tools, reasoning="high"), 10)
    history += [
        second.to_message(),
        Message.tool("fc_2", "12:00"),
        Message.tool("fc_3", {"celsius": 19}),
    ]
    third = await asyncio.wait_for(
        provider.stream(history, tools=tools, reasoning="high").collect(), 10
    )
    assert third.content == "Sunny and 21 degrees at noon."

    sent = server.requests[2].json["contents"]
    assert [turn["role"] for turn in sent] == ["user", "model", "user", "model", "user"]
    assert sent[1]["parts"] == [
        {"text": "Need the weather first.", "thought": True},
        {
            "functionCall": {"name": "get_weather", "args": {"city": "Paris"}, "id": "fc_1"},
            "thoughtSignature": "c2lnLXN0ZXAtMQ==",
        },
    ]
    assert sent[3]["parts"] == [
        {"text": "Now the time.", "thought": True},
        {
            "functionCall": {"name": "get_time", "args": {"tz": "Europe/Paris"}, "id": "fc_2"},
            "thoughtSignature": "c2lnLXN0ZXAtMg==",
        },
        {"functionCall": {"name": "get_weather", "args": {"city": "Lyon"}, "id": "fc_3"}},
    ]
    assert sent[4]["parts"] == [
        {"functionResponse": {"name": "get_time", "response": {"output": "12:00"}, "id": "fc_2"}},
        {"functionResponse": {"name": "get_weather", "response": {"celsius": 19}, "id": "fc_3"}},
    ]
    for request in server.requests:
        config = request.json["generationConfig"]["thinkingConfig"]
        assert config == {"includeThoughts": True, "thinkingLevel": "high"}
    decoded = wire.decode_signature(third.thinking[-1].signature)
    assert decoded == ("end", "c2lnLWVuZA==")


# -- Vertex AI ------------------------------------------------------------------------------


async def test_vertex_express_mode_uses_vertex_paths_and_the_key_header(
    server: FakeLLMServer, make: Callable[..., GeminiProvider]
) -> None:
    provider = make(extra={"vertexai": True})
    await provider.generate("hi")
    await provider.stream("hi").collect()
    paths = [r.path for r in server.requests]
    assert paths == [
        "/v1beta1/publishers/google/models/gemini-3.8-flash:generateContent",
        "/v1beta1/publishers/google/models/gemini-3.8-flash:streamGenerateContent",
    ]
    assert all(r.headers["x-goog-api-key"] == KEY for r in server.requests)


async def test_vertex_with_an_access_token() -> None:
    token = "ya29.canary-access-token"
    async with FakeLLMServer() as server:
        provider = GeminiProvider(
            base_url=server.gemini_base_url,
            api_key=token,
            auth_method="bearer",
            project="acme-proj",
            extra={"vertexai": True, "location": "europe-west4"},
            model="gemini-3.8-flash",
        )
        try:
            response = await asyncio.wait_for(provider.generate("hi"), 10)
        finally:
            await provider.aclose()
        assert response.content == "echo: hi"
        request = server.last_request
        assert request.path == (
            "/v1beta1/projects/acme-proj/locations/europe-west4/publishers/google/models/"
            "gemini-3.8-flash:generateContent"
        )
        assert request.headers["authorization"] == f"Bearer {token}"
        assert "x-goog-api-key" not in request.headers
        assert token not in repr(provider) and token not in repr(provider.config)


@pytest.mark.parametrize(
    ("config", "field"),
    [
        ({"auth_method": "bearer"}, "auth_method"),  # a token needs Vertex AI
        ({"auth_method": "none"}, "auth_method"),
        ({"auth_method": "api-key"}, "auth_method"),
        ({"auth_method": "bearer", "extra": {"vertexai": True}}, "project"),
        ({"extra": {"vertexai": True, "location": ""}}, "extra"),
    ],
)
def test_bad_configuration_fails_at_creation(config: dict[str, Any], field: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        GeminiProvider(api_key=KEY, **config)
    assert info.value.field == field


# -- capabilities ---------------------------------------------------------------------------


def test_capabilities_per_family() -> None:
    provider = GeminiProvider(api_key=KEY)
    caps = provider.capabilities("gemini-3.8-flash")
    assert (caps.images, caps.documents, caps.document_urls, caps.audio) == (True,) * 4
    assert caps.structured_output == OutputMode.NATIVE
    assert caps.thinking and caps.tools and caps.parallel_tool_calls
    assert caps.cache_points == "automatic" and caps.context_window == 1_048_576
    assert not provider.capabilities("gemini-2.0-flash").thinking
    assert not provider.capabilities("gemma-3-27b-it").tools
    with pytest.raises(UnsupportedFeatureError):
        provider.build_request("x", model="gemini-2.0-flash", reasoning=True)
    request = provider.build_request("x", response_format={"type": "object", "properties": {}})
    assert request.output is not None and request.output.mode == OutputMode.NATIVE


def test_tiers_name_current_models() -> None:
    provider = GeminiProvider(api_key=KEY)
    assert provider.model_for_tier("hosted_small") == "gemini-3.8-flash"
    assert provider.model_for_tier("hosted_large").startswith("gemini-3")
    assert provider.model_for_tier("local_small").endswith("flash-lite")
