"""The OpenAI Chat Completions wire format, shared by every OpenAI-speaking provider.

:func:`build_payload` turns a :class:`Request` into the JSON body, :func:`parse_response`
turns a non-streamed answer into a :class:`Response`, and :class:`ChunkParser` turns
streamed chunks into jackfield events. Used by the aiohttp family (``openai_compat``,
``openrouter``, ``ollama``, ``vllm``, ``azure``) and by the ``openai`` SDK provider.

Documents and audio: a PDF is a ``file`` part (``file_data`` a base64 data URL), a
plain-text document a ``text`` part headed by its title, audio an ``input_audio`` part.
Cache points are never parts: OpenAI caches prefixes by itself, and the marks become a
``prompt_cache_key`` derived from the prefix up to the last one.
"""

from __future__ import annotations

import json
import re
from typing import Any

import attrs

from .._schema_forms import strict_schema
from ..errors import APIError, BadRequestError, StreamError, UnsupportedFeatureError
from ..events import StreamEvent
from ..types import (
    AudioPart,
    CachePoint,
    DocumentPart,
    FinishReason,
    ImagePart,
    Message,
    OutputMode,
    OutputSchema,
    Request,
    Response,
    TextPart,
    Thinking,
    ToolCall,
    ToolSpec,
    Usage,
)
from ._assembler import StreamAssembler
from ._errors import error_from_payload, error_from_response
from ._json import loads
from ._partial_json import final_arguments
from ._parts import audio_format, document_media_type, split_data_url, titled
from ._shape import Malformed, count, items, obj, opt_text, text, wrong

__all__ = [
    "CALL_OPTIONS",
    "ChunkParser",
    "build_payload",
    "is_reasoning_model",
    "parse_response",
    "prompt_cache_key",
    "response_format",
]

CALL_OPTIONS: frozenset[str] = frozenset(
    {
        "frequency_penalty",
        "logit_bias",
        "logprobs",
        "metadata",
        "parallel_tool_calls",
        "presence_penalty",
        "prompt_cache_key",
        "safety_identifier",
        "seed",
        "service_tier",
        "store",
        "top_logprobs",
        "top_p",
        "user",
        "verbosity",
    }
)
"""Chat Completions body fields a call may pass as keywords (``Provider.call_options``);
any other field goes in ``extra={...}``."""

FINISH_REASONS: dict[str, FinishReason] = {
    "stop": FinishReason.STOP,
    "length": FinishReason.LENGTH,
    "tool_calls": FinishReason.TOOL_CALLS,
    "function_call": FinishReason.TOOL_CALLS,
    "content_filter": FinishReason.CONTENT_FILTER,
}

_REASONING_MODEL = re.compile(r"^(?:.*/)?(?:o\d|gpt-5(?![.\d]*-chat))(?:[-.]|$)")


def is_reasoning_model(model: str) -> bool:
    """Whether ``model`` is an o-series or gpt-5 model (no sampling parameters); the
    ``gpt-5*-chat`` snapshots do not reason and are not."""
    return bool(_REASONING_MODEL.match(model.lower()))


def finish_reason(value: str | None) -> FinishReason | str | None:
    """The normalised finish reason for the wire's value (``None`` for none or empty)."""
    reason = opt_text(value, "finish_reason")
    if reason is None:
        return None
    return FINISH_REASONS.get(reason, reason)


_WIRE = "Chat Completions"


def _document(part: DocumentPart) -> dict[str, Any]:
    """A PDF as a ``file`` part (base64 in a data URL, named ``filename``); plain text as
    a ``text`` part headed by its title (Chat Completions takes no text files). A URL
    goes in ``file_data`` as OpenRouter takes it; OpenAI itself takes none (its
    providers do not declare ``document_urls``, so the call is refused before this)."""
    if part.text is not None:
        return {"type": "text", "text": titled(part.title, part.text)}
    media = document_media_type(part, _WIRE)
    name = part.title or "document.pdf"
    if not name.lower().endswith(".pdf"):
        name += ".pdf"
    data = f"data:{media};base64,{part.data}" if part.data else part.url
    return {"type": "file", "file": {"filename": name, "file_data": data}}


