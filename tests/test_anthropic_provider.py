"""The ``anthropic`` provider against a loopback fake server, with the real SDK.

Everything runs on 127.0.0.1: :class:`FakeLLMServer` speaks the Anthropic Messages wire,
the real ``anthropic`` SDK sends the requests. Captured wire files from
``shared/wire`` are replayed byte for byte. The pure functions of
:mod:`jackfield.wire._anthropic` are tested at the end, without any server.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import re
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from recorded import WIRE

from jackfield.config import ProviderConfig
from jackfield.errors import (
    APIError,
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    ContextWindowExceededError,
    NetworkError,
    NotFoundError,
    OverloadedError,
    PermissionDeniedError,
    ProviderError,
    ProviderTimeoutError,
    QuotaExceededError,
    RateLimitError,
    ServerError,
    StreamError,
    UnknownError,
    UnsupportedFeatureError,
)
from jackfield.events import (
    StreamEnd,
    StreamEvent,
    StreamStart,
    TextDelta,
    TextEnd,
    TextStart,
    ThinkingEnd,
    ThinkingStart,
    ToolCallDelta,
    ToolCallEnd,
    ToolCallStart,
)
from jackfield.plugins.anthropic import AnthropicProvider
from jackfield.retry import RetryPolicy
from jackfield.testing._fake_server import (
    ErrorReply,
    FakeLLMServer,
    InStreamError,
    Malformed,
    Raw,
    Reply,
    Reset,
    Stall,
    Truncate,
)
from jackfield.types import (
    FinishReason,
    ImagePart,
    Message,
    Request,
    Response,
    TextPart,
    Thinking,
    ToolCall,
    ToolSpec,
    Usage,
)
from jackfield.wire._anthropic import (
    API_VERSION,
    JSON_MODE_INSTRUCTION,
    NONSTREAMING_MAX_TOKENS,
    EventParser,
    build_payload,
    needs_streaming,
    parse_response,
    thinking_params,
    uses_adaptive_thinking,
)
from jackfield.wire._assembler import StreamAssembler
from jackfield.wire._sse import SSEDecoder

pytestmark = pytest.mark.filterwarnings("error::ResourceWarning")

KEY = "sk-ant-api03-TESTKEY-0123456789abcdefghij"
needs_wire = pytest.mark.skipif(
    not WIRE.is_dir(), reason=f"captured wire files not found at {WIRE}"
)
OVERLOADED = {"type": "overloaded_error", "message": "Overloaded"}
WEATHER = ToolSpec(
    "get_weather",
    "Weather for a city",
    {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)


class FakeSleep:
    """Records the retry policy's waits instead of sleeping."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.fixture
async def server() -> AsyncIterator[FakeLLMServer]:
    async with FakeLLMServer() as srv:
        yield srv


@pytest.fixture
def sleep() -> FakeSleep:
    return FakeSleep()


@pytest.fixture
async def make(
    server: FakeLLMServer, sleep: FakeSleep
) -> AsyncIterator[Callable[..., AnthropicProvider]]:
    """``make(max_retries=2, **config)``: a provider on the fake server, closed after."""
    made: list[AnthropicProvider] = []

    def factory(max_retries: int = 2, **config: Any) -> AnthropicProvider:
        config.setdefault("api_key", KEY)
        config.setdefault("base_url", server.anthropic_base_url)
        provider = AnthropicProvider(
            ProviderConfig(**config),
            retry_policy=RetryPolicy(max_retries=max_retries, sleep=sleep),
        )
        made.append(provider)
        return provider

    yield factory
    for provider in made:
        await provider.aclose()


async def collect(stream: AsyncIterator[StreamEvent]) -> list[StreamEvent]:
    return [event async for event in stream]


def kinds(events: list[StreamEvent]) -> list[str]:
    return [e.type for e in events]


def final(events: list[StreamEvent]) -> Response:
    end = events[-1]
    assert isinstance(end, StreamEnd)
    return end.response


async def call(provider: AnthropicProvider, mode: str, *args: Any, **kwargs: Any) -> Response:
    """``generate`` or a collected ``stream`` of the same call."""
    if mode == "generate":
        return await provider.generate(*args, **kwargs)
    return await provider.stream(*args, **kwargs).collect()


async def drain(stream: AsyncIterator[StreamEvent], into: list[StreamEvent]) -> None:
    """Consume ``stream`` into ``into`` (what was seen survives an exception)."""
    async for event in stream:
        into.append(event)


def texts(events: list[StreamEvent]) -> str:
    return "".join(e.text for e in events if isinstance(e, TextDelta))


# Builders of Anthropic SSE events: (event name, data).
SSEItem = tuple[str, dict[str, Any]]
MESSAGE_STOP: SSEItem = ("message_stop", {"type": "message_stop"})


def sse(*events: SSEItem) -> bytes:
    return b"".join(f"event: {n}\ndata: {json.dumps(d)}\n\n".encode() for n, d in events)


def message_start(**usage: int) -> SSEItem:
    message = {"id": "msg_x", "type": "message", "role": "assistant", "model": "claude-m"}
    message.update(content=[], stop_reason=None, usage=usage or {"input_tokens": 1})
    return "message_start", {"type": "message_start", "message": message}


def block_start(index: int, **block: Any) -> SSEItem:
    data = {"type": "content_block_start", "index": index, "content_block": block}
    return "content_block_start", data


def block_delta(index: int, **delta: Any) -> SSEItem:
    return "content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta}


def block_stop(index: int) -> SSEItem:
    return "content_block_stop", {"type": "content_block_stop", "index": index}


def message_delta(stop_reason: str, **usage: int) -> SSEItem:
    data = {"type": "message_delta", "delta": {"stop_reason": stop_reason}, "usage": usage}
    return "message_delta", data


# -- generate and stream -----------------------------------------------------------------


async def test_generate_text(server: FakeLLMServer, make: Callable[..., AnthropicProvider]) -> None:
    server.enqueue(Reply("Hello there", usage=Usage(12, 3), request_id="req_011Cabc"))
    response = await make().generate("Hi", model="claude-haiku-4-5")
    assert response.content == "Hello there"
    assert response.finish_reason is FinishReason.STOP
    assert response.usage == Usage(12, 3)
    assert response.request_id == "req_011Cabc"
    assert response.model == "claude-haiku-4-5"
    assert response.provider == "anthropic"
    assert response.raw["type"] == "message"
    sent = server.last_request
    assert (sent.method, sent.path) == ("POST", "/v1/messages")
    assert sent.json == {
        "model": "claude-haiku-4-5",
        "max_tokens": 4096,
        "messages": [{"role": "user", "content": "Hi"}],
    }


async def test_stream_text(server: FakeLLMServer, make: Callable[..., AnthropicProvider]) -> None:
    server.enqueue(Reply("Hello there, world", chunk_size=5, request_id="req_011Cxyz"))
    events = await collect(make().stream("Hi"))
    assert kinds(events) == ["start", "text_start"] + ["text_delta"] * 4 + ["text_end", "end"]
    start = events[0]
    assert isinstance(start, StreamStart)
    assert start.request_id == "req_011Cxyz"
    assert start.model == "claude-sonnet-4-6"  # hosted_small by default
    assert texts(events) == "Hello there, world"
    response = final(events)
    assert response.content == "Hello there, world"
    assert response.request_id == "req_011Cxyz"
    assert server.last_request.json["stream"] is True


async def test_stream_collect_equals_generate(
    server: FakeLLMServer, make: Callable[..., AnthropicProvider]
) -> None:
    reply = Reply(
        "Answer",
        thinking="Let me see",
        thinking_signature="c2ln",
        tool_calls=[ToolCall("toolu_1", "get_weather", {"city": "Paris"})],
        usage=Usage(5, 9),
        request_id="req_011Csame",
    )
    server.enqueue(reply, reply)
    provider = make()
    generated = await provider.generate("q", tools=[WEATHER])
    streamed = await provider.stream("q", tools=[WEATHER]).collect()
    assert streamed == generated
    assert generated.thinking == (Thinking("Let me see", "c2ln"),)


