"""Typed stream events.

A stream is ``StreamStart``, then content blocks, then ``StreamEnd``. Each block is a
start event, deltas and an end event, all carrying the block's ``index`` (counted over
all blocks of the answer, in order). ``StreamEnd.response`` is the full final answer.
"""

from __future__ import annotations

from typing import Any, ClassVar, TypeAlias

import attrs

from .types import Response, ToolCall

__all__ = [
    "StreamEnd",
    "StreamEvent",
    "StreamStart",
    "TextDelta",
    "TextEnd",
    "TextStart",
    "ThinkingDelta",
    "ThinkingEnd",
    "ThinkingStart",
    "ToolCallDelta",
    "ToolCallEnd",
    "ToolCallStart",
    "event_from_dict",
    "event_to_dict",
]


@attrs.frozen(slots=True)
class StreamStart:
    """The provider accepted the request; content follows."""

    type: ClassVar[str] = "start"
    model: str
    provider: str
    request_id: str | None = None


@attrs.frozen(slots=True)
class TextStart:
    """A text block begins."""

    type: ClassVar[str] = "text_start"
    index: int


@attrs.frozen(slots=True)
class TextDelta:
    """More text for block ``index``."""

    type: ClassVar[str] = "text_delta"
    index: int
    text: str


@attrs.frozen(slots=True)
class TextEnd:
    """A text block ends; ``text`` is the whole block."""

    type: ClassVar[str] = "text_end"
    index: int
    text: str


@attrs.frozen(slots=True)
class ThinkingStart:
    """A thinking (reasoning) block begins."""

    type: ClassVar[str] = "thinking_start"
    index: int


@attrs.frozen(slots=True)
class ThinkingDelta:
    """More thinking text for block ``index``."""

    type: ClassVar[str] = "thinking_delta"
    index: int
    text: str


@attrs.frozen(slots=True)
class ThinkingEnd:
    """A thinking block ends, with its whole text and the signature to send it back."""

    type: ClassVar[str] = "thinking_end"
    index: int
    text: str
    signature: str | None = None
    redacted: bool = False


@attrs.frozen(slots=True)
class ToolCallStart:
    """A tool call begins; ``id`` and ``name`` are known from here on."""

    type: ClassVar[str] = "tool_call_start"
    index: int
    id: str
    name: str


@attrs.frozen(slots=True)
class ToolCallDelta:
    """A fragment of a tool call's argument JSON and the arguments parsed so far."""

    type: ClassVar[str] = "tool_call_delta"
    index: int
    arguments_delta: str
    partial_arguments: dict[str, Any] | None = attrs.field(default=None, hash=False)


@attrs.frozen(slots=True)
class ToolCallEnd:
    """A tool call is complete, with parsed arguments."""

    type: ClassVar[str] = "tool_call_end"
    index: int
    tool_call: ToolCall


@attrs.frozen(slots=True)
class StreamEnd:
    """The stream finished; ``response`` is the assembled final answer."""

    type: ClassVar[str] = "end"
    response: Response


StreamEvent: TypeAlias = (
    StreamStart
    | TextStart
    | TextDelta
    | TextEnd
    | ThinkingStart
    | ThinkingDelta
    | ThinkingEnd
    | ToolCallStart
    | ToolCallDelta
    | ToolCallEnd
    | StreamEnd
)

_CLASSES: dict[str, type[Any]] = {
    c.type: c
    for c in (
        StreamStart,
        TextStart,
        TextDelta,
        TextEnd,
        ThinkingStart,
        ThinkingDelta,
        ThinkingEnd,
        ToolCallStart,
        ToolCallDelta,
        ToolCallEnd,
        StreamEnd,
    )
}


_FIELDS: dict[type[Any], frozenset[str]] = {
    cls: frozenset(a.name for a in attrs.fields(cls)) for cls in _CLASSES.values()
}


def event_to_dict(event: StreamEvent) -> dict[str, Any]:
    """Serialise an event to a JSON-ready dict with a ``type`` key."""
    if isinstance(event, StreamEnd):
        return {"type": "end", "response": event.response.to_dict()}
    if isinstance(event, ToolCallEnd):
        return {"type": event.type, "index": event.index, "tool_call": event.tool_call.to_dict()}
    data = attrs.asdict(event, recurse=False)
    data["type"] = event.type
    return data


def event_from_dict(data: dict[str, Any]) -> StreamEvent:
    """Rebuild an event from :func:`event_to_dict` output.

    Unknown keys are ignored, so a newer sender may add fields; an unknown ``type``
    raises ``ValueError``.
    """
    kind = data.get("type")
    cls = _CLASSES.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise ValueError(f"unknown stream event type: {kind!r}")
    known = _FIELDS[cls]
    fields = {k: v for k, v in data.items() if k in known}
    if cls is StreamEnd:
        return StreamEnd(Response.from_dict(fields["response"]))
    if cls is ToolCallEnd:
        return ToolCallEnd(fields["index"], ToolCall.from_dict(fields["tool_call"]))
    event: StreamEvent = cls(**fields)
    return event
