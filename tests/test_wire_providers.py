"""Every HTTP-speaking provider on wire-level oddities, over real loopback sockets:
``[DONE]`` with a trailing space, a JSON body answering a stream request, and 200 bodies
of the wrong shape. The parsers themselves are tested in ``test_wire_parsers.py``."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from test_reliability_providers import Spec, provider_params

from jackfield.errors import (
    APIError,
    OverloadedError,
    ProviderError,
    RateLimitError,
    StreamError,
)
from jackfield.testing._fake_server import FakeLLMServer, Raw
from jackfield.types import FinishReason

TIMEOUT = 20  # seconds: a regression fails, never hangs the suite

OPENAI_WIRE = [p for p in provider_params() if p.values[0].wire == "openai"]


def _openai_chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> bytes:
    chunk = {"id": "c", "model": "fake-model", "choices": [{"index": 0, "delta": delta}]}
    chunk["choices"][0]["finish_reason"] = finish
    chunk.update(extra)
    return f"data: {json.dumps(chunk)}\n\n".encode()


@pytest.mark.parametrize("spec", OPENAI_WIRE)
async def test_done_with_a_trailing_space_keeps_the_finished_answer(spec: Spec) -> None:
    usage = {"prompt_tokens": 3, "completion_tokens": 2}
    parts = [
        _openai_chunk({"content": "fine "}),
        _openai_chunk({"content": "answer"}),
        _openai_chunk({}, "stop", usage=usage),
        b"data: [DONE] \n\n",
    ]
    raw = Raw(200, b"".join(parts), {"content-type": "text/event-stream"}, parts)
    async with FakeLLMServer(handler=lambda request: raw) as server:
        provider = spec.make(server, max_retries=0)
        try:
            response = await asyncio.wait_for(provider.stream("hi").collect(), TIMEOUT)
        finally:
            await provider.aclose()
    assert response.content == "fine answer"
    assert response.finish_reason == FinishReason.STOP
    assert response.usage.output_tokens == 2


def _success_body(spec: Spec) -> dict[str, Any]:
    """A well-formed non-streamed answer of the provider's wire format."""
    if spec.wire == "anthropic":
        return {
            "id": "msg_1",
            "type": "message",
            "role": "assistant",
            "model": "fake-model",
            "content": [{"type": "text", "text": "whole"}],
            "stop_reason": "end_turn",
            "usage": {"input_tokens": 1, "output_tokens": 1},
        }
    if spec.wire == "proxy":
        return {"content": "whole", "model": "fake-model", "provider": "x"}
    if spec.wire == "responses":
        content = [{"type": "output_text", "text": "whole", "annotations": []}]
        message = {"type": "message", "role": "assistant", "content": content}
        return {"id": "resp_1", "object": "response", "status": "completed", "output": [message]}
    if spec.wire == "gemini":
        candidate = {"content": {"parts": [{"text": "whole"}], "role": "model"}}
        return {"candidates": [{**candidate, "finishReason": "STOP"}], "modelVersion": "fake-model"}
    message = {"role": "assistant", "content": "whole"}
    return {
        "id": "c",
        "model": "fake-model",
        "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
    }


def _error_body(spec: Spec) -> tuple[dict[str, Any], type[ProviderError]]:
    """An error payload of the provider's wire format, and the class it stands for."""
    if spec.wire == "anthropic":
        body = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
        return body, OverloadedError
    if spec.wire == "proxy":
        return {"error": RateLimitError("slow down", status_code=429).to_dict()}, RateLimitError
    err = {"message": "Rate limit reached", "type": "requests", "code": "rate_limit_exceeded"}
    return {"error": err}, RateLimitError


async def _stream_error(spec: Spec, body: dict[str, Any]) -> ProviderError:
    raw = Raw(200, json.dumps(body).encode(), {"content-type": "application/json"})
    async with FakeLLMServer(handler=lambda request: raw) as server:
        provider = spec.make(server, max_retries=0)
        try:
            with pytest.raises(ProviderError) as info:
                await asyncio.wait_for(provider.stream("hi").collect(), TIMEOUT)
        finally:
            await provider.aclose()
    return info.value


@pytest.mark.parametrize("spec", provider_params())
async def test_a_json_answer_to_a_stream_request_is_named_as_such(spec: Spec) -> None:
    err = await _stream_error(spec, _success_body(spec))
    assert type(err) is StreamError
    assert "JSON" in err.message and "event stream" in err.message, err.message
    assert "content-type application/json" in err.message, err.message  # the header, named
    assert "truncated" not in err.message
    assert not err.retryable