@pytest.mark.parametrize("mode", ["generate", "stream"])
async def test_thinking_with_signature(
    server: FakeLLMServer, make: Callable[..., AnthropicProvider], mode: str
) -> None:
    server.enqueue(Reply("42", thinking="Six times seven.", thinking_signature="EqQBCkYIBxgC"))
    provider = make()
    if mode == "generate":
        response = await provider.generate("q", model="claude-haiku-4-5", reasoning="low")
    else:
        events = await collect(provider.stream("q", model="claude-haiku-4-5", reasoning="low"))
        assert kinds(events)[:2] == ["start", "thinking_start"]
        end = next(e for e in events if isinstance(e, ThinkingEnd))
        assert end == ThinkingEnd(0, "Six times seven.", "EqQBCkYIBxgC", False)
        response = final(events)
    assert response.thinking == (Thinking("Six times seven.", "EqQBCkYIBxgC"),)
    assert response.content == "42"
    sent = server.last_request.json
    assert sent["thinking"] == {"type": "enabled", "budget_tokens": 2048}
    assert sent["max_tokens"] == 2048 + 4096


async def test_stream_tool_use_fragments(
    server: FakeLLMServer, make: Callable[..., AnthropicProvider]
) -> None:
    args = {"city": "Paris", "unit": "celsius"}
    server.enqueue(
        Reply(tool_calls=[ToolCall("toolu_01A", "get_weather", args)], arguments_chunk_size=4)
    )
    events = await collect(make().stream("weather?", tools=[WEATHER]))
    start = events[1]
    assert isinstance(start, ToolCallStart)
    assert (start.id, start.name) == ("toolu_01A", "get_weather")
    deltas = [e for e in events if isinstance(e, ToolCallDelta)]
    compact = json.dumps(args, separators=(",", ":"))  # as the fake server renders it
    assert len(deltas) == -(-len(compact) // 4)
    assert "".join(d.arguments_delta for d in deltas) == compact
    assert deltas[-1].partial_arguments == args
    end = next(e for e in events if isinstance(e, ToolCallEnd))
    assert end.tool_call == ToolCall("toolu_01A", "get_weather", args)
    response = final(events)
    assert response.finish_reason is FinishReason.TOOL_CALLS
    assert response.tool_calls == (ToolCall("toolu_01A", "get_weather", args),)


@pytest.mark.parametrize("mode", ["generate", "stream"])
async def test_two_tool_uses_with_empty_input(
    server: FakeLLMServer, make: Callable[..., AnthropicProvider], mode: str
) -> None:
    calls = [ToolCall("toolu_a", "ping", {}), ToolCall("toolu_b", "ping", {})]
    server.enqueue(Reply(tool_calls=calls))
    provider = make()
    ping = ToolSpec("ping")
    if mode == "generate":
        response = await provider.generate("go", tools=[ping])
    else:
        events = await collect(provider.stream("go", tools=[ping]))
        ends = [e for e in events if isinstance(e, ToolCallEnd)]
        assert [e.index for e in ends] == [0, 1]
        response = final(events)
    assert response.tool_calls == tuple(calls)
    assert response.content == ""


async def test_stream_usage_is_cumulative_not_added(
    server: FakeLLMServer, make: Callable[..., AnthropicProvider]
) -> None:
    body = sse(
        message_start(input_tokens=30, output_tokens=1, cache_read_input_tokens=20),
        block_start(0, type="text", text=""),
        block_delta(0, type="text_delta", text="Hi"),
        message_delta("end_turn", output_tokens=5),
        block_stop(0),
        message_delta("end_turn", output_tokens=7, cache_creation_input_tokens=3),
        MESSAGE_STOP,
    )
    server.enqueue(Raw(200, body, {"content-type": "text/event-stream"}, chunks=[body]))
    response = await make().stream("x").collect()
    assert response.usage == Usage(  # input counts the cache reads and writes it holds
        input_tokens=30 + 20 + 3, output_tokens=7, cache_read_tokens=20, cache_write_tokens=3
    )


STOP_REASONS = [
    ("end_turn", FinishReason.STOP),
    ("max_tokens", FinishReason.LENGTH),
    ("tool_use", FinishReason.TOOL_CALLS),
    ("stop_sequence", FinishReason.STOP),
    ("refusal", FinishReason.REFUSAL),
    ("model_context_window_exceeded", FinishReason.LENGTH),
    ("pause_turn", "pause_turn"),
]


@pytest.mark.parametrize(("wire", "expected"), STOP_REASONS)
@pytest.mark.parametrize("mode", ["generate", "stream"])
async def test_every_stop_reason(
    server: FakeLLMServer,
    make: Callable[..., AnthropicProvider],
    mode: str,
    wire: str,
    expected: FinishReason | str,
) -> None:
    server.enqueue(Reply("text", finish_reason=wire))
    response = await call(make(), mode, "x", stop=["END"])
    assert response.finish_reason == expected
    assert type(response.finish_reason) is type(expected)
    assert server.last_request.json["stop_sequences"] == ["END"]


async def test_stream_closes_connection_when_consumer_stops_early(
    server: FakeLLMServer, make: Callable[..., AnthropicProvider]
) -> None:
    server.enqueue(Stall(reply=Reply("a b c d e f g h", chunk_size=2)))
    async with make().stream("x") as stream:
        async for event in stream:
            if isinstance(event, TextDelta):
                break
    assert await server.wait_idle(5.0)
    assert server.disconnects == 1


# -- what is sent ------------------------------------------------------------------------


async def test_message_conversion_on_the_wire(
    server: FakeLLMServer, make: Callable[..., AnthropicProvider]
) -> None:
    call_a = ToolCall("toolu_a", "get_weather", {"city": "Paris"})
    call_b = ToolCall("toolu_b", "get_weather", {"city": "Rome"})
    messages = [
        Message.system("Be brief."),
        Message.user("Weather in Paris and Rome?"),
        Message.assistant(
            "Checking.",
            tool_calls=[call_a, call_b],
            thinking=[Thinking("Two cities.", "sig-1"), Thinking("", "ZW5j", redacted=True)],
        ),
        Message.tool("toolu_a", "18C"),
        Message.tool("toolu_b", "21C"),
        Message.system("Answer in French."),
        Message.user("Thanks"),
    ]
    await make().generate(messages, tools=[WEATHER], tool_choice="auto", temperature=0.2)
    sent = server.last_request.json
    assert sent["system"] == "Be brief.\n\nAnswer in French."
    assert sent["temperature"] == 0.2
    assert sent["tool_choice"] == {"type": "auto"}
    assert sent["tools"] == [
        {
            "name": "get_weather",
            "description": "Weather for a city",
            "input_schema": WEATHER.parameters,
        }
    ]
    assert sent["messages"] == [
        {"role": "user", "content": "Weather in Paris and Rome?"},
        {
            "role": "assistant",
            "content": [
                {"type": "thinking", "thinking": "Two cities.", "signature": "sig-1"},
                {"type": "redacted_thinking", "data": "ZW5j"},
                {"type": "text", "text": "Checking."},
                {
                    "type": "tool_use",
                    "id": "toolu_a",
                    "name": "get_weather",
                    "input": {"city": "Paris"},
                },
                {
                    "type": "tool_use",
                    "id": "toolu_b",
                    "name": "get_weather",
                    "input": {"city": "Rome"},
                },
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "toolu_a", "content": "18C"},
                {"type": "tool_result", "tool_use_id": "toolu_b", "content": "21C"},
                {"type": "text", "text": "Thanks"},
            ],
        },
    ]


async def test_thinking_is_sent_back_with_signature_on_the_next_turn(
    server: FakeLLMServer, make: Callable[..., AnthropicProvider]
) -> None:
    server.enqueue(
        Reply(
            thinking="I should call the tool.",
            thinking_signature="EuYDsig",
            tool_calls=[ToolCall("toolu_9", "get_weather", {"city": "Oslo"})],
        ),
        Reply("It is cold."),
    )
    provider = make()
    first = await provider.stream(
        "Oslo?", tools=[WEATHER], model="claude-haiku-4-5", reasoning=True
    ).collect()
    history = [Message.user("Oslo?"), first.to_message(), Message.tool("toolu_9", "-5C")]
    second = await provider.generate(
        history, tools=[WEATHER], model="claude-haiku-4-5", reasoning=True
    )
    assert second.content == "It is cold."
    sent = server.last_request.json
    assert sent["messages"][1] == {
        "role": "assistant",
        "content": [
            {"type": "thinking", "thinking": "I should call the tool.", "signature": "EuYDsig"},
            {"type": "tool_use", "id": "toolu_9", "name": "get_weather", "input": {"city": "Oslo"}},
        ],
    }
    assert sent["messages"][2] == {
        "role": "user",
        "content": [{"type": "tool_result", "tool_use_id": "toolu_9", "content": "-5C"}],
    }
    assert sent["thinking"] == {"type": "enabled", "budget_tokens": 8192}
    assert "temperature" not in sent


