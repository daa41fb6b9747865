"""The Gemini ``generateContent`` wire format (Gemini API and Vertex AI).

:func:`build_payload` turns a :class:`Request` into the JSON body of
``POST .../models/{model}:generateContent`` (or ``:streamGenerateContent?alt=sse``, the
same body), :func:`parse_response` turns a non-streamed answer into a :class:`Response`,
and :class:`ChunkParser` turns the ``data:`` chunks of a stream into jackfield events.
The model is part of the URL (:func:`method_path`), not of the body. No SDK is imported.

Choices made where the API leaves room:

* System messages, wherever they appear, are joined (blank line between) into
  ``systemInstruction``. Consecutive messages of one wire role merge into one turn:
  tool results are ``functionResponse`` parts of a ``user`` turn, so the answers to
  parallel calls share one turn, as the API requires.
* **Thought signatures** ride on the part that carried them, and the contract keeps
  each one in a :class:`Thinking` whose ``signature`` names that part:
  ``gemini:<where>:<signature>`` with ``<where>`` ``thought`` (a thought part, whose
  text is the block's text), ``text`` (the answer's text), ``fc<N>`` (the N-th function
  call of the answer; Gemini signs only the first of parallel calls) or ``end`` (an
  empty last part, as Gemini 3 sends with a plain answer). A signature-only block has
  empty text. Sent back, each signature goes unchanged to the same part, in the same
  position; :func:`decode_signature` splits one. Thinking of another provider is sent as
  a thought part without its signature, and an assistant turn whose function calls carry
  no Gemini signature (written by hand, or by another provider) gets Google's documented
  placeholder :data:`FOREIGN_SIGNATURE` on its first call, which Gemini 3 requires.
* Function calls arrive whole; each becomes ``ToolCallStart``, one ``ToolCallDelta``
  with the whole argument JSON and ``ToolCallEnd``. A call without an ``id`` (Gemini 2.5)
  gets ``gemini_call_<n>``, an id that is never sent back.
* A blocked prompt (``promptFeedback.blockReason``, no candidate) raises
  :class:`~jackfield.errors.ContentFilterError`; an answer stopped by a filter
  (``SAFETY``, ``RECITATION``, ``BLOCKLIST``, ``PROHIBITED_CONTENT``, ``SPII`` ...) is a
  response with finish reason ``content_filter`` and whatever text came before.
* ``CachePoint`` marks are accepted and send nothing: Gemini caches prompts
  implicitly.
"""

from __future__ import annotations

import json
import mimetypes
import re
from collections.abc import Mapping, Sequence
from typing import Any, Final

import attrs

from ..errors import APIError, BadRequestError, ConfigurationError, ContentFilterError, StreamError
from ..events import StreamEvent
from ..types import (
    AudioPart,
    ContentPart,
    DocumentPart,
    FinishReason,
    ImagePart,
    Message,
    OutputMode,
    Request,
    Response,
    TextPart,
    Usage,
)
from ._assembler import StreamAssembler
from ._errors import error_from_payload
from ._json import loads
from ._shape import Malformed, count, items, obj, opt_text, text

__all__ = [
    "CALL_OPTIONS",
    "FINISH_REASONS",
    "FOREIGN_SIGNATURE",
    "THINKING_BUDGETS",
    "ChunkParser",
    "build_payload",
    "decode_signature",
    "encode_signature",
    "method_path",
    "parse_response",
    "parse_usage",
    "thinking_config",
    "to_wire_contents",
]

CALL_OPTIONS: frozenset[str] = frozenset(
    {"generation_config", "safety_settings", "cached_content", "labels"}
)
"""Keyword arguments a call may pass (``Provider.call_options``):
``generation_config={"topP": 0.9, "seed": 7, "thinkingConfig": {...}}`` is merged into
the ``generationConfig`` jackfield builds (its keys win), ``safety_settings`` becomes
``safetySettings``, ``cached_content`` ``cachedContent`` (a ``cachedContents/...`` name)
and ``labels`` stays (Vertex AI). Any other body field goes in ``extra={...}`` and is sent
as written (a ``generationConfig`` dict there is merged too)."""

