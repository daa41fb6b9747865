"""The OpenAI Responses wire format (``POST /v1/responses``).

:func:`build_payload` turns a :class:`Request` into the JSON body, :func:`parse_response`
turns a non-streamed answer into a :class:`Response`, and :class:`EventParser` turns the
named SSE events of a stream into jackfield events. No SDK is imported.

Choices made where the API leaves room:

* System messages, wherever they appear, are joined (blank line between) into
  ``instructions``. User turns are ``input`` messages of ``input_text``,
  ``input_image`` and ``input_file`` parts (a PDF by data or by ``file_url``; a
  plain-text document is an ``input_text`` headed by its title). The API has no audio
  input part: audio is refused before any I/O. An assistant turn becomes its
  ``reasoning`` items (sent back verbatim), its text, then one ``function_call`` item per
  call; a tool result is a ``function_call_output``.
* **Reasoning round-trip.** Calls are ``store: false``; a reasoning model is asked for
  ``include: ["reasoning.encrypted_content"]``. Each ``reasoning`` output item becomes
  one :class:`Thinking`: its text is the summary parts joined by a blank line, its
  ``signature`` is ``openai-responses:`` and the JSON of ``{"id", "encrypted_content",
  "summary"}`` taken from ``response.output_item.done`` (the copy in ``.added`` may be
  incomplete), enough to rebuild the item, which goes back unchanged on the next turn
  (:func:`encode_signature`, :func:`decode_signature`). A reasoning item without
  encrypted content cannot be referred to under ``store: false`` and is not sent back;
  neither is another provider's thinking (the API has no slot for it).
* Function tools are sent flat (``{"type": "function", "name", "parameters"}``) with
  ``strict: false``, as Chat Completions treats them; the API's own default is strict.
* ``stop`` has no field on this API and is refused (:class:`UnsupportedFeatureError`),
  as are the Chat Completions options it lacks (``seed``, ``logit_bias``,
  ``frequency_penalty``, ``presence_penalty``, ``logprobs``); ``verbosity`` goes in
  ``text.verbosity``.
* Cache points are never parts: they become a ``prompt_cache_key`` derived as the Chat
  wire derives it.
* A stream ends with ``response.completed``, ``response.incomplete`` (its
  ``incomplete_details.reason`` mapped to a finish reason) or ``response.failed`` and
  ``error`` (mapped to the error taxonomy); one cut before any of them raises
  :class:`StreamError`. Event types the parser does not know are skipped, never fatal,
  and counted (:attr:`EventParser.skipped`; the streamed response's ``raw`` holds the
  counts).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final

import attrs

from .._schema_forms import strict_schema
from ..errors import APIError, StreamError, UnsupportedFeatureError
from ..events import StreamEnd, StreamEvent
from ..types import (
    AudioPart,
    ContentPart,
    DocumentPart,
    FinishReason,
    ImagePart,
    Message,
    OutputMode,
    OutputSchema,
    Request,
    Response,
    TextPart,
    ToolSpec,
    Usage,
)
from ._assembler import StreamAssembler
from ._errors import error_from_payload
from ._json import loads
from ._openai_chat import is_reasoning_model, prompt_cache_key
from ._parts import document_media_type, titled
from ._shape import Malformed, count, items, obj, opt_text, text

__all__ = [
    "CALL_OPTIONS",
    "CHAT_ONLY_OPTIONS",
    "INCOMPLETE_REASONS",
    "EventParser",
    "build_payload",
    "check_request",
    "decode_signature",
    "encode_signature",
    "parse_response",
    "parse_usage",
    "text_format",
    "to_input_items",
]

CALL_OPTIONS: frozenset[str] = frozenset(
    {
        "include",
        "max_tool_calls",
        "metadata",
        "parallel_tool_calls",
        "previous_response_id",
        "prompt_cache_key",
        "prompt_cache_retention",
        "safety_identifier",
        "service_tier",
        "store",
        "top_logprobs",
        "top_p",
        "truncation",
        "user",
        "verbosity",
    }
)
"""Responses body fields a call may pass as keywords; any other goes in ``extra={...}``.
``include`` is merged with jackfield's own, ``verbosity`` goes in ``text.verbosity``."""

CHAT_ONLY_OPTIONS: frozenset[str] = frozenset(
    {"frequency_penalty", "logit_bias", "logprobs", "presence_penalty", "seed"}
)
"""Chat Completions call options this API has no field for: refused before any I/O."""

