"""The ``openai`` provider: the real openai SDK against the loopback FakeLLMServer.

Hermetic: every request goes to 127.0.0.1. Retries use a fake sleep, so no test waits.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from recorded import WIRE

from jackfield.errors import (
    APIError,
    AuthenticationError,
    BadRequestError,
    ContentFilterError,
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
    ToolCallDelta,
    ToolCallEnd,
    ToolCallStart,
)
from jackfield.plugins.openai import OpenAIProvider
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
from jackfield.types import FinishReason, ModelTier, ToolCall, ToolSpec, Usage
from jackfield.wire._openai_chat import build_payload

KEY = "sk-canary-0123456789abcdefXYZ"
needs_wire = pytest.mark.skipif(
    not WIRE.is_dir(), reason=f"recorded wire captures not found at {WIRE}"
)
WEATHER = ToolSpec(
    "get_weather",
    "Weather for a city",
    {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)


class FakeSleep:
    """The retry policy's sleep: records the waits, never waits."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("OPENAI_API_KEY", "OPENAI_ORG_ID", "OPENAI_PROJECT_ID", "OPENAI_BASE_URL"):
        monkeypatch.delenv(var, raising=False)


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
) -> AsyncIterator[Callable[..., OpenAIProvider]]:
    """``make(**config)``: a provider on the fake server, max_retries=2, closed afterwards.

    On Chat Completions (``api="chat"``), the wire this module tests: by default the
    reasoning models take the Responses API (tests/test_responses_provider.py)."""
    made: list[OpenAIProvider] = []

    def factory(*, max_retries: int = 2, **config: Any) -> OpenAIProvider:
        config.setdefault("extra", {"api": "chat"})
        config.setdefault("api_key", KEY)
        config.setdefault("base_url", server.openai_base_url)
        provider = OpenAIProvider(
            retry_policy=RetryPolicy(max_retries=max_retries, sleep=sleep), **config
        )
        made.append(provider)
        return provider

    yield factory
    for provider in made:
        await provider.aclose()


async def collect(provider: OpenAIProvider, *args: Any, **kwargs: Any) -> list[StreamEvent]:
    events: list[StreamEvent] = []
    async with provider.stream(*args, **kwargs) as stream:
        async for event in stream:
            events.append(event)
    return events


async def collect_until_error(
    provider: OpenAIProvider, *args: Any, **kwargs: Any
) -> tuple[list[StreamEvent], ProviderError]:
    events: list[StreamEvent] = []

    async def drain() -> None:
        async with provider.stream(*args, **kwargs) as stream:
            async for event in stream:
                events.append(event)

    with pytest.raises(ProviderError) as info:
        await drain()
    return events, info.value


def text_of(events: list[StreamEvent]) -> str:
    return "".join(e.text for e in events if isinstance(e, TextDelta))


def sse(*chunks: dict[str, Any] | str) -> Raw:
    """A hand-written SSE stream, one event per write."""
    parts = [f"data: {c if isinstance(c, str) else json.dumps(c)}\n\n".encode() for c in chunks]
    return Raw(200, b"".join(parts), {"content-type": "text/event-stream"}, parts)


def chunk(delta: dict[str, Any] | None = None, finish: str | None = None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-x",
        "object": "chat.completion.chunk",
        "model": "gpt-4o",
        "choices": [{"index": 0, "delta": delta or {}, "finish_reason": finish}],
    }


# -- the class -------------------------------------------------------------------------


def test_class_attributes() -> None:
    assert OpenAIProvider.name == "openai"
    assert OpenAIProvider.api_key_env == "OPENAI_API_KEY"
    assert OpenAIProvider.requires == ("openai",)
    assert OpenAIProvider.extra == "openai"
    assert OpenAIProvider.tokenizer == "tiktoken"
    assert OpenAIProvider.description
    assert dict(OpenAIProvider.tier_models) == {
        ModelTier.LOCAL_SMALL: "gpt-5.4-nano",
        ModelTier.HOSTED_SMALL: "gpt-5.4-mini",
        ModelTier.HOSTED_LARGE: "gpt-5.5",
    }


def test_key_from_environment_and_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    provider = OpenAIProvider()
    assert provider.api_key is not None and provider.api_key.get_secret_value() == KEY
    assert KEY not in repr(provider) and KEY not in str(provider)
    assert provider.base_url == "https://api.openai.com/v1"


def test_missing_key_and_unsupported_auth_fail_before_io() -> None:
    from jackfield.errors import ConfigurationError

    with pytest.raises(ConfigurationError) as info:
        OpenAIProvider()
    assert info.value.field == "api_key" and "OPENAI_API_KEY" in str(info.value)
    with pytest.raises(ConfigurationError) as info:
        OpenAIProvider(api_key=KEY, auth_method="x-api-key")
    assert info.value.field == "auth_method"