_RENAMED: Final = {"safety_settings": "safetySettings", "cached_content": "cachedContent"}

FOREIGN_SIGNATURE = "skip_thought_signature_validator"
"""The placeholder signature Google documents for function calls Gemini did not write."""

_TAG = "gemini:"
_SYNTHETIC_ID = "gemini_call_"

THINKING_BUDGETS: dict[str, int] = {
    "minimal": 512,
    "low": 2048,
    "medium": 8192,
    "high": 16384,
    "xhigh": 24576,
    "max": 32768,
}
"""``reasoning`` effort -> ``thinkingBudget`` for the budget family (Gemini 2.x)."""

_LEVELS: Final = {
    "minimal": "minimal",
    "low": "low",
    "medium": "medium",
    "high": "high",
    "xhigh": "high",
    "max": "high",
}
"""``reasoning`` effort -> ``thinkingLevel`` for Gemini 3 and later."""

FINISH_REASONS: dict[str, FinishReason | None] = {
    "STOP": FinishReason.STOP,
    "MAX_TOKENS": FinishReason.LENGTH,
    "SAFETY": FinishReason.CONTENT_FILTER,
    "RECITATION": FinishReason.CONTENT_FILTER,
    "BLOCKLIST": FinishReason.CONTENT_FILTER,
    "PROHIBITED_CONTENT": FinishReason.CONTENT_FILTER,
    "SPII": FinishReason.CONTENT_FILTER,
    "IMAGE_SAFETY": FinishReason.CONTENT_FILTER,
    "IMAGE_PROHIBITED_CONTENT": FinishReason.CONTENT_FILTER,
    "IMAGE_RECITATION": FinishReason.CONTENT_FILTER,
    "OTHER": FinishReason.OTHER,
    "FINISH_REASON_UNSPECIFIED": None,
}
"""Wire ``finishReason`` -> :class:`FinishReason`; others (``MALFORMED_FUNCTION_CALL``,
``LANGUAGE``, ``TOO_MANY_TOOL_CALLS`` ...) stay strings, lower-cased."""

_AUDIO_TYPES: Final = {"mp3": "audio/mp3", "wav": "audio/wav", "m4a": "audio/m4a"}
_DATA_URL = re.compile(r"^data:([\w.+-]+/[\w.+-]+);base64,(.*)$", re.DOTALL)
_GEMINI_VERSION = re.compile(r"gemini-(\d+)")
_UNSAFE_MODEL = re.compile(r"[?&#%\s\x00-\x1f\\]")


# -- signatures ----------------------------------------------------------------------------


def encode_signature(where: str, signature: str) -> str:
    """The :attr:`Thinking.signature` for a Gemini ``signature`` found on part ``where``
    (``thought``, ``text``, ``end`` or ``fc<N>``)."""
    return f"{_TAG}{where}:{signature}"


def decode_signature(value: str | None) -> tuple[str, str] | None:
    """``(where, signature)`` of a Gemini-tagged :attr:`Thinking.signature`, else ``None``
    (no signature, or another provider's)."""
    if not value or not value.startswith(_TAG):
        return None
    where, sep, signature = value[len(_TAG) :].partition(":")
    return (where, signature) if sep and signature else None


# -- requests ------------------------------------------------------------------------------