async def test_adaptive_thinking_for_claude_4_6(
    server: FakeLLMServer, make: Callable[..., AnthropicProvider]
) -> None:
    await make().generate("x", tier="hosted_large", reasoning="high")
    sent = server.last_request.json
    assert sent["model"] == "claude-opus-4-6"
    assert sent["thinking"] == {"type": "adaptive"}
    assert sent["output_config"] == {"effort": "high"}
    assert sent["max_tokens"] == 16384
    assert "temperature" not in sent


async def test_json_mode_and_extra(
    server: FakeLLMServer, make: Callable[..., AnthropicProvider]
) -> None:
    await make(max_tokens=300).generate(
        [Message.system("You list fruit."), Message.user("three")],
        json_mode=True,
        top_k=5,
        metadata={"user_id": "u1"},
    )
    sent = server.last_request.json
    assert sent["system"] == "You list fruit.\n\n" + JSON_MODE_INSTRUCTION
    assert sent["max_tokens"] == 300
    assert sent["top_k"] == 5
    assert sent["metadata"] == {"user_id": "u1"}


async def test_headers(server: FakeLLMServer, make: Callable[..., AnthropicProvider]) -> None:
    await make(extra_headers={"anthropic-beta": "fancy-2025"}).generate("x")
    headers = server.last_request.headers
    assert headers["x-api-key"] == KEY
    assert "authorization" not in headers  # the key is not also sent as a bearer token
    assert headers["anthropic-version"] == API_VERSION
    assert headers["anthropic-beta"] == "fancy-2025"
    assert headers["content-type"] == "application/json"
    assert headers["x-stainless-retry-count"] == "0"  # the SDK's own retries are off


async def test_api_version_and_bearer_auth(
    server: FakeLLMServer, make: Callable[..., AnthropicProvider]
) -> None:
    await make(auth_method="bearer", api_version="2099-01-01").generate("x")
    headers = server.last_request.headers
    assert headers["authorization"] == f"Bearer {KEY}"
    assert "x-api-key" not in headers
    assert headers["anthropic-version"] == "2099-01-01"


async def test_server_requiring_the_key_accepts_it(make: Callable[..., AnthropicProvider]) -> None:
    async with FakeLLMServer(api_key=KEY) as strict:
        response = await make(base_url=strict.anthropic_base_url).generate("hello")
        assert response.content == "echo: hello"
        with pytest.raises(AuthenticationError) as info:
            await make(
                base_url=strict.anthropic_base_url, api_key="sk-ant-wrong-key-99999999"
            ).generate("hello")
        assert info.value.status_code == 401
        assert strict.request_count == 2


async def test_large_max_tokens_generate_streams_internally(
    server: FakeLLMServer, make: Callable[..., AnthropicProvider]
) -> None:
    server.enqueue(Reply("long answer", usage=Usage(3, 2)), Reply("short"))
    provider = make()
    response = await provider.generate("essay", max_tokens=64_000)
    assert response.content == "long answer"
    assert response.usage == Usage(3, 2)
    assert server.last_request.json["stream"] is True
    assert server.last_request.json["max_tokens"] == 64_000
    await provider.generate("essay", max_tokens=NONSTREAMING_MAX_TOKENS)
    assert "stream" not in server.last_request.json


# -- captured wire files -----------------------------------------------------------------

STREAM_FILES: dict[str, dict[str, Any]] = {
    "anthropic-stream-text-short.sse": {
        "content": "Hello",
        "model": "claude-haiku-4-5-20251001",
        "request_id": "msg_01T8kTq7cYyYJeQ5DxcVUc6D",
        "usage": Usage(10, 4),
        "finish": FinishReason.STOP,
        "thinking": (),
        "calls": (),
        "events": ["start", "text_start", "text_delta", "text_end", "end"],
    },
    "anthropic-stream-thinking.sse": {
        "content": "1. **Pouch** - references their iconic bill pouch\n"
        '2. **Pelé** - playful take on "pelican"',
        "model": "claude-haiku-4-5-20251001",
        "request_id": "msg_01Eg56TYRnKCEgWtZu2yjR1t",
        "usage": Usage(46, 133),
        "finish": FinishReason.STOP,
        "thinking": (
            (
                "The user wants two names for a pet pelican, and they want me to be brief. "
                "I'll suggest two names that would suit a pelican well.\n\nSome good options:"
                "\n- Pelé (play on pelican)\n- Pouch (referencing their bill pouch)\n"
                "- Captain Beak\n- Squirt\n- Scoop\n- Wing\n\nLet me give two brief, catchy "
                "names:",
                "EuYDCmMIDBgCKkC05Zda",
            ),
        ),
        "calls": (),
        "events": ["start", "thinking_start"]
        + ["thinking_delta"] * 5
        + ["thinking_end", "text_start", "text_delta", "text_delta", "text_end", "end"],
    },
    "anthropic-stream-thinking-then-tool-use.sse": {
        "content": "",
        "model": "claude-haiku-4-5-20251001",
        "request_id": "msg_01JdU4xqNHXL9QCFWkwCDKGr",
        "usage": Usage(598, 92, reasoning_tokens=53),
        "finish": FinishReason.TOOL_CALLS,
        "thinking": (
            (
                "The user wants me to:\n1. Use the fixed_version tool\n2. Tell them the "
                "version\n3. Make a short joke about it\n\nLet me first call the "
                "fixed_version tool to see what version it returns.",
                "EoQDCm0IDhgCKkCDzGs2",
            ),
        ),
        "calls": (ToolCall("toolu_01825dXWLSoJwCst1qTsiWdb", "fixed_version", {}),),
        "events": [
            "start",
            "thinking_start",
            "thinking_delta",
            "thinking_delta",
            "thinking_end",
            "tool_call_start",
            "tool_call_end",
            "end",
        ],
    },
    "anthropic-stream-two-tool-use-empty-input.sse": {
        "content": "",
        "model": "claude-haiku-4-5-20251001",
        "request_id": "msg_01V2noLbAb2NgKnjaNw6Cn3w",
        "usage": Usage(542, 62),
        "finish": FinishReason.TOOL_CALLS,
        "thinking": (),
        "calls": (
            ToolCall("toolu_01LtHJmixrs9NcWQkK8hu8hj", "pelican_name_generator", {}),
            ToolCall("toolu_01N8a4jWyf116qKTMqKKmjyt", "pelican_name_generator", {}),
        ),
        "events": [
            "start",
            "tool_call_start",
            "tool_call_end",
            "tool_call_start",
            "tool_call_end",
            "end",
        ],
    },
    "anthropic-stream-text-server-tool-and-tool-use-fragments.sse": {
        # The server_tool_use block (index 1) and its tool_search_tool_result (index 2)
        # ran at Anthropic: skipped, they are neither text nor a client tool call.
        "content": "Let me search for a tool that can provide current exchange rate "
        "information.I found the right tool! Let me fetch the current USD to EUR exchange "
        "rate for you.",
        "model": "claude-sonnet-4-6",
        "request_id": "msg_01E3Wn1NynZw9FALZ68znj9S",
        "usage": Usage(1591, 175),
        "finish": FinishReason.TOOL_CALLS,
        "thinking": (),
        "calls": (
            ToolCall(
                "toolu_01EFn5wTNBYA8Reni8rbmnHT",
                "get_exchange_rate",
                {"from_currency": "USD", "to_currency": "EUR"},
            ),
        ),
        "events": [
            "start",
            "text_start",
            "text_delta",
            "text_delta",
            "text_end",
            "text_start",
            "text_delta",
            "text_delta",
            "text_end",
            "tool_call_start",
        ]
        + ["tool_call_delta"] * 8
        + ["tool_call_end", "end"],
    },
}