def test_import_does_not_import_the_sdk() -> None:
    code = (
        "import sys\n"
        "import jackfield\n"
        "import jackfield.plugins.openai as m\n"
        "from jackfield.registry import Registry\n"
        "reg = Registry(entry_points=False, plugins=(), strict=False)\n"
        "reg.register_provider(m.OpenAIProvider)\n"
        "names = [p.name for p in reg.list_providers()]\n"
        "jackfield.list_providers()\n"
        "assert 'openai' in names, names\n"
        "assert m.OpenAIProvider.tier_models\n"
        "heavy = ('openai', 'httpx2', 'aiohttp')\n"
        "bad = sorted(n for n in sys.modules if n.split('.')[0] in heavy)\n"
        "assert not bad, bad\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr


# -- generate ----------------------------------------------------------------------------


async def test_generate_text_usage_and_request_id(
    server: FakeLLMServer, make: Callable[..., OpenAIProvider]
) -> None:
    server.enqueue(Reply("Hello there!", usage=Usage(11, 3), request_id="req_gen_1"))
    provider = make()
    response = await provider.generate("Hi", model="gpt-4o", temperature=0.2, max_tokens=20)
    assert response.content == "Hello there!"
    assert response.provider == "openai" and response.model == "gpt-4o"
    assert response.usage == Usage(11, 3)
    assert response.finish_reason == FinishReason.STOP
    assert response.request_id == "req_gen_1"
    assert response.tool_calls == ()
    [req] = server.requests
    assert req.method == "POST" and req.path == "/v1/chat/completions"
    assert req.json == {
        "model": "gpt-4o",
        "messages": [{"role": "user", "content": "Hi"}],
        "temperature": 0.2,
        "max_tokens": 20,
    }


async def test_generate_tool_calls(
    server: FakeLLMServer, make: Callable[..., OpenAIProvider]
) -> None:
    calls = [
        ToolCall("call_a", "get_weather", {"city": "Paris"}),
        ToolCall("call_b", "get_weather", {"city": "Lima"}),
    ]
    server.enqueue(Reply(tool_calls=calls))
    response = await make().generate(
        "Weather?", model="gpt-4o", tools=[WEATHER], tool_choice="get_weather"
    )
    assert response.tool_calls == tuple(calls)
    assert response.finish_reason == FinishReason.TOOL_CALLS
    assert response.content == ""
    body = server.requests[0].json
    assert body["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "Weather for a city",
                "parameters": WEATHER.parameters,
            },
        }
    ]
    assert body["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}


@pytest.mark.parametrize(
    ("wire", "expected"),
    [
        ("stop", FinishReason.STOP),
        ("length", FinishReason.LENGTH),
        ("content_filter", FinishReason.CONTENT_FILTER),
        ("tool_calls", FinishReason.TOOL_CALLS),
    ],
)
async def test_generate_finish_reasons(
    server: FakeLLMServer, make: Callable[..., OpenAIProvider], wire: str, expected: FinishReason
) -> None:
    server.enqueue(Reply("partial", finish_reason=wire))
    response = await make().generate("x", model="gpt-4o")
    assert response.finish_reason == expected


async def test_body_is_build_payload_exactly(
    server: FakeLLMServer, make: Callable[..., OpenAIProvider]
) -> None:
    """The SDK sends jackfield's payload unchanged; unknown fields ride in extra_body."""
    provider = make()
    kwargs: dict[str, Any] = {
        "model": "gpt-4o",
        "temperature": 0.7,
        "max_tokens": 64,
        "tools": [WEATHER],
        "tool_choice": "auto",
        "json_mode": True,
        "stop": ["END"],
        "seed": 7,
        "extra": {"custom_field": {"a": 1}},
    }
    await provider.generate("Hi", **kwargs)
    await (provider.stream("Hi", **kwargs)).collect()
    request = provider.build_request("Hi", **kwargs)
    plain, streamed = server.requests
    assert plain.json == build_payload(request, stream=False)
    assert streamed.json == build_payload(request, stream=True)
    assert streamed.json["stream_options"] == {"include_usage": True}
    assert plain.json["custom_field"] == {"a": 1} and plain.json["seed"] == 7


async def test_reasoning_model_payload(
    server: FakeLLMServer, make: Callable[..., OpenAIProvider]
) -> None:
    provider = make()
    await provider.generate("Hi", tier="hosted_small", max_tokens=50)
    await provider.stream("Hi", model="o4-mini", max_tokens=50, reasoning="low").collect()
    await provider.generate("Hi", model="gpt-5.4-mini", reasoning=True)
    plain, streamed, thinking = (r.json for r in server.requests)
    assert plain["model"] == "gpt-5.4-mini"
    assert plain["max_completion_tokens"] == 50
    assert "temperature" not in plain and "max_tokens" not in plain
    assert streamed["model"] == "o4-mini" and streamed["reasoning_effort"] == "low"
    assert streamed["max_completion_tokens"] == 50 and "temperature" not in streamed
    assert thinking["reasoning_effort"] == "medium"  # reasoning=True is said on the wire
    # a reasoning model fixes its temperature: refused before any I/O, never dropped
    for call in (provider.generate, provider.stream):
        with pytest.raises(UnsupportedFeatureError, match="temperature") as info:
            await _maybe(call("Hi", model="o4-mini", temperature=0.3))
        assert info.value.feature == "temperature"
    with pytest.raises(UnsupportedFeatureError, match="thinking"):  # gpt-4o does not reason
        await provider.generate("Hi", model="gpt-4o", reasoning="high")
    assert len(server.requests) == 3


async def test_a_chat_snapshot_of_gpt_5_keeps_its_temperature(
    server: FakeLLMServer, make: Callable[..., OpenAIProvider]
) -> None:
    # gpt-5-chat-latest does not reason and takes a temperature (its declaration says
    # so): the wire must send it, not drop it as for the reasoning gpt-5 models
    await make().generate("Hi", model="gpt-5-chat-latest", temperature=0.3, max_tokens=40)
    await make().generate("Hi", model="gpt-5.1-chat-latest", temperature=0.3)
    first, second = (r.json for r in server.requests)
    assert first["temperature"] == 0.3 and first["max_tokens"] == 40
    assert second["temperature"] == 0.3


async def _maybe(value: Any) -> Any:
    """Await ``value`` if it is awaitable (``generate``), else collect it (``stream``)."""
    if hasattr(value, "collect"):
        return await value.collect()
    return await value


async def test_sdk_client_settings(make: Callable[..., OpenAIProvider]) -> None:
    import openai

    client = make(timeout=12.5, connect_timeout=3.0).client
    assert client.max_retries == 0  # jackfield's RetryPolicy is the one retry layer
    assert isinstance(client.timeout, openai.Timeout)
    assert (client.timeout.read, client.timeout.connect) == (12.5, 3.0)
    assert isinstance(client._client, openai.DefaultAioHttpClient)  # the SDK's aiohttp adapter
    assert make().client is not client  # one client per provider and loop


async def test_headers_sent(server: FakeLLMServer, make: Callable[..., OpenAIProvider]) -> None:
    await make().generate("a", model="gpt-4o")
    await make(
        organization="org-test", project="proj_test", extra_headers={"X-Trace": "t-1"}
    ).generate("b", model="gpt-4o")
    plain, configured = (r.headers for r in server.requests)
    assert plain["authorization"] == f"Bearer {KEY}"
    assert "openai-organization" not in plain and "openai-project" not in plain
    assert configured["authorization"] == f"Bearer {KEY}"
    assert configured["openai-organization"] == "org-test"
    assert configured["openai-project"] == "proj_test"
    assert configured["x-trace"] == "t-1"


# -- stream ------------------------------------------------------------------------------


async def test_stream_text(server: FakeLLMServer, make: Callable[..., OpenAIProvider]) -> None:
    text = "Streaming is a sequence of small deltas."
    server.enqueue(Reply(text, chunk_size=5, usage=Usage(9, 8), request_id="req_stream_1"))
    events = await collect(make(), "Hi", model="gpt-4o")
    start, *_, end = events
    assert isinstance(start, StreamStart) and start.request_id == "req_stream_1"
    assert start.provider == "openai" and start.model == "gpt-4o"
    assert [e.text for e in events if isinstance(e, TextDelta)] == [
        text[i : i + 5] for i in range(0, len(text), 5)
    ]
    assert isinstance(end, StreamEnd)
    assert end.response.content == text
    assert end.response.usage == Usage(9, 8)
    assert end.response.finish_reason == FinishReason.STOP
    assert end.response.request_id == "req_stream_1"
    assert [type(e).__name__ for e in events[:2]] == ["StreamStart", "TextStart"]
    assert [type(e).__name__ for e in events[-2:]] == ["TextEnd", "StreamEnd"]


async def test_stream_parallel_tool_calls(
    server: FakeLLMServer, make: Callable[..., OpenAIProvider]
) -> None:
    calls = [
        ToolCall("call_1", "get_weather", {"city": "Mexico City"}),
        ToolCall("call_2", "get_time", {"zone": "UTC", "format": "24h"}),
    ]
    server.enqueue(Reply("Checking.", tool_calls=calls, arguments_chunk_size=3))
    events = await collect(make(), "Weather and time?", model="gpt-4o", tools=[WEATHER])
    starts = [e for e in events if isinstance(e, ToolCallStart)]
    assert [(s.id, s.name) for s in starts] == [("call_1", "get_weather"), ("call_2", "get_time")]
    deltas = [e for e in events if isinstance(e, ToolCallDelta) and e.index == starts[0].index]
    assert "".join(d.arguments_delta for d in deltas) == '{"city":"Mexico City"}'
    assert len(deltas) > 3
    assert deltas[-1].partial_arguments == {"city": "Mexico City"}
    assert any(d.partial_arguments == {"city": "Mex"} for d in deltas)
    end = events[-1]
    assert isinstance(end, StreamEnd)
    assert end.response.content == "Checking."
    assert end.response.tool_calls == tuple(calls)
    assert end.response.finish_reason == FinishReason.TOOL_CALLS
    assert [e.tool_call for e in events if isinstance(e, ToolCallEnd)] == calls


async def test_stream_repeated_index_is_split_by_id(
    server: FakeLLMServer, make: Callable[..., OpenAIProvider]
) -> None:
    """A server that sends index 0 for every call: the ids tell the calls apart."""
    fn = "function"
    server.enqueue(
        sse(
            chunk({"role": "assistant", "content": None}),
            chunk(
                {
                    "tool_calls": [
                        {
                            "index": 0,
                            "id": "call_A",
                            "type": fn,
                            fn: {"name": "first", "arguments": ""},
                        }
                    ]
                }
            ),
            chunk({"tool_calls": [{"index": 0, fn: {"arguments": '{"x": '}}]}),
            chunk({"tool_calls": [{"index": 0, fn: {"arguments": "1}"}}]}),
            chunk(
                {
                    "tool_calls": [
                        {
                            "index": 0,
                            "id": "call_B",
                            "type": fn,
                            fn: {"name": "second", "arguments": '{"y"'},
                        }
                    ]
                }
            ),
            chunk({"tool_calls": [{"index": 0, fn: {"arguments": ": 2}"}}]}),
            chunk(finish="tool_calls"),
            "[DONE]",
        )
    )
    response = await make().stream("x", model="gpt-4o").collect()
    assert response.tool_calls == (
        ToolCall("call_A", "first", {"x": 1}),
        ToolCall("call_B", "second", {"y": 2}),
    )


async def test_stream_missing_index_is_joined_by_id(
    server: FakeLLMServer, make: Callable[..., OpenAIProvider]
) -> None:
    """A server that omits ``index``: fragments follow the call whose id came last."""
    fn = "function"
    server.enqueue(
        sse(
            chunk(
                {
                    "tool_calls": [
                        {"id": "call_A", "type": fn, fn: {"name": "first", "arguments": '{"x"'}}
                    ]
                }
            ),
            chunk({"tool_calls": [{fn: {"arguments": ": 1}"}}]}),
            chunk(
                {
                    "tool_calls": [
                        {"id": "call_B", "type": fn, fn: {"name": "second", "arguments": ""}}
                    ]
                }
            ),
            chunk({"tool_calls": [{fn: {"arguments": '{"y": 2}'}}]}),
            chunk(finish="tool_calls"),
            "[DONE]",
        )
    )
    events = await collect(make(), "x", model="gpt-4o")
    end = events[-1]
    assert isinstance(end, StreamEnd)
    assert end.response.tool_calls == (
        ToolCall("call_A", "first", {"x": 1}),
        ToolCall("call_B", "second", {"y": 2}),
    )
    assert [e.index for e in events if isinstance(e, ToolCallStart)] == [0, 1]


async def test_stream_without_done_after_finish_is_accepted(
    server: FakeLLMServer, make: Callable[..., OpenAIProvider]
) -> None:
    server.enqueue(sse(chunk({"content": "all"}), chunk(finish="stop")))
    response = await make().stream("x", model="gpt-4o").collect()
    assert response.content == "all" and response.finish_reason == FinishReason.STOP


async def test_stream_ignores_error_null_and_other_choices(
    server: FakeLLMServer, make: Callable[..., OpenAIProvider]
) -> None:
    """``"error": null`` is not an error; with ``n`` > 1 only choice 0 is the answer."""
    other = chunk({"content": "OTHER"})
    other["choices"][0]["index"] = 1
    server.enqueue(
        sse(
            {**chunk({"role": "assistant", "content": "a"}), "error": None},
            other,
            chunk({"content": "b"}),
            chunk(finish="stop"),
            "[DONE]",
        )
    )
    response = await make().stream("x", model="gpt-4o").collect()
    assert response.content == "ab"


async def test_refusal_is_the_answer(
    server: FakeLLMServer, make: Callable[..., OpenAIProvider]
) -> None:
    body = {
        "id": "chatcmpl-r",
        "object": "chat.completion",
        "model": "gpt-4o",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": None, "refusal": "I can't help."},
                "finish_reason": "stop",
            }
        ],
    }
    server.enqueue(
        Raw(200, json.dumps(body).encode(), {"content-type": "application/json"}),
        sse(chunk({"refusal": "I can't"}), chunk({"refusal": " help."}), chunk(finish="stop")),
    )
    provider = make()
    for response in (
        await provider.generate("x", model="gpt-4o"),
        await provider.stream("x", model="gpt-4o").collect(),
    ):
        assert response.content == "I can't help."
        assert response.finish_reason == FinishReason.REFUSAL


