"""Value types: message helpers, response and event round trips, canonical requests."""

from __future__ import annotations

import json

import attrs
import pytest

from jackfield.events import (
    StreamEnd,
    StreamStart,
    TextDelta,
    TextEnd,
    TextStart,
    ThinkingDelta,
    ThinkingEnd,
    ThinkingStart,
    ToolCallDelta,
    ToolCallEnd,
    ToolCallStart,
    event_from_dict,
    event_to_dict,
)
from jackfield.types import (
    FinishReason,
    ImagePart,
    Message,
    ModelTier,
    Request,
    Response,
    TextPart,
    Thinking,
    ToolCall,
    ToolSpec,
    Usage,
)


def _full_response(**changes: object) -> Response:
    base = Response(
        content="Paris is sunny.",
        model="m-1",
        provider="mock",
        usage=Usage(input_tokens=12, output_tokens=5, cache_read_tokens=3, reasoning_tokens=2),
        finish_reason=FinishReason.TOOL_CALLS,
        tool_calls=(ToolCall("call_1", "weather", {"city": "Paris", "days": [1, 2]}),),
        thinking=(Thinking("hmm", signature="sig-1"), Thinking("", redacted=True)),
        request_id="req-9",
    )
    return attrs.evolve(base, **changes)


# -- messages -------------------------------------------------------------------------------


def test_message_helpers_set_role_and_fields() -> None:
    call = ToolCall("c1", "lookup", {"q": "x"})
    thought = Thinking("because", "s")
    assert Message.system("be brief") == Message("system", "be brief")
    user = Message.user("hi", name="ann")
    assert (user.role, user.content, user.name) == ("user", "hi", "ann")
    asst = Message.assistant("ok", tool_calls=[call], thinking=[thought])
    assert asst.role == "assistant"
    assert asst.tool_calls == (call,)
    assert asst.thinking == (thought,)
    tool = Message.tool("c1", "42", name="lookup")
    assert (tool.role, tool.tool_call_id, tool.content, tool.name) == ("tool", "c1", "42", "lookup")


def test_message_content_parts_become_a_tuple_and_text_joins_text_parts() -> None:
    msg = Message.user([TextPart("a"), ImagePart(url="http://127.0.0.1/x.png"), TextPart("b")])
    assert isinstance(msg.content, tuple)
    assert msg.text == "ab"
    assert Message.user("plain").text == "plain"


def test_message_lists_are_frozen_into_tuples() -> None:
    calls = [ToolCall("c1", "f")]
    msg = Message("assistant", "", tool_calls=calls)
    calls.append(ToolCall("c2", "g"))
    assert msg.tool_calls == (ToolCall("c1", "f"),)


# -- frozen-ness ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("obj", "field"),
    [
        (Message.user("x"), "content"),
        (ToolCall("c", "f"), "name"),
        (ToolSpec("t"), "description"),
        (Usage(1, 2), "input_tokens"),
        (Thinking("t"), "text"),
        (_full_response(), "content"),
        (Request(messages=[Message.user("x")], model="m"), "model"),
        (TextDelta(0, "x"), "text"),
        (StreamEnd(_full_response()), "response"),
    ],
)
def test_value_types_are_frozen(obj: object, field: str) -> None:
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        setattr(obj, field, "changed")


def test_value_types_are_slotted() -> None:
    with pytest.raises((AttributeError, TypeError)):
        Message.user("x").__dict__  # noqa: B018


def test_request_is_hashable_and_equal_requests_hash_alike() -> None:
    a = Request(messages=[Message.user("x")], model="m", stop=["\n"])
    b = Request(messages=(Message.user("x"),), model="m", stop=("\n",))
    assert a == b
    assert hash(a) == hash(b)


# -- usage, tool calls ------------------------------------------------------------------------


def test_usage_total_tokens() -> None:
    assert Usage(input_tokens=7, output_tokens=5, reasoning_tokens=3).total_tokens == 12
    assert Usage().total_tokens == 0


def test_tool_call_raw_arguments_round_trip_and_are_not_part_of_equality() -> None:
    call = ToolCall("c1", "f", {"a": 1}, raw_arguments='{"a": 1,')
    data = call.to_dict()
    assert data == {"id": "c1", "name": "f", "arguments": {"a": 1}, "raw_arguments": '{"a": 1,'}
    back = ToolCall.from_dict(data)
    assert back.raw_arguments == '{"a": 1,'
    assert back == call
    assert ToolCall("c1", "f", {"a": 1}) == call  # raw text is not compared
    assert "raw_arguments" not in ToolCall("c1", "f", {"a": 1}).to_dict()
    assert ToolCall.from_dict({"id": "c", "name": "f"}).arguments == {}


def test_tool_call_arguments_are_copied() -> None:
    args = {"x": 1}
    call = ToolCall("c", "f", args)
    args["x"] = 2
    assert call.arguments == {"x": 1}


def test_tool_spec_default_parameters_are_an_empty_object_schema() -> None:
    assert ToolSpec("t").parameters == {"type": "object", "properties": {}}
    assert ToolSpec("t", "d", {"type": "object"}).to_dict() == {
        "name": "t",
        "description": "d",
        "parameters": {"type": "object"},
    }


# -- responses --------------------------------------------------------------------------------


def test_response_to_message_keeps_tool_calls_and_thinking() -> None:
    resp = _full_response()
    msg = resp.to_message()
    assert msg == Message.assistant(
        "Paris is sunny.", tool_calls=resp.tool_calls, thinking=resp.thinking
    )
    assert msg.thinking[0].signature == "sig-1"
    assert resp.thinking_text == "hmm"