INCOMPLETE_REASONS: dict[str, FinishReason] = {
    "max_output_tokens": FinishReason.LENGTH,
    "content_filter": FinishReason.CONTENT_FILTER,
}
"""``incomplete_details.reason`` -> :class:`FinishReason`; others stay strings."""

_TAG: Final = "openai-responses:"
_WIRE: Final = "the Responses API"
_ENCRYPTED: Final = "reasoning.encrypted_content"


# -- signatures ------------------------------------------------------------------------------


def encode_signature(item: Mapping[str, Any]) -> str | None:
    """The :attr:`Thinking.signature` of a ``reasoning`` output item: its ``id``,
    ``encrypted_content`` and ``summary`` texts, tagged; ``None`` when the item has no
    encrypted content (it cannot be sent back under ``store: false``)."""
    encrypted = item.get("encrypted_content")
    if not isinstance(encrypted, str) or not encrypted:
        return None
    summary = [
        p["text"]
        for p in item.get("summary") or ()
        if isinstance(p, dict) and isinstance(p.get("text"), str)
    ]
    kept = {"id": item.get("id"), "encrypted_content": encrypted, "summary": summary}
    return _TAG + json.dumps(kept, ensure_ascii=False, separators=(",", ":"))


def decode_signature(value: str | None) -> dict[str, Any] | None:
    """The ``reasoning`` input item a tagged signature rebuilds, else ``None`` (no
    signature, another provider's, or a damaged one)."""
    if not value or not value.startswith(_TAG):
        return None
    try:
        kept = json.loads(value[len(_TAG) :])
    except ValueError:
        return None
    if not isinstance(kept, dict) or not isinstance(kept.get("encrypted_content"), str):
        return None
    item: dict[str, Any] = {"type": "reasoning"}
    if isinstance(kept.get("id"), str):
        item["id"] = kept["id"]
    summary = kept.get("summary")
    item["summary"] = [
        {"type": "summary_text", "text": t}
        for t in (summary if isinstance(summary, list) else ())
        if isinstance(t, str)
    ]
    item["encrypted_content"] = kept["encrypted_content"]
    return item


# -- requests --------------------------------------------------------------------------------


def _document(part: DocumentPart) -> dict[str, Any]:
    if part.text is not None:
        return {"type": "input_text", "text": titled(part.title, part.text)}
    media = document_media_type(part, _WIRE)
    name = part.title or "document.pdf"
    if not name.lower().endswith(".pdf"):
        name += ".pdf"
    if part.data:
        return {
            "type": "input_file",
            "filename": name,
            "file_data": f"data:{media};base64,{part.data}",
        }
    return {"type": "input_file", "file_url": part.url}


def _part(part: ContentPart) -> dict[str, Any] | None:
    if isinstance(part, TextPart):
        return {"type": "input_text", "text": part.text}
    if isinstance(part, ImagePart):
        url = part.url or f"data:{part.media_type or 'image/png'};base64,{part.data}"
        return {"type": "input_image", "image_url": url, "detail": "auto"}
    if isinstance(part, DocumentPart):
        return _document(part)
    if isinstance(part, AudioPart):
        raise UnsupportedFeatureError(
            f"{_WIRE} takes no audio input; use api='chat' with an audio model",
            feature="audio",
        )
    return None  # a CachePoint: build_payload turns marks into a prompt_cache_key


def _assistant_items(m: Message) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for t in m.thinking:
        item = decode_signature(t.signature)
        if item is not None:
            out.append(item)
    answer = m.text
    if answer:
        out.append({"role": "assistant", "content": answer})
    for call in m.tool_calls:
        out.append(
            {
                "type": "function_call",
                "call_id": call.id,
                "name": call.name,
                "arguments": json.dumps(call.arguments, ensure_ascii=False),
            }
        )
    return out


def to_input_items(messages: tuple[Message, ...]) -> tuple[list[str], list[dict[str, Any]]]:
    """The system texts (for ``instructions``) and the ``input`` items of a call."""
    system: list[str] = []
    out: list[dict[str, Any]] = []
    for m in messages:
        role = m.role
        if role == "system":
            if m.text:
                system.append(m.text)
        elif role == "assistant":
            out += _assistant_items(m)
        elif role == "tool":
            out.append(
                {"type": "function_call_output", "call_id": m.tool_call_id or "", "output": m.text}
            )
        elif isinstance(m.content, str):
            out.append({"role": role, "content": m.content})
        else:
            parts = [p for p in map(_part, m.content) if p is not None]
            out.append({"role": role, "content": parts})
    return system, out