async def test_stream_of_only_done(
    server: FakeLLMServer, make: Callable[..., OpenAIProvider]
) -> None:
    server.enqueue(sse("[DONE]"))
    events = await collect(make(), "x", model="gpt-4o")
    assert [type(e) for e in events] == [StreamStart, StreamEnd]


async def test_early_stop_closes_the_connection(
    server: FakeLLMServer, make: Callable[..., OpenAIProvider]
) -> None:
    server.enqueue(Reply("word " * 200, chunk_size=5, event_delay=0.01))
    provider = make()
    async with provider.stream("x", model="gpt-4o") as stream:
        async for event in stream:
            if isinstance(event, TextDelta):
                break
    assert await server.wait_for_connections(0)
    assert server.disconnects == 1
    # The provider still works afterwards.
    assert (await provider.generate("again", model="gpt-4o")).content == "echo: again"


# -- recorded wire captures --------------------------------------------------------------


@needs_wire
@pytest.mark.parametrize(
    ("name", "content", "calls", "usage", "finish"),
    [
        (
            "openai-stream-text-usage.sse",
            "The capital of Mexico is Mexico City.",
            (),
            Usage(14, 8),
            FinishReason.STOP,
        ),
        (
            "openai-stream-tool-call-fragments.sse",
            "",
            (ToolCall("call_1EYWDzueHEp8OsB8jJSEp7WB", "multiply", {"a": 1231, "b": 2331}),),
            Usage(54, 20),
            FinishReason.TOOL_CALLS,
        ),
        (
            "openai-stream-parallel-tool-calls.sse",
            "",
            (
                ToolCall("call_NS4iQj14cDFwc0BnrKqDHavt", "get_weather", {"city": "Mexico City"}),
                ToolCall("call_SkGkkGDvHQEEk0CGbnAh2AQw", "get_product_name", {}),
            ),
            Usage(417, 44),
            FinishReason.TOOL_CALLS,
        ),
    ],
)
async def test_replay_recorded_streams(
    server: FakeLLMServer,
    make: Callable[..., OpenAIProvider],
    name: str,
    content: str,
    calls: tuple[ToolCall, ...],
    usage: Usage,
    finish: FinishReason,
) -> None:
    server.enqueue(Raw.from_file(WIRE / name, headers={"x-request-id": "req_replay"}))
    events = await collect(make(), "x", model="gpt-4o")
    end = events[-1]
    assert isinstance(end, StreamEnd)
    assert end.response.content == content
    assert end.response.tool_calls == calls
    assert end.response.usage == usage
    assert end.response.finish_reason == finish
    assert end.response.request_id == "req_replay"
    assert sum(isinstance(e, StreamStart) for e in events) == 1
    assert [e.tool_call for e in events if isinstance(e, ToolCallEnd)] == list(calls)


