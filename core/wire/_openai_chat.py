"""The OpenAI Chat Completions wire format, shared by every OpenAI-speaking provider.

:func:`build_payload` turns a :class:`Request` into the JSON body, :func:`parse_response`
turns a non-streamed answer into a :class:`Response`, and :class:`ChunkParser` turns
streamed chunks into jackfield events. Used by the aiohttp family (``openai_compat``,
``openrouter``, ``ollama``, ``vllm``, ``azure``) and by the ``openai`` SDK provider.
"""

from __future__ import annotations

import json
import re
from typing import Any

from ..errors import StreamError
from ..events import StreamEvent
from ..types import FinishReason, ImagePart, Message, Request, Response, Thinking, ToolCall, Usage
from ._assembler import StreamAssembler
from ._errors import error_from_payload, error_from_response
from ._json import loads
from ._partial_json import final_arguments

__all__ = ["ChunkParser", "build_payload", "is_reasoning_model", "parse_response"]

FINISH_REASONS: dict[str, FinishReason] = {
    "stop": FinishReason.STOP,
    "length": FinishReason.LENGTH,
    "tool_calls": FinishReason.TOOL_CALLS,
    "function_call": FinishReason.TOOL_CALLS,
    "content_filter": FinishReason.CONTENT_FILTER,
}

_REASONING_MODEL = re.compile(r"^(?:.*/)?(?:o\d|gpt-5)(?:[-.]|$)")


def is_reasoning_model(model: str) -> bool:
    """Whether ``model`` is an o-series or gpt-5 model (no sampling parameters)."""
    return bool(_REASONING_MODEL.match(model.lower()))


def finish_reason(value: str | None) -> FinishReason | str | None:
    """The normalised finish reason for the wire's value."""
    if value is None:
        return None
    return FINISH_REASONS.get(value, value)


def _content(message: Message) -> Any:
    if isinstance(message.content, str):
        return message.content
    parts: list[dict[str, Any]] = []
    for part in message.content:
        if isinstance(part, ImagePart):
            url = part.url or f"data:{part.media_type or 'image/png'};base64,{part.data}"
            parts.append({"type": "image_url", "image_url": {"url": url}})
        else:
            parts.append({"type": "text", "text": part.text})
    return parts


def to_wire_messages(messages: tuple[Message, ...]) -> list[dict[str, Any]]:
    """Messages in Chat Completions form (thinking is not sent: the API has no slot)."""
    out: list[dict[str, Any]] = []
    for m in messages:
        item: dict[str, Any] = {"role": m.role}
        if m.role == "assistant" and m.tool_calls:
            item["content"] = m.text or None
            item["tool_calls"] = [
                {
                    "id": c.id,
                    "type": "function",
                    "function": {"name": c.name, "arguments": json.dumps(c.arguments)},
                }
                for c in m.tool_calls
            ]
        elif m.role == "tool":
            item["content"] = m.text
            item["tool_call_id"] = m.tool_call_id
        else:
            item["content"] = _content(m)
        if m.name and m.role != "tool":
            item["name"] = m.name
        out.append(item)
    return out


def build_payload(
    request: Request, *, stream: bool, model: str | None = None, usage_in_stream: bool = True
) -> dict[str, Any]:
    """The JSON body of a Chat Completions call for ``request``.

    Reasoning models (o-series, gpt-5) get ``max_completion_tokens`` and no
    temperature; ``reasoning`` given as an effort name becomes ``reasoning_effort``.
    ``request.extra`` is merged in last, so callers can pass any wire parameter.
    """
    target = model or request.model
    body: dict[str, Any] = {"model": target, "messages": to_wire_messages(request.messages)}
    reasoning_model = is_reasoning_model(target)
    if request.max_tokens is not None:
        body["max_completion_tokens" if reasoning_model else "max_tokens"] = request.max_tokens
    if request.temperature is not None and not reasoning_model:
        body["temperature"] = request.temperature
    if isinstance(request.reasoning, str) and request.reasoning:
        body["reasoning_effort"] = request.reasoning
    if request.tools:
        body["tools"] = [
            {
                "type": "function",
                "function": {
                    "name": t.name,
                    "description": t.description,
                    "parameters": t.parameters,
                },
            }
            for t in request.tools
        ]
    if request.tool_choice is not None:
        if request.tool_choice in ("auto", "none", "required"):
            body["tool_choice"] = request.tool_choice
        else:
            body["tool_choice"] = {"type": "function", "function": {"name": request.tool_choice}}
    if request.json_mode:
        body["response_format"] = {"type": "json_object"}
    if request.stop:
        body["stop"] = list(request.stop)
    if stream:
        body["stream"] = True
        if usage_in_stream:
            body["stream_options"] = {"include_usage": True}
    if request.extra:
        body.update(request.extra)
    return body