def test_every_captured_anthropic_stream_has_expectations() -> None:
    if not WIRE.is_dir():
        pytest.skip(f"captured wire files not found at {WIRE}")
    assert {p.name for p in WIRE.glob("anthropic-*.sse")} == set(STREAM_FILES)


@needs_wire
@pytest.mark.parametrize("name", sorted(STREAM_FILES))
@pytest.mark.parametrize("split", [True, False], ids=["per-event", "one-chunk"])
async def test_replay_captured_stream(
    server: FakeLLMServer, make: Callable[..., AnthropicProvider], name: str, split: bool
) -> None:
    expected = STREAM_FILES[name]
    server.enqueue(Raw.from_file(WIRE / name, split_events=split))
    events = await collect(make().stream("x"))
    assert kinds(events) == expected["events"]
    response = final(events)
    assert response.content == expected["content"]
    assert response.model == expected["model"]
    assert response.usage == expected["usage"]
    assert response.finish_reason == expected["finish"]
    assert response.tool_calls == expected["calls"]
    assert len(response.thinking) == len(expected["thinking"])
    for got, (text, signature_start) in zip(response.thinking, expected["thinking"], strict=True):
        assert got.text == text
        assert got.signature is not None and got.signature.startswith(signature_start)
        assert len(got.signature) > 100
    # no request-id header in a replay: the message id stands in
    assert response.request_id == expected["request_id"]
    assert [
        e.index for e in events if isinstance(e, TextStart | ThinkingStart | ToolCallStart)
    ] == list(range(len([e for e in events if isinstance(e, TextEnd | ThinkingEnd | ToolCallEnd)])))


@needs_wire
async def test_replay_captured_message(
    server: FakeLLMServer, make: Callable[..., AnthropicProvider]
) -> None:
    assert [p.name for p in WIRE.glob("anthropic-message-*.json")] == [
        "anthropic-message-text-and-tool-use.json"
    ]
    server.enqueue(
        Raw.from_file(
            WIRE / "anthropic-message-text-and-tool-use.json", headers={"request-id": "req_011Cmsg"}
        )
    )
    response = await make().generate("refund order-123")
    assert response.content == (
        "I apologize, but I don't have access to a `search_tools` function. Let me try "
        "calling the lookup_refund_policy function directly based on the refunds capability "
        "that was loaded:"
    )
    assert response.tool_calls == (
        ToolCall(
            "toolu_018cqAFwLtULyoaiLSS2bgko", "lookup_refund_policy", {"order_id": "order-123"}
        ),
    )
    assert response.finish_reason is FinishReason.TOOL_CALLS
    assert response.usage == Usage(858, 103)
    assert response.model == "claude-haiku-4-5-20251001"
    assert response.request_id == "req_011Cmsg"
    assert response.thinking == ()


ERROR_FILES: dict[str, tuple[type[ProviderError], bool, int, str | None]] = {
    # name: (class, retryable, status, request id; None = the server's request-id header)
    "anthropic-error-400-credit-balance-too-low.json": (
        QuotaExceededError,
        False,
        400,
        "req_011CbrFTcXhtiMzr3s6EocF7",
    ),
    "anthropic-error-400-prompt-too-long.json": (
        ContextWindowExceededError,
        False,
        400,
        "req_011CWdepJvA2D819tdYYq4h7",
    ),
    "anthropic-error-401-invalid-x-api-key.json": (AuthenticationError, False, 401, None),
    "anthropic-error-404-not-found-model.json": (
        NotFoundError,
        False,
        404,
        "req_011CdufXo8Y2LVfY2veyuQWG",
    ),
    "anthropic-error-429-rate-limit.json": (RateLimitError, True, 429, None),
    "anthropic-error-529-overloaded-request-id-in-body.json": (
        OverloadedError,
        True,
        529,
        "req_011CZAau32QzxDkriovTaFCB",
    ),
    "anthropic-error-529-overloaded.json": (
        OverloadedError,
        True,
        529,
        "req_01RCc7MbLyQNtGKzBTv8VCep",
    ),
}


def test_every_captured_anthropic_error_has_expectations() -> None:
    if not WIRE.is_dir():
        pytest.skip(f"captured wire files not found at {WIRE}")
    assert {p.name for p in WIRE.glob("anthropic-error-*.json")} == set(ERROR_FILES)


@needs_wire
@pytest.mark.parametrize("name", sorted(ERROR_FILES))
@pytest.mark.parametrize("mode", ["generate", "stream"])
async def test_replay_captured_error(
    server: FakeLLMServer, make: Callable[..., AnthropicProvider], name: str, mode: str
) -> None:
    cls, retryable, status, request_id = ERROR_FILES[name]
    capture = json.loads((WIRE / name).read_text(encoding="utf-8"))
    assert int(name.split("-")[2]) == capture["status"] == status
    reply = ErrorReply.from_capture(capture)
    body_id = capture["body"].get("request_id")
    if body_id and "request-id" not in capture["headers"]:
        # the service sends its request id in the header too; the capture kept only the body
        reply = ErrorReply(reply.status, reply.body, (*reply.headers, ("request-id", body_id)))
    server.enqueue(reply)
    with pytest.raises(ProviderError) as info:
        await call(make(max_retries=0), mode, "x")
    err = info.value
    assert type(err) is cls
    assert err.retryable is retryable
    assert err.status_code == status
    assert err.retry_after is None  # none of the captures has a retry-after header
    assert err.provider == "anthropic"
    assert err.model == "claude-sonnet-4-6"
    assert err.attempts == 1
    if request_id is None:  # no id anywhere in the capture: the fake server's header
        assert err.request_id is not None and re.fullmatch(r"req_011C\w+", err.request_id)
    else:
        assert err.request_id == request_id
    assert isinstance(err.__cause__, Exception)
    assert server.request_count == 1


@needs_wire
@pytest.mark.parametrize(
    "name",
    [
        "anthropic-error-400-credit-balance-too-low.json",
        "anthropic-error-400-prompt-too-long.json",
        "anthropic-error-404-not-found-model.json",
        "anthropic-error-529-overloaded-request-id-in-body.json",
    ],
)
async def test_captured_error_request_id_from_body_when_no_header(name: str) -> None:
    """Without a request-id header, the body's ``request_id`` is the request id."""
    from jackfield.wire._errors import error_from_response

    capture = json.loads((WIRE / name).read_text(encoding="utf-8"))
    body = capture.get("body_raw") or capture["body"]
    headers = {k: v for k, v in capture["headers"].items() if k != "request-id"}
    err = error_from_response(capture["status"], headers, body, provider="anthropic")
    assert err.request_id == ERROR_FILES[name][3]


@needs_wire
@pytest.mark.parametrize("after", [1, 3, 4], ids=["start-only", "empty-block", "after-text"])
async def test_replay_captured_in_stream_error_event(
    server: FakeLLMServer, make: Callable[..., AnthropicProvider], after: int
) -> None:
    capture = json.loads(
        (WIRE / "anthropic-stream-error-event-overloaded-payload.json").read_text("utf-8")
    )
    head = (WIRE / "anthropic-stream-text-short.sse").read_bytes().split(b"\n\n")[:after]
    body = b"".join(h + b"\n\n" for h in head)
    body += b"event: error\ndata: " + capture["data_raw"].encode() + b"\n\n"
    server.enqueue(
        Raw(200, body, {"content-type": "text/event-stream"}, chunks=[body]), Reply("recovered")
    )
    provider = make()
    seen: list[StreamEvent] = []
    if after < 4:  # no text has been yielded yet (an empty block yields nothing): retried
        seen = await collect(provider.stream("x"))
        assert final(seen).content == "recovered"
        assert server.request_count == 2
        return
    with pytest.raises(OverloadedError) as info:
        await drain(provider.stream("x"), seen)
    assert info.value.retryable is True
    assert info.value.status_code is None
    assert kinds(seen) == ["start", "text_start", "text_delta"]
    assert server.request_count == 1


# -- the error matrix --------------------------------------------------------------------