@needs_wire
async def test_replay_recorded_tool_call_body(
    server: FakeLLMServer, make: Callable[..., OpenAIProvider]
) -> None:
    server.enqueue(Raw.from_file(WIRE / "openai-chat-tool-calls.json"))
    response = await make().generate("x", model="gpt-4o-mini")
    assert response.content == ""
    assert response.model == "gpt-4o-mini-2024-07-18"
    assert response.tool_calls == (
        ToolCall("call_TTY8UFNo7rNCaOBUNtlRSvMG", "lookup_population", {"country": "Crumpet"}),
    )
    assert response.usage == Usage(92, 17)
    assert response.finish_reason == FinishReason.TOOL_CALLS


@needs_wire
@pytest.mark.parametrize(
    ("name", "cls", "retryable"),
    [
        ("openai-error-400-context-length-exceeded.json", ContextWindowExceededError, False),
        ("openai-error-401-invalid-api-key.json", AuthenticationError, False),
        ("openai-error-404-model-not-found.json", NotFoundError, False),
        ("openai-error-429-insufficient-quota.json", QuotaExceededError, False),
        ("openai-error-429-rate-limit-exceeded.json", RateLimitError, True),
    ],
)
async def test_replay_recorded_errors(
    server: FakeLLMServer,
    make: Callable[..., OpenAIProvider],
    name: str,
    cls: type[ProviderError],
    retryable: bool,
) -> None:
    server.enqueue(ErrorReply.from_capture(WIRE / name))
    with pytest.raises(ProviderError) as info:
        await make(max_retries=0).generate("x", model="gpt-4o")
    assert type(info.value) is cls and info.value.retryable is retryable
    if cls is RateLimitError:
        assert info.value.retry_after == pytest.approx(26.604)  # "try again in 26.604s"