def method_path(model: str, *, stream: bool, vertex: bool = False) -> str:
    """The path after the API version: ``models/{model}:generateContent`` (Vertex AI:
    ``publishers/google/models/{model}:...``), or ``:streamGenerateContent?alt=sse``.

    The model is part of the URL: an id with ``?``, ``&``, ``#``, ``..``, a space or a
    control character is refused with :class:`~jackfield.errors.BadRequestError`.
    """
    if not model or _UNSAFE_MODEL.search(model) or ".." in model:
        raise BadRequestError(f"model {model!r} cannot be part of a Gemini URL")
    if model.startswith(("models/", "publishers/", "projects/", "tunedModels/")):
        name = model
    elif vertex:
        publisher, _, model_id = model.rpartition("/")
        name = f"publishers/{publisher or 'google'}/models/{model_id}"
    else:
        name = f"models/{model}"
    return f"{name}:streamGenerateContent?alt=sse" if stream else f"{name}:generateContent"


def _uses_levels(model: str) -> bool:
    """Whether ``model`` takes ``thinkingLevel`` (Gemini 3 and later) rather than a budget."""
    match = _GEMINI_VERSION.search(model.lower())
    return match is not None and int(match.group(1)) >= 3


def thinking_config(reasoning: bool | str | None, model: str) -> dict[str, Any] | None:
    """The ``generationConfig.thinkingConfig`` for ``reasoning``, or ``None`` (the
    model's default: Gemini thinks on its own and shows no thoughts).

    Any truthy value asks for the thoughts (``includeThoughts``). ``True`` keeps the
    model's default depth; an effort name becomes ``thinkingLevel`` on Gemini 3 and later
    (``xhigh``/``max`` -> ``high``) and ``thinkingBudget`` (:data:`THINKING_BUDGETS`) on
    older models; a digit string is an explicit ``thinkingBudget`` on any model.
    """
    if reasoning is None or reasoning is False:
        return None
    config: dict[str, Any] = {"includeThoughts": True}
    if reasoning is True:
        return config
    name = reasoning.strip().lower()
    if name.isdigit():
        config["thinkingBudget"] = int(name)
    elif name in _LEVELS:
        if _uses_levels(model):
            config["thinkingLevel"] = _LEVELS[name]
        else:
            config["thinkingBudget"] = THINKING_BUDGETS[name]
    else:
        known = ", ".join(_LEVELS)
        raise ConfigurationError(
            f"unknown reasoning effort {reasoning!r}; use true, one of {known}, "
            "or a token budget such as '8000'",
            field="reasoning",
        )
    return config


def _media(url: str, media_type: str | None, fallback: str) -> dict[str, Any]:
    """``inlineData`` for a ``data:`` URL, else ``fileData`` naming the URL."""
    match = _DATA_URL.match(url)
    if match:
        return {"inlineData": {"mimeType": match.group(1), "data": match.group(2)}}
    guessed = media_type or mimetypes.guess_type(url.split("?", 1)[0])[0] or fallback
    return {"fileData": {"mimeType": guessed, "fileUri": url}}


def _part(part: ContentPart) -> dict[str, Any] | None:
    if isinstance(part, TextPart):
        return {"text": part.text} if part.text else None
    if isinstance(part, ImagePart):
        if part.data:
            return {"inlineData": {"mimeType": part.media_type or "image/png", "data": part.data}}
        return _media(part.url or "", part.media_type, "image/jpeg")
    if isinstance(part, DocumentPart):
        if part.text is not None:
            body = f"{part.title}\n\n{part.text}" if part.title else part.text
            return {"text": body}
        mime = part.media_type or "application/pdf"
        if part.data:
            return {"inlineData": {"mimeType": mime, "data": part.data}}
        return _media(part.url or "", mime, mime)
    if isinstance(part, AudioPart):
        fmt = (part.format or "wav").lower()
        mime = fmt if "/" in fmt else _AUDIO_TYPES.get(fmt, f"audio/{fmt}")
        if part.data:
            return {"inlineData": {"mimeType": mime, "data": part.data}}
        return _media(part.url or "", mime, mime)
    return None  # CachePoint: Gemini caches implicitly


def _content_parts(content: str | tuple[ContentPart, ...]) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"text": content}] if content else []
    return [p for p in map(_part, content) if p is not None]


