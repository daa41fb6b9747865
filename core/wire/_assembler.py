"""Turn a provider's wire deltas into jackfield stream events and a final ``Response``.

Every streaming plugin drives one :class:`StreamAssembler` per call: it opens and closes
blocks so starts and ends always balance, numbers blocks in order, joins tool-call
argument fragments, keeps thinking signatures, and builds the ``StreamEnd`` response.
Methods return the events to yield, usually one.
"""

from __future__ import annotations

import json
from typing import Any

from ..events import (
    StreamEnd,
    StreamEvent,
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
)
from ..types import FinishReason, Response, Thinking, ToolCall, Usage
from ._partial_json import final_arguments, parse_streaming_json

__all__ = ["StreamAssembler"]

_TEXT, _THINKING, _TOOL = 0, 1, 2


class _Block:
    __slots__ = ("call_id", "closed", "index", "kind", "name", "parts", "redacted", "signature")

    def __init__(self, kind: int, index: int, call_id: str = "", name: str = "") -> None:
        self.kind = kind
        self.index = index
        self.parts: list[str] = []
        self.signature: str | None = None
        self.redacted = False
        self.call_id = call_id
        self.name = name
        self.closed = False


class StreamAssembler:
    """Builds events and the final response for one streamed call."""

    __slots__ = (
        "_blocks",
        "_current",
        "_tools",
        "finish_reason",
        "model",
        "provider",
        "request_id",
        "started",
        "usage",
    )

    def __init__(self, provider: str, model: str) -> None:
        self.provider = provider
        self.model = model
        self.request_id: str | None = None
        self.usage = Usage()
        self.finish_reason: FinishReason | str | None = None
        self.started = False
        self._blocks: list[_Block] = []
        self._current: _Block | None = None
        self._tools: dict[Any, _Block] = {}

    def start(self, *, model: str | None = None, request_id: str | None = None) -> StreamStart:
        """The ``StreamStart`` event; call once, when the server accepted the request."""
        if model:
            self.model = model
        if request_id:
            self.request_id = request_id
        self.started = True
        return StreamStart(model=self.model, provider=self.provider, request_id=self.request_id)

    def _open(self, kind: int, out: list[StreamEvent], call_id: str = "", name: str = "") -> _Block:
        if self._current is not None:
            self._close(self._current, out)
        block = _Block(kind, len(self._blocks), call_id, name)
        self._blocks.append(block)
        self._current = block
        if kind == _TEXT:
            out.append(TextStart(block.index))
        elif kind == _THINKING:
            out.append(ThinkingStart(block.index))
        else:
            out.append(ToolCallStart(block.index, call_id, name))
        return block

    def _close(self, block: _Block, out: list[StreamEvent]) -> None:
        if block.closed:
            return
        block.closed = True
        if self._current is block:
            self._current = None
        if block.kind == _TEXT:
            out.append(TextEnd(block.index, "".join(block.parts)))
        elif block.kind == _THINKING:
            out.append(
                ThinkingEnd(block.index, "".join(block.parts), block.signature, block.redacted)
            )
        else:
            out.append(ToolCallEnd(block.index, _tool_call(block)))

    def text(self, delta: str) -> list[StreamEvent]:
        """Events for a piece of answer text (opens a text block when needed)."""
        out: list[StreamEvent] = []
        if not delta:
            return out
        block = self._current
        if block is None or block.kind != _TEXT:
            block = self._open(_TEXT, out)
        block.parts.append(delta)
        out.append(TextDelta(block.index, delta))
        return out

    def thinking(
        self, delta: str, *, signature: str | None = None, redacted: bool = False
    ) -> list[StreamEvent]:
        """Events for a piece of thinking; a signature or redaction applies to the block."""
        out: list[StreamEvent] = []
        block = self._current
        if block is None or block.kind != _THINKING:
            if not delta and signature is None and not redacted:
                return out
            block = self._open(_THINKING, out)
        if signature is not None:
            block.signature = signature
        if redacted:
            block.redacted = True
        if delta:
            block.parts.append(delta)
            out.append(ThinkingDelta(block.index, delta))
        return out

    def tool_call(
        self, key: Any, *, id: str | None = None, name: str | None = None, arguments: str = ""
    ) -> list[StreamEvent]:
        """Events for a tool-call fragment; ``key`` identifies the call across fragments."""
        out: list[StreamEvent] = []
        block = self._tools.get(key)
        if block is None:
            block = self._open(_TOOL, out, id or f"call_{len(self._blocks)}", name or "")
            self._tools[key] = block
        else:
            if name and not block.name:
                block.name = name
        if arguments:
            block.parts.append(arguments)
            if not block.closed:
                out.append(
                    ToolCallDelta(
                        block.index, arguments, parse_streaming_json("".join(block.parts))
                    )
                )
        return out

    def end_block(self) -> list[StreamEvent]:
        """Close the open block, for wire formats that say when a block ends."""
        out: list[StreamEvent] = []
        if self._current is not None:
            self._close(self._current, out)
        return out

    @property
    def has_content(self) -> bool:
        """Whether any block has begun."""
        return bool(self._blocks)

    def finish(
        self, finish_reason: FinishReason | str | None = None, usage: Usage | None = None
    ) -> list[StreamEvent]:
        """Close every block and end the stream with the assembled ``StreamEnd``."""
        if finish_reason is not None:
            self.finish_reason = finish_reason
        if usage is not None:
            self.usage = usage
        out: list[StreamEvent] = []
        for block in self._blocks:
            self._close(block, out)
        out.append(StreamEnd(self.response()))
        return out

    def response(self) -> Response:
        """The response assembled from everything seen so far."""
        texts: list[str] = []
        thinking: list[Thinking] = []
        calls: list[ToolCall] = []
        for b in self._blocks:
            if b.kind == _TEXT:
                texts.append("".join(b.parts))
            elif b.kind == _THINKING:
                thinking.append(Thinking("".join(b.parts), b.signature, b.redacted))
            else:
                calls.append(_tool_call(b))
        reason = self.finish_reason
        if reason is None:
            reason = FinishReason.TOOL_CALLS if calls else FinishReason.STOP
        return Response(
            content="".join(texts),
            model=self.model,
            provider=self.provider,
            usage=self.usage,
            finish_reason=reason,
            tool_calls=tuple(calls),
            thinking=tuple(thinking),
            request_id=self.request_id,
        )


def _tool_call(block: _Block) -> ToolCall:
    # The final arguments follow generate's rule (strict parse, else {} and the raw
    # text): a call cut by max_tokens must not look valid because it was streamed.
    args, raw = final_arguments("".join(block.parts))
    return ToolCall(block.call_id, block.name, args, raw_arguments=raw)


def events_for_response(response: Response) -> list[StreamEvent]:
    """The event sequence a stream of ``response`` would have produced."""
    asm = StreamAssembler(response.provider, response.model)
    asm.request_id = response.request_id
    out: list[StreamEvent] = [asm.start()]
    for t in response.thinking:
        out += asm.thinking(t.text, signature=t.signature, redacted=t.redacted)
        out += asm.end_block()
    out += asm.text(response.content)
    for i, call in enumerate(response.tool_calls):
        out += asm.tool_call(i, id=call.id, name=call.name, arguments=json.dumps(call.arguments))
    out += asm.finish(response.finish_reason, response.usage)
    end = out[-1]
    assert isinstance(end, StreamEnd)
    out[-1] = StreamEnd(response)
    return out