# -- the error matrix ----------------------------------------------------------------------


def _err(code: str | None, message: str, type_: str = "invalid_request_error") -> dict[str, Any]:
    return {"error": {"message": message, "type": type_, "param": None, "code": code}}


def _row(
    status: int,
    code: str | None,
    message: str,
    cls: type[ProviderError],
    *,
    requests: int,
    type_: str = "invalid_request_error",
    headers: dict[str, str] | None = None,
    retry_after: float | None = None,
) -> Any:
    """One case: the reply, then the class, ``retryable``, ``retry_after`` and how many
    requests the server sees with ``max_retries=2`` (3 means retried twice)."""
    body = _err(code, message, type_)
    return pytest.param(
        status,
        body,
        headers or {},
        cls,
        requests > 1,
        retry_after,
        requests,
        id=f"{status}-{cls.__name__}",
    )


MATRIX = [
    _row(
        400,
        "context_length_exceeded",
        "This model's maximum context length is 8192 tokens.",
        ContextWindowExceededError,
        requests=1,
    ),
    _row(400, None, "Invalid value for 'temperature'.", BadRequestError, requests=1),
    _row(401, "invalid_api_key", "Incorrect API key provided.", AuthenticationError, requests=1),
    _row(
        403,
        "unsupported_country_region_territory",
        "Country not supported.",
        PermissionDeniedError,
        requests=1,
    ),
    _row(404, "model_not_found", "The model `gpt-9` does not exist.", NotFoundError, requests=1),
    _row(408, None, "Request timed out.", ProviderTimeoutError, requests=3),
    _row(409, None, "Conflict, please retry.", APIError, requests=3),
    _row(413, None, "Request entity too large.", BadRequestError, requests=1),
    _row(422, None, "Unprocessable entity.", BadRequestError, requests=1),
    _row(
        429,
        "rate_limit_exceeded",
        "Rate limit reached for requests.",
        RateLimitError,
        requests=3,
        type_="requests",
        headers={"retry-after": "7"},
        retry_after=7.0,
    ),
    _row(
        429,
        "insufficient_quota",
        "You exceeded your current quota.",
        QuotaExceededError,
        requests=1,
        type_="insufficient_quota",
        headers={"retry-after": "7"},
        retry_after=7.0,
    ),
    _row(500, None, "The server had an error.", ServerError, requests=3, type_="server_error"),
    _row(502, None, "Bad gateway.", ServerError, requests=3, type_="server_error"),
    _row(503, None, "Service unavailable.", ServerError, requests=3, type_="server_error"),
    _row(
        503,
        None,
        "The engine is currently overloaded.",
        OverloadedError,
        requests=3,
        type_="server_error",
    ),
    _row(504, None, "Gateway timeout.", ServerError, requests=3, type_="server_error"),
]