def parse_usage(data: Any) -> Usage:
    """Usage from the wire's ``usage`` object (missing fields count as 0)."""
    if not isinstance(data, dict):
        return Usage()
    prompt_details = data.get("prompt_tokens_details")
    completion_details = data.get("completion_tokens_details")
    if not isinstance(prompt_details, dict):
        prompt_details = {}
    if not isinstance(completion_details, dict):
        completion_details = {}
    return Usage(
        input_tokens=int(data.get("prompt_tokens") or 0),
        output_tokens=int(data.get("completion_tokens") or 0),
        cache_read_tokens=int(prompt_details.get("cached_tokens") or 0),
        reasoning_tokens=int(completion_details.get("reasoning_tokens") or 0),
    )


def parse_response(
    data: Any, *, provider: str, model: str, request_id: str | None = None
) -> Response:
    """A :class:`Response` from a non-streamed Chat Completions body.

    A 200 body that carries an ``error`` object instead of choices (OpenRouter, some
    proxies) raises the error it describes.
    """
    if isinstance(data, dict) and data.get("error") and not data.get("choices"):
        raise error_from_response(None, None, data, provider=provider, model=model)
    if not isinstance(data, dict) or not isinstance(data.get("choices"), list):
        raise StreamError(
            "the response has no choices (not a Chat Completions body)",
            provider=provider,
            model=model,
            body=data,
        )
    choice = _first_choice(data["choices"])
    if choice is None:
        raise StreamError("the response has an empty choices list", provider=provider, model=model)
    message = choice.get("message")
    if not isinstance(message, dict):
        message = {}
    calls = []
    for i, tc in enumerate(message.get("tool_calls") or ()):
        fn = tc.get("function") or {}
        args, raw = final_arguments(fn.get("arguments"))
        calls.append(ToolCall(tc.get("id") or f"call_{i}", fn.get("name") or "", args, raw))
    reasoning = message.get("reasoning_content") or message.get("reasoning")
    reason = finish_reason(choice.get("finish_reason"))
    if reason is None:
        reason = FinishReason.TOOL_CALLS if calls else FinishReason.STOP
    content = message.get("content") or ""
    refusal = message.get("refusal")
    if refusal and isinstance(refusal, str) and not content:
        # Structured outputs: the model declined; the text is in `refusal`, not `content`.
        content, reason = refusal, FinishReason.REFUSAL
    return Response(
        content=content if isinstance(content, str) else "",
        model=data.get("model") or model,
        provider=provider,
        usage=parse_usage(data.get("usage")),
        finish_reason=reason,
        tool_calls=tuple(calls),
        thinking=(Thinking(reasoning),) if reasoning else (),
        raw=data,
        request_id=request_id or data.get("id"),
    )


def _first_choice(choices: list[Any]) -> dict[str, Any] | None:
    """The choice with ``index`` 0 (or none given): with ``n`` > 1 a chunk may carry
    another choice, whose text must not be mixed into the first one's."""
    for choice in choices:
        if isinstance(choice, dict) and choice.get("index") in (0, None):
            return choice
    return None