def _model_parts(m: Message) -> list[dict[str, Any]]:
    """An assistant turn's parts, each Gemini signature back on its own part."""
    parts: list[dict[str, Any]] = []
    placed: dict[str, str] = {}
    for t in m.thinking:
        decoded = decode_signature(t.signature)
        where, signature = decoded if decoded is not None else ("", "")
        if t.text or where == "thought":
            part: dict[str, Any] = {"text": t.text, "thought": True}
            if where == "thought":
                part["thoughtSignature"] = signature
            parts.append(part)
        elif where:
            placed[where] = signature
    answer = _content_parts(m.content)
    if "text" in placed:
        if not answer:
            answer = [{"text": ""}]
        answer[0]["thoughtSignature"] = placed["text"]
    parts += answer
    signed = any(f"fc{i}" in placed for i in range(len(m.tool_calls)))
    for i, call in enumerate(m.tool_calls):
        fc: dict[str, Any] = {"name": call.name, "args": call.arguments}
        if not call.id.startswith(_SYNTHETIC_ID):
            fc["id"] = call.id
        call_part: dict[str, Any] = {"functionCall": fc}
        call_signature = placed.get(f"fc{i}")
        if call_signature is None and i == 0 and not signed:
            call_signature = FOREIGN_SIGNATURE
        if call_signature is not None:
            call_part["thoughtSignature"] = call_signature
        parts.append(call_part)
    if "end" in placed:
        parts.append({"text": "", "thoughtSignature": placed["end"]})
    return parts


def _function_response(m: Message, names: Mapping[str, str]) -> dict[str, Any]:
    call_id = m.tool_call_id or ""
    name = m.name or names.get(call_id)
    if not name:
        raise BadRequestError(
            f"the tool result for call {call_id!r} answers no earlier tool call, and Gemini "
            "needs the function's name: pass Message.tool(..., name='the_function')"
        )
    text_value = m.text
    try:
        value: Any = json.loads(text_value) if text_value else ""
    except ValueError:
        value = text_value
    response: dict[str, Any] = {
        "name": name,
        "response": value if isinstance(value, dict) else {"output": value},
    }
    if call_id and not call_id.startswith(_SYNTHETIC_ID):
        response["id"] = call_id
    return {"functionResponse": response}


def to_wire_contents(messages: Sequence[Message]) -> tuple[list[str], list[dict[str, Any]]]:
    """The system texts and the ``contents`` list of a ``generateContent`` call.

    Consecutive messages of one wire role (``user``, ``model``) merge into one turn;
    tool results are ``functionResponse`` parts of a user turn, named after the call
    they answer (found in the assistant turns before them). Messages with no content at
    all are left out.
    """
    system: list[str] = []
    out: list[dict[str, Any]] = []
    names: dict[str, str] = {}
    for m in messages:
        if m.role == "system":
            if m.text:
                system.append(m.text)
            continue
        if m.role == "assistant":
            for call in m.tool_calls:
                names[call.id] = call.name
            parts = _model_parts(m)
            role = "model"
        elif m.role == "tool":
            parts = [_function_response(m, names)]
            role = "user"
        else:
            parts = _content_parts(m.content)
            role = "user"
        if not parts:
            continue
        if out and out[-1]["role"] == role:
            out[-1]["parts"].extend(parts)
        else:
            out.append({"role": role, "parts": parts})
    return system, out


def _tool_config(choice: str) -> dict[str, Any]:
    if choice == "auto":
        config: dict[str, Any] = {"mode": "AUTO"}
    elif choice in ("required", "any"):
        config = {"mode": "ANY"}
    elif choice == "none":
        config = {"mode": "NONE"}
    else:
        config = {"mode": "ANY", "allowedFunctionNames": [choice]}
    return {"functionCallingConfig": config}