@pytest.mark.parametrize("streaming", [False, True], ids=["generate", "stream"])
@pytest.mark.parametrize(
    ("status", "body", "headers", "cls", "retryable", "retry_after", "requests"), MATRIX
)
async def test_http_error_matrix(
    server: FakeLLMServer,
    make: Callable[..., OpenAIProvider],
    sleep: FakeSleep,
    streaming: bool,
    status: int,
    body: dict[str, Any],
    headers: dict[str, str],
    cls: type[ProviderError],
    retryable: bool,
    retry_after: float | None,
    requests: int,
) -> None:
    server.enqueue(*[ErrorReply(status, body, {**headers, "x-request-id": "req_err"})] * 3)
    provider = make()

    async def call() -> None:
        if streaming:
            await provider.stream("x", model="gpt-4o").collect()
        else:
            await provider.generate("x", model="gpt-4o")

    with pytest.raises(ProviderError) as info:
        await call()
    err = info.value
    assert type(err) is cls
    assert err.retryable is retryable
    assert err.status_code == status
    assert err.retry_after == retry_after
    assert err.request_id == "req_err"
    assert err.provider == "openai" and err.model == "gpt-4o"
    assert err.attempts == requests
    assert server.request_count == requests
    assert len(sleep.waits) == requests - 1
    if retry_after is not None and requests > 1:
        assert sleep.waits == [retry_after] * (requests - 1)
    assert body["error"]["message"] in err.message
    assert isinstance(err.__cause__, Exception)
    assert type(err.__cause__).__module__.startswith("openai")


async def test_connection_reset_is_retried(
    server: FakeLLMServer, make: Callable[..., OpenAIProvider], sleep: FakeSleep
) -> None:
    server.enqueue(Reset(), Reset(), Reset())
    with pytest.raises(NetworkError) as info:
        await make().generate("x", model="gpt-4o")
    assert info.value.retryable and info.value.status_code is None
    assert info.value.attempts == 3 and server.request_count == 3
    server.enqueue(Reset(), Reply("recovered"))
    events = await collect(make(), "x", model="gpt-4o")
    assert text_of(events) == "recovered"
    assert server.request_count == 5


async def test_read_timeout_generate(
    server: FakeLLMServer, make: Callable[..., OpenAIProvider]
) -> None:
    server.enqueue(Stall(), Stall(), Stall())
    with pytest.raises(ProviderTimeoutError) as info:
        await make(timeout=0.2).generate("x", model="gpt-4o")
    assert info.value.retryable and info.value.status_code is None
    assert server.request_count == 3 and info.value.attempts == 3


async def test_read_timeout_before_first_event_is_retried(
    server: FakeLLMServer, make: Callable[..., OpenAIProvider]
) -> None:
    server.enqueue(Stall(after_events=0), Reply("second try"))
    events = await collect(make(timeout=0.2), "x", model="gpt-4o")
    assert text_of(events) == "second try"
    assert server.request_count == 2


async def test_read_timeout_mid_stream_is_not_retried(
    server: FakeLLMServer, make: Callable[..., OpenAIProvider]
) -> None:
    text = "abcdefghijklmnopqrstuvwxyz"
    server.enqueue(Stall(after_events=4, reply=Reply(text, chunk_size=2)), Reply("unused"))
    events, err = await collect_until_error(make(timeout=0.2), "x", model="gpt-4o")
    assert type(err) is ProviderTimeoutError and err.retryable
    assert text_of(events) == "abcdef"  # the role chunk, then three deltas; none twice
    assert server.request_count == 1


@pytest.mark.parametrize("abort", [False, True], ids=["clean-eof", "connection-dropped"])
async def test_truncated_stream(
    server: FakeLLMServer, make: Callable[..., OpenAIProvider], abort: bool
) -> None:
    text = "abcdefghijklmnopqrstuvwxyz"
    server.enqueue(Truncate(after_events=5, reply=Reply(text, chunk_size=2), abort=abort))
    events, err = await collect_until_error(make(), "x", model="gpt-4o")
    # A dropped connection is a transport failure (retryable while nothing has reached
    # the caller); text has been yielded here, so it is raised, not retried.
    assert type(err) is StreamError and err.retryable is abort
    assert text_of(events) == "abcdefgh"
    assert not any(isinstance(e, StreamEnd) for e in events)
    assert server.request_count == 1 and err.attempts == 1


async def test_truncated_non_streamed_body(
    server: FakeLLMServer, make: Callable[..., OpenAIProvider]
) -> None:
    server.enqueue(Truncate(reply=Reply("a whole answer")))
    with pytest.raises(APIError) as info:
        await make().generate("x", model="gpt-4o")
    assert not info.value.retryable and info.value.status_code == 200
    assert server.request_count == 1


