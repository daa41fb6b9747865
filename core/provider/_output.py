"""Structured output, once for every provider: the modes, the validation and re-asking,
and the streamed partial object.

A plugin implements only the native mode (its wire's schema field). The two others are
done here, by rewriting the request before it reaches the plugin:

* **tool**: a forced call of one synthetic tool whose parameters are the schema; the
  call's arguments become the answer's ``content`` (the JSON text), not a tool call,
  and in a stream its argument fragments come out as text deltas.
* **prompt**: a system instruction carrying the schema; the reply's JSON is taken out
  of a code fence or prose if the model added one.

Every reply is then validated (:mod:`._output_parse`); one that does not fit raises
:class:`OutputValidationError`, or, with ``output_retries``, is sent back with its
errors. The response cache stores only replies that fit and a hit is parsed again, so
``Response.parsed`` is a fresh object every time.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from typing import Protocol

import attrs

from ..errors import OutputValidationError, ProviderError
from ..events import (
    StreamEnd,
    StreamEvent,
    TextDelta,
    TextEnd,
    TextStart,
    ToolCallDelta,
    ToolCallEnd,
    ToolCallStart,
)
from ..types import FinishReason, Message, OutputMode, OutputSchema, Request, Response, ToolSpec
from ._output_parse import parse_output


class _Provider(Protocol):
    """What the structured call needs of a :class:`~jackfield.provider.Provider`."""

    def _secrets(self) -> tuple[str, ...]: ...

    def _finish_error(
        self, err: ProviderError, request: Request, attempts: int | None = None
    ) -> ProviderError: ...

    async def _call_upstream(self, request: Request) -> Response: ...

    def _upstream_stream(self, request: Request) -> AsyncGenerator[StreamEvent, None]: ...


__all__ = [
    "PROMPT_INSTRUCTION",
    "finish_response",
    "generate_structured",
    "rebuild_parsed",
    "rebuild_stream",
    "stream_structured",
    "wire_request",
]

PROMPT_INSTRUCTION = (
    "Answer with one JSON value that fits the JSON Schema below, and nothing else: no "
    "prose before or after it and no Markdown code fences.\n\nJSON Schema:\n"
)
"""Prompt mode's system instruction; the schema follows it."""

TOOL_DESCRIPTION = "Give your final answer by calling this tool: its arguments are the answer."
"""The synthetic tool's description when the schema has none."""


def wire_request(request: Request) -> Request:
    """The request a plugin receives for ``request``'s mode (tool and prompt rewritten)."""
    output = request.output
    assert output is not None
    mode = output.mode
    if mode is OutputMode.TOOL:
        tool = ToolSpec(output.name, output.description or TOOL_DESCRIPTION, output.schema)
        choice = request.tool_choice
        if not request.tools or choice == "none":
            choice = output.name  # only the answer tool may be called
        elif choice in (None, "auto"):
            choice = "required"  # a tool of the caller's, or the answer
        return attrs.evolve(request, tools=(*request.tools, tool), tool_choice=choice)
    if mode is OutputMode.PROMPT:
        schema = json.dumps(output.schema, ensure_ascii=False, sort_keys=True)
        if output.description:
            schema = f"{output.description}\n{schema}"
        messages = list(request.messages)
        at = 0
        while at < len(messages) and messages[at].role == "system":
            at += 1  # after the caller's own system prompt: its cache prefix is kept
        messages.insert(at, Message.system(PROMPT_INSTRUCTION + schema))
        return attrs.evolve(request, messages=tuple(messages))
    return request


def _answer_call(response: Response, output: OutputSchema) -> int | None:
    for i, call in enumerate(response.tool_calls):
        if call.name == output.name:
            return i
    return None


def finish_response(
    response: Response,
    output: OutputSchema,
    *,
    text: str | None = None,
    secrets: tuple[str, ...] = (),
) -> Response:
    """``response`` with the answer tool's call as ``content`` (tool mode), validated:
    ``parsed`` and ``output_mode`` set. A reply that calls the caller's own tools is no
    answer yet and is returned unparsed. ``text`` is the answer's JSON as streamed."""
    mode = output.mode
    if mode is OutputMode.TOOL:
        at = _answer_call(response, output)
        if at is not None:
            call = response.tool_calls[at]
            if text is None:
                text = call.raw_arguments
            if text is None:
                text = json.dumps(call.arguments, ensure_ascii=False)
            calls = response.tool_calls[:at] + response.tool_calls[at + 1 :]
            reason = response.finish_reason
            if reason == FinishReason.TOOL_CALLS and not calls:
                reason = FinishReason.STOP
            response = attrs.evolve(response, content=text, tool_calls=calls, finish_reason=reason)
    if response.tool_calls:
        return attrs.evolve(response, output_mode=mode)
    parsed = parse_output(
        response.content,
        output,
        lenient=mode is OutputMode.PROMPT,
        finish_reason=response.finish_reason,
        secrets=secrets,
    )
    return attrs.evolve(response, parsed=parsed, output_mode=mode)


