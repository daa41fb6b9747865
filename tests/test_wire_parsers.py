"""The wire parsers (OpenAI chat, Anthropic messages, proxy) on awkward but real input:
one rule for tool arguments in ``generate`` and ``stream``, ``[DONE]`` with spaces, a
JSON body where a stream was expected, and 200 bodies of the wrong shape."""

from __future__ import annotations

import json
from typing import Any

import pytest

from jackfield.events import StreamEnd, StreamEvent, ToolCallDelta
from jackfield.types import FinishReason, ToolCall
from jackfield.wire import _anthropic as anthropic_wire, _openai_chat as openai_wire
from jackfield.wire._assembler import StreamAssembler

# -- tool arguments: one rule for generate and stream ---------------------------------------

ARGUMENT_TEXTS = [
    ('{"city": "Par', {}, '{"city": "Par'),  # cut by max_tokens
    ('{"a": 1} {"b": 2}', {}, '{"a": 1} {"b": 2}'),  # two objects run together
    ("[1, 2]", {}, "[1, 2]"),  # not an object
    ("nonsense", {}, "nonsense"),
    ('{"city": "Paris"}', {"city": "Paris"}, None),
    ("", {}, None),
    ("   ", {}, None),
]


def _openai_body(arguments: str) -> dict[str, Any]:
    call = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": arguments}}
    message = {"role": "assistant", "content": None, "tool_calls": [call]}
    return {"id": "x", "model": "m", "choices": [{"index": 0, "message": message}]}


def _openai_stream(arguments: str, cut: int = 5) -> list[StreamEvent]:
    parser = openai_wire.ChunkParser(StreamAssembler("p", "m"))
    pieces = [arguments[i : i + cut] for i in range(0, len(arguments), cut)] or [""]
    events: list[StreamEvent] = []
    for n, piece in enumerate(pieces):
        fn: dict[str, Any] = {"arguments": piece}
        tc: dict[str, Any] = {"index": 0, "function": fn}
        if n == 0:
            tc["id"], fn["name"] = "c1", "f"
        chunk = {"model": "m", "choices": [{"index": 0, "delta": {"tool_calls": [tc]}}]}
        events += parser.feed(json.dumps(chunk))
    finish = {"model": "m", "choices": [{"index": 0, "delta": {}, "finish_reason": "length"}]}
    events += parser.feed(json.dumps(finish))
    events += parser.feed("[DONE]")
    return events


@pytest.mark.parametrize(("text", "arguments", "raw"), ARGUMENT_TEXTS)
def test_openai_generate_and_stream_give_the_same_tool_call(
    text: str, arguments: dict[str, Any], raw: str | None
) -> None:
    generated = openai_wire.parse_response(_openai_body(text), provider="p", model="m")
    end = _openai_stream(text)[-1]
    assert isinstance(end, StreamEnd)
    (from_generate,) = generated.tool_calls
    (from_stream,) = end.response.tool_calls
    for call in (from_generate, from_stream):
        assert call.arguments == arguments
        assert call.raw_arguments == raw
    assert from_generate == from_stream == ToolCall("c1", "f", arguments)


def test_stream_deltas_still_carry_the_partial_arguments() -> None:
    events = _openai_stream('{"city": "Par', cut=4)
    partials = [e.partial_arguments for e in events if isinstance(e, ToolCallDelta)]
    assert partials[-1] == {"city": "Par"}  # in progress: best effort
    end = events[-1]
    assert isinstance(end, StreamEnd)
    assert end.response.tool_calls[0].arguments == {}  # final: strict


@pytest.mark.parametrize(("text", "arguments", "raw"), ARGUMENT_TEXTS)
def test_anthropic_stream_tool_arguments_follow_the_same_rule(
    text: str, arguments: dict[str, Any], raw: str | None
) -> None:
    parser = anthropic_wire.EventParser(StreamAssembler("p", "m"))
    message = {"id": "msg", "model": "m", "usage": {"input_tokens": 1}}
    block = {"type": "tool_use", "id": "c1", "name": "f", "input": {}}
    feed = [
        {"type": "message_start", "message": message},
        {"type": "content_block_start", "index": 0, "content_block": block},
        *(
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "input_json_delta", "partial_json": text[i : i + 5]},
            }
            for i in range(0, len(text), 5)
        ),
        {"type": "content_block_stop", "index": 0},
        {"type": "message_delta", "delta": {"stop_reason": "max_tokens"}, "usage": {}},
        {"type": "message_stop"},
    ]
    events: list[StreamEvent] = []
    for payload in feed:
        events += parser.feed(payload["type"], json.dumps(payload))
    end = events[-1]
    assert isinstance(end, StreamEnd)
    (call,) = end.response.tool_calls
    assert call.arguments == arguments
    assert call.raw_arguments == raw


# -- [DONE] with spaces -----------------------------------------------------------------


@pytest.mark.parametrize("done", ["[DONE] ", "[DONE]  ", " [DONE]", "[DONE]\t", "[DONE]\r"])
def test_done_with_surrounding_whitespace_ends_the_stream(done: str) -> None:
    parser = openai_wire.ChunkParser(StreamAssembler("p", "m"))
    text = {"model": "m", "choices": [{"index": 0, "delta": {"content": "hi"}}]}
    finish = {
        "model": "m",
        "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 1},
    }
    parser.feed(json.dumps(text))
    parser.feed(json.dumps(finish))
    events = parser.feed(done)
    assert parser.done
    end = events[-1]
    assert isinstance(end, StreamEnd)
    assert end.response.content == "hi"
    assert end.response.finish_reason == FinishReason.STOP
    assert end.response.usage.output_tokens == 1