def _merge(body: dict[str, Any], extra: Mapping[str, Any]) -> None:
    generation = body.setdefault("generationConfig", {})
    for key, value in extra.items():
        if key in ("generation_config", "generationConfig") and isinstance(value, Mapping):
            generation.update(value)
        else:
            body[_RENAMED.get(key, key)] = value


def build_payload(request: Request) -> dict[str, Any]:
    """The JSON body of ``generateContent`` / ``streamGenerateContent`` for ``request``.

    ``temperature``, ``max_tokens`` (``maxOutputTokens``), ``stop`` (``stopSequences``),
    ``json_mode`` (``responseMimeType: application/json``), structured output in native
    mode (``responseJsonSchema``) and ``reasoning`` (:func:`thinking_config`) go into
    ``generationConfig``; tools become ``functionDeclarations`` with
    ``parametersJsonSchema`` (JSON Schema as written), ``tool_choice`` a
    ``toolConfig.functionCallingConfig``. ``request.extra`` is merged last (see
    :data:`CALL_OPTIONS`).
    """
    system, contents = to_wire_contents(request.messages)
    body: dict[str, Any] = {"contents": contents}
    if system:
        body["systemInstruction"] = {"parts": [{"text": "\n\n".join(system)}]}
    generation: dict[str, Any] = {}
    if request.temperature is not None:
        generation["temperature"] = request.temperature
    if request.max_tokens is not None:
        generation["maxOutputTokens"] = request.max_tokens
    if request.stop:
        generation["stopSequences"] = list(request.stop)
    output = request.output
    if output is not None and output.mode is OutputMode.NATIVE:
        generation["responseMimeType"] = "application/json"
        generation["responseJsonSchema"] = output.schema
    elif request.json_mode:
        generation["responseMimeType"] = "application/json"
    thinking = thinking_config(request.reasoning, request.model)
    if thinking is not None:
        generation["thinkingConfig"] = thinking
    if generation:
        body["generationConfig"] = generation
    if request.tools:
        declarations: list[dict[str, Any]] = []
        for t in request.tools:
            declaration: dict[str, Any] = {"name": t.name}
            if t.description:
                declaration["description"] = t.description
            declaration["parametersJsonSchema"] = t.parameters
            declarations.append(declaration)
        body["tools"] = [{"functionDeclarations": declarations}]
        if request.tool_choice is not None:
            body["toolConfig"] = _tool_config(request.tool_choice)
    if request.extra:
        _merge(body, request.extra)
        if not body["generationConfig"]:
            del body["generationConfig"]
    return body


# -- responses -----------------------------------------------------------------------------


def finish_reason(value: Any) -> FinishReason | str | None:
    """The normalised finish reason for the wire's ``finishReason`` (``None``: none)."""
    reason = opt_text(value, "finishReason")
    if reason is None:
        return None
    if reason in FINISH_REASONS:
        return FINISH_REASONS[reason]
    return reason.lower()


def parse_usage(data: Any) -> Usage:
    """Usage from ``usageMetadata``, in the contract's one meaning.

    ``promptTokenCount`` already includes ``cachedContentTokenCount`` (the cache read);
    tool-use prompt tokens are input too. Output is ``candidatesTokenCount`` plus
    ``thoughtsTokenCount``, the thinking being its ``reasoning_tokens``.
    """
    usage = obj(data, "usageMetadata")
    if usage is None:
        return Usage()
    thoughts = count(usage.get("thoughtsTokenCount"), "usageMetadata.thoughtsTokenCount")
    return Usage(
        input_tokens=count(usage.get("promptTokenCount"), "usageMetadata.promptTokenCount")
        + count(usage.get("toolUsePromptTokenCount"), "usageMetadata.toolUsePromptTokenCount"),
        output_tokens=count(usage.get("candidatesTokenCount"), "usageMetadata.candidatesTokenCount")
        + thoughts,
        cache_read_tokens=count(
            usage.get("cachedContentTokenCount"), "usageMetadata.cachedContentTokenCount"
        ),
        reasoning_tokens=thoughts,
    )