def _anthropic_error(kind: str, message: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": kind, "message": message}}


MATRIX: list[tuple[str, ErrorReply, type[ProviderError], bool, int]] = [
    (
        "400-prompt-too-long",
        ErrorReply(
            400,
            _anthropic_error(
                "invalid_request_error", "prompt is too long: 210000 tokens > 200000 maximum"
            ),
        ),
        ContextWindowExceededError,
        False,
        1,
    ),
    (
        "401",
        ErrorReply(401, _anthropic_error("authentication_error", "invalid x-api-key")),
        AuthenticationError,
        False,
        1,
    ),
    (
        "403",
        ErrorReply(
            403,
            _anthropic_error(
                "permission_error", "Your API key does not have permission to use the model"
            ),
        ),
        PermissionDeniedError,
        False,
        1,
    ),
    (
        "404",
        ErrorReply(404, _anthropic_error("not_found_error", "model: claude-nope")),
        NotFoundError,
        False,
        1,
    ),
    (
        "408",
        ErrorReply(408, _anthropic_error("timeout_error", "Request timed out")),
        ProviderTimeoutError,
        True,
        3,
    ),
    ("409", ErrorReply(409, "conflict"), APIError, True, 3),
    (
        "413",
        ErrorReply(413, _anthropic_error("request_too_large", "Request exceeds 32 MB")),
        BadRequestError,
        False,
        1,
    ),
    (
        "422",
        ErrorReply(422, _anthropic_error("invalid_request_error", "bad field")),
        BadRequestError,
        False,
        1,
    ),
    (
        "429-retry-after",
        ErrorReply(429, _anthropic_error("rate_limit_error", "slow down"), {"retry-after": "7"}),
        RateLimitError,
        True,
        3,
    ),
    (
        "400-credit-balance",
        ErrorReply(
            400,
            _anthropic_error(
                "invalid_request_error",
                "Your credit balance is too low to access the Anthropic API.",
            ),
        ),
        QuotaExceededError,
        False,
        1,
    ),
    (
        "500",
        ErrorReply(500, _anthropic_error("api_error", "Internal server error")),
        ServerError,
        True,
        3,
    ),
    (
        "502-html",
        ErrorReply(502, "<html><head><title>502 Bad Gateway</title></head></html>"),
        ServerError,
        True,
        3,
    ),
    ("503", ErrorReply(503, "upstream connect error"), ServerError, True, 3),
    (
        "504",
        ErrorReply(504, _anthropic_error("timeout_error", "gateway timeout")),
        ServerError,
        True,
        3,
    ),
    (
        "529",
        ErrorReply(529, _anthropic_error("overloaded_error", "Overloaded")),
        OverloadedError,
        True,
        3,
    ),
]


@pytest.mark.parametrize(
    ("reply", "cls", "retryable", "requests"), [m[1:] for m in MATRIX], ids=[m[0] for m in MATRIX]
)
@pytest.mark.parametrize("mode", ["generate", "stream"])
async def test_error_matrix(
    server: FakeLLMServer,
    make: Callable[..., AnthropicProvider],
    sleep: FakeSleep,
    mode: str,
    reply: ErrorReply,
    cls: type[ProviderError],
    retryable: bool,
    requests: int,
) -> None:
    server.enqueue(reply, reply, reply, Reply("never reached"))
    with pytest.raises(ProviderError) as info:
        await call(make(max_retries=2), mode, "x")
    err = info.value
    assert type(err) is cls
    assert err.retryable is retryable
    assert err.status_code == reply.status
    assert err.attempts == requests
    assert err.request_id is not None and err.request_id.startswith("req_011C")
    assert server.request_count == requests
    assert len(sleep.waits) == requests - 1
    if reply.status == 429:
        assert err.retry_after == 7.0
        assert sleep.waits == [7.0, 7.0]
    else:
        assert err.retry_after is None


@pytest.mark.parametrize("mode", ["generate", "stream"])
async def test_retry_then_success(
    server: FakeLLMServer, make: Callable[..., AnthropicProvider], mode: str
) -> None:
    overloaded = ErrorReply(529, _anthropic_error("overloaded_error", "Overloaded"))
    server.enqueue(overloaded, Reset(), Reply("finally"))
    response = await call(make(), mode, "x")
    assert response.content == "finally"
    assert server.request_count == 3


@pytest.mark.parametrize("mode", ["generate", "stream"])
async def test_connection_reset(
    server: FakeLLMServer, make: Callable[..., AnthropicProvider], mode: str
) -> None:
    server.enqueue(Reset(), Reset(), Reset())
    with pytest.raises(NetworkError) as info:
        await call(make(), mode, "x")
    assert info.value.retryable is True
    assert info.value.attempts == 3
    assert server.request_count == 3


async def test_read_timeout_generate(
    server: FakeLLMServer, make: Callable[..., AnthropicProvider]
) -> None:
    server.enqueue(Stall(), Stall(), Reply("late but fine"))
    provider = make(timeout=0.3)
    response = await provider.generate("x")
    assert response.content == "late but fine"
    assert server.request_count == 3
    server.enqueue(Stall())
    with pytest.raises(ProviderTimeoutError) as info:
        await make(max_retries=0, timeout=0.3).generate("x")
    assert info.value.retryable is True


async def test_read_timeout_mid_stream_is_not_retried(
    server: FakeLLMServer, make: Callable[..., AnthropicProvider]
) -> None:
    server.enqueue(Stall(reply=Reply("partial answer", chunk_size=4)))
    seen: list[StreamEvent] = []
    with pytest.raises(ProviderTimeoutError):
        await drain(make(timeout=0.3).stream("x"), seen)
    assert texts(seen) == "partial answer"
    assert server.request_count == 1


async def test_read_timeout_before_content_is_retried(
    server: FakeLLMServer, make: Callable[..., AnthropicProvider]
) -> None:
    server.enqueue(Stall(after_events=1), Reply("second try"))
    response = await make(timeout=0.3).stream("x").collect()
    assert response.content == "second try"
    assert server.request_count == 2


@pytest.mark.parametrize("abort", [False, True], ids=["clean-eof", "cut-connection"])
async def test_truncated_stream(
    server: FakeLLMServer, make: Callable[..., AnthropicProvider], abort: bool
) -> None:
    server.enqueue(Truncate(reply=Reply("half of it", chunk_size=5), abort=abort))
    seen: list[StreamEvent] = []
    with pytest.raises(ProviderError) as info:
        await drain(make().stream("x"), seen)
    # a clean EOF without message_stop is ours to notice; a cut connection, the
    # transport's (as for openai: the shared transport table, retryable before output)
    assert type(info.value) is StreamError
    assert info.value.retryable is abort
    assert texts(seen) == "half of it"
    assert server.request_count == 1


async def test_truncated_stream_error_message(
    server: FakeLLMServer, make: Callable[..., AnthropicProvider]
) -> None:
    server.enqueue(Truncate())
    with pytest.raises(StreamError, match="message_stop"):
        await make().stream("x").collect()


async def test_truncated_body_generate(
    server: FakeLLMServer, make: Callable[..., AnthropicProvider]
) -> None:
    server.enqueue(Truncate())
    with pytest.raises(APIError, match="not valid JSON"):
        await make(max_retries=0).generate("x")


@pytest.mark.parametrize("after", [1, 4])
async def test_malformed_chunk(
    server: FakeLLMServer, make: Callable[..., AnthropicProvider], after: int
) -> None:
    server.enqueue(Malformed(after_events=after, data="{not json"))
    with pytest.raises(StreamError, match="malformed") as info:
        await make().stream("x").collect()
    assert info.value.retryable is False
    assert server.request_count == 1


async def test_in_stream_overloaded_before_content_is_retried(
    server: FakeLLMServer, make: Callable[..., AnthropicProvider]
) -> None:
    server.enqueue(InStreamError(OVERLOADED, after_events=1), Reply("Hello world"))
    events = await collect(make().stream("x"))
    assert texts(events) == "Hello world"
    assert kinds(events).count("start") == 1
    assert server.request_count == 2


async def test_in_stream_overloaded_after_text_is_not_retried(
    server: FakeLLMServer, make: Callable[..., AnthropicProvider]
) -> None:
    # message_start, content_block_start, ping, two text deltas: then the error
    server.enqueue(
        InStreamError(OVERLOADED, after_events=5, reply=Reply("Hello world", chunk_size=6)),
        Reply("Hello world"),
    )
    seen: list[StreamEvent] = []
    with pytest.raises(OverloadedError) as info:
        await drain(make().stream("x"), seen)
    assert info.value.retryable is True
    assert info.value.attempts == 1
    assert texts(seen) == "Hello world"
    assert server.request_count == 1


async def test_in_stream_error_body_on_generate(
    server: FakeLLMServer, make: Callable[..., AnthropicProvider]
) -> None:
    # a 200 whose body is an error envelope: mapped from the payload, retried
    server.enqueue(InStreamError(OVERLOADED), Reply("ok"))
    response = await make().generate("x")
    assert response.content == "ok"
    assert server.request_count == 2


# -- exception mapping -------------------------------------------------------------------


def _sdk_exception(cls: type[BaseException]) -> BaseException:
    import anthropic
    import httpx2

    request = httpx2.Request("POST", "http://127.0.0.1:9/v1/messages")
    if issubclass(cls, anthropic.APIStatusError):
        status = getattr(cls, "status_code", None)
        status = status if isinstance(status, int) else 500
        body = _anthropic_error("api_error", "boom")
        response = httpx2.Response(
            status, request=request, json=body, headers={"request-id": "req_011Cenum"}
        )
        return cls("boom", response=response, body=body)
    if issubclass(cls, anthropic.APIResponseValidationError):
        return cls(httpx2.Response(200, request=request), None)
    if issubclass(cls, anthropic.APIConnectionError):
        return cls(request=request)
    if issubclass(cls, anthropic.APIError):
        return cls("boom", request, body=None)
    return cls("boom")


def _sdk_exception_classes() -> list[type[BaseException]]:
    import anthropic

    classes = {
        obj
        for name in dir(anthropic)
        if not name.startswith("_")
        for obj in [getattr(anthropic, name)]
        if inspect.isclass(obj) and issubclass(obj, BaseException)
    }
    return sorted(classes, key=lambda c: c.__name__)


def test_every_sdk_exception_is_mapped() -> None:
    import anthropic

    provider = AnthropicProvider(api_key=KEY)
    classes = _sdk_exception_classes()
    assert len(classes) > 30
    assert anthropic.OverloadedError in classes
    unmapped = []
    for cls in classes:
        exc = _sdk_exception(cls)
        err = provider.map_exception(exc)
        if err is None or isinstance(err, UnknownError):
            unmapped.append(cls.__name__)
            continue
        status = getattr(exc, "status_code", None)
        if isinstance(exc, anthropic.APIStatusError):
            assert err.status_code == status, cls
            assert err.request_id == "req_011Cenum", cls
    assert unmapped == []


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("BadRequestError", BadRequestError),
        ("AuthenticationError", AuthenticationError),
        ("PaymentRequiredError", QuotaExceededError),
        ("PermissionDeniedError", PermissionDeniedError),
        ("NotFoundError", NotFoundError),
        ("RequestTimeoutError", ProviderTimeoutError),
        ("ConflictError", APIError),
        ("RateLimitError", RateLimitError),
        ("InternalServerError", ServerError),
        ("ServiceUnavailableError", ServerError),
        ("OverloadedError", OverloadedError),
        ("APITimeoutError", ProviderTimeoutError),
        ("APIConnectionError", NetworkError),
        ("APIResponseValidationError", APIError),
        ("CredentialsError", AuthenticationError),
    ],
)
def test_sdk_exception_classes(name: str, expected: type[ProviderError]) -> None:
    import anthropic

    cls = getattr(anthropic, name)
    err = AnthropicProvider(api_key=KEY).map_exception(_sdk_exception(cls))
    assert type(err) is expected