async def test_malformed_chunk(server: FakeLLMServer, make: Callable[..., OpenAIProvider]) -> None:
    server.enqueue(Malformed(after_events=3, reply=Reply("abcdefgh", chunk_size=2)))
    events, err = await collect_until_error(make(), "x", model="gpt-4o")
    assert type(err) is StreamError and not err.retryable
    assert "malformed" in err.message
    assert text_of(events) == "abcd"
    assert server.request_count == 1


async def test_in_stream_error_mid_stream(
    server: FakeLLMServer, make: Callable[..., OpenAIProvider]
) -> None:
    payload = {"code": 502, "message": "Upstream provider error"}
    server.enqueue(InStreamError(payload, after_events=3, reply=Reply("abcdefgh", chunk_size=2)))
    events, err = await collect_until_error(make(), "x", model="gpt-4o")
    assert type(err) is ServerError and err.retryable
    assert err.status_code == 502 and "Upstream provider error" in err.message
    assert text_of(events) == "abcd"
    assert server.request_count == 1  # output was yielded: never retried


async def test_in_stream_error_before_output_is_retried_without_duplication(
    server: FakeLLMServer, make: Callable[..., OpenAIProvider], sleep: FakeSleep
) -> None:
    payload = {"code": "rate_limit_exceeded", "message": "Slow down; try again in 2s"}
    server.enqueue(
        InStreamError(payload, after_events=1, reply=Reply("hello world")),
        Reply("hello world", chunk_size=3),
    )
    events = await collect(make(), "x", model="gpt-4o")
    assert text_of(events) == "hello world"
    assert sum(isinstance(e, StreamStart) for e in events) == 1
    assert server.request_count == 2
    assert sleep.waits == [2.0]


async def test_in_stream_error_non_streamed(
    server: FakeLLMServer, make: Callable[..., OpenAIProvider]
) -> None:
    server.enqueue(InStreamError({"code": "insufficient_quota", "message": "No credits left"}))
    with pytest.raises(QuotaExceededError):
        await make().generate("x", model="gpt-4o")
    assert server.request_count == 1


@pytest.mark.parametrize(
    ("item", "cls", "requests"),
    [
        (Reset(), NetworkError, 3),
        (Stall(after_events=0), ProviderTimeoutError, 3),
        (
            Truncate(after_events=3, reply=Reply("abcdefgh", chunk_size=2), abort=True),
            StreamError,
            1,
        ),
        (Truncate(after_events=3, reply=Reply("abcdefgh", chunk_size=2)), StreamError, 1),
    ],
    ids=["reset", "stall", "dropped", "truncated"],
)
async def test_httpx2_transport_fallback(
    server: FakeLLMServer,
    make: Callable[..., OpenAIProvider],
    monkeypatch: pytest.MonkeyPatch,
    item: Any,
    cls: type[ProviderError],
    requests: int,
) -> None:
    """Without the SDK's aiohttp adapter the default httpx2 client is used; its
    exceptions map to the same classes."""
    import openai

    def missing(**_: Any) -> Any:
        raise RuntimeError("To use the aiohttp client you must have installed ...")

    aiohttp_client = openai.DefaultAioHttpClient
    monkeypatch.setattr(openai, "DefaultAioHttpClient", missing)
    provider = make(timeout=0.2)
    server.enqueue(Reply("fine"))
    assert text_of(await collect(provider, "x", model="gpt-4o")) == "fine"
    assert isinstance(provider.client._client, openai.DefaultAsyncHttpxClient)
    assert not isinstance(provider.client._client, aiohttp_client)
    server.enqueue(item, item, item)
    _, err = await collect_until_error(provider, "x", model="gpt-4o")
    assert type(err) is cls
    assert server.request_count == 1 + requests


# -- secrets ---------------------------------------------------------------------------------


async def test_key_never_leaks(server: FakeLLMServer, make: Callable[..., OpenAIProvider]) -> None:
    echoed = _err("invalid_api_key", f"Incorrect API key provided: {KEY}. Bearer {KEY}")
    server.enqueue(ErrorReply(401, echoed), InStreamError({"message": f"bad key {KEY}"}))
    provider = make(max_retries=0)
    assert KEY not in repr(provider)
    with pytest.raises(AuthenticationError) as info:
        await provider.generate("x", model="gpt-4o")
    _, streamed = await collect_until_error(provider, "x", model="gpt-4o")
    for err in (info.value, streamed):
        for text in (str(err), repr(err), err.message, err.body or "", json.dumps(err.to_dict())):
            assert KEY not in text
    assert "[REDACTED]" in info.value.message and info.value.body is not None
    assert "[REDACTED]" in info.value.body


# -- every SDK exception is mapped ------------------------------------------------------------