_COUNTS: Final = (
    "promptTokenCount",
    "toolUsePromptTokenCount",
    "candidatesTokenCount",
    "thoughtsTokenCount",
    "cachedContentTokenCount",
)
"""The ``usageMetadata`` counts :func:`parse_usage` reads."""


def _plain_counts(usage: Any) -> bool:
    """Whether every count :func:`parse_usage` reads is absent, ``null`` or a plain
    non-negative ``int``: a usage it accepts as is, checked without building a
    :class:`Usage` (a stream repeats its usage in every chunk). ``False`` leaves the
    verdict, and the error, to :func:`parse_usage`."""
    if type(usage) is not dict:
        return False
    for key in _COUNTS:
        value = usage.get(key)
        if value is not None and (type(value) is not int or value < 0):
            return False
    return True


def parse_response(
    data: Any,
    *,
    provider: str,
    model: str,
    request_id: str | None = None,
    secrets: Sequence[str] = (),
) -> Response:
    """A :class:`Response` from a non-streamed ``generateContent`` body.

    The body goes through the same :class:`ChunkParser` as a stream's single chunk, so a
    call answers alike streamed or not.
    """
    if not isinstance(data, Mapping):
        raise APIError(
            "the response is not a generateContent body", provider=provider, model=model, body=data
        )
    asm = StreamAssembler(provider, model)
    asm.request_id = request_id
    parser = ChunkParser(asm, secrets=secrets)
    try:
        parser._feed(dict(data))
    except Malformed as exc:
        raise APIError(
            f"malformed generateContent body: {exc}", provider=provider, model=model, body=data
        ) from None
    parser.finish_events()
    return attrs.evolve(asm.response(), raw=data)