class ChunkParser:
    """Turns each streamed chunk's ``data`` into events; call :meth:`close` at EOF.

    Tool-call fragments are joined by ``index``; where a server repeats an index for a
    new call (a new ``id``) or omits it, the ``id`` decides. Reasoning arrives as
    ``delta.reasoning_content`` (vLLM, DeepSeek) or ``delta.reasoning`` (OpenRouter).
    An ``{"error": ...}`` chunk raises the mapped error.
    """

    __slots__ = ("_by_id", "_by_index", "_last_key", "_refused", "asm", "done", "finish", "usage")

    def __init__(self, asm: StreamAssembler) -> None:
        self.asm = asm
        self.done = False
        self.finish: FinishReason | str | None = None
        self.usage: Usage | None = None
        self._by_index: dict[int, int] = {}
        self._by_id: dict[str, int] = {}
        self._last_key: int | None = None
        self._refused = False

    def feed(self, data: str) -> list[StreamEvent]:
        """Events for one chunk; ``[DONE]`` ends the stream."""
        if data == "[DONE]" or data.strip() == "[DONE]":
            # Surrounding whitespace is tolerated (``data: [DONE] ``), as the SDKs do.
            self.done = True
            out: list[StreamEvent] = [] if self.asm.started else [self.asm.start()]
            return out + self.asm.finish(self._finish_reason(), self.usage)
        try:
            chunk = loads(data)
        except ValueError:
            raise StreamError(
                f"malformed stream chunk: {data[:200]!r}", provider=self.asm.provider
            ) from None
        if not isinstance(chunk, dict):
            raise StreamError(f"malformed stream chunk: {data[:200]!r}", provider=self.asm.provider)
        out = []
        if not self.asm.started:
            out.append(self.asm.start(model=chunk.get("model")))
        if chunk.get("error"):  # some servers send "error": null in every chunk
            raise error_from_payload(chunk, provider=self.asm.provider, model=self.asm.model)
        usage = chunk.get("usage")
        if usage:
            self.usage = parse_usage(usage)
        choices = chunk.get("choices")
        if not choices or not isinstance(choices, list):
            return out
        choice = _first_choice(choices)
        if choice is None:
            return out
        delta = choice.get("delta")
        if delta and isinstance(delta, dict):
            reasoning = delta.get("reasoning_content") or delta.get("reasoning")
            if reasoning:
                out += self.asm.thinking(reasoning)
            content = delta.get("content")
            if content:
                out += self.asm.text(content)
            refusal = delta.get("refusal")
            if refusal and isinstance(refusal, str):
                self._refused = True
                out += self.asm.text(refusal)
            calls = delta.get("tool_calls")
            if calls:
                for tc in calls:
                    fn = tc.get("function") or {}
                    out += self.asm.tool_call(
                        self._key(tc),
                        id=tc.get("id"),
                        name=fn.get("name"),
                        arguments=fn.get("arguments") or "",
                    )
        reason = choice.get("finish_reason")
        if reason:
            self.finish = finish_reason(reason)
        return out

    def _key(self, tc: dict[str, Any]) -> int:
        call_id = tc.get("id")
        index = tc.get("index")
        if call_id:
            key = self._by_id.get(call_id)
            if key is None:
                key = len(self._by_id)
                self._by_id[call_id] = key
                if isinstance(index, int):
                    self._by_index[index] = key
            self._last_key = key
            return key
        if isinstance(index, int) and index in self._by_index:
            key = self._by_index[index]
        elif self._last_key is not None and not isinstance(index, int):
            key = self._last_key
        else:
            key = len(self._by_id)
            self._by_id[f"__anon_{key}"] = key
            if isinstance(index, int):
                self._by_index[index] = key
        self._last_key = key
        return key

    def close(self) -> list[StreamEvent]:
        """Events at end of input: a stream cut before ``[DONE]`` and with no finish
        reason raises :class:`StreamError`; one with a finish reason is accepted."""
        if self.done:
            return []
        if self.finish is None:
            raise StreamError(
                "the stream ended before [DONE] and without a finish reason (truncated)",
                provider=self.asm.provider,
                model=self.asm.model,
            )
        self.done = True
        return self.asm.finish(self._finish_reason(), self.usage)

    def _finish_reason(self) -> FinishReason | str | None:
        if self._refused and self.finish in (None, FinishReason.STOP):
            return FinishReason.REFUSAL
        return self.finish
