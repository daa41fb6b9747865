"""OpenAI's Responses wire, replayed: the captures of ``shared/wire`` (recorded from the
live service; see its SOURCES.md) and the documented shapes of
``tests/fixtures/openai-responses`` (see its SOURCES.md), served byte for byte by the fake
server to the real provider (the openai SDK sending, jackfield reading), and what goes
back on the next turn."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from recorded import WIRE

pytest.importorskip("openai", reason="the openai SDK is not installed")

from jackfield.errors import NotFoundError, RateLimitError, ServerError, StreamError
from jackfield.events import StreamEvent, ToolCallDelta, ToolCallEnd, ToolCallStart
from jackfield.plugins.openai import OpenAIProvider
from jackfield.retry import RetryPolicy
from jackfield.testing import assert_well_formed_stream
from jackfield.testing._fake_server import ErrorReply, FakeLLMServer, Raw
from jackfield.types import FinishReason, Message, Response, ToolSpec, Usage
from jackfield.wire import _responses as wire

pytestmark = pytest.mark.filterwarnings("error::ResourceWarning")

KEY = "sk-canary-responses-0123456789"
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "openai-responses"
needs_wire = pytest.mark.skipif(
    not WIRE.is_dir(), reason=f"captured wire files not found at {WIRE}"
)
TOOL = ToolSpec("get_capital", "The capital.", {"type": "object", "properties": {}})


@pytest.fixture
async def server() -> AsyncIterator[FakeLLMServer]:
    async with FakeLLMServer() as srv:
        yield srv


@pytest.fixture
async def make(server: FakeLLMServer) -> AsyncIterator[Callable[..., OpenAIProvider]]:
    made: list[OpenAIProvider] = []

    def factory(**config: Any) -> OpenAIProvider:
        config.setdefault("api_key", KEY)
        config.setdefault("base_url", server.openai_base_url)
        config.setdefault("model", "gpt-5.5")
        provider = OpenAIProvider(**config)
        provider.retry_policy = RetryPolicy(max_retries=0)
        made.append(provider)
        return provider

    yield factory
    for provider in made:
        await provider.aclose()


def _sse(path: Path) -> Raw:
    """The file served as it was recorded, one write per event."""
    body = path.read_bytes()
    chunks = [block + b"\n\n" for block in body.split(b"\n\n") if block.strip()]
    return Raw(200, body, {"content-type": "text/event-stream; charset=utf-8"}, chunks)


async def _events(provider: OpenAIProvider, *args: Any, **kwargs: Any) -> list[StreamEvent]:
    async def run() -> list[StreamEvent]:
        return [e async for e in provider.stream(*args, **kwargs)]

    return await asyncio.wait_for(run(), timeout=10)


async def _stream(provider: OpenAIProvider, *args: Any, **kwargs: Any) -> Response:
    return assert_well_formed_stream(await _events(provider, *args, **kwargs))


def _capture(name: str) -> Path:
    return WIRE / name


# -- the captures ------------------------------------------------------------------------


@needs_wire
async def test_capture_text_stream_with_usage(
    server: FakeLLMServer, make: Callable[..., OpenAIProvider]
) -> None:
    server.enqueue(_sse(_capture("openai-responses-stream-text-usage.sse")))
    response = await _stream(make(), "What is 1231 x 2331?")
    assert response.content == "1231 \u00d7 2331 = **2,869,461**"
    assert response.finish_reason == FinishReason.STOP
    assert response.model == "gpt-5.5-2026-04-23"
    assert response.usage == Usage(input_tokens=94, output_tokens=18)
    assert server.last_request.path == "/v1/responses"


@needs_wire
async def test_capture_function_call_from_eleven_fragments(
    server: FakeLLMServer, make: Callable[..., OpenAIProvider]
) -> None:
    server.enqueue(_sse(_capture("openai-responses-stream-function-call-fragments.sse")))
    events = await _events(make(), "Multiply", tools=[TOOL])
    response = assert_well_formed_stream(events)
    assert [(c.id, c.name, c.arguments) for c in response.tool_calls] == [
        ("call_sVidsfFJ6zlzRpelrPkTPlpd", "multiply", {"a": 1231, "b": 2331})
    ]
    assert response.finish_reason == FinishReason.TOOL_CALLS
    kinds = [type(e) for e in events if isinstance(e, ToolCallStart | ToolCallDelta | ToolCallEnd)]
    assert kinds == [ToolCallStart] + [ToolCallDelta] * 11 + [ToolCallEnd]


@needs_wire
async def test_capture_encrypted_reasoning_is_taken_from_output_item_done(
    server: FakeLLMServer, make: Callable[..., OpenAIProvider]
) -> None:
    path = _capture("openai-responses-stream-reasoning-encrypted-commentary-function-call.sse")
    done = added = None
    for block in path.read_text().split("\n\n"):
        data = [line[5:].strip() for line in block.splitlines() if line.startswith("data:")]
        event = json.loads(data[0]) if data else {}
        if event.get("item", {}).get("type") == "reasoning":
            if event["type"] == "response.output_item.added":
                added = event["item"]["encrypted_content"]
            else:
                done = event["item"]["encrypted_content"]
    assert added and done and added != done  # the premise: .added holds another value
    server.enqueue(_sse(path), "next")
    provider = make()
    response = await _stream(provider, "Capital of PotatoLand?", tools=[TOOL])
    assert response.content == "I\u2019ll check the capital lookup tool for \u201cPotatoLand.\u201d"
    assert [c.name for c in response.tool_calls] == ["get_capital"]
    assert response.usage.reasoning_tokens == 26
    (thinking,) = response.thinking
    item = wire.decode_signature(thinking.signature)
    assert item is not None and item["encrypted_content"] == done
    assert item["id"] == "rs_0fabc13af1ee0049006a691dfe60b081a1baa444d3cf19afba"
    # the next turn sends the item back verbatim, before the answer and the call
    history = [
        Message.user("Capital of PotatoLand?"),
        response.to_message(),
        Message.tool(response.tool_calls[0].id, "Spudville"),
    ]
    await asyncio.wait_for(provider.generate(history, tools=[TOOL]), 10)
    sent = server.last_request.json["input"]
    assert [i.get("type", i.get("role")) for i in sent] == [
        "user",
        "reasoning",
        "assistant",
        "function_call",
        "function_call_output",
    ]
    assert sent[1] == {
        "type": "reasoning",
        "id": item["id"],
        "summary": [],
        "encrypted_content": done,
    }
    assert sent[3]["call_id"] == "call_LabG58Uhrq9kZvR52BYKjToD"
    assert server.last_request.json["store"] is False
    assert server.last_request.json["include"] == ["reasoning.encrypted_content"]


@needs_wire
async def test_capture_reasoning_summary_parts_become_thinking_text(
    server: FakeLLMServer, make: Callable[..., OpenAIProvider]
) -> None:
    path = _capture("openai-responses-stream-reasoning-summary.sse")
    summaries = [
        json.loads(line[5:])["text"]
        for line in path.read_text().splitlines()
        if line.startswith("data:") and '"response.reasoning_summary_text.done"' in line
    ]
    server.enqueue(_sse(path))
    response = await _stream(make(model="gpt-5"), "How many primes?", reasoning=True)
    assert len(summaries) == 3
    assert response.thinking_text == "\n\n".join(summaries)
    assert [t.signature for t in response.thinking] == [None]  # no encrypted content asked
    assert response.content == "3"
    assert response.usage == Usage(input_tokens=32, output_tokens=839, reasoning_tokens=832)


@needs_wire
async def test_capture_incomplete_is_a_length_finish(
    server: FakeLLMServer, make: Callable[..., OpenAIProvider]
) -> None:
    server.enqueue(_sse(_capture("openai-responses-stream-incomplete-max-output-tokens.sse")))
    response = await _stream(make(model="gpt-4o", api="responses"), "States?", max_tokens=50)
    assert response.finish_reason == FinishReason.LENGTH
    assert response.content.startswith("Sure! Here is a list of all 50 U.S. states:")
    assert response.usage.output_tokens == 50
    assert server.last_request.json["max_output_tokens"] == 50


@needs_wire
async def test_capture_non_streamed_reasoning_and_function_call(
    server: FakeLLMServer, make: Callable[..., OpenAIProvider]
) -> None:
    body = _capture("openai-responses-reasoning-and-function-call.json").read_bytes()
    server.enqueue(Raw(200, body, {"content-type": "application/json"}))
    response = await asyncio.wait_for(make().generate("Population?", tools=[TOOL]), 10)
    data = json.loads(body)
    reasoning = data["output"][0]
    assert [(c.name, c.arguments) for c in response.tool_calls] == [
        ("lookup_population", {"country": "Pundora"})
    ]
    assert response.finish_reason == FinishReason.TOOL_CALLS
    assert response.usage.reasoning_tokens == 63
    item = wire.decode_signature(response.thinking[0].signature)
    assert item is not None and item["encrypted_content"] == reasoning["encrypted_content"]
    assert response.raw == data


@needs_wire
@pytest.mark.parametrize("streamed", [False, True], ids=["generate", "stream"])
async def test_capture_unknown_model_400(
    server: FakeLLMServer, make: Callable[..., OpenAIProvider], streamed: bool
) -> None:
    recorded = json.loads(_capture("openai-responses-error-400-model-not-found.json").read_text())
    server.enqueue(ErrorReply(400, recorded["body_raw"], recorded["headers"]))
    provider = make(model="this-model-does-not-exist-12345", api="responses")
    call = _stream(provider, "hi") if streamed else provider.generate("hi")
    with pytest.raises(NotFoundError) as info:  # a 400 here, but the code decides
        await asyncio.wait_for(call, 10)
    assert "does not exist" in info.value.message
    assert info.value.request_id == recorded["headers"]["x-request-id"]


# -- the documented shapes -----------------------------------------------------------------


async def test_fixture_text_with_cached_input(
    server: FakeLLMServer, make: Callable[..., OpenAIProvider]
) -> None:
    server.enqueue(_sse(FIXTURES / "stream-text.sse"))
    response = await _stream(make(), "Hi")
    assert response.content == "Hi there! How can I help?"
    assert response.usage == Usage(input_tokens=2062, output_tokens=9, cache_read_tokens=1920)
    assert response.request_id  # the server's x-request-id


async def test_fixture_reasoning_with_encrypted_content_round_trips(
    server: FakeLLMServer, make: Callable[..., OpenAIProvider]
) -> None:
    server.enqueue(_sse(FIXTURES / "stream-reasoning-encrypted.sse"), "ok")
    provider = make(model="o4-mini")
    response = await _stream(provider, "2 + 2?", reasoning=True)
    assert response.thinking_text == "**Working out the sum**\n\nAdding 2 and 2 gives 4."
    item = wire.decode_signature(response.thinking[0].signature)
    assert item is not None
    assert item["encrypted_content"].endswith(
        "EXAMPLEONLY0aWtO3iJk3XvYqP8fRpGXLSOl0H4cU5sKpl7m2e=="
    )
    assert item["summary"] == [{"type": "summary_text", "text": response.thinking_text}]
    await asyncio.wait_for(provider.generate([Message.user("2 + 2?"), response.to_message()]), 10)
    sent = server.last_request.json
    assert sent["input"][1]["encrypted_content"] == item["encrypted_content"]
    assert "reasoning" not in sent  # this turn did not ask for thinking ...
    assert sent["include"] == ["reasoning.encrypted_content"]  # ... but o4-mini reasons


async def test_fixture_function_call(
    server: FakeLLMServer, make: Callable[..., OpenAIProvider]
) -> None:
    server.enqueue(_sse(FIXTURES / "stream-function-call.sse"))
    response = await _stream(make(), "Weather?", tools=[TOOL])
    assert [(c.id, c.name, c.arguments) for c in response.tool_calls] == [
        ("call_12345xyz", "get_weather", {"location": "Paris, France"})
    ]
    assert response.usage == Usage(input_tokens=291, output_tokens=23)


async def test_fixture_failed_is_the_taxonomy_error(
    server: FakeLLMServer, make: Callable[..., OpenAIProvider]
) -> None:
    server.enqueue(_sse(FIXTURES / "stream-failed.sse"))
    with pytest.raises(ServerError, match="failed to generate"):
        await _stream(make(), "Hi")


async def test_fixture_incomplete_content_filter(
    server: FakeLLMServer, make: Callable[..., OpenAIProvider]
) -> None:
    server.enqueue(_sse(FIXTURES / "stream-incomplete-content-filter.sse"))
    response = await _stream(make(), "Hi")
    assert response.finish_reason == FinishReason.CONTENT_FILTER
    assert response.content == "Here is the"


async def test_fixture_error_event_is_a_rate_limit_with_its_hint(
    server: FakeLLMServer, make: Callable[..., OpenAIProvider]
) -> None:
    server.enqueue(_sse(FIXTURES / "stream-error-event.sse"))
    with pytest.raises(RateLimitError) as info:
        await _stream(make(), "Hi")
    assert info.value.retry_after == pytest.approx(2.4)


@pytest.mark.parametrize(
    "name",
    [
        "stream-text.sse",
        "stream-reasoning-encrypted.sse",
        "stream-function-call.sse",
        "stream-incomplete-content-filter.sse",
    ],
)
async def test_a_stream_cut_before_its_terminal_event_is_a_stream_error(
    server: FakeLLMServer, make: Callable[..., OpenAIProvider], name: str
) -> None:
    raw = _sse(FIXTURES / name)
    assert raw.chunks is not None
    cut = raw.chunks[:-1]  # everything but response.completed / response.incomplete
    server.enqueue(Raw(200, b"".join(cut), dict(raw.headers), cut))
    with pytest.raises(StreamError, match=r"ended before response\.completed"):
        await _stream(make(), "Hi")


async def test_unknown_events_are_skipped_and_counted(
    server: FakeLLMServer, make: Callable[..., OpenAIProvider]
) -> None:
    raw = _sse(FIXTURES / "stream-text.sse")
    assert raw.chunks is not None
    novel = [
        b'event: response.hologram.delta\ndata: {"type":"response.hologram.delta","delta":"?"}\n\n',
        b'event: response.web_search_call.searching\ndata: {"type":'
        b'"response.web_search_call.searching","output_index":0,"item_id":"ws_1"}\n\n',
    ]
    chunks = [raw.chunks[0], *novel, novel[0], *raw.chunks[1:]]
    server.enqueue(Raw(200, b"".join(chunks), dict(raw.headers), chunks))
    response = await _stream(make(), "Hi")
    assert response.content == "Hi there! How can I help?"
    assert response.raw == {
        "skipped_events": {"response.hologram.delta": 2, "response.web_search_call.searching": 1}
    }


def test_every_fixture_is_listed_in_its_sources() -> None:
    listed = (FIXTURES / "SOURCES.md").read_text()
    for path in FIXTURES.glob("*.sse"):
        assert f"`{path.name}`" in listed, path.name