class ChunkParser:
    """Turns each ``data:`` chunk of a ``streamGenerateContent?alt=sse`` stream into
    jackfield events.

    Feed each chunk's data with :meth:`feed`; call :meth:`close` at the end of input.
    Every chunk repeats ``usageMetadata`` (cumulative: the last one wins) and only the
    last carries ``finishReason``: the stream is complete once a candidate finished (or
    a prompt block arrived). A chunk ``{"error": {...}}`` raises the mapped error; a
    stream that ends without a finish reason raises :class:`StreamError`.
    """

    __slots__ = ("_calls", "_secrets", "_usage", "asm", "done", "finish", "saw_call")

    def __init__(self, asm: StreamAssembler, *, secrets: Sequence[str] = ()) -> None:
        self.asm = asm
        self.done = False
        self.finish: FinishReason | str | None = None
        self.saw_call = False
        self._calls = 0
        self._usage: Any = None
        self._secrets = tuple(secrets)

    def feed(self, data: str) -> list[StreamEvent]:
        """Events for one chunk's ``data``."""
        try:
            payload = loads(data)
        except ValueError:
            raise self._error(f"malformed stream chunk: {data[:200]!r}") from None
        if not isinstance(payload, dict):
            raise self._error(f"malformed stream chunk: {data[:200]!r}")
        return self.feed_payload(payload)

    def feed_payload(self, payload: dict[str, Any]) -> list[StreamEvent]:
        """Events for one decoded chunk."""
        try:
            return self._feed(payload)
        except Malformed as exc:
            raise StreamError(
                f"malformed stream chunk: {exc}",
                provider=self.asm.provider,
                model=self.asm.model,
                body=payload,
            ) from None

    def _feed(self, payload: dict[str, Any]) -> list[StreamEvent]:
        asm = self.asm
        if "error" in payload:
            raise error_from_payload(
                payload, provider=asm.provider, model=asm.model, secrets=self._secrets
            )
        return self._events(payload)

    def _events(self, payload: dict[str, Any]) -> list[StreamEvent]:
        asm = self.asm
        out: list[StreamEvent] = []
        if not asm.started:
            version = opt_text(payload.get("modelVersion"), "modelVersion")
            response_id = opt_text(payload.get("responseId"), "responseId")
            out.append(asm.start(model=version, request_id=asm.request_id or response_id))
        usage = payload.get("usageMetadata")
        if usage is not None:
            if not _plain_counts(usage):
                parse_usage(usage)  # checks the types at this chunk (raises Malformed)
            self._usage = usage
        feedback = obj(payload.get("promptFeedback"), "promptFeedback") or {}
        block = opt_text(feedback.get("blockReason"), "promptFeedback.blockReason")
        candidates = items(payload.get("candidates"), "candidates")
        if block is not None and not candidates:
            raise ContentFilterError(
                f"the prompt was blocked ({block})",
                provider=asm.provider,
                model=asm.model,
                body=payload,
                secrets=self._secrets,
            )
        if not candidates:
            return out
        candidate = candidates[0]
        if not isinstance(candidate, dict):
            raise Malformed("candidates[0] is not an object")
        content = obj(candidate.get("content"), "candidates[0].content") or {}
        for i, part in enumerate(items(content.get("parts"), "candidates[0].content.parts")):
            if not isinstance(part, dict):
                raise Malformed(f"candidates[0].content.parts[{i}] is not an object")
            out += self._part(part, f"candidates[0].content.parts[{i}]")
        reason = candidate.get("finishReason")
        if reason is not None:
            self.finish = finish_reason(reason)
            self.done = True
        return out

    def _signature(self, where: str, signature: str) -> list[StreamEvent]:
        asm = self.asm
        out = asm.end_block()  # a block of its own, never merged into an open thought
        out += asm.thinking("", signature=encode_signature(where, signature))
        return out + asm.end_block()

    def _part(self, part: dict[str, Any], where: str) -> list[StreamEvent]:
        asm = self.asm
        signature = opt_text(part.get("thoughtSignature"), f"{where}.thoughtSignature")
        call = obj(part.get("functionCall"), f"{where}.functionCall")
        if call is not None:
            n = self._calls
            self._calls += 1
            self.saw_call = True
            out = self._signature(f"fc{n}", signature) if signature else asm.end_block()
            args = obj(call.get("args"), f"{where}.functionCall.args") or {}
            call_id = opt_text(call.get("id"), f"{where}.functionCall.id")
            out += asm.tool_call(
                ("fc", n),
                id=call_id or f"{_SYNTHETIC_ID}{n}",
                name=text(call.get("name"), f"{where}.functionCall.name"),
                arguments=json.dumps(args, ensure_ascii=False),
            )
            return out + asm.end_block()
        value = text(part.get("text"), f"{where}.text")
        if part.get("thought") is True:
            tagged = encode_signature("thought", signature) if signature else None
            if tagged is not None:
                out = asm.thinking(value)
                return out + asm.thinking("", signature=tagged) + asm.end_block()
            return asm.thinking(value)
        if signature:
            out = self._signature("text" if value else "end", signature)
            return out + asm.text(value)
        return asm.text(value)  # inlineData, executableCode ...: nothing the contract holds

    def _error(self, message: str) -> StreamError:
        return StreamError(message, provider=self.asm.provider, model=self.asm.model)

    def close(self) -> list[StreamEvent]:
        """End of input: the closing events, or :class:`StreamError` when the stream
        ended before a finish reason (truncated)."""
        if not self.done:
            raise self._error("the stream ended before a finishReason (truncated)")
        return self.finish_events()

    def finish_events(self) -> list[StreamEvent]:
        """Close every block and end with ``StreamEnd``: a finish of ``STOP`` with
        function calls is ``tool_calls``, as on the other wires."""
        reason = self.finish
        if self.saw_call and reason in (None, FinishReason.STOP):
            reason = FinishReason.TOOL_CALLS
        return self.asm.finish(reason, parse_usage(self._usage))