def _audio(part: AudioPart) -> dict[str, Any]:
    """An ``input_audio`` part: base64 data and its format (a data URL is split)."""
    data, fmt = part.data, part.format
    if not data:
        parsed = split_data_url(part.url or "")
        if parsed is None:
            raise UnsupportedFeatureError(
                f"{_WIRE} takes audio as base64 data, not audio by URL; "
                "pass AudioPart(data=..., format=...)",
                feature="audio",
            )
        media, data = parsed
        fmt = fmt or audio_format(media)
    if not fmt:
        raise BadRequestError(f"audio input to {_WIRE} needs a format ('wav' or 'mp3')")
    return {"type": "input_audio", "input_audio": {"data": data, "format": fmt}}


def _content(message: Message) -> Any:
    if isinstance(message.content, str):
        return message.content
    parts: list[dict[str, Any]] = []
    for part in message.content:
        if isinstance(part, TextPart):
            parts.append({"type": "text", "text": part.text})
        elif isinstance(part, ImagePart):
            url = part.url or f"data:{part.media_type or 'image/png'};base64,{part.data}"
            parts.append({"type": "image_url", "image_url": {"url": url}})
        elif isinstance(part, DocumentPart):
            parts.append(_document(part))
        elif isinstance(part, AudioPart):
            parts.append(_audio(part))
        # a CachePoint is never a part here: build_payload turns marks into a cache key
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
    request: Request,
    *,
    stream: bool,
    model: str | None = None,
    usage_in_stream: bool = True,
    cache_key: bool = True,
) -> dict[str, Any]:
    """The JSON body of a Chat Completions call for ``request``.

    Reasoning models (o-series, gpt-5) get ``max_completion_tokens`` and no
    temperature; ``reasoning`` given as an effort name becomes ``reasoning_effort``
    (``True``: ``"medium"``). Cache points become a :func:`prompt_cache_key`
    (``cache_key=False`` leaves it out, for a server that rejects the field); a caller's
    own key is never replaced.
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
    elif request.reasoning is True:  # "think": the API's default effort, said aloud
        body["reasoning_effort"] = "medium"
    if request.tools:
        body["tools"] = _wire_tools(request.tools)
    if request.tool_choice is not None:
        if request.tool_choice in ("auto", "none", "required"):
            body["tool_choice"] = request.tool_choice
        else:
            body["tool_choice"] = {"type": "function", "function": {"name": request.tool_choice}}
    if request.json_mode:
        body["response_format"] = {"type": "json_object"}
    output = request.output
    if output is not None and output.mode is OutputMode.NATIVE:
        body["response_format"] = response_format(output)
    if request.stop:
        body["stop"] = list(request.stop)
    if stream:
        body["stream"] = True
        if usage_in_stream:
            body["stream_options"] = {"include_usage": True}
    if cache_key:
        key = prompt_cache_key(request)
        if key is not None and "prompt_cache_key" not in request.extra:
            body["prompt_cache_key"] = key
    if request.extra:
        body.update(request.extra)
    return body


def _wire_tools(tools: tuple[ToolSpec, ...]) -> list[dict[str, Any]]:
    return [
        {
            "type": "function",
            "function": {"name": t.name, "description": t.description, "parameters": t.parameters},
        }
        for t in tools
    ]


def prompt_cache_key(request: Request) -> str | None:
    """The ``prompt_cache_key`` for ``request``'s cache points, ``None`` without any.

    OpenAI caches prompt prefixes by itself; the key only routes calls that share a
    prefix to the same cache. It is derived from the prefix up to the last mark (tools
    first, then messages, as the prompt is laid out), so calls sharing that prefix share
    the key, whatever follows: ``jackfield-`` and 32 hex digits of its SHA-256.
    """
    for m in request.messages:  # the common call has text only and no marked tool
        if type(m.content) is not str:
            break
    else:
        for t in request.tools:
            if t.cache_point is not None:
                break
        else:
            return None
    last_message = last_part = -1
    for i, m in enumerate(request.messages):
        if type(m.content) is not str:
            for j, part in enumerate(m.content):
                if type(part) is CachePoint:
                    last_message, last_part = i, j
    marked_tools = [i for i, t in enumerate(request.tools) if t.cache_point is not None]
    if last_message < 0 and not marked_tools:
        return None
    if last_message < 0:
        tools = request.tools[: marked_tools[-1] + 1]
        messages: tuple[Message, ...] = ()
    else:
        tools = request.tools
        cut = request.messages[last_message]
        head = attrs.evolve(cut, content=cut.content[:last_part])
        messages = (*request.messages[:last_message], head)
    import hashlib  # on first use: discovery loads no heavy module

    prefix = [_wire_tools(tools), to_wire_messages(messages)]
    canonical = json.dumps(prefix, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return (
        "jackfield-" + hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    )


def response_format(output: OutputSchema) -> dict[str, Any]:
    """The ``response_format`` of a native structured-output call: ``json_schema``, with
    the schema in OpenAI's strict form when ``strict`` (every object closed, every
    property required, the optional ones nullable, ``$defs`` kept)."""
    spec: dict[str, Any] = {"name": output.name}
    if output.description:
        spec["description"] = output.description
    spec["schema"] = strict_schema(output.schema) if output.strict else dict(output.schema)
    spec["strict"] = output.strict
    return {"type": "json_schema", "json_schema": spec}


def parse_usage(data: Any) -> Usage:
    """Usage from the wire's ``usage`` object (missing fields count as 0).

    ``prompt_tokens`` already counts cached input, so it is the contract's input as is;
    ``prompt_tokens_details.cached_tokens`` and ``cache_write_tokens`` (OpenRouter, and
    OpenAI's explicit breakpoints) are its parts.

    Raises :class:`~jackfield.wire._shape.Malformed` naming a field of the wrong type.
    """
    usage = obj(data, "usage")
    if usage is None:
        return Usage()
    prompt_details = obj(usage.get("prompt_tokens_details"), "usage.prompt_tokens_details")
    completion_details = obj(
        usage.get("completion_tokens_details"), "usage.completion_tokens_details"
    )
    return Usage(
        input_tokens=count(usage.get("prompt_tokens"), "usage.prompt_tokens"),
        output_tokens=count(usage.get("completion_tokens"), "usage.completion_tokens"),
        cache_read_tokens=count(
            (prompt_details or {}).get("cached_tokens"),
            "usage.prompt_tokens_details.cached_tokens",
        ),
        cache_write_tokens=count(
            (prompt_details or {}).get("cache_write_tokens"),
            "usage.prompt_tokens_details.cache_write_tokens",
        ),
        reasoning_tokens=count(
            (completion_details or {}).get("reasoning_tokens"),
            "usage.completion_tokens_details.reasoning_tokens",
        ),
    )


def parse_response(
    data: Any, *, provider: str, model: str, request_id: str | None = None
) -> Response:
    """A :class:`Response` from a non-streamed Chat Completions body.

    A 200 body that carries an ``error`` object instead of choices (OpenRouter, some
    proxies) raises the error it describes; a body of the wrong shape raises
    :class:`APIError` naming the field.
    """
    if isinstance(data, dict) and data.get("error") and not data.get("choices"):
        raise error_from_response(None, None, data, provider=provider, model=model)
    if not isinstance(data, dict) or not isinstance(data.get("choices"), list):
        raise APIError(
            "the response has no choices (not a Chat Completions body)",
            provider=provider,
            model=model,
            body=data,
        )
    try:
        return _response(data, provider, model, request_id)
    except Malformed as exc:
        raise APIError(
            f"malformed Chat Completions body: {exc}", provider=provider, model=model, body=data
        ) from None


def _response(data: dict[str, Any], provider: str, model: str, request_id: str | None) -> Response:
    choice = _first_choice(data["choices"])
    if choice is None:
        raise Malformed("choices has no choice with index 0")
    message = obj(choice.get("message"), "choices[0].message") or {}
    calls = []
    for i, tc in enumerate(items(message.get("tool_calls"), "choices[0].message.tool_calls")):
        where = f"choices[0].message.tool_calls[{i}]"
        tc = obj(tc, where) or {}
        fn = obj(tc.get("function"), f"{where}.function") or {}
        arguments = fn.get("arguments")
        if isinstance(arguments, dict):  # some compatible servers send the object itself
            args, raw = arguments, None
        else:
            args, raw = final_arguments(text(arguments, f"{where}.function.arguments"))
        name = text(fn.get("name"), f"{where}.function.name")
        calls.append(
            ToolCall(opt_text(tc.get("id"), f"{where}.id") or f"call_{i}", name, args, raw)
        )
    reasoning = opt_text(
        message.get("reasoning_content"), "choices[0].message.reasoning_content"
    ) or opt_text(message.get("reasoning"), "choices[0].message.reasoning")
    reason = finish_reason(choice.get("finish_reason"))
    if reason is None:
        reason = FinishReason.TOOL_CALLS if calls else FinishReason.STOP
    content = text(message.get("content"), "choices[0].message.content")
    refusal = message.get("refusal")
    if refusal and isinstance(refusal, str) and not content:
        # Structured outputs: the model declined; the text is in `refusal`, not `content`.
        content, reason = refusal, FinishReason.REFUSAL
    response_model = data.get("model")
    response_id = data.get("id")
    return Response(
        content=content,
        model=response_model if isinstance(response_model, str) and response_model else model,
        provider=provider,
        usage=parse_usage(data.get("usage")),
        finish_reason=reason,
        tool_calls=tuple(calls),
        thinking=(Thinking(reasoning),) if reasoning else (),
        raw=data,
        request_id=request_id or (response_id if isinstance(response_id, str) else None),
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
        if data == "[DONE]":
            return self._done()
        try:
            chunk = loads(data)
        except ValueError:
            if data.strip() == "[DONE]":  # ``data: [DONE] ``: tolerated, as the SDKs do
                return self._done()
            raise StreamError(
                f"malformed stream chunk: {data[:200]!r}", provider=self.asm.provider
            ) from None
        if not isinstance(chunk, dict):
            raise StreamError(f"malformed stream chunk: {data[:200]!r}", provider=self.asm.provider)
        asm = self.asm
        out: list[StreamEvent] = []
        if not asm.started:
            model = chunk.get("model")
            out.append(asm.start(model=model if type(model) is str else None))
        if chunk.get("error"):  # some servers send "error": null in every chunk
            raise error_from_payload(chunk, provider=asm.provider, model=asm.model)
        # Types are checked inline (the hot path: one chunk per token); Malformed names
        # the field, and becomes a StreamError below.
        try:
            usage = chunk.get("usage")
            if usage:
                self.usage = parse_usage(usage)
            choices = chunk.get("choices")
            if not choices:
                return out
            if type(choices) is not list:
                raise wrong("choices", choices, "an array")
            choice = _first_choice(choices)
            if choice is None:
                return out
            delta = choice.get("delta")
            if delta:
                if type(delta) is not dict:
                    raise wrong("choices[0].delta", delta, "an object")
                reasoning = delta.get("reasoning_content") or delta.get("reasoning")
                if reasoning:
                    if type(reasoning) is not str:
                        raise wrong("choices[0].delta.reasoning", reasoning, "a string")
                    out += asm.thinking(reasoning)
                content = delta.get("content")
                if content:
                    if type(content) is not str:
                        raise wrong("choices[0].delta.content", content, "a string")
                    out += asm.text(content)
                refusal = delta.get("refusal")
                if refusal and isinstance(refusal, str):
                    self._refused = True
                    out += asm.text(refusal)
                calls = delta.get("tool_calls")
                if calls:
                    out += self._tool_calls(calls)
            reason = choice.get("finish_reason")
            if reason:
                self.finish = finish_reason(reason)
        except Malformed as exc:
            raise StreamError(
                f"malformed stream chunk: {exc}",
                provider=asm.provider,
                model=asm.model,
                body=chunk,
            ) from None
        return out

    def _done(self) -> list[StreamEvent]:
        self.done = True
        out: list[StreamEvent] = [] if self.asm.started else [self.asm.start()]
        return out + self.asm.finish(self._finish_reason(), self.usage)

    def _tool_calls(self, calls: Any) -> list[StreamEvent]:
        out: list[StreamEvent] = []
        for i, tc in enumerate(items(calls, "choices[0].delta.tool_calls")):
            where = f"choices[0].delta.tool_calls[{i}]"
            tc = obj(tc, where) or {}
            fn = obj(tc.get("function"), f"{where}.function") or {}
            call_id = opt_text(tc.get("id"), f"{where}.id")
            index = tc.get("index")
            if index is not None and (type(index) is not int or index < 0):
                raise wrong(f"{where}.index", index, "a non-negative integer")
            out += self.asm.tool_call(
                self._key(call_id, index),
                id=call_id,
                name=opt_text(fn.get("name"), f"{where}.function.name"),
                arguments=text(fn.get("arguments"), f"{where}.function.arguments"),
            )
        return out

    def _key(self, call_id: str | None, index: int | None) -> int:
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