def rebuild_parsed(
    response: Response, output: OutputSchema, secrets: tuple[str, ...] = ()
) -> Response:
    """A cached response with ``parsed`` built afresh (the cache stores JSON)."""
    mode = response.output_mode or output.mode
    if response.tool_calls:
        return attrs.evolve(response, parsed=None, output_mode=mode)
    parsed = parse_output(
        response.content,
        output,
        lenient=mode is OutputMode.PROMPT,
        finish_reason=response.finish_reason,
        secrets=secrets,
    )
    return attrs.evolve(response, parsed=parsed, output_mode=mode)


def _reask(request: Request, response: Response, errors: Sequence[str]) -> Request:
    """``request`` with the failed reply and its errors appended, to try again."""
    output = request.output
    assert output is not None
    listed = "\n".join(f"- {line}" for line in errors)
    advice = (
        f"That answer does not fit the JSON Schema:\n{listed}\n"
        "Answer again with JSON that fits it."
    )
    at = _answer_call(response, output)
    if at is not None:
        call = response.tool_calls[at]
        turn = [Message.assistant(tool_calls=[call]), Message.tool(call.id, advice)]
    else:
        turn = [Message.assistant(response.content or "(empty)"), Message.user(advice)]
    return attrs.evolve(request, messages=(*request.messages, *turn))


async def generate_structured(provider: _Provider, request: Request) -> Response:
    """One structured call without the cache: the mode's request, the plugin's answer
    validated, and up to ``output.retries`` re-asks with the errors."""
    output = request.output
    assert output is not None
    secrets = provider._secrets()
    attempt_request = request
    for attempt in range(output.retries + 1):
        raw = await provider._call_upstream(wire_request(attempt_request))
        try:
            return finish_response(raw, output, secrets=secrets)
        except OutputValidationError as exc:
            err = provider._finish_error(exc, request, attempts=attempt + 1)
            if attempt == output.retries:
                raise err from None
            attempt_request = _reask(attempt_request, raw, exc.errors)
    raise AssertionError("unreachable")  # pragma: no cover


async def stream_structured(
    provider: _Provider, request: Request
) -> AsyncGenerator[StreamEvent, None]:
    """One structured stream without the cache: tool mode's argument fragments as text
    deltas, and the final response validated (or :class:`OutputValidationError` after
    the last delta)."""
    output = request.output
    assert output is not None
    events = provider._upstream_stream(wire_request(request))
    tool = output.mode is OutputMode.TOOL
    answer_index: int | None = None
    pieces: list[str] = []
    try:
        async for event in events:
            if tool:
                kind = type(event)
                if kind is ToolCallStart and event.name == output.name:  # type: ignore[union-attr]
                    answer_index = event.index  # type: ignore[union-attr]
                    yield TextStart(answer_index)
                    continue
                if answer_index is not None and getattr(event, "index", None) == answer_index:
                    if kind is ToolCallDelta:
                        delta = event.arguments_delta  # type: ignore[union-attr]
                        pieces.append(delta)
                        yield TextDelta(answer_index, delta)
                        continue
                    if kind is ToolCallEnd:
                        yield TextEnd(answer_index, "".join(pieces))
                        continue
            if type(event) is StreamEnd:
                text = "".join(pieces) if answer_index is not None else None
                try:
                    response = finish_response(
                        event.response, output, text=text, secrets=provider._secrets()
                    )
                except OutputValidationError as exc:
                    raise provider._finish_error(exc, request) from None
                yield StreamEnd(response)
                continue
            yield event
    finally:
        close = getattr(events, "aclose", None)
        if close is not None:
            await close()


async def rebuild_stream(
    events: AsyncIterator[StreamEvent], output: OutputSchema
) -> AsyncGenerator[StreamEvent, None]:
    """``events`` with a cached final response's ``parsed`` built afresh."""
    try:
        async for event in events:
            if type(event) is StreamEnd and event.response.cached:
                event = StreamEnd(rebuild_parsed(event.response, output))
            yield event
    finally:
        close = getattr(events, "aclose", None)
        if close is not None:
            await close()
