"""Gemini's wire, replayed: the captures of ``shared/wire`` (recorded from the live
service; see its SOURCES.md) and the documented shapes of ``tests/fixtures/gemini`` (see
its SOURCES.md), served byte for byte by the fake server to the real provider (the
google-genai SDK sending, jackfield reading), and what goes back on the next turn."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from recorded import WIRE

pytest.importorskip("google.genai", reason="the google-genai SDK is not installed")

from jackfield.errors import (
    AuthenticationError,
    BadRequestError,
    ContentFilterError,
    NotFoundError,
    OverloadedError,
    PermissionDeniedError,
    ProviderError,
    QuotaExceededError,
    RateLimitError,
    ServerError,
)
from jackfield.plugins.gemini import GeminiProvider
from jackfield.retry import RetryPolicy
from jackfield.testing import assert_well_formed_stream
from jackfield.testing._fake_server import ErrorReply, FakeLLMServer, Raw, Reply
from jackfield.types import FinishReason, Message, Response, Usage
from jackfield.wire import _gemini as wire

pytestmark = pytest.mark.filterwarnings("error::ResourceWarning")

KEY = "AIzaSy-canary-0123456789abcdefghijkl"
# The recorded captures live next to the checkout (set JACKFIELD_WIRE_DIR to point
# elsewhere); the tests that need them skip, saying so, when the folder is absent.
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "gemini"
needs_wire = pytest.mark.skipif(
    not WIRE.is_dir(), reason=f"captured wire files not found at {WIRE}"
)


@pytest.fixture
async def server() -> AsyncIterator[FakeLLMServer]:
    async with FakeLLMServer() as srv:
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


async def _stream(provider: GeminiProvider, *args: Any, **kwargs: Any) -> Response:
    events = await asyncio.wait_for(_collect(provider, *args, **kwargs), timeout=10)
    return assert_well_formed_stream(events)


async def _collect(provider: GeminiProvider, *args: Any, **kwargs: Any) -> list[Any]:
    return [event async for event in provider.stream(*args, **kwargs)]


def _model_turn(server: FakeLLMServer) -> list[dict[str, Any]]:
    """The parts of the model turn the last request sent back."""
    contents = server.last_request.json["contents"]
    turns = [c for c in contents if c["role"] == "model"]
    assert len(turns) == 1, contents
    parts: list[dict[str, Any]] = turns[0]["parts"]
    return parts


# -- the captures of shared/wire ------------------------------------------------------------


def test_every_gemini_capture_is_replayed_here() -> None:
    if not WIRE.is_dir():
        pytest.skip(f"captured wire files not found at {WIRE}")
    assert {p.name for p in WIRE.glob("gemini-*")} == {
        *STREAMS,
        "gemini-generate-finish-safety.json",
        "gemini-prompt-blocked-prohibited-content.json",
        *ERRORS,
    }


STREAMS = {
    "gemini-stream-text-usage.sse",
    "gemini-stream-thinking-signature-on-first-text.sse",
    "gemini-stream-thinking-signature-in-empty-final-part.sse",
    "gemini-stream-parallel-function-calls.sse",
}


@needs_wire
async def test_text_stream_with_cumulative_usage(
    server: FakeLLMServer, make: Callable[..., GeminiProvider]
) -> None:
    server.enqueue(Raw.from_file(WIRE / "gemini-stream-text-usage.sse"))
    response = await _stream(make(model="gemini-2.5-flash"), "4200 + 42?")
    assert response.content.startswith("To find the sum of 4200 + 42")
    assert response.content.endswith("00 + 42 = **4242**.")
    assert response.finish_reason == FinishReason.STOP
    # the last chunk's usage; thoughts (75) are output, and reasoning
    assert response.usage == Usage(13, 63 + 75, reasoning_tokens=75)
    assert response.request_id == "VJfyaP7eE_6zmtkP4qLV6Ao"
    assert response.model == "gemini-2.5-flash"
    path = server.last_request.path
    assert path == "/v1beta/models/gemini-2.5-flash:streamGenerateContent"
    assert server.last_request.query == {"alt": "sse"}


@needs_wire
async def test_signature_on_the_first_text_part_goes_back_on_the_text(
    server: FakeLLMServer, make: Callable[..., GeminiProvider]
) -> None:
    provider = make(model="gemini-2.5-pro")
    server.enqueue(Raw.from_file(WIRE / "gemini-stream-thinking-signature-on-first-text.sse"))
    response = await _stream(provider, "How do I cross the street?", reasoning=True)
    thought, signed = response.thinking
    assert thought.text.startswith("**Clarifying User Goals**")
    assert "**Crafting Safe Instructions**" in thought.text  # 4 thought chunks, one block
    assert thought.signature is None
    where, signature = wire.decode_signature(signed.signature) or ("", "")
    assert (signed.text, where) == ("", "text")
    assert signature.startswith("CiIB0e2Kb6Syj1a961Ef")
    assert response.content.startswith("This is a great question!")
    assert response.usage.reasoning_tokens == 787

    server.enqueue(Reply("ok"))
    await provider.generate([Message.user("How?"), response.to_message(), Message.user("More")])
    parts = _model_turn(server)
    assert parts[0] == {"text": thought.text, "thought": True}
    assert parts[1] == {"text": response.content, "thoughtSignature": signature}
    assert len(parts) == 2


@needs_wire
async def test_signature_in_an_empty_final_part_is_kept_and_sent_back_last(
    server: FakeLLMServer, make: Callable[..., GeminiProvider]
) -> None:
    provider = make(model="gemini-3-pro-preview")
    raw = Raw.from_file(WIRE / "gemini-stream-thinking-signature-in-empty-final-part.sse")
    server.enqueue(raw)
    response = await _stream(provider, "2 + 2 as JSON", reasoning="high", json_mode=True)
    assert json.loads(response.content) == {"integer_a": 2, "integer_b": 2, "answer": 4}
    sent = server.last_request.json["generationConfig"]
    assert sent["responseMimeType"] == "application/json"
    assert sent["thinkingConfig"] == {"includeThoughts": True, "thinkingLevel": "high"}
    decoded = wire.decode_signature(response.thinking[-1].signature)
    assert decoded is not None and decoded[0] == "end"
    assert decoded[1].startswith("EtQJCtEJAXLI2nzH9trC")

    server.enqueue(Reply("ok"))
    await provider.generate([Message.user("q"), response.to_message(), Message.user("again")])
    parts = _model_turn(server)
    assert parts[-1] == {"text": "", "thoughtSignature": decoded[1]}
    assert parts[-2] == {"text": response.content}


@needs_wire
async def test_parallel_calls_only_the_first_signed_and_sent_back_so(
    server: FakeLLMServer, make: Callable[..., GeminiProvider]
) -> None:
    provider = make(model="gemini-2.5-flash")
    server.enqueue(Raw.from_file(WIRE / "gemini-stream-parallel-function-calls.sse"))
    response = await _stream(provider, "Use both passwords")
    assert response.finish_reason == FinishReason.TOOL_CALLS  # STOP with calls
    assert [(c.name, c.arguments) for c in response.tool_calls] == [
        ("secret_retrieval_tool", {"password": "mellon"}),
        ("secret_retrieval_tool", {"password": "radiance"}),
    ]
    first, second = response.tool_calls
    assert first.id != second.id  # Gemini 2.5 sends no ids: made-up, distinct
    (signed,) = response.thinking
    decoded = wire.decode_signature(signed.signature)
    assert decoded is not None and decoded[0] == "fc0"

    server.enqueue(Reply("done"))
    history = [
        Message.user("Use both passwords"),
        response.to_message(),
        Message.tool(first.id, {"secret": "a"}),
        Message.tool(second.id, "b"),
    ]
    await provider.generate(history)
    parts = _model_turn(server)
    assert parts == [
        {
            "functionCall": {"name": "secret_retrieval_tool", "args": {"password": "mellon"}},
            "thoughtSignature": decoded[1],
        },
        {"functionCall": {"name": "secret_retrieval_tool", "args": {"password": "radiance"}}},
    ]
    results = server.last_request.json["contents"][-1]
    assert results == {
        "role": "user",
        "parts": [
            {"functionResponse": {"name": "secret_retrieval_tool", "response": {"secret": "a"}}},
            {"functionResponse": {"name": "secret_retrieval_tool", "response": {"output": "b"}}},
        ],
    }


@needs_wire
@pytest.mark.parametrize("streamed", [False, True], ids=["generate", "stream"])
async def test_safety_finish_is_a_content_filter_finish(
    server: FakeLLMServer, make: Callable[..., GeminiProvider], streamed: bool
) -> None:
    body = (WIRE / "gemini-generate-finish-safety.json").read_bytes()
    if streamed:
        server.enqueue(Raw(200, b"data: " + json.dumps(json.loads(body)).encode() + b"\r\n\r\n"))
        response = await _stream(make(), "something hateful")
    else:
        server.enqueue(Raw.from_file(WIRE / "gemini-generate-finish-safety.json"))
        response = await make().generate("something hateful")
    assert response.finish_reason == FinishReason.CONTENT_FILTER
    assert response.content == ""
    assert response.usage == Usage(input_tokens=14)


@needs_wire
@pytest.mark.parametrize("streamed", [False, True], ids=["generate", "stream"])
async def test_blocked_prompt_raises_content_filter_error(
    server: FakeLLMServer, make: Callable[..., GeminiProvider], streamed: bool
) -> None:
    body = json.loads((WIRE / "gemini-prompt-blocked-prohibited-content.json").read_bytes())
    if streamed:  # the issue it comes from saw it as the stream's only chunk
        server.enqueue(Raw(200, b"data: " + json.dumps(body).encode() + b"\r\n\r\n"))
        with pytest.raises(ContentFilterError, match="PROHIBITED_CONTENT"):
            await _stream(make(), "x")
    else:
        server.enqueue(Raw(200, json.dumps(body).encode()))
        with pytest.raises(ContentFilterError, match="PROHIBITED_CONTENT") as info:
            await make().generate("x")
        assert info.value.retryable is False


ERRORS: dict[str, tuple[type[ProviderError], float | None]] = {
    "gemini-error-400-api-key-invalid.json": (AuthenticationError, None),
    "gemini-error-429-resource-exhausted.json": (RateLimitError, 26.0),  # per minute
    "gemini-error-503-unavailable-high-demand.json": (OverloadedError, None),
}


@needs_wire
@pytest.mark.parametrize("name", sorted(ERRORS))
@pytest.mark.parametrize("streamed", [False, True], ids=["generate", "stream"])
async def test_captured_errors_map_to_the_taxonomy(
    server: FakeLLMServer, make: Callable[..., GeminiProvider], name: str, streamed: bool
) -> None:
    capture = json.loads((WIRE / name).read_bytes())
    raw = capture.get("body_raw") or json.dumps(capture["body"])
    server.enqueue(ErrorReply(capture["status"], raw, capture["headers"]))
    expected, retry_after = ERRORS[name]
    provider = make()
    call = _stream(provider, "hi") if streamed else provider.generate("hi")
    with pytest.raises(ProviderError) as info:
        await call
    err = info.value
    assert type(err) is expected, err
    assert err.status_code == capture["status"]
    assert err.retry_after == retry_after
    assert err.provider == "gemini"
    assert server.request_count == 1


# -- the documented shapes of tests/fixtures/gemini ------------------------------------------


async def test_fixture_text_stream(
    server: FakeLLMServer, make: Callable[..., GeminiProvider]
) -> None:
    server.enqueue(Raw.from_file(FIXTURES / "stream-text.sse"))
    response = await _stream(make(), "Capital of France?")
    assert response.content == "The capital of France is Paris."
    assert response.usage == Usage(8, 7, cache_read_tokens=4)  # cached: a part of input


async def test_fixture_thinking_then_signed_call_round_trips(
    server: FakeLLMServer, make: Callable[..., GeminiProvider]
) -> None:
    provider = make()
    server.enqueue(Raw.from_file(FIXTURES / "stream-thinking-signed-call.sse"))
    response = await _stream(provider, "Weather in Paris?", reasoning=True)
    assert response.thinking_text == "**Planning** The user wants the weather."
    (call,) = response.tool_calls
    assert (call.id, call.name, call.arguments) == ("fc-doc-1", "get_weather", {"city": "Paris"})
    assert response.usage == Usage(20, 29, reasoning_tokens=20)

    server.enqueue(Reply("Sunny."))
    history = [Message.user("Weather in Paris?"), response.to_message()]
    history.append(Message.tool(call.id, {"sky": "clear"}))
    assert (await provider.generate(history)).content == "Sunny."
    parts = _model_turn(server)
    assert parts == [
        {"text": "**Planning** The user wants the weather.", "thought": True},
        {
            "functionCall": {"name": "get_weather", "args": {"city": "Paris"}, "id": "fc-doc-1"},
            "thoughtSignature": "U2lnbmF0dXJlLUEtZm9yLXRoZS1maXJzdC1zdGVw",
        },
    ]
    answer = server.last_request.json["contents"][-1]["parts"]
    assert answer == [
        {
            "functionResponse": {
                "name": "get_weather",
                "response": {"sky": "clear"},
                "id": "fc-doc-1",
            }
        }
    ]


async def test_fixture_parallel_calls_generate_and_stream_agree(
    server: FakeLLMServer, make: Callable[..., GeminiProvider]
) -> None:
    provider = make()
    server.enqueue(Raw.from_file(FIXTURES / "stream-parallel-calls.sse"))
    streamed = await _stream(provider, "Paris and London?")
    chunk = (FIXTURES / "stream-parallel-calls.sse").read_text().removeprefix("data: ").strip()
    server.enqueue(Raw(200, chunk.encode()))
    generated = await provider.generate("Paris and London?")
    assert streamed.tool_calls == generated.tool_calls
    assert streamed.thinking == generated.thinking
    assert [c.arguments["city"] for c in generated.tool_calls] == ["Paris", "London"]


async def test_fixture_safety_block_after_text(
    server: FakeLLMServer, make: Callable[..., GeminiProvider]
) -> None:
    server.enqueue(Raw.from_file(FIXTURES / "stream-safety-block.sse"))
    response = await _stream(make(), "x")
    assert response.content == "Here is the first line"
    assert response.finish_reason == FinishReason.CONTENT_FILTER


FIXTURE_ERRORS: dict[str, tuple[type[ProviderError], bool, float | None]] = {
    "429-rate-limit-per-minute": (RateLimitError, True, 12.0),
    "429-quota-per-day": (QuotaExceededError, False, None),
    "400-invalid-argument": (BadRequestError, False, None),
    "403-permission-denied": (PermissionDeniedError, False, None),
    "404-not-found": (NotFoundError, False, None),
    "500-internal": (ServerError, True, None),
    "503-unavailable": (OverloadedError, True, None),
    "504-deadline-exceeded": (ServerError, True, None),
}


@pytest.mark.parametrize("name", sorted(FIXTURE_ERRORS))
async def test_fixture_error_bodies(
    server: FakeLLMServer, make: Callable[..., GeminiProvider], name: str
) -> None:
    case = json.loads((FIXTURES / "errors.json").read_text())[name]
    server.enqueue(ErrorReply(case["status"], case["body"]))
    expected, retryable, retry_after = FIXTURE_ERRORS[name]
    with pytest.raises(ProviderError) as info:
        await make().generate("hi")
    assert type(info.value) is expected, info.value
    assert info.value.retryable is retryable
    assert info.value.retry_after == retry_after


async def test_error_chunk_inside_a_stream(
    server: FakeLLMServer, make: Callable[..., GeminiProvider]
) -> None:
    first = (FIXTURES / "stream-text.sse").read_bytes().split(b"\r\n\r\n")[0] + b"\r\n\r\n"
    error = (
        b'data: {"error": {"code": 503, "message": "The model is overloaded.", '
        b'"status": "UNAVAILABLE"}}\r\n\r\n'
    )
    server.enqueue(Raw(200, first + error, chunks=[first, error]))
    seen: list[Any] = []

    async def consume() -> None:
        async for event in make().stream("x"):
            seen.append(event)

    with pytest.raises(OverloadedError):
        await asyncio.wait_for(consume(), 10)
    assert any(getattr(e, "text", "") == "The capital of France" for e in seen)


async def test_stream_cut_before_a_finish_reason_is_a_stream_error(
    server: FakeLLMServer, make: Callable[..., GeminiProvider]
) -> None:
    first = (FIXTURES / "stream-text.sse").read_bytes().split(b"\r\n\r\n")[0] + b"\r\n\r\n"
    server.enqueue(Raw(200, first))
    with pytest.raises(ProviderError, match="before a finishReason"):
        await _stream(make(), "x")


# -- usage checked at every chunk --------------------------------------------------------------


def _usage_chunk(usage: dict[str, Any], final: bool = False) -> str:
    candidate: dict[str, Any] = {"content": {"parts": [{"text": "a"}], "role": "model"}}
    if final:
        candidate["finishReason"] = "STOP"
    return json.dumps({"candidates": [candidate], "usageMetadata": usage})


@pytest.mark.parametrize("bad", ["7", -1, True, 1.5, [3], {"n": 3}])
@pytest.mark.parametrize("field", ["candidatesTokenCount", "thoughtsTokenCount"])
def test_a_bad_count_fails_at_the_chunk_that_carries_it(field: str, bad: Any) -> None:
    from jackfield.errors import StreamError
    from jackfield.wire._assembler import StreamAssembler

    parser = wire.ChunkParser(StreamAssembler("gemini", "gemini-2.5-flash"))
    parser.feed(_usage_chunk({"promptTokenCount": 3, field: 1}))
    with pytest.raises(StreamError, match=f"usageMetadata.{field}"):
        parser.feed(_usage_chunk({"promptTokenCount": 3, field: bad}))


def test_the_last_chunk_s_usage_wins_whole_floats_and_nulls_included() -> None:
    from jackfield.events import StreamEnd
    from jackfield.wire._assembler import StreamAssembler

    parser = wire.ChunkParser(StreamAssembler("gemini", "gemini-2.5-flash"))
    parser.feed(_usage_chunk({"promptTokenCount": 3, "candidatesTokenCount": 1}))
    parser.feed(_usage_chunk({"promptTokenCount": 3.0, "thoughtsTokenCount": None}))
    last = {"promptTokenCount": 3, "candidatesTokenCount": 2.0, "thoughtsTokenCount": 5}
    parser.feed(_usage_chunk(last, final=True))
    end = [e for e in parser.close() if isinstance(e, StreamEnd)]
    assert end[0].response.usage == Usage(input_tokens=3, output_tokens=7, reasoning_tokens=5)
