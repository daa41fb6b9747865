"""The wire parsers (OpenAI chat, Anthropic messages, proxy) on awkward but real input:
one rule for tool arguments in ``generate`` and ``stream``, ``[DONE]`` with spaces, and
200 bodies of the wrong shape (a typed error naming the field, never another class)."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from jackfield.errors import APIError, StreamError
from jackfield.events import StreamEnd, StreamEvent, ToolCallDelta, event_to_dict
from jackfield.types import FinishReason, Response, Thinking, ToolCall, Usage
from jackfield.wire import (
    _anthropic as anthropic_wire,
    _openai_chat as openai_wire,
    _proxy as proxy_wire,
)
from jackfield.wire._assembler import StreamAssembler, events_for_response
from jackfield.wire._shape import check_attrs
from jackfield.wire._sse import SSEEvent

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


# -- 200 bodies of the wrong shape ------------------------------------------------------------

OPENAI_BODY: dict[str, Any] = {
    "id": "chatcmpl-1",
    "model": "m",
    "choices": [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": "hi",
                "reasoning_content": "think",
                "tool_calls": [
                    {
                        "id": "c1",
                        "type": "function",
                        "function": {"name": "f", "arguments": '{"a": 1}'},
                    }
                ],
            },
            "finish_reason": "tool_calls",
        }
    ],
    "usage": {
        "prompt_tokens": 3,
        "completion_tokens": 2,
        "prompt_tokens_details": {"cached_tokens": 1},
        "completion_tokens_details": {"reasoning_tokens": 1},
    },
}

OPENAI_CHUNKS: list[dict[str, Any]] = [
    {"id": "c", "model": "m", "choices": [{"index": 0, "delta": {"role": "assistant"}}]},
    {"id": "c", "model": "m", "choices": [{"index": 0, "delta": {"reasoning_content": "t"}}]},
    {"id": "c", "model": "m", "choices": [{"index": 0, "delta": {"content": "hi"}}]},
    {
        "id": "c",
        "model": "m",
        "choices": [
            {
                "index": 0,
                "delta": {
                    "tool_calls": [
                        {"index": 0, "id": "c1", "function": {"name": "f", "arguments": '{"a"'}}
                    ]
                },
            }
        ],
    },
    {
        "id": "c",
        "model": "m",
        "choices": [
            {"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": ": 1}"}}]}}
        ],
    },
    {
        "id": "c",
        "model": "m",
        "choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 2},
    },
]

ANTHROPIC_BODY: dict[str, Any] = {
    "id": "msg_1",
    "type": "message",
    "role": "assistant",
    "model": "m",
    "content": [
        {"type": "thinking", "thinking": "hmm", "signature": "sig"},
        {"type": "redacted_thinking", "data": "opaque"},
        {"type": "text", "text": "hi"},
        {"type": "tool_use", "id": "t1", "name": "f", "input": {"a": 1}},
    ],
    "stop_reason": "tool_use",
    "usage": {
        "input_tokens": 3,
        "output_tokens": 2,
        "cache_read_input_tokens": 1,
        "cache_creation_input_tokens": 0,
    },
}

ANTHROPIC_EVENTS: list[dict[str, Any]] = [
    {
        "type": "message_start",
        "message": {"id": "msg_1", "model": "m", "usage": {"input_tokens": 3, "output_tokens": 1}},
    },
    {
        "type": "content_block_start",
        "index": 0,
        "content_block": {"type": "thinking", "thinking": "", "signature": ""},
    },
    {
        "type": "content_block_delta",
        "index": 0,
        "delta": {"type": "thinking_delta", "thinking": "h"},
    },
    {
        "type": "content_block_delta",
        "index": 0,
        "delta": {"type": "signature_delta", "signature": "sig"},
    },
    {"type": "content_block_stop", "index": 0},
    {"type": "content_block_start", "index": 1, "content_block": {"type": "text", "text": ""}},
    {"type": "content_block_delta", "index": 1, "delta": {"type": "text_delta", "text": "hi"}},
    {"type": "content_block_stop", "index": 1},
    {
        "type": "content_block_start",
        "index": 2,
        "content_block": {"type": "tool_use", "id": "t1", "name": "f", "input": {}},
    },
    {
        "type": "content_block_delta",
        "index": 2,
        "delta": {"type": "input_json_delta", "partial_json": '{"a": 1}'},
    },
    {"type": "content_block_stop", "index": 2},
    {"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 5}},
    {"type": "message_stop"},
]

PROXY_EVENTS: list[dict[str, Any]] = [
    event_to_dict(e)
    for e in events_for_response(
        Response(
            "hi",
            "m",
            "p",
            usage=Usage(3, 2),
            tool_calls=(ToolCall("c1", "f", {"a": 1}),),
            thinking=(Thinking("hmm", "sig"),),
            request_id="r1",
        )
    )
]

_json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-5, 5)
    | st.floats(allow_nan=False)
    | st.text(max_size=5).filter(lambda t: t not in ("error", "[DONE]")),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=5,
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a value inside ``value`` (its keys and list indices)."""
    out = [prefix] if prefix else []
    if isinstance(value, dict):
        for k, v in value.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _paths(v, (*prefix, i))
    return out


