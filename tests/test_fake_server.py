"""Tests of jackfield.testing._fake_server: wire formats, faults, recording, connections.

Everything runs against 127.0.0.1 only. The SDK tests use the real ``openai`` and
``anthropic`` clients with ``max_retries=0``.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import anthropic
import openai
import pytest
from recorded import WIRE

from jackfield.errors import RateLimitError
from jackfield.events import (
    StreamEnd,
    StreamStart,
    TextDelta,
    ThinkingEnd,
    ToolCallEnd,
    event_from_dict,
)
from jackfield.testing._fake_server import (
    Delay,
    ErrorReply,
    FakeLLMServer,
    InStreamError,
    Malformed,
    Raw,
    RecordedRequest,
    Reply,
    Reset,
    Stall,
    Truncate,
)
from jackfield.types import FinishReason, Message, Request, ToolCall, ToolSpec, Usage

needs_wire = pytest.mark.skipif(
    not WIRE.is_dir(), reason=f"captured wire files not found at {WIRE}"
)

USER: Any = [{"role": "user", "content": "What is the weather in Paris?"}]
WEATHER = ToolCall("call_weather_1", "get_weather", {"city": "Paris", "unit": "celsius"})
TIME = ToolCall("call_time_2", "get_time", {"tz": "Europe/Paris"})


@pytest.fixture
async def server() -> AsyncIterator[FakeLLMServer]:
    async with FakeLLMServer() as s:
        yield s


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def sse_events(raw: bytes) -> list[tuple[str | None, str]]:
    """(event name, data) for each SSE block; comment-only blocks are skipped."""
    out: list[tuple[str | None, str]] = []
    for block in raw.decode().split("\n\n"):
        name: str | None = None
        data: list[str] = []
        for line in block.split("\n"):
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].lstrip(" "))
        if data:
            out.append((name, "\n".join(data)))
    return out


def openai_client(server: FakeLLMServer, **kw: Any) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(
        base_url=server.openai_base_url, api_key="sk-test-dummy", max_retries=0, **kw
    )


def anthropic_client(server: FakeLLMServer, **kw: Any) -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(
        base_url=server.anthropic_base_url, api_key="sk-ant-test-dummy", max_retries=0, **kw
    )


# --------------------------------------------------------------------------- lifecycle


async def test_start_stop_and_addresses() -> None:
    server = FakeLLMServer()
    with pytest.raises(RuntimeError):
        _ = server.url
    await server.start()
    try:
        assert server.port > 0
        assert server.url == f"http://127.0.0.1:{server.port}"
        assert server.openai_base_url == server.url + "/v1"
        assert server.anthropic_base_url == server.url
        assert server.proxy_url == server.url
        with pytest.raises(RuntimeError):
            await server.start()
    finally:
        await server.stop()
    await server.stop()  # idempotent


async def test_unknown_path_is_404_and_consumes_nothing(
    server: FakeLLMServer, http: aiohttp.ClientSession
) -> None:
    server.enqueue("kept")
    async with http.post(server.url + "/v1/nope", json={}) as r:
        assert r.status == 404
        assert (await r.json())["error"]["code"] == "unknown_url"
    assert server.pending == 1
    assert server.requests[0].endpoint == "unknown"


# ---------------------------------------------------------------------------- OpenAI


async def test_openai_non_stream_text(server: FakeLLMServer, http: aiohttp.ClientSession) -> None:
    server.enqueue(Reply("Paris is sunny.", usage=Usage(12, 4)))
    async with http.post(
        server.openai_base_url + "/chat/completions", json={"model": "gpt-4o", "messages": USER}
    ) as r:
        assert r.status == 200
        assert r.headers["content-type"] == "application/json"
        assert r.headers["x-request-id"].startswith("req_")
        body = await r.json()
    assert body["object"] == "chat.completion"
    assert body["id"].startswith("chatcmpl-")
    assert body["model"] == "gpt-4o"
    choice = body["choices"][0]
    assert choice["message"]["content"] == "Paris is sunny."
    assert choice["finish_reason"] == "stop"
    assert body["usage"]["prompt_tokens"] == 12
    assert body["usage"]["completion_tokens"] == 4
    assert body["usage"]["total_tokens"] == 16


async def test_openai_stream_text_with_usage(
    server: FakeLLMServer, http: aiohttp.ClientSession
) -> None:
    server.enqueue(Reply("The capital of Mexico is Mexico City.", chunk_size=8))
    payload = {
        "model": "gpt-4o",
        "messages": USER,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    async with http.post(server.openai_base_url + "/chat/completions", json=payload) as r:
        assert r.status == 200
        assert r.headers["content-type"] == "text/event-stream; charset=utf-8"
        assert r.headers["x-request-id"].startswith("req_")
        raw = await r.read()
    events = sse_events(raw)
    assert events[-1] == (None, "[DONE]")
    chunks = [json.loads(d) for _, d in events[:-1]]
    assert len({c["id"] for c in chunks}) == 1
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert all("usage" in c for c in chunks)
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert text == "The capital of Mexico is Mexico City."
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"]["total_tokens"] > 0
    assert all(c["usage"] is None for c in chunks[:-1])


async def test_openai_stream_without_include_usage_has_no_usage(
    server: FakeLLMServer, http: aiohttp.ClientSession
) -> None:
    payload = {"model": "m", "messages": USER, "stream": True}
    async with http.post(server.url + "/chat/completions", json=payload) as r:
        events = sse_events(await r.read())
    chunks = [json.loads(d) for _, d in events[:-1]]
    assert all("usage" not in c and c["choices"] for c in chunks)
    assert server.requests[0].endpoint == "openai"


async def test_openai_sdk_stream_tool_calls_and_reasoning(server: FakeLLMServer) -> None:
    server.enqueue(
        Reply(
            "Checking.",
            thinking="The user wants weather and time.",
            tool_calls=(WEATHER, TIME),
            arguments_chunk_size=5,
        )
    )
    async with openai_client(server) as client:
        stream = await client.chat.completions.create(
            model="gpt-4o",
            messages=USER,
            stream=True,
            stream_options={"include_usage": True},
        )
        calls: dict[int, dict[str, Any]] = {}
        content, reasoning = [], []
        finish, usage = None, None
        fragments_with_id = 0
        async for chunk in stream:
            if chunk.usage is not None:
                usage = chunk.usage
            if not chunk.choices:
                continue
            delta = chunk.choices[0].delta
            content.append(delta.content or "")
            extra = delta.model_extra or {}
            reasoning.append(extra.get("reasoning_content") or "")
            for tc in delta.tool_calls or ():
                slot = calls.setdefault(tc.index, {"id": None, "name": None, "args": ""})
                if tc.id:
                    fragments_with_id += 1
                    slot["id"] = tc.id
                if tc.function and tc.function.name:
                    slot["name"] = tc.function.name
                if tc.function and tc.function.arguments:
                    slot["args"] += tc.function.arguments
            if chunk.choices[0].finish_reason:
                finish = chunk.choices[0].finish_reason
    assert "".join(content) == "Checking."
    assert "".join(reasoning) == "The user wants weather and time."
    assert fragments_with_id == 2  # id (and name) only in each call's first fragment
    assert calls[0]["id"] == "call_weather_1"
    assert calls[0]["name"] == "get_weather"
    assert json.loads(calls[0]["args"]) == {"city": "Paris", "unit": "celsius"}
    assert calls[1]["id"] == "call_time_2"
    assert json.loads(calls[1]["args"]) == {"tz": "Europe/Paris"}
    assert finish == "tool_calls"
    assert usage is not None
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens


async def test_openai_sdk_non_stream_tool_calls(server: FakeLLMServer) -> None:
    server.enqueue(Reply(tool_calls=[WEATHER], usage=Usage(30, 7)))
    async with openai_client(server) as client:
        result = await client.chat.completions.create(
            model="gpt-4o-mini",
            messages=USER,
        )
    message = result.choices[0].message
    assert message.content is None
    assert message.tool_calls is not None
    call = message.tool_calls[0]
    assert call.id == "call_weather_1"
    assert call.function.name == "get_weather"  # type: ignore[union-attr]
    assert json.loads(call.function.arguments) == WEATHER.arguments  # type: ignore[union-attr]
    assert result.choices[0].finish_reason == "tool_calls"
    assert result.usage is not None
    assert result.usage.prompt_tokens == 30


async def test_azure_deployment_path(server: FakeLLMServer) -> None:
    server.enqueue("from azure")
    async with openai.AsyncAzureOpenAI(
        azure_endpoint=server.azure_endpoint,
        api_key="azure-test-key",
        api_version="2024-10-21",
        max_retries=0,
    ) as client:
        result = await client.chat.completions.create(
            model="my-deployment",
            messages=USER,
        )
    assert result.choices[0].message.content == "from azure"
    rec = server.last_request
    assert rec.endpoint == "azure"
    assert rec.path == "/openai/deployments/my-deployment/chat/completions"
    assert rec.query["api-version"] == "2024-10-21"
    assert rec.headers["api-key"] == "azure-test-key"


async def test_models_listing(server: FakeLLMServer) -> None:
    server.models.append("gpt-4o")
    async with openai_client(server) as client:
        ids = [m.id async for m in client.models.list()]
    assert ids == ["fake-model", "gpt-4o"]


# ------------------------------------------------------------------------- Anthropic


async def test_anthropic_non_stream_text(
    server: FakeLLMServer, http: aiohttp.ClientSession
) -> None:
    server.enqueue(Reply("Bonjour.", usage=Usage(10, 3), model="claude-haiku-4-5"))
    async with http.post(
        server.url + "/v1/messages",
        json={"model": "claude-x", "max_tokens": 100, "messages": USER},
    ) as r:
        assert r.status == 200
        assert r.headers["request-id"].startswith("req_011C")
        body = await r.json()
    assert body["type"] == "message"
    assert body["id"].startswith("msg_01")
    assert body["model"] == "claude-haiku-4-5"
    assert body["content"] == [{"type": "text", "text": "Bonjour."}]
    assert body["stop_reason"] == "end_turn"
    assert body["usage"]["input_tokens"] == 10
    assert body["usage"]["output_tokens"] == 3


async def test_anthropic_stream_text_events(
    server: FakeLLMServer, http: aiohttp.ClientSession
) -> None:
    server.enqueue(Reply("Hello there, friend.", chunk_size=6, usage=Usage(10, 4)))
    async with http.post(
        server.url + "/v1/messages",
        json={"model": "claude-x", "max_tokens": 100, "messages": USER, "stream": True},
    ) as r:
        assert r.headers["content-type"] == "text/event-stream; charset=utf-8"
        assert r.headers["request-id"].startswith("req_")
        events = sse_events(await r.read())
    names = [n for n, _ in events]
    assert names[:3] == ["message_start", "content_block_start", "ping"]
    assert names[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    for name, data in events:
        assert json.loads(data)["type"] == name
    deltas = [json.loads(d)["delta"]["text"] for n, d in events if n == "content_block_delta"]
    assert "".join(deltas) == "Hello there, friend."
    message_delta = json.loads(events[-2][1])
    assert message_delta["delta"]["stop_reason"] == "end_turn"
    assert message_delta["usage"]["output_tokens"] == 4  # cumulative, not per event


async def test_anthropic_sdk_stream_thinking_and_tool_use(server: FakeLLMServer) -> None:
    server.enqueue(
        Reply(
            "Let me check.",
            thinking="I should call get_weather for Paris.",
            thinking_signature="EoQDCm0IDhgCKkCDzGs2kL2Pgn==",
            tool_calls=[ToolCall("toolu_01ABC", "get_weather", {"city": "Paris"})],
            usage=Usage(598, 92),
            arguments_chunk_size=4,
        )
    )
    async with (
        anthropic_client(server) as client,
        client.messages.stream(
            model="claude-test-model",
            max_tokens=1024,
            messages=USER,
            thinking={"type": "enabled", "budget_tokens": 1024},
        ) as stream,
    ):
        text = "".join([t async for t in stream.text_stream])
        message = await stream.get_final_message()
    assert text == "Let me check."
    kinds = [b.type for b in message.content]
    assert kinds == ["thinking", "text", "tool_use"]
    thinking = message.content[0]
    assert thinking.type == "thinking"
    assert thinking.thinking == "I should call get_weather for Paris."
    assert thinking.signature == "EoQDCm0IDhgCKkCDzGs2kL2Pgn=="
    tool = message.content[2]
    assert tool.type == "tool_use"
    assert tool.id == "toolu_01ABC"
    assert tool.name == "get_weather"
    assert tool.input == {"city": "Paris"}
    assert message.stop_reason == "tool_use"
    assert message.usage.output_tokens == 92
    assert message.usage.input_tokens == 598


async def test_anthropic_sdk_non_stream_and_count_tokens(server: FakeLLMServer) -> None:
    server.enqueue(
        Reply("Short.", finish_reason=FinishReason.LENGTH),
        Reply(usage=Usage(input_tokens=42)),
        "ignored text",  # count_tokens without usage: estimated from the request
    )
    async with anthropic_client(server) as client:
        message = await client.messages.create(
            model="claude-x",
            max_tokens=5,
            messages=USER,
        )
        counted = await client.messages.count_tokens(
            model="claude-x",
            messages=USER,
        )
        estimated = await client.messages.count_tokens(
            model="claude-x",
            messages=USER,
        )
    assert message.content[0].type == "text"
    assert message.content[0].text == "Short."
    assert message.stop_reason == "max_tokens"
    assert counted.input_tokens == 42
    assert estimated.input_tokens > 0
    assert [r.endpoint for r in server.requests] == ["anthropic", "count_tokens", "count_tokens"]


async def test_finish_reason_mapping(server: FakeLLMServer, http: aiohttp.ClientSession) -> None:
    cases = [
        ("length", "length", "max_tokens"),
        (FinishReason.CONTENT_FILTER, "content_filter", "refusal"),
        ("stop_sequence", "stop", "stop_sequence"),
        ("end_turn", "stop", "end_turn"),
    ]
    for reason, oai, ant in cases:
        server.enqueue(Reply("x", finish_reason=reason), Reply("x", finish_reason=reason))
        async with http.post(
            server.url + "/v1/chat/completions", json={"model": "m", "messages": USER}
        ) as r:
            assert (await r.json())["choices"][0]["finish_reason"] == oai
        async with http.post(
            server.url + "/v1/messages",
            json={"model": "m", "max_tokens": 5, "messages": USER, "stop_sequences": ["END"]},
        ) as r:
            body = await r.json()
            assert body["stop_reason"] == ant
            assert body["stop_sequence"] == ("END" if ant == "stop_sequence" else None)


# ------------------------------------------------------------------------------ proxy


def proxy_request(**kw: Any) -> dict[str, Any]:
    req = Request(
        messages=(Message.system("be brief"), Message.user("hello proxy")),
        model="fake-model",
        tools=(ToolSpec("get_weather", "Weather", {"type": "object", "properties": {}}),),
    ).to_dict()
    body = {
        "model": req["model"],
        "messages": req["messages"],
        "tools": req["tools"],
        "tool_choice": None,
        "json_mode": False,
        "stop": [],
        "options": {"temperature": 0.2, "max_tokens": 100, "reasoning": None},
        "extra": {},
    }
    body.update(kw)
    return body


async def test_proxy_requires_bearer_token(http: aiohttp.ClientSession) -> None:
    async with FakeLLMServer(proxy_token="s3cret-token") as server:
        for headers in ({}, {"Authorization": "Bearer wrong"}):
            async with http.post(
                server.proxy_url + "/api/stream", json=proxy_request(), headers=headers
            ) as r:
                assert r.status == 401
                err = (await r.json())["error"]
                assert err["error_type"] == "authentication"
                assert err["status_code"] == 401
                assert err["retryable"] is False
                assert set(err) >= {"message", "retry_after", "request_id"}
        assert server.pending == 0
        async with http.post(
            server.proxy_url + "/api/stream",
            json=proxy_request(),
            headers={"Authorization": "Bearer s3cret-token"},
        ) as r:
            assert r.status == 200
            events = sse_events(await r.read())
        assert events[-1] == (None, "[DONE]")
        end = event_from_dict(json.loads(events[-2][1]))
        assert isinstance(end, StreamEnd)
        assert end.response.content == "echo: hello proxy"


async def test_proxy_events_round_trip(server: FakeLLMServer, http: aiohttp.ClientSession) -> None:
    server.enqueue(
        Reply(
            "Calling the tool.",
            thinking="need weather",
            thinking_signature="sig-123",
            tool_calls=[WEATHER],
            usage=Usage(20, 10),
            request_id="req_proxy_1",
            chunk_size=5,
        )
    )
    async with http.post(server.proxy_url + "/api/stream", json=proxy_request()) as r:
        assert r.status == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        assert r.headers["x-request-id"] == "req_proxy_1"
        events = sse_events(await r.read())
    assert events[-1] == (None, "[DONE]")
    parsed = [event_from_dict(json.loads(data)) for _, data in events[:-1]]
    assert [name for name, _ in events[:-1]] == [e.type for e in parsed]
    start = parsed[0]
    assert isinstance(start, StreamStart)
    assert start.request_id == "req_proxy_1"
    assert start.provider == "fake"
    text = "".join(e.text for e in parsed if isinstance(e, TextDelta))
    assert text == "Calling the tool."
    thinking_end = next(e for e in parsed if isinstance(e, ThinkingEnd))
    assert thinking_end.signature == "sig-123"
    call_end = next(e for e in parsed if isinstance(e, ToolCallEnd))
    assert call_end.tool_call == WEATHER
    end = parsed[-1]
    assert isinstance(end, StreamEnd)
    assert end.response.tool_calls == (WEATHER,)
    assert end.response.finish_reason == FinishReason.TOOL_CALLS
    assert end.response.usage == Usage(20, 10)
    assert end.response.thinking[0].signature == "sig-123"
    assert end.response.request_id == "req_proxy_1"


async def test_proxy_errors(server: FakeLLMServer, http: aiohttp.ClientSession) -> None:
    async with http.post(server.proxy_url + "/api/stream", data=b"not json") as r:
        assert r.status == 400
        assert (await r.json())["error"]["error_type"] == "invalid_request"
    limit = RateLimitError("slow down", status_code=429, retry_after=2.0)
    server.enqueue(ErrorReply.from_error(limit), InStreamError.from_error(limit, after_events=2))
    async with http.post(server.proxy_url + "/api/stream", json=proxy_request()) as r:
        assert r.status == 429
        assert r.headers["retry-after"] == "2"
        err = (await r.json())["error"]
        assert err["error_type"] == "rate_limit"
        assert err["retry_after"] == 2.0
        assert err["retryable"] is True
    async with http.post(server.proxy_url + "/api/stream", json=proxy_request()) as r:
        assert r.status == 200
        events = sse_events(await r.read())
    assert [n for n, _ in events] == ["start", "text_start", "error"]
    assert json.loads(events[-1][1])["error"]["error_type"] == "rate_limit"


# ----------------------------------------------------------------------------- faults


async def test_error_reply_status_headers_body(
    server: FakeLLMServer, http: aiohttp.ClientSession
) -> None:
    body = {
        "error": {"message": "Rate limit reached", "type": "tokens", "code": "rate_limit_exceeded"}
    }
    server.enqueue(
        ErrorReply(429, body, {"retry-after": "3", "x-request-id": "req_fixed"}),
        ErrorReply(
            529, '{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}'
        ),
        ErrorReply(502, b"<html>bad gateway</html>"),
    )
    async with http.post(server.openai_base_url + "/chat/completions", json={}) as r:
        assert r.status == 429
        assert r.headers["retry-after"] == "3"
        assert r.headers["x-request-id"] == "req_fixed"
        assert r.headers["content-type"] == "application/json"
        assert await r.json() == body
    async with http.post(server.url + "/v1/messages", json={}) as r:
        assert r.status == 529
        assert r.headers["request-id"].startswith("req_")
        assert (await r.json())["error"]["type"] == "overloaded_error"
    async with http.post(server.url + "/v1/messages", json={}) as r:
        assert r.status == 502
        assert r.headers["content-type"].startswith("text/plain")
        assert await r.read() == b"<html>bad gateway</html>"


async def test_error_reply_through_sdks(server: FakeLLMServer) -> None:
    server.enqueue(
        ErrorReply(
            529,
            {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}},
            {"x-should-retry": "true"},
        ),
        ErrorReply(
            429,
            {
                "error": {
                    "message": "quota",
                    "type": "insufficient_quota",
                    "code": "insufficient_quota",
                }
            },
        ),
    )
    async with anthropic_client(server) as client:
        with pytest.raises(anthropic.APIStatusError) as info:
            await client.messages.create(
                model="m",
                max_tokens=5,
                messages=USER,
            )
    assert info.value.status_code == 529
    assert info.value.response.headers["request-id"].startswith("req_")
    async with openai_client(server) as oclient:
        with pytest.raises(openai.RateLimitError) as oinfo:
            await oclient.chat.completions.create(
                model="m",
                messages=USER,
            )
    assert oinfo.value.code == "insufficient_quota"


@needs_wire
async def test_error_reply_from_capture(server: FakeLLMServer, http: aiohttp.ClientSession) -> None:
    path = WIRE / "anthropic-error-529-overloaded.json"
    capture = json.loads(path.read_text())
    server.enqueue(ErrorReply.from_capture(path))
    async with http.post(server.url + "/v1/messages", json={}) as r:
        assert r.status == 529
        assert r.headers["request-id"] == capture["headers"]["request-id"]
        assert r.headers["x-should-retry"] == "true"
        assert await r.read() == capture["body_raw"].encode()
        assert r.headers["content-length"] == capture["headers"]["content-length"]


async def test_reset_is_a_connection_error(
    server: FakeLLMServer, http: aiohttp.ClientSession
) -> None:
    server.enqueue(Reset(), Reset())
    with pytest.raises(aiohttp.ClientConnectionError):
        async with http.post(server.openai_base_url + "/chat/completions", json={}) as r:
            await r.read()
    async with openai_client(server) as client:
        with pytest.raises(openai.APIConnectionError):
            await client.chat.completions.create(
                model="m",
                messages=USER,
            )
    assert server.disconnects == 0  # the server hung up, not the client
    # The next request is served normally.
    async with http.post(server.openai_base_url + "/chat/completions", json={}) as r:
        assert r.status == 200


async def test_delay_then_item(server: FakeLLMServer, http: aiohttp.ClientSession) -> None:
    server.enqueue(Delay(0.3, then=ErrorReply(503, {"error": "busy"})), Delay(0.05))
    started = time.monotonic()
    async with http.post(server.url + "/v1/messages", json={}) as r:
        assert r.status == 503
    assert time.monotonic() - started >= 0.28
    async with http.post(server.url + "/v1/messages", json={"messages": USER}) as r:
        assert (await r.json())["content"][0]["text"] == "echo: What is the weather in Paris?"


async def test_truncate_ends_without_terminal_event(
    server: FakeLLMServer, http: aiohttp.ClientSession
) -> None:
    server.enqueue(
        Truncate(),  # everything but [DONE]
        Truncate(after_events=2, reply=Reply("one two three four", chunk_size=4)),
        Truncate(after_events=3),
    )
    payload = {"model": "m", "messages": USER, "stream": True}
    async with http.post(server.url + "/v1/chat/completions", json=payload) as r:
        events = sse_events(await r.read())  # the body ends cleanly
    assert events[-1][1] != "[DONE]"
    assert json.loads(events[-1][1])["choices"][0]["finish_reason"] == "stop"
    async with http.post(server.url + "/v1/chat/completions", json=payload) as r:
        events = sse_events(await r.read())
    assert len(events) == 2
    assert json.loads(events[1][1])["choices"][0]["delta"]["content"] == "one "
    anthropic_payload = {"model": "m", "max_tokens": 5, "messages": USER, "stream": True}
    async with http.post(server.url + "/v1/messages", json=anthropic_payload) as r:
        names = [n for n, _ in sse_events(await r.read())]
    assert names == ["message_start", "content_block_start", "ping"]


async def test_truncate_abort_and_non_stream(
    server: FakeLLMServer, http: aiohttp.ClientSession
) -> None:
    server.enqueue(Truncate(after_events=2, abort=True), Truncate(), Truncate(abort=True))
    payload = {"model": "m", "messages": USER, "stream": True}
    with pytest.raises(aiohttp.ClientPayloadError):
        async with http.post(server.url + "/v1/chat/completions", json=payload) as r:
            await r.read()
    async with http.post(server.url + "/v1/messages", json={"messages": USER}) as r:
        assert r.status == 200
        with pytest.raises(json.JSONDecodeError):
            json.loads(await r.read())
    with pytest.raises(aiohttp.ClientPayloadError):
        async with http.post(server.url + "/v1/messages", json={"messages": USER}) as r:
            await r.read()
    assert server.disconnects == 0


async def test_openai_sdk_accepts_truncated_stream_silently(server: FakeLLMServer) -> None:
    # The field notes' finding, reproduced: no [DONE], no error from the SDK.
    server.enqueue(Truncate(after_events=3, reply=Reply("abcdefghijkl", chunk_size=4)))
    async with openai_client(server) as client:
        stream = await client.chat.completions.create(
            model="m",
            messages=USER,
            stream=True,
        )
        text = "".join([c.choices[0].delta.content or "" async for c in stream])
    assert text == "abcdefgh"


async def test_stall_times_out_client_and_counts_disconnect(
    server: FakeLLMServer, http: aiohttp.ClientSession
) -> None:
    server.enqueue(Stall(after_events=2))
    payload = {"model": "m", "messages": USER, "stream": True}
    timeout = aiohttp.ClientTimeout(sock_read=0.3)
    got: list[bytes] = []

    async def consume() -> None:
        async with http.post(
            server.url + "/v1/chat/completions", json=payload, timeout=timeout
        ) as r:
            assert r.status == 200
            async for line in r.content:
                got.append(line)

    with pytest.raises(asyncio.TimeoutError):
        await consume()
    assert sum(1 for line in got if line.startswith(b"data:")) == 2
    assert await server.wait_for_connections(0)
    assert await server.wait_idle()
    assert server.disconnects == 1


async def test_stall_non_stream_sends_nothing(server: FakeLLMServer) -> None:
    server.enqueue(Stall())
    async with anthropic_client(server, timeout=0.3) as client:
        with pytest.raises(anthropic.APITimeoutError):
            await client.messages.create(
                model="m",
                max_tokens=5,
                messages=USER,
            )
    assert await server.wait_idle()
    assert server.disconnects == 1


async def test_stop_never_hangs_on_stalled_stream(http: aiohttp.ClientSession) -> None:
    server = FakeLLMServer()
    await server.start()
    server.enqueue(Stall(after_events=1))

    async def consume() -> bytes:
        async with http.post(
            server.url + "/v1/messages", json={"messages": USER, "stream": True}
        ) as r:
            return await r.read()

    task = asyncio.create_task(consume())
    assert await server.wait_for_requests(1)
    await asyncio.sleep(0.05)
    assert server.active_streams == 1
    started = time.monotonic()
    await server.stop()
    assert time.monotonic() - started < 2.0
    with pytest.raises(aiohttp.ClientError):
        await asyncio.wait_for(task, 5)
    assert server.disconnects == 0


async def test_malformed_event(server: FakeLLMServer, http: aiohttp.ClientSession) -> None:
    server.enqueue(Malformed(after_events=1), Malformed(after_events=2), Malformed())
    payload = {"model": "m", "messages": USER, "stream": True}
    async with http.post(server.url + "/v1/chat/completions", json=payload) as r:
        events = sse_events(await r.read())
    assert len(events) == 2
    assert events[-1] == (None, "{not json")
    async with http.post(server.url + "/v1/messages", json=payload) as r:
        events = sse_events(await r.read())
    assert events[-1] == ("content_block_delta", "{not json")
    async with http.post(server.url + "/v1/messages", json={"messages": USER}) as r:
        assert await r.read() == b"{not json"


async def test_in_stream_error_through_sdks(server: FakeLLMServer) -> None:
    overloaded = {"type": "overloaded_error", "message": "Overloaded"}
    server.enqueue(
        InStreamError(overloaded, after_events=4),
        InStreamError({"code": 400, "message": "Token limit reached"}, after_events=2),
    )
    async with anthropic_client(server) as client:

        async def consume_anthropic() -> None:
            async with client.messages.stream(model="m", max_tokens=5, messages=USER) as stream:
                async for _ in stream:
                    pass

        with pytest.raises(anthropic.APIStatusError) as info:
            await consume_anthropic()
    assert "Overloaded" in str(info.value)
    async with openai_client(server) as oclient:

        async def consume_openai() -> None:
            stream = await oclient.chat.completions.create(model="m", messages=USER, stream=True)
            async for _ in stream:
                pass

        with pytest.raises(openai.APIError) as oinfo:
            await consume_openai()
    assert "Token limit reached" in str(oinfo.value)


async def test_in_stream_error_wire_bytes(
    server: FakeLLMServer, http: aiohttp.ClientSession
) -> None:
    payload = {"type": "overloaded_error", "message": "Overloaded"}
    server.enqueue(InStreamError(payload), InStreamError(payload, after_events=1))
    async with http.post(server.url + "/v1/messages", json={"messages": USER, "stream": True}) as r:
        events = sse_events(await r.read())
    assert events[-1][0] == "error"
    assert json.loads(events[-1][1]) == {"type": "error", "error": payload}
    assert events[-2][0] == "message_delta"  # everything but message_stop came first
    async with http.post(
        server.url + "/chat/completions", json={"messages": USER, "stream": True}
    ) as r:
        events = sse_events(await r.read())
    assert len(events) == 2
    assert json.loads(events[-1][1]) == {"error": payload}


async def test_raw_chunks_and_body(server: FakeLLMServer, http: aiohttp.ClientSession) -> None:
    sse = [b": OPENROUTER PROCESSING\n\n", b'data: {"x":1}\n\n', b"data: [DONE]\n\n"]
    server.enqueue(
        Raw(chunks=sse),
        Raw(status=418, body=b"teapot", headers={"content-type": "text/plain", "x-a": "b"}),
    )
    async with http.post(server.url + "/v1/chat/completions", json={}) as r:
        assert r.headers["content-type"] == "text/event-stream; charset=utf-8"
        assert await r.read() == b"".join(sse)
    async with http.post(server.url + "/v1/chat/completions", json={}) as r:
        assert r.status == 418
        assert r.headers["x-a"] == "b"
        assert await r.read() == b"teapot"


@needs_wire
async def test_raw_replays_capture_byte_for_byte(
    server: FakeLLMServer, http: aiohttp.ClientSession
) -> None:
    path = WIRE / "anthropic-stream-thinking-then-tool-use.sse"
    server.enqueue(Raw.from_file(path))
    async with http.post(server.url + "/v1/messages", json={"stream": True}) as r:
        assert r.headers["content-type"] == "text/event-stream; charset=utf-8"
        assert await r.read() == path.read_bytes()
    server.enqueue(Raw.from_file(path))
    async with (
        anthropic_client(server) as client,
        client.messages.stream(
            model="m",
            max_tokens=5,
            messages=USER,
        ) as stream,
    ):
        message = await stream.get_final_message()
    assert [b.type for b in message.content] == ["thinking", "tool_use"]
    assert message.content[0].signature.startswith("EoQDCm0I")  # type: ignore[union-attr]


# -------------------------------------------------------------------------- scripting


async def test_queue_handler_and_default_reply_order(
    server: FakeLLMServer, http: aiohttp.ClientSession
) -> None:
    seen: list[RecordedRequest] = []

    def responder(rec: RecordedRequest) -> Reply | None:
        seen.append(rec)
        return Reply("from handler") if rec.model == "dynamic" else None

    server.handler = responder
    server.default_reply = Reply("from default")
    server.enqueue("queued")

    async def ask(model: str) -> str:
        async with http.post(
            server.url + "/v1/chat/completions", json={"model": model, "messages": USER}
        ) as r:
            content: str = (await r.json())["choices"][0]["message"]["content"]
            return content

    assert await ask("dynamic") == "queued"
    assert await ask("dynamic") == "from handler"
    assert await ask("other") == "from default"
    server.default_reply = None
    assert await ask("other") == "echo: What is the weather in Paris?"
    assert [r.model for r in seen] == ["dynamic", "other", "other"]


async def test_async_handler_with_random_faults(
    server: FakeLLMServer, http: aiohttp.ClientSession
) -> None:
    count = 0

    async def responder(rec: RecordedRequest) -> ErrorReply | Reply:
        nonlocal count
        count += 1
        return ErrorReply(500, {"error": "boom"}) if count % 2 else Reply("ok")

    server.handler = responder
    statuses = []
    for _ in range(4):
        async with http.post(server.url + "/chat/completions", json={}) as r:
            statuses.append(r.status)
    assert statuses == [500, 200, 500, 200]


async def test_enqueue_rejects_non_items(server: FakeLLMServer) -> None:
    with pytest.raises(TypeError):
        server.enqueue(42)


async def test_api_key_checked_when_configured(http: aiohttp.ClientSession) -> None:
    async with FakeLLMServer(api_key="sk-good-key") as server:
        async with openai.AsyncOpenAI(
            base_url=server.openai_base_url, api_key="sk-bad-key", max_retries=0
        ) as client:
            with pytest.raises(openai.AuthenticationError):
                await client.chat.completions.create(
                    model="m",
                    messages=USER,
                )
        async with anthropic.AsyncAnthropic(
            base_url=server.anthropic_base_url, api_key="sk-bad-key", max_retries=0
        ) as aclient:
            with pytest.raises(anthropic.AuthenticationError):
                await aclient.messages.create(
                    model="m",
                    max_tokens=5,
                    messages=USER,
                )
        async with http.post(
            server.url + "/v1/messages",
            json={"messages": USER},
            headers={"x-api-key": "sk-good-key"},
        ) as r:
            assert r.status == 200


# ------------------------------------------------------------------ recording, connections


async def test_requests_are_recorded(server: FakeLLMServer, http: aiohttp.ClientSession) -> None:
    async with http.post(
        server.url + "/v1/messages?beta=true",
        json={"model": "claude-x", "messages": USER, "stream": False},
        headers={"X-Api-Key": "k1", "Anthropic-Version": "2023-06-01"},
    ) as r:
        await r.read()
    async with http.get(server.url + "/v1/models") as r:
        await r.read()
    assert server.request_count == 2
    rec = server.requests[0]
    assert rec.method == "POST"
    assert rec.path == "/v1/messages"
    assert rec.query == {"beta": "true"}
    assert rec.headers["x-api-key"] == "k1"
    assert rec.headers["anthropic-version"] == "2023-06-01"
    assert all(k == k.lower() for k in rec.headers)
    assert rec.json == {"model": "claude-x", "messages": USER, "stream": False}
    assert json.loads(rec.body) == rec.json
    assert rec.endpoint == "anthropic"
    assert rec.stream is False
    assert rec.last_user_text == "What is the weather in Paris?"
    assert server.requests[1].endpoint == "models"
    assert server.requests[1].json is None
    server.enqueue("x")
    server.clear()
    assert server.request_count == 0
    assert server.pending == 0


async def test_connections_return_to_zero_after_early_break(server: FakeLLMServer) -> None:
    server.enqueue(Reply("word " * 200, chunk_size=5, event_delay=0.01))
    async with aiohttp.ClientSession() as session:
        async with session.post(
            server.url + "/v1/chat/completions",
            json={"messages": USER, "stream": True},
        ) as r:
            async for line in r.content:
                if line.startswith(b"data:"):
                    break  # stop early; leaving the block releases (closes) the connection
        assert await server.wait_for_connections(0)
    assert await server.wait_idle()
    assert server.disconnects == 1
    assert server.active_streams == 0


async def test_sdk_early_break_closes_connection(server: FakeLLMServer) -> None:
    server.enqueue(Reply("word " * 200, chunk_size=5, event_delay=0.01))
    async with openai_client(server) as client:
        stream = await client.chat.completions.create(
            model="m",
            messages=USER,
            stream=True,
        )
        async for _ in stream:
            break
        await stream.close()
        assert await server.wait_for_connections(0)
    assert server.disconnects == 1


async def test_keep_alive_connection_counted_until_session_closes(
    server: FakeLLMServer,
) -> None:
    async with aiohttp.ClientSession() as session:
        for _ in range(3):
            async with session.post(server.url + "/v1/messages", json={}) as r:
                await r.read()
        assert server.open_connections == 1  # one pooled keep-alive connection
    assert await server.wait_for_connections(0)
    assert server.disconnects == 0


async def test_large_stream_batched_writes(http: aiohttp.ClientSession) -> None:
    async with FakeLLMServer(events_per_write=256) as server:
        server.default_reply = Reply("abcde" * 20_000, chunk_size=5)
        payload = {"messages": USER, "stream": True, "stream_options": {"include_usage": True}}
        started = time.monotonic()
        for _ in range(2):  # the second request reuses the pre-rendered template
            async with http.post(server.url + "/v1/chat/completions", json=payload) as r:
                raw = await r.read()
        elapsed = time.monotonic() - started
    events = sse_events(raw)
    assert len(events) == 20_000 + 4  # role, 20k deltas, finish, usage, [DONE]
    assert events[-1] == (None, "[DONE]")
    assert elapsed < 10


def test_python_m_jackfield_testing_serves_until_interrupted() -> None:
    import signal
    import subprocess
    import sys
    import urllib.request

    proc = subprocess.Popen(
        [sys.executable, "-m", "jackfield.testing", "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        body = json.dumps({"model": "m", "messages": [{"role": "user", "content": "hi"}]})
        request = urllib.request.Request(
            f"{url}/v1/chat/completions",
            data=body.encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert json.loads(response.read())["choices"][0]["message"]["role"] == "assistant"
    finally:
        proc.send_signal(signal.SIGINT)
        status = proc.wait(timeout=10)
        assert proc.stdout is not None
        proc.stdout.close()
    assert status == 0