@pytest.mark.parametrize("spec", provider_params())
async def test_a_json_error_answering_a_stream_request_maps_to_its_class(spec: Spec) -> None:
    body, expected = _error_body(spec)
    err = await _stream_error(spec, body)
    assert type(err) is expected, repr(err)


# -- 200 answers of the wrong shape ------------------------------------------------------------


def _sse(payloads: list[dict[str, Any]], named: bool = False) -> Raw:
    parts = [
        (f"event: {p['type']}\n" if named else "").encode() + f"data: {json.dumps(p)}\n\n".encode()
        for p in payloads
    ]
    return Raw(200, b"".join(parts), {"content-type": "text/event-stream"}, parts)


def _wrong_answers(spec: Spec) -> tuple[Raw, Raw, str]:
    """A non-streamed answer with ``tool_calls: [5]`` (or its wire's like), a stream with
    ``usage: "x"``, and the field the errors must name."""
    if spec.wire == "anthropic":
        body = {**_success_body(spec), "content": [5]}
        events = [
            {"type": "message_start", "message": {"id": "m", "model": "fake-model", "usage": {}}},
            {"type": "content_block_start", "index": 0, "content_block": {"type": "text"}},
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "text_delta", "text": "a"},
            },
            {"type": "content_block_stop", "index": 0},
            {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": "x"},
            {"type": "message_stop"},
        ]
        json_body = Raw(200, json.dumps(body).encode(), {"content-type": "application/json"})
        return json_body, _sse(events, named=True), "usage"
    if spec.wire == "gemini":
        body = {**_success_body(spec), "candidates": [{"content": {"parts": [5]}}]}
        chunks = [
            {"candidates": [{"content": {"parts": [{"text": "a"}]}}]},
            {
                "candidates": [{"content": {"parts": []}, "finishReason": "STOP"}],
                "usageMetadata": "x",
            },
        ]
        json_body = Raw(200, json.dumps(body).encode(), {"content-type": "application/json"})
        return json_body, _sse(chunks), "usageMetadata"
    if spec.wire == "responses":
        body = _success_body(spec)
        body["output"] = [5]
        delta = {"type": "response.output_text.delta", "output_index": 0, "delta": "a"}
        done = {"type": "response.completed", "response": {"status": "completed", "usage": "x"}}
        json_body = Raw(200, json.dumps(body).encode(), {"content-type": "application/json"})
        return json_body, _sse([delta, done], named=True), "usage"
    if spec.wire == "proxy":
        end = {"content": "a", "model": "fake-model", "provider": "x", "usage": "x"}
        events = [
            {"type": "start", "model": "fake-model", "provider": "x", "request_id": None},
            {"type": "end", "response": end},
        ]
        # the protocol only streams: generate reads the same stream
        return _sse(events, named=True), _sse(events, named=True), "usage"
    body = _success_body(spec)
    body["choices"][0]["message"]["tool_calls"] = [5]
    chunks = [
        {"id": "c", "model": "fake-model", "choices": [{"index": 0, "delta": {"content": "a"}}]},
        {
            "id": "c",
            "model": "fake-model",
            "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
            "usage": "x",
        },
    ]
    json_body = Raw(200, json.dumps(body).encode(), {"content-type": "application/json"})
    return json_body, _sse(chunks), "usage"


@pytest.mark.parametrize("spec", provider_params())
@pytest.mark.parametrize("streamed", [False, True], ids=["generate", "stream"])
async def test_an_answer_of_the_wrong_shape_is_a_typed_error_naming_the_field(
    spec: Spec, streamed: bool
) -> None:
    generate_reply, stream_reply, stream_field = _wrong_answers(spec)
    reply = stream_reply if streamed else generate_reply
    async with FakeLLMServer(handler=lambda request: reply) as server:
        provider = spec.make(server)
        try:
            call = provider.stream("hi").collect() if streamed else provider.generate("hi")
            with pytest.raises(ProviderError) as info:
                await asyncio.wait_for(call, TIMEOUT)
        finally:
            await provider.aclose()
        requests = server.request_count
    err = info.value
    if streamed or spec.wire == "proxy":
        assert type(err) is StreamError, repr(err)
        assert stream_field in err.message, err.message
    else:
        assert type(err) is APIError, repr(err)
        named = ("content[0]", "tool_calls[0]", "parts[0]", "output[0]")  # Gemini: parts[0]
        assert any(n in err.message for n in named), err.message
    assert not err.retryable and requests == 1  # the server's answer, not a fault to retry