def _sdk_exception(cls: type[BaseException]) -> BaseException:
    """An instance of an openai SDK exception class, built as the SDK builds it."""
    import httpx2
    import openai

    request = httpx2.Request("POST", "https://api.openai.com/v1/chat/completions")

    def response(status: int, body: Any) -> httpx2.Response:
        return httpx2.Response(status, request=request, json=body)

    body = _err("server_error", "boom", "server_error")
    if issubclass(cls, openai.OAuthError):
        return cls(response=response(401, {"error": "invalid_grant"}), body=None)
    if issubclass(cls, openai.APIStatusError):
        status = getattr(cls, "status_code", 500)
        status = status if isinstance(status, int) else 500
        return cls(f"Error code: {status}", response=response(status, body), body=body["error"])
    if issubclass(cls, openai.APIConnectionError):  # APITimeoutError too
        return cls(request=request)
    if issubclass(cls, openai.APIResponseValidationError):
        return cls(response=response(200, {}), body={})
    if cls is openai.APIError:
        return cls("error in stream", request, body=body["error"])
    if issubclass(cls, openai.LengthFinishReasonError):
        from openai.types.chat import ChatCompletion

        return cls(completion=ChatCompletion.model_construct(usage=None))
    if issubclass(cls, openai.WebSocketConnectionClosedError):
        return cls("closed", unsent_messages=[])
    for args in ((), ("message",)):
        try:
            return cls(*args)
        except TypeError:
            continue
    raise AssertionError(f"teach _sdk_exception how to build openai.{cls.__name__}")


def _sdk_exception_classes() -> list[type[BaseException]]:
    import openai

    return [
        cls
        for _, cls in inspect.getmembers(openai, inspect.isclass)
        if issubclass(cls, BaseException)
    ]


def test_every_sdk_exception_class_is_mapped() -> None:
    provider = OpenAIProvider(api_key=KEY)
    classes = _sdk_exception_classes()
    assert len(classes) >= 15
    unmapped = []
    for cls in classes:
        mapped = provider.map_exception(_sdk_exception(cls))
        if mapped is None or isinstance(mapped, UnknownError):
            unmapped.append(cls.__name__)
    assert not unmapped, f"openai exceptions without a mapping: {unmapped}"


def test_specific_sdk_mappings() -> None:
    import httpx2
    import openai

    provider = OpenAIProvider(api_key=KEY)
    request = httpx2.Request("POST", "https://api.openai.com/v1/chat/completions")
    quota = _err("insufficient_quota", "You exceeded your current quota.", "insufficient_quota")
    exc = openai.RateLimitError(
        "Error code: 429",
        response=httpx2.Response(429, request=request, json=quota, headers={"x-request-id": "r1"}),
        body=quota["error"],
    )
    cases: list[tuple[BaseException, type[ProviderError]]] = [
        (exc, QuotaExceededError),
        (openai.APITimeoutError(request=request), ProviderTimeoutError),
        (openai.APIConnectionError(request=request), NetworkError),
        (openai.ContentFilterFinishReasonError(), ContentFilterError),
        (
            openai.APIError("x", request, body={"type": "overloaded_error", "message": "busy"}),
            ServerError,
        ),
        (httpx2.ReadTimeout("read timed out", request=request), ProviderTimeoutError),
        (httpx2.RemoteProtocolError("incomplete chunked read", request=request), StreamError),
        (httpx2.ReadError("connection reset", request=request), NetworkError),
        (httpx2.ConnectError("refused", request=request), NetworkError),
        (httpx2.DecodingError("bad gzip", request=request), StreamError),
        (httpx2.StreamClosed(), StreamError),
    ]
    for error, expected in cases:
        mapped = provider.map_exception(error)
        assert isinstance(mapped, expected), (error, mapped)
    mapped = provider.map_exception(exc)
    assert mapped is not None and mapped.request_id == "r1" and mapped.status_code == 429
    assert provider.map_exception(ValueError("not ours")) is None


# -- event loops ------------------------------------------------------------------------------


class ThreadedServer:
    """A FakeLLMServer on its own loop in a thread, outliving the test's asyncio.run calls."""

    def __enter__(self) -> FakeLLMServer:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.server = asyncio.run_coroutine_threadsafe(FakeLLMServer().start(), self.loop).result(
            10
        )
        return self.server

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self.server.stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


def test_cached_provider_across_event_loops() -> None:
    with ThreadedServer() as server:
        provider = OpenAIProvider(api_key=KEY, base_url=server.openai_base_url)

        async def call(text: str) -> tuple[str, Any]:
            response = await provider.generate(text, model="gpt-4o")
            streamed = await provider.stream(text, model="gpt-4o").collect()
            assert streamed.content == response.content
            return response.content, provider.client

        first, client1 = asyncio.run(call("one"))
        second, client2 = asyncio.run(call("two"))
        assert (first, second) == ("echo: one", "echo: two")
        assert client1 is not client2
        assert client1.is_closed()  # closed when its loop shut down
        assert client2.is_closed()
        assert server.request_count == 4


async def test_aclose_then_reuse(
    server: FakeLLMServer, make: Callable[..., OpenAIProvider]
) -> None:
    provider = make()
    await provider.generate("a", model="gpt-4o")
    first = provider.client
    await provider.aclose()
    assert first.is_closed()
    assert (await provider.generate("b", model="gpt-4o")).content == "echo: b"
    assert provider.client is not first


async def test_close_nowait(server: FakeLLMServer, make: Callable[..., OpenAIProvider]) -> None:
    provider = make()
    await provider.generate("a", model="gpt-4o")
    client = provider.client
    provider.close_nowait()
    for _ in range(20):
        if client.is_closed():
            break
        await asyncio.sleep(0.01)
    assert client.is_closed()