def test_status_200_api_status_error_is_an_in_stream_error() -> None:
    import anthropic
    import httpx2

    request = httpx2.Request("POST", "http://127.0.0.1:9/v1/messages")
    response = httpx2.Response(200, request=request, headers={"request-id": "req_011Cin"})
    body = {"type": "error", "error": OVERLOADED}
    exc = anthropic.APIStatusError("Overloaded", response=response, body=body)
    err = AnthropicProvider(api_key=KEY).map_exception(exc)
    assert type(err) is OverloadedError
    assert err.retryable is True
    assert err.request_id == "req_011Cin"


def test_every_httpx_exception_is_mapped() -> None:
    import httpx2

    provider = AnthropicProvider(api_key=KEY)
    request = httpx2.Request("POST", "http://127.0.0.1:9/v1/messages")
    unmapped = []
    for name in httpx2.__all__:
        cls = getattr(httpx2, name)
        if not (inspect.isclass(cls) and issubclass(cls, BaseException)):
            continue
        params = inspect.signature(cls.__init__).parameters
        if "response" in params:
            exc = cls("boom", request=request, response=httpx2.Response(503, request=request))
        elif "message" in params:
            exc = cls("boom")
        else:
            exc = cls()
        err = provider.map_exception(exc)
        if err is None or isinstance(err, UnknownError):
            unmapped.append(name)
    assert unmapped == []
    assert type(provider.map_exception(httpx2.ReadTimeout("t"))) is ProviderTimeoutError
    cut = provider.map_exception(httpx2.RemoteProtocolError("cut"))
    assert type(cut) is StreamError and cut.retryable is True
    assert cut.message == "the response was cut off or garbled (RemoteProtocolError: cut)"
    assert type(provider.map_exception(httpx2.ReadError("reset"))) is NetworkError
    assert type(provider.map_exception(httpx2.DecodingError("gz"))) is StreamError


def test_unrelated_exception_is_left_to_the_generic_mapper() -> None:
    assert AnthropicProvider(api_key=KEY).map_exception(KeyError("x")) is None


# -- secrets, loops, imports -------------------------------------------------------------


async def test_key_never_in_repr_or_errors(
    server: FakeLLMServer, make: Callable[..., AnthropicProvider]
) -> None:
    provider = make(max_retries=0)
    assert KEY not in repr(provider)
    assert KEY not in repr(provider.config)
    server.enqueue(
        ErrorReply(401, _anthropic_error("authentication_error", f"invalid x-api-key: {KEY}"))
    )
    with pytest.raises(AuthenticationError) as info:
        await provider.generate("x")
    err = info.value
    for text in (str(err), repr(err), err.message, err.body or "", json.dumps(err.to_dict())):
        assert KEY not in text
    server.enqueue(InStreamError({"type": "api_error", "message": f"leaked {KEY}"}))
    with pytest.raises(ProviderError) as info2:
        await provider.stream("x").collect()
    assert KEY not in str(info2.value) and KEY not in (info2.value.body or "")