def test_response_to_dict_from_dict_round_trip() -> None:
    resp = _full_response()
    data = resp.to_dict()
    assert "raw" not in data
    assert data["finish_reason"] == "tool_calls"
    assert data["usage"]["cache_read_tokens"] == 3
    assert data["request_id"] == "req-9"
    # JSON-ready: survives a real JSON round trip
    back = Response.from_dict(json.loads(json.dumps(data)))
    assert back == resp
    assert back.request_id == "req-9"  # not part of equality; check it explicitly
    assert back.finish_reason is FinishReason.TOOL_CALLS
    assert back.thinking[1].redacted is True
    assert back.to_dict() == data


def test_response_from_dict_keeps_an_unknown_finish_reason_as_text() -> None:
    data = _full_response(finish_reason="provider_specific").to_dict()
    back = Response.from_dict(data)
    assert back.finish_reason == "provider_specific"
    assert not isinstance(back.finish_reason, FinishReason)


def test_response_defaults() -> None:
    resp = Response("x", "m", "p")
    assert resp.usage == Usage()
    assert resp.finish_reason is FinishReason.STOP
    assert resp.tool_calls == ()
    assert resp.thinking == ()
    assert resp.raw is None
    assert resp.cached is False


# -- canonical requests -----------------------------------------------------------------------


def _request(extra: dict[str, object], params: dict[str, object]) -> Request:
    return Request(
        messages=[Message.system("s"), Message.user("u")],
        model="m",
        temperature=0.5,
        tools=[ToolSpec("t", "d", params)],
        extra=extra,
    )


def test_canonical_json_is_stable_across_dict_order() -> None:
    props = {"b": {"type": "string"}, "a": {"type": "integer"}}
    a = _request(
        {"x": 1, "y": {"k1": 1, "k2": 2}},
        {"type": "object", "properties": props, "required": ["a"]},
    )
    b = _request(
        {"y": {"k2": 2, "k1": 1}, "x": 1},
        {"required": ["a"], "properties": dict(reversed(props.items())), "type": "object"},
    )
    assert a.canonical_json() == b.canonical_json()
    assert json.loads(a.canonical_json())["extra"] == {"x": 1, "y": {"k1": 1, "k2": 2}}
    # compact and sorted
    text = a.canonical_json()
    assert ", " not in text and ": " not in text
    assert text.index('"extra"') < text.index('"messages"') < text.index('"model"')


def test_canonical_json_differs_when_the_request_differs() -> None:
    params = {"type": "object"}
    assert (
        _request({"x": 1}, params).canonical_json() != _request({"x": 2}, params).canonical_json()
    )
    base = Request(messages=[Message.user("u")], model="m")
    assert base.canonical_json() != attrs.evolve(base, temperature=0.1).canonical_json()
    assert base.canonical_json() != attrs.evolve(base, model="n").canonical_json()


def test_model_tier_is_a_str_enum() -> None:
    assert ModelTier("hosted_large") is ModelTier.HOSTED_LARGE
    assert ModelTier.LOCAL_SMALL == "local_small"
    assert {t.value for t in ModelTier} == {"local_small", "hosted_small", "hosted_large"}


# -- events -----------------------------------------------------------------------------------

EVERY_EVENT = [
    StreamStart(model="m", provider="p", request_id="r1"),
    StreamStart(model="m", provider="p"),
    TextStart(0),
    TextDelta(0, "hel"),
    TextEnd(0, "hello"),
    ThinkingStart(1),
    ThinkingDelta(1, "think"),
    ThinkingEnd(1, "thinking", "sig", False),
    ThinkingEnd(1, "", None, True),
    ToolCallStart(2, "call_1", "weather"),
    ToolCallDelta(2, '{"city": "Pa', {"city": "Pa"}),
    ToolCallDelta(2, "{", None),
    ToolCallEnd(2, ToolCall("call_1", "weather", {"city": "Paris"})),
    ToolCallEnd(2, ToolCall("call_2", "f", {}, raw_arguments="{bad")),
    StreamEnd(_full_response()),
]


@pytest.mark.parametrize("event", EVERY_EVENT, ids=lambda e: type(e).__name__)
def test_event_dict_round_trip(event: object) -> None:
    data = event_to_dict(event)  # type: ignore[arg-type]
    assert data["type"] == type(event).type  # type: ignore[attr-defined]
    wire = json.loads(json.dumps(data))  # JSON-ready
    back = event_from_dict(wire)
    assert type(back) is type(event)
    assert back == event
    assert event_to_dict(back) == data


def test_every_event_class_is_covered_by_the_round_trip() -> None:
    from jackfield import events

    classes = {getattr(events, name) for name in events.__all__ if name[0].isupper()}
    classes.discard(events.StreamEvent)
    assert {type(e) for e in EVERY_EVENT} == classes


def test_event_types_are_distinct_strings() -> None:
    types = [c.type for c in {type(e) for e in EVERY_EVENT}]
    assert len(types) == len(set(types))


def test_tool_call_end_round_trip_keeps_raw_arguments() -> None:
    event = ToolCallEnd(2, ToolCall("call_2", "f", {}, raw_arguments="{bad"))
    back = event_from_dict(event_to_dict(event))
    assert isinstance(back, ToolCallEnd)
    assert back.tool_call.raw_arguments == "{bad"


@pytest.mark.parametrize("data", [{"type": "nope"}, {}, {"type": 3}])
def test_event_from_dict_rejects_unknown_types(data: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="unknown stream event type"):
        event_from_dict(data)


@pytest.mark.parametrize("content", [5, 2.5, None, object()])
def test_message_content_of_a_wrong_type_names_the_field(content: object) -> None:
    with pytest.raises(
        TypeError, match=r"Message\.content must be text or a sequence of content parts, not "
    ):
        Message("user", content)  # type: ignore[arg-type]