def _tools(tools: tuple[ToolSpec, ...]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for t in tools:
        tool: dict[str, Any] = {"type": "function", "name": t.name}
        if t.description:
            tool["description"] = t.description
        tool["parameters"] = t.parameters
        tool["strict"] = False
        out.append(tool)
    return out


def text_format(output: OutputSchema) -> dict[str, Any]:
    """The ``text.format`` of a native structured-output call: ``json_schema`` (flat:
    name, schema and strict beside the type), the schema in OpenAI's strict form when
    ``strict``."""
    fmt: dict[str, Any] = {"type": "json_schema", "name": output.name}
    if output.description:
        fmt["description"] = output.description
    fmt["schema"] = strict_schema(output.schema) if output.strict else dict(output.schema)
    fmt["strict"] = output.strict
    return fmt


def _reasoning(request: Request) -> dict[str, Any] | None:
    value = request.reasoning
    if value is None or value is False:
        return None
    effort = value if isinstance(value, str) and value else "medium"
    return {"effort": effort, "summary": "auto"}


def check_request(request: Request, provider: str | None = None) -> None:
    """Refuse, before any I/O, what this API has no field for: ``stop``, audio input
    and the Chat-only options (:data:`CHAT_ONLY_OPTIONS`), each with
    :class:`UnsupportedFeatureError` naming it."""
    if request.stop:
        raise UnsupportedFeatureError(
            f"{_WIRE} has no stop sequences; use api='chat' for them",
            feature="stop",
            provider=provider,
            model=request.model,
        )
    if request.extra:
        refused = sorted(CHAT_ONLY_OPTIONS.intersection(request.extra))
        if refused:
            raise UnsupportedFeatureError(
                f"{_WIRE} has no {', '.join(refused)}; use api='chat' for "
                f"{'them' if len(refused) > 1 else 'it'}",
                feature=refused[0],
                provider=provider,
                model=request.model,
            )
    for m in request.messages:
        if type(m.content) is not str and any(type(p) is AudioPart for p in m.content):
            raise UnsupportedFeatureError(
                f"{_WIRE} takes no audio input; use api='chat' with an audio model",
                feature="audio",
                provider=provider,
                model=request.model,
            )


def build_payload(request: Request, *, stream: bool, model: str | None = None) -> dict[str, Any]:
    """The JSON body of a Responses call for ``request``.

    ``max_tokens`` is ``max_output_tokens``; ``reasoning`` an effort name (``True``:
    ``"medium"``) with ``summary: "auto"``, so thinking arrives as summaries; a reasoning
    model (o-series, GPT-5) or a call that asks to think gets ``include:
    ["reasoning.encrypted_content"]``; every call is ``store: false``. ``request.extra``
    is merged last (``include`` joined, ``verbosity`` into ``text``).

    Raises :class:`UnsupportedFeatureError` for ``stop``, audio and the Chat-only
    options, before any I/O.
    """
    check_request(request)
    target = model or request.model
    system, items_ = to_input_items(request.messages)
    body: dict[str, Any] = {"model": target}
    if system:
        body["instructions"] = "\n\n".join(system)
    body["input"] = items_
    if request.max_tokens is not None:
        body["max_output_tokens"] = request.max_tokens
    if request.temperature is not None:
        body["temperature"] = request.temperature
    reasoning = _reasoning(request)
    if reasoning is not None:
        body["reasoning"] = reasoning
    if reasoning is not None or is_reasoning_model(target):
        body["include"] = [_ENCRYPTED]
    body["store"] = False
    if request.tools:
        body["tools"] = _tools(request.tools)
    if request.tool_choice is not None:
        if request.tool_choice in ("auto", "none", "required"):
            body["tool_choice"] = request.tool_choice
        else:
            body["tool_choice"] = {"type": "function", "name": request.tool_choice}
    output = request.output
    if output is not None and output.mode is OutputMode.NATIVE:
        body["text"] = {"format": text_format(output)}
    elif request.json_mode:
        body["text"] = {"format": {"type": "json_object"}}
    if stream:
        body["stream"] = True
    key = prompt_cache_key(request)
    if key is not None and "prompt_cache_key" not in request.extra:
        body["prompt_cache_key"] = key
    if request.extra:
        _merge(body, request.extra)
    return body


def _merge(body: dict[str, Any], extra: Mapping[str, Any]) -> None:
    for key, value in extra.items():
        if key == "include" and isinstance(value, list | tuple):
            body["include"] = list(dict.fromkeys([*body.get("include", ()), *value]))
        elif key == "verbosity":
            body["text"] = {**body.get("text", {}), "verbosity": value}
        elif key == "text" and isinstance(value, Mapping):
            body["text"] = {**body.get("text", {}), **value}
        else:
            body[key] = value


# -- responses -------------------------------------------------------------------------------


def parse_usage(data: Any) -> Usage:
    """Usage from the ``usage`` object, in the contract's one meaning.

    ``input_tokens`` already counts the cached ones (``input_tokens_details.
    cached_tokens``, and ``cache_write_tokens`` where sent); ``output_tokens`` counts the
    reasoning ones (``output_tokens_details.reasoning_tokens``).
    """
    usage = obj(data, "usage")
    if usage is None:
        return Usage()
    inp = obj(usage.get("input_tokens_details"), "usage.input_tokens_details") or {}
    out = obj(usage.get("output_tokens_details"), "usage.output_tokens_details") or {}
    return Usage(
        input_tokens=count(usage.get("input_tokens"), "usage.input_tokens"),
        output_tokens=count(usage.get("output_tokens"), "usage.output_tokens"),
        cache_read_tokens=count(
            inp.get("cached_tokens"), "usage.input_tokens_details.cached_tokens"
        ),
        cache_write_tokens=count(
            inp.get("cache_write_tokens"), "usage.input_tokens_details.cache_write_tokens"
        ),
        reasoning_tokens=count(
            out.get("reasoning_tokens"), "usage.output_tokens_details.reasoning_tokens"
        ),
    )


def parse_response(
    data: Any,
    *,
    provider: str,
    model: str,
    request_id: str | None = None,
    secrets: tuple[str, ...] = (),
) -> Response:
    """A :class:`Response` from a non-streamed Responses body (``object: "response"``).

    Its ``output`` items go through the same :class:`EventParser` as a stream's
    ``response.output_item.done`` events, so a call answers alike streamed or not. A
    ``failed`` body raises the error it carries; a body of the wrong shape raises
    :class:`APIError` naming the field.
    """
    if not isinstance(data, dict) or not isinstance(data.get("output"), list):
        if isinstance(data, dict) and isinstance(data.get("error"), dict):
            raise error_from_payload(data, provider=provider, model=model, secrets=secrets)
        raise APIError(
            "the response has no output (not a Responses body)",
            provider=provider,
            model=model,
            body=data,
        )
    asm = StreamAssembler(provider, model)
    asm.request_id = request_id
    parser = EventParser(asm, secrets=secrets)
    try:
        parser._begin(data)
        for i, item in enumerate(data["output"]):
            if not isinstance(item, dict):
                raise Malformed(f"output[{i}] is not an object")
            parser._item_done(item, i)
        parser._terminal(data)
    except Malformed as exc:
        raise APIError(
            f"malformed Responses body: {exc}", provider=provider, model=model, body=data
        ) from None
    return attrs.evolve(asm.response(), raw=data)


class _Item:
    __slots__ = ("kind", "streamed", "summaries")

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.streamed = False
        self.summaries = 0


_QUIET: Final = frozenset(
    {
        "response.queued",
        "response.content_part.added",
        "response.content_part.done",
        "response.output_text.done",
        "response.refusal.done",
        "response.reasoning_summary_part.done",
        "response.reasoning_summary_text.done",
        "response.reasoning_text.done",
        "response.output_text.annotation.added",
    }
)
"""Documented events whose content arrives elsewhere (their ``.delta`` or item)."""


class EventParser:
    """Turns each event of a Responses stream into jackfield events.

    Feed each SSE event's ``data`` with :meth:`feed` (the ``type`` inside the data names
    the event; the SSE ``event:`` line repeats it); call :meth:`close` at the end of
    input. :attr:`done` is set by the terminal event. Unknown event types are skipped and
    counted in :attr:`skipped`.
    """

    __slots__ = ("_items", "_refused", "_secrets", "asm", "done", "saw_call", "skipped")

    def __init__(self, asm: StreamAssembler, *, secrets: tuple[str, ...] | list[str] = ()) -> None:
        self.asm = asm
        self.done = False
        self.saw_call = False
        self.skipped: dict[str, int] = {}
        self._items: dict[Any, _Item] = {}
        self._refused = False
        self._secrets = tuple(secrets)

    def feed(self, data: str) -> list[StreamEvent]:
        """Events for one SSE event's data."""
        try:
            event = loads(data)
        except ValueError:
            raise self._error(f"malformed stream event: {data[:200]!r}") from None
        if type(event) is not dict:
            raise self._error(f"malformed stream event: {data[:200]!r}")
        try:
            return self._feed(event)
        except Malformed as exc:
            raise StreamError(
                f"malformed stream event: {exc}",
                provider=self.asm.provider,
                model=self.asm.model,
                body=event,
            ) from None

    def _feed(self, event: dict[str, Any]) -> list[StreamEvent]:
        kind = event.get("type")
        asm = self.asm
        # the hot path first: one event per token
        if kind == "response.output_text.delta":
            item = self._items.get(event.get("output_index"))
            if item is not None:
                item.streamed = True
            delta = event.get("delta")
            if type(delta) is not str:
                delta = text(delta, "delta")
            return asm.text(delta)
        if kind == "response.function_call_arguments.delta":
            key = event.get("output_index")
            item = self._items.get(key)
            if item is not None:
                item.streamed = True
            return asm.tool_call(key, arguments=text(event.get("delta"), "delta"))
        if (
            kind == "response.reasoning_summary_text.delta"
            or kind == "response.reasoning_text.delta"
        ):
            item = self._items.get(event.get("output_index"))
            if item is not None:
                item.streamed = True
            return asm.thinking(text(event.get("delta"), "delta"))
        if kind == "response.reasoning_summary_part.added":
            item = self._items.get(event.get("output_index"))
            if item is not None:
                item.summaries += 1
                if item.summaries > 1 and item.streamed:
                    return asm.thinking("\n\n")
            return []
        if kind == "response.output_item.added":
            return self._item_added(event)
        if kind == "response.output_item.done":
            index = event.get("output_index")
            item_data = obj(event.get("item"), "item")
            return [] if item_data is None else self._item_done(item_data, index)
        if kind == "response.function_call_arguments.done":
            key = event.get("output_index")
            item = self._items.get(key)
            if item is not None and not item.streamed:
                item.streamed = True
                return asm.tool_call(key, arguments=text(event.get("arguments"), "arguments"))
            return []
        if kind == "response.refusal.delta":
            self._refused = True
            item = self._items.get(event.get("output_index"))
            if item is not None:
                item.streamed = True
            return asm.text(text(event.get("delta"), "delta"))
        if kind == "response.created" or kind == "response.in_progress":
            response = obj(event.get("response"), "response") or {}
            return [] if asm.started else self._begin(response)
        if kind == "response.completed" or kind == "response.incomplete":
            response = obj(event.get("response"), "response") or {}
            out: list[StreamEvent] = [] if asm.started else self._begin(response)
            return out + self._terminal(response)
        if kind == "response.failed":
            response = obj(event.get("response"), "response") or {}
            error = obj(response.get("error"), "response.error") or {
                "message": "the response failed with no error detail"
            }
            raise error_from_payload(
                {"error": error}, provider=asm.provider, model=asm.model, secrets=self._secrets
            )
        if kind == "error":
            nested = event.get("error")
            payload = (
                {"error": nested}
                if isinstance(nested, dict)
                else {
                    "error": {
                        k: v for k, v in event.items() if k not in ("type", "sequence_number")
                    }
                }
            )
            raise error_from_payload(
                payload, provider=asm.provider, model=asm.model, secrets=self._secrets
            )
        if kind not in _QUIET:
            name = kind if isinstance(kind, str) else "(no type)"
            self.skipped[name] = self.skipped.get(name, 0) + 1
        return []

    def _begin(self, response: dict[str, Any]) -> list[StreamEvent]:
        asm = self.asm
        model = opt_text(response.get("model"), "response.model")
        response_id = opt_text(response.get("id"), "response.id")
        return [asm.start(model=model, request_id=asm.request_id or response_id)]

    def _item_added(self, event: dict[str, Any]) -> list[StreamEvent]:
        index = event.get("output_index")
        data = obj(event.get("item"), "item") or {}
        kind = text(data.get("type"), "item.type")
        self._items[index] = _Item(kind)
        asm = self.asm
        out: list[StreamEvent] = [] if asm.started else [asm.start()]
        out += asm.end_block()  # each output item is a block of its own
        if kind == "function_call":
            self.saw_call = True
            out += asm.tool_call(
                index,
                id=opt_text(data.get("call_id"), "item.call_id"),
                name=opt_text(data.get("name"), "item.name"),
            )
            arguments = text(data.get("arguments"), "item.arguments")
            if arguments:
                self._items[index].streamed = True
                out += asm.tool_call(index, arguments=arguments)
        return out

    def _item_done(self, data: dict[str, Any], index: Any) -> list[StreamEvent]:
        """Events for a finished output item: what was not streamed, its signature."""
        asm = self.asm
        seen = self._items.get(index)
        kind = text(data.get("type"), "item.type")
        streamed = seen is not None and seen.streamed
        out: list[StreamEvent] = []
        if kind == "message":
            if not streamed:
                for i, part in enumerate(items(data.get("content"), "item.content")):
                    part = obj(part, f"item.content[{i}]") or {}
                    ptype = part.get("type")
                    if ptype == "output_text":
                        out += asm.text(text(part.get("text"), f"item.content[{i}].text"))
                    elif ptype == "refusal":
                        self._refused = True
                        out += asm.text(text(part.get("refusal"), f"item.content[{i}].refusal"))
            return out + asm.end_block()
        if kind == "reasoning":
            if not streamed:
                summary = [
                    text((obj(p, "item.summary[]") or {}).get("text"), "item.summary[].text")
                    for p in items(data.get("summary"), "item.summary")
                ]
                content = [
                    text((obj(p, "item.content[]") or {}).get("text"), "item.content[].text")
                    for p in items(data.get("content"), "item.content")
                ]
                out += asm.end_block()
                out += asm.thinking("\n\n".join(summary or content))
            signature = encode_signature(data)
            if signature is not None:
                out += asm.thinking("", signature=signature)
            return out + asm.end_block()
        if kind == "function_call":
            self.saw_call = True
            if seen is None:
                out += asm.end_block()
                out += asm.tool_call(
                    index,
                    id=opt_text(data.get("call_id"), "item.call_id"),
                    name=text(data.get("name"), "item.name"),
                )
            if not streamed:
                out += asm.tool_call(index, arguments=text(data.get("arguments"), "item.arguments"))
            return out + asm.end_block()
        name = f"output_item:{kind}"  # a built-in tool's item: nothing the contract holds
        self.skipped[name] = self.skipped.get(name, 0) + 1
        return out

    def _terminal(self, response: dict[str, Any]) -> list[StreamEvent]:
        status = response.get("status")
        usage = parse_usage(response.get("usage"))
        reason: FinishReason | str
        if status == "incomplete":
            details = obj(response.get("incomplete_details"), "response.incomplete_details") or {}
            why = opt_text(details.get("reason"), "response.incomplete_details.reason") or "other"
            reason = INCOMPLETE_REASONS.get(why, why)
        elif status == "failed":
            error = obj(response.get("error"), "response.error") or {"message": "failed"}
            raise error_from_payload(
                {"error": error},
                provider=self.asm.provider,
                model=self.asm.model,
                secrets=self._secrets,
            )
        elif self._refused:
            reason = FinishReason.REFUSAL
        elif self.saw_call:
            reason = FinishReason.TOOL_CALLS
        else:
            reason = FinishReason.STOP
        self.done = True
        out = self.asm.finish(reason, usage)
        if self.skipped:  # what was skipped stays visible on the response
            end = out[-1]
            assert isinstance(end, StreamEnd)
            skipped = {"skipped_events": dict(self.skipped)}
            out[-1] = StreamEnd(attrs.evolve(end.response, raw=skipped))
        return out

    def _error(self, message: str) -> StreamError:
        return StreamError(message, provider=self.asm.provider, model=self.asm.model)

    def close(self) -> list[StreamEvent]:
        """End of input: nothing more, or :class:`StreamError` when the stream ended
        before its terminal event (truncated)."""
        if not self.done:
            raise self._error(
                "the stream ended before response.completed or response.incomplete (truncated)"
            )
        return []