def _run_server_in_thread() -> tuple[FakeLLMServer, Callable[[], None]]:
    loop = asyncio.new_event_loop()
    srv = FakeLLMServer()
    ready = threading.Event()

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(srv.start())
        ready.set()
        loop.run_forever()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert ready.wait(10)

    def stop() -> None:
        asyncio.run_coroutine_threadsafe(srv.stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()

    return srv, stop


def test_one_provider_across_two_asyncio_runs() -> None:
    srv, stop = _run_server_in_thread()
    try:
        provider = AnthropicProvider(api_key=KEY, base_url=srv.anthropic_base_url)

        clients: list[Any] = []

        async def once(text: str) -> tuple[str, str]:
            response = await provider.generate(text)
            streamed = await provider.stream(text).collect()
            clients.append(provider.client)
            return response.content, streamed.content

        assert asyncio.run(once("one")) == ("echo: one", "echo: one")
        assert asyncio.run(once("two")) == ("echo: two", "echo: two")
        assert srv.request_count == 4
        # one SDK client per loop, closed when its asyncio.run ended
        assert clients[0] is not clients[1]
        assert all(client.is_closed() for client in clients)
    finally:
        stop()


def test_close_nowait_without_a_loop() -> None:
    provider = AnthropicProvider(api_key=KEY)
    provider.close_nowait()  # nothing built yet: nothing to do
    assert len(provider._clients) == 0


def test_import_does_not_import_the_sdk() -> None:
    code = (
        "import sys, jackfield.plugins.anthropic as m, jackfield.wire._anthropic;"
        "assert m.AnthropicProvider.name == 'anthropic';"
        "bad = [n for n in ('anthropic', 'httpx', 'httpx2') if n in sys.modules];"
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_class_attributes() -> None:
    from jackfield.types import ModelTier

    assert AnthropicProvider.name == "anthropic"
    assert AnthropicProvider.api_key_env == "ANTHROPIC_API_KEY"
    assert AnthropicProvider.default_auth_method == "x-api-key"
    assert AnthropicProvider.requires == ("anthropic",)
    assert AnthropicProvider.extra == "anthropic"
    assert AnthropicProvider.tokenizer == "heuristic"
    assert dict(AnthropicProvider.tier_models) == {
        ModelTier.LOCAL_SMALL: "claude-haiku-4-5",
        ModelTier.HOSTED_SMALL: "claude-sonnet-4-6",
        ModelTier.HOSTED_LARGE: "claude-opus-4-6",
    }


def test_key_from_environment_and_missing_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    assert AnthropicProvider().api_key is not None
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    with pytest.raises(ConfigurationError, match="ANTHROPIC_API_KEY"):
        AnthropicProvider()


def test_hook_registers_the_provider() -> None:
    from jackfield.plugins import anthropic as module

    registered: list[Any] = []
    module.jackfield_register_providers(register=registered.append)
    assert registered == [AnthropicProvider]


# -- anthropic_wire: pure unit tests -----------------------------------------------------


def _request(messages: Any = "hi", **fields: Any) -> Request:
    fields.setdefault("model", "claude-haiku-4-5")
    if isinstance(messages, str):
        messages = [Message.user(messages)]
    return Request(messages=messages, **fields)


def test_payload_defaults() -> None:
    assert build_payload(_request(), stream=False) == {
        "model": "claude-haiku-4-5",
        "max_tokens": 4096,
        "messages": [{"role": "user", "content": "hi"}],
    }
    streamed = build_payload(_request(max_tokens=10, temperature=0.0), stream=True)
    assert streamed["stream"] is True
    assert streamed["max_tokens"] == 10
    assert streamed["temperature"] == 0.0


@pytest.mark.parametrize(
    ("choice", "wire"),
    [
        ("auto", {"type": "auto"}),
        ("required", {"type": "any"}),
        ("none", {"type": "none"}),
        ("get_weather", {"type": "tool", "name": "get_weather"}),
    ],
)
def test_payload_tool_choice(choice: str, wire: dict[str, Any]) -> None:
    body = build_payload(_request(tools=[WEATHER], tool_choice=choice), stream=False)
    assert body["tool_choice"] == wire
    assert body["tools"][0]["input_schema"] == WEATHER.parameters


def test_payload_tool_without_description_and_no_tools_no_choice() -> None:
    body = build_payload(_request(tools=[ToolSpec("ping")]), stream=False)
    assert body["tools"] == [{"name": "ping", "input_schema": {"type": "object", "properties": {}}}]
    assert "tool_choice" not in build_payload(_request(tool_choice="none"), stream=False)


def test_payload_extra_is_merged_last() -> None:
    body = build_payload(
        _request(reasoning="low", extra={"thinking": {"type": "disabled"}, "max_tokens": 7}),
        stream=False,
    )
    assert body["thinking"] == {"type": "disabled"}
    assert body["max_tokens"] == 7


def test_payload_images() -> None:
    message = Message.user(
        [
            TextPart("What is this?"),
            ImagePart(data="iVBORw0", media_type="image/jpeg"),
            ImagePart(url="https://example.com/cat.png"),
            ImagePart(url="data:image/webp;base64,UklGRg=="),
            ImagePart(data="R0lGOD"),
        ]
    )
    content = build_payload(_request([message]), stream=False)["messages"][0]["content"]
    assert content == [
        {"type": "text", "text": "What is this?"},
        {
            "type": "image",
            "source": {"type": "base64", "media_type": "image/jpeg", "data": "iVBORw0"},
        },
        {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.png"}},
        {
            "type": "image",
            "source": {"type": "base64", "media_type": "image/webp", "data": "UklGRg=="},
        },
        {
            "type": "image",
            "source": {"type": "base64", "media_type": "image/png", "data": "R0lGOD"},
        },
    ]


def test_payload_merges_same_role_and_drops_unsigned_thinking() -> None:
    messages = [
        Message.user("a"),
        Message.user("b"),
        Message.assistant("", thinking=[Thinking("from another provider")]),
        Message.assistant("c", thinking=[Thinking("no signature")]),
        Message.user("d"),
    ]
    body = build_payload(_request(messages), stream=False)
    assert body["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]},
        {"role": "assistant", "content": "c"},
        {"role": "user", "content": "d"},
    ]
    assert "system" not in body


def test_payload_empty_tool_result_has_no_content() -> None:
    call = ToolCall("toolu_1", "ping", {})
    messages = [
        Message.user("go"),
        Message.assistant(tool_calls=[call]),
        Message.tool("toolu_1", ""),
    ]
    body = build_payload(_request(messages), stream=False)
    assert body["messages"][2] == {
        "role": "user",
        "content": [{"type": "tool_result", "tool_use_id": "toolu_1"}],
    }


def test_payload_tool_result_with_image_and_order() -> None:
    call = ToolCall("toolu_1", "shot", {})
    messages = [
        Message.user("go"),
        Message.assistant(tool_calls=[call]),
        Message("tool", (TextPart("see"), ImagePart(data="AAA")), tool_call_id="toolu_1"),
    ]
    body = build_payload(_request(messages), stream=False)
    assert body["messages"][1] == {
        "role": "assistant",
        "content": [{"type": "tool_use", "id": "toolu_1", "name": "shot", "input": {}}],
    }
    assert body["messages"][2]["content"] == [
        {
            "type": "tool_result",
            "tool_use_id": "toolu_1",
            "content": [
                {"type": "text", "text": "see"},
                {
                    "type": "image",
                    "source": {"type": "base64", "media_type": "image/png", "data": "AAA"},
                },
            ],
        }
    ]


@pytest.mark.parametrize(
    ("reasoning", "max_tokens", "thinking", "sent_max"),
    [
        (None, None, None, 4096),
        (False, None, None, 4096),
        (True, None, {"type": "enabled", "budget_tokens": 8192}, 8192 + 4096),
        ("minimal", None, {"type": "enabled", "budget_tokens": 1024}, 1024 + 4096),
        ("low", None, {"type": "enabled", "budget_tokens": 2048}, 2048 + 4096),
        ("medium", None, {"type": "enabled", "budget_tokens": 8192}, 8192 + 4096),
        ("high", None, {"type": "enabled", "budget_tokens": 16384}, 16384 + 4096),
        ("max", None, {"type": "enabled", "budget_tokens": 32000}, 32000 + 4096),
        ("HIGH", 40000, {"type": "enabled", "budget_tokens": 16384}, 40000),
        ("high", 10000, {"type": "enabled", "budget_tokens": 5000}, 10000),
        ("high", 1500, {"type": "enabled", "budget_tokens": 1024}, 1500),
        ("12000", None, {"type": "enabled", "budget_tokens": 12000}, 12000 + 4096),
    ],
)
def test_budget_thinking(
    reasoning: Any, max_tokens: int | None, thinking: dict[str, Any] | None, sent_max: int
) -> None:
    body = build_payload(_request(reasoning=reasoning, max_tokens=max_tokens), stream=False)
    assert body.get("thinking") == thinking
    assert body["max_tokens"] == sent_max
    if thinking:
        assert body["max_tokens"] > thinking["budget_tokens"]
    warm = _request(reasoning=reasoning, max_tokens=max_tokens, temperature=0.7)
    if thinking is None:
        assert build_payload(warm, stream=False)["temperature"] == 0.7
    else:  # the API takes no temperature with thinking: refused, never dropped
        with pytest.raises(UnsupportedFeatureError, match="temperature"):
            build_payload(warm, stream=False)


async def test_a_temperature_with_thinking_is_refused_before_any_request(
    server: FakeLLMServer, make: Callable[..., AnthropicProvider]
) -> None:
    with pytest.raises(UnsupportedFeatureError, match="temperature") as info:
        await make(temperature=0.5).generate("x", tier="hosted_large", reasoning="high")
    assert info.value.feature == "temperature"
    assert server.request_count == 0


def test_budget_thinking_needs_room() -> None:
    with pytest.raises(ConfigurationError, match="max_tokens"):
        build_payload(_request(reasoning=True, max_tokens=1024), stream=False)
    with pytest.raises(ConfigurationError, match="reasoning effort"):
        build_payload(_request(reasoning="ultra"), stream=False)


@pytest.mark.parametrize(
    ("reasoning", "fields"),
    [
        (True, {"thinking": {"type": "adaptive"}}),
        ("minimal", {"thinking": {"type": "adaptive"}, "output_config": {"effort": "low"}}),
        ("medium", {"thinking": {"type": "adaptive"}, "output_config": {"effort": "medium"}}),
        ("max", {"thinking": {"type": "adaptive"}, "output_config": {"effort": "max"}}),
        ("9000", {"thinking": {"type": "enabled", "budget_tokens": 9000}}),
    ],
)
def test_adaptive_thinking(reasoning: Any, fields: dict[str, Any]) -> None:
    got, _ = thinking_params(reasoning, "claude-sonnet-4-6", None)
    assert got == fields


@pytest.mark.parametrize(
    ("model", "adaptive"),
    [
        ("claude-opus-4-6", True),
        ("claude-sonnet-4-6", True),
        ("claude-opus-4-7", True),
        ("claude-sonnet-5", True),
        ("claude-mythos-preview", True),
        ("anthropic.claude-opus-4-6-v1", True),
        ("claude-haiku-4-5", False),
        ("claude-haiku-4-5-20251001", False),
        ("claude-sonnet-4-20250514", False),
        ("claude-3-7-sonnet-20250219", False),
        ("claude-3-5-haiku-latest", False),
        ("my-proxy-model", False),
        ("glm-4.6", False),
    ],
)
def test_uses_adaptive_thinking(model: str, adaptive: bool) -> None:
    assert uses_adaptive_thinking(model) is adaptive


def test_needs_streaming() -> None:
    assert needs_streaming({"max_tokens": NONSTREAMING_MAX_TOKENS + 1})
    assert not needs_streaming({"max_tokens": NONSTREAMING_MAX_TOKENS})
    assert not needs_streaming({})


def test_parse_response_blocks() -> None:
    data = {
        "id": "msg_1",
        "model": "claude-x",
        "content": [
            {"type": "thinking", "thinking": "hmm", "signature": "s1"},
            {"type": "redacted_thinking", "data": "ENCRYPTED"},
            {"type": "text", "text": "Searching."},
            {
                "type": "server_tool_use",
                "id": "srvtoolu_1",
                "name": "web_search",
                "input": {"query": "x"},
            },
            {"type": "web_search_tool_result", "tool_use_id": "srvtoolu_1", "content": []},
            {"type": "text", "text": " Found it."},
            {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {"a": 1}},
        ],
        "stop_reason": "pause_turn",
        "usage": {
            "input_tokens": 5,
            "output_tokens": 6,
            "cache_read_input_tokens": 7,
            "cache_creation_input_tokens": 8,
            "output_tokens_details": {"thinking_tokens": 3},
        },
    }
    response = parse_response(data, provider="anthropic", model="asked")
    assert response.content == "Searching. Found it."
    assert response.thinking == (Thinking("hmm", "s1"), Thinking("", "ENCRYPTED", redacted=True))
    assert response.tool_calls == (ToolCall("toolu_1", "f", {"a": 1}),)
    assert response.finish_reason == "pause_turn"
    assert response.usage == Usage(5 + 7 + 8, 6, 7, 8, 3)  # input includes its cached parts
    assert response.model == "claude-x"
    assert response.request_id == "msg_1"
    assert parse_response(data, provider="a", model="m", request_id="req_1").request_id == "req_1"


def test_parse_response_errors() -> None:
    with pytest.raises(OverloadedError):
        parse_response({"type": "error", "error": OVERLOADED}, provider="a", model="m")
    with pytest.raises(APIError, match="not a Messages body"):
        parse_response({"choices": []}, provider="a", model="m")
    empty = parse_response({"content": []}, provider="a", model="m")
    assert (empty.content, empty.finish_reason, empty.model) == ("", FinishReason.STOP, "m")


def parse_events(body: bytes) -> list[StreamEvent]:
    parser = EventParser(StreamAssembler("anthropic", "asked"))
    decoder = SSEDecoder()
    out: list[StreamEvent] = []
    for event in decoder.feed(body):
        out += parser.feed(event.event, event.data)
    return out + parser.close()


def test_event_parser_redacted_thinking_and_start_input() -> None:
    events = parse_events(
        sse(
            message_start(),
            block_start(0, type="redacted_thinking", data="OPAQUE"),
            block_stop(0),
            block_start(1, type="tool_use", id="toolu_x", name="f", input={"k": "v"}),
            block_stop(1),
            block_start(2, type="text", text="pre"),
            block_delta(2, type="text_delta", text="fix"),
            block_delta(2, type="citations_delta", citation={}),
            block_stop(2),
            ("future_event", {"type": "future_event"}),
            message_delta("refusal", output_tokens=9),
            MESSAGE_STOP,
        )
    )
    response = final(events)
    assert response.thinking == (Thinking("", "OPAQUE", redacted=True),)
    assert response.tool_calls == (ToolCall("toolu_x", "f", {"k": "v"}),)
    assert response.content == "prefix"
    assert response.finish_reason is FinishReason.REFUSAL
    assert response.usage == Usage(1, 9)
    assert response.model == "claude-m"


def test_event_parser_server_tool_blocks_are_skipped() -> None:
    events = parse_events(
        sse(
            message_start(),
            block_start(0, type="server_tool_use", id="srv", name="web_search", input={}),
            block_delta(0, type="input_json_delta", partial_json='{"q": 1}'),
            block_stop(0),
            block_start(1, type="web_search_tool_result", tool_use_id="srv", content=[]),
            block_stop(1),
            block_start(2, type="text", text=""),
            block_delta(2, type="text_delta", text="done"),
            block_stop(2),
            message_delta("end_turn", output_tokens=2),
            MESSAGE_STOP,
        )
    )
    assert kinds(events) == ["start", "text_start", "text_delta", "text_end", "end"]
    assert events[1] == TextStart(0)
    assert final(events).tool_calls == ()


def test_event_parser_failures() -> None:
    with pytest.raises(StreamError, match="message_stop"):
        parse_events(sse(message_start()))
    with pytest.raises(StreamError, match="malformed"):
        parse_events(b"event: content_block_delta\ndata: {oops\n\n")
    with pytest.raises(StreamError, match="malformed"):
        parse_events(b"event: message_start\ndata: [1, 2]\n\n")
    with pytest.raises(StreamError, match="unknown block index"):
        parse_events(sse(message_start(), block_delta(3, type="text_delta", text="x")))
    with pytest.raises(StreamError, match="content_block_start"):
        parse_events(sse(message_start(), ("content_block_start", {"type": "content_block_start"})))
    with pytest.raises(OverloadedError) as info:
        parse_events(sse(message_start(), ("error", {"type": "error", "error": OVERLOADED})))
    assert info.value.retryable is True
    slow = {"type": "rate_limit_error", "message": "slow"}
    with pytest.raises(RateLimitError):
        parse_events(sse(("error", {"type": "error", "error": slow})))


def test_event_parser_ping_and_start_without_message_start() -> None:
    events = parse_events(
        sse(
            ("ping", {"type": "ping"}),
            block_start(0, type="thinking", thinking="", signature=""),
            block_delta(0, type="signature_delta", signature="only"),
            block_stop(0),
            MESSAGE_STOP,
        )
    )
    assert kinds(events) == ["start", "thinking_start", "thinking_end", "end"]
    response = final(events)
    assert response.thinking == (Thinking("", "only"),)
    assert response.model == "asked"
    assert response.finish_reason is FinishReason.STOP


@needs_wire
@pytest.mark.parametrize("name", sorted(STREAM_FILES))
def test_event_parser_on_captured_streams_byte_by_byte(name: str) -> None:
    """The SSE decoder and the parser give the same result however the bytes are cut."""
    data = (WIRE / name).read_bytes()
    whole = parse_events(data)
    parser = EventParser(StreamAssembler("anthropic", "asked"))
    decoder = SSEDecoder()
    pieces: list[StreamEvent] = []
    for i in range(len(data)):
        for event in decoder.feed(data[i : i + 1]):
            pieces += parser.feed(event.event, event.data)
    pieces += parser.close()
    assert pieces == whole
    assert final(whole).content == STREAM_FILES[name]["content"]