def _mutated(body: Any, data: st.DataObject) -> Any:
    """``body`` with the value at one of its paths replaced by any JSON value."""
    body = copy.deepcopy(body)
    path = data.draw(st.sampled_from(_paths(body)))
    target = body
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = data.draw(_json_values)
    return body


def _well_typed_events(events: list[StreamEvent]) -> None:
    for event in events:
        check_attrs(event, event.type)


SHAPES = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SHAPES
@given(data=st.data())
def test_property_openai_body_of_any_wrong_shape_gives_a_response_or_api_error(
    data: st.DataObject,
) -> None:
    body = _mutated(OPENAI_BODY, data)
    try:
        response = openai_wire.parse_response(body, provider="p", model="m")
    except APIError:
        return
    check_attrs(response, "response")


@SHAPES
@given(data=st.data())
def test_property_anthropic_body_of_any_wrong_shape_gives_a_response_or_api_error(
    data: st.DataObject,
) -> None:
    body = _mutated(ANTHROPIC_BODY, data)
    try:
        response = anthropic_wire.parse_response(body, provider="p", model="m")
    except APIError:
        return
    check_attrs(response, "response")


@SHAPES
@given(data=st.data())
def test_property_openai_stream_of_any_wrong_shape_gives_events_or_stream_error(
    data: st.DataObject,
) -> None:
    chunks = _mutated(OPENAI_CHUNKS, data)
    parser = openai_wire.ChunkParser(StreamAssembler("p", "m"))
    events: list[StreamEvent] = []
    try:
        for chunk in chunks:
            events += parser.feed(json.dumps(chunk))
        events += parser.feed("[DONE]")
    except StreamError:
        return
    _well_typed_events(events)


@SHAPES
@given(data=st.data())
def test_property_anthropic_stream_of_any_wrong_shape_gives_events_or_stream_error(
    data: st.DataObject,
) -> None:
    payloads = _mutated(ANTHROPIC_EVENTS, data)
    parser = anthropic_wire.EventParser(StreamAssembler("p", "m"))
    events: list[StreamEvent] = []
    try:
        for payload in payloads:
            kind = payload.get("type") if isinstance(payload, dict) else None
            events += parser.feed(kind if isinstance(kind, str) else None, json.dumps(payload))
        events += parser.close()
    except StreamError:
        return
    _well_typed_events(events)


@SHAPES
@given(data=st.data())
def test_property_proxy_events_of_any_wrong_shape_give_events_or_stream_error(
    data: st.DataObject,
) -> None:
    payloads = _mutated(PROXY_EVENTS, data)
    events: list[StreamEvent] = []
    try:
        for payload in payloads:
            events.append(proxy_wire.decode_event(SSEEvent(json.dumps(payload))))
    except StreamError:
        return
    _well_typed_events(events)


@pytest.mark.parametrize(
    ("path", "value", "named"),
    [
        (("choices", 0, "message", "tool_calls"), [5], "choices[0].message.tool_calls[0]"),
        (("usage",), "x", "usage"),
        (("usage", "prompt_tokens"), "x", "usage.prompt_tokens"),
        (("choices", 0, "finish_reason"), ["stop"], "finish_reason"),
        (("choices", 0, "message", "content"), {"text": "hi"}, "choices[0].message.content"),
    ],
)
def test_openai_body_of_the_wrong_shape_names_the_field(
    path: tuple[Any, ...], value: Any, named: str
) -> None:
    body = copy.deepcopy(OPENAI_BODY)
    target: Any = body
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    with pytest.raises(APIError) as info:
        openai_wire.parse_response(body, provider="p", model="m")
    assert type(info.value) is APIError and named in info.value.message, info.value.message


@pytest.mark.parametrize(
    ("path", "value", "named"),
    [
        (("content", 3), 5, "content[3]"),
        (("usage",), "x", "usage"),
        (("usage", "input_tokens"), "x", "usage.input_tokens"),
        (("stop_reason",), ["end_turn"], "stop_reason"),
        (("content", 2, "text"), {"t": 1}, "content[2].text"),
    ],
)
def test_anthropic_body_of_the_wrong_shape_names_the_field(
    path: tuple[Any, ...], value: Any, named: str
) -> None:
    body = copy.deepcopy(ANTHROPIC_BODY)
    target: Any = body
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    with pytest.raises(APIError) as info:
        anthropic_wire.parse_response(body, provider="p", model="m")
    assert type(info.value) is APIError and named in info.value.message, info.value.message
