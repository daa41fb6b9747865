"""The Anthropic Messages wire format, shared by every provider that speaks it.

:func:`build_payload` turns a :class:`Request` into the JSON body of ``POST /v1/messages``,
:func:`parse_response` turns a non-streamed answer into a :class:`Response`, and
:class:`EventParser` turns the server-sent events of a streamed answer into jackfield
events. Used by the ``anthropic`` SDK provider; a proxy or an aiohttp-based provider for
an Anthropic-compatible endpoint can reuse it unchanged. No SDK is imported here.

Choices made where the API leaves room:

* System messages, wherever they appear, are joined (blank line between) into the
  top-level ``system`` field; when one of them holds a cache point, ``system`` is a list
  of text blocks instead (a string has no slot for ``cache_control``).
* Documents are ``document`` blocks: a PDF by ``base64`` or ``url`` source, plain text
  by a ``text`` source, with the part's ``title``. Messages takes no audio.
* A cache point puts ``cache_control: {"type": "ephemeral"}`` (with ``ttl`` when the
  point has one) on the block before it: a content block, a system text block, the
  ``tool_result`` of a tool message, or the tool it follows in ``tools``. A point with
  no block before it in the request is refused.
* Tool results become ``tool_result`` blocks in a user turn; consecutive messages of the
  same wire role are merged into one turn, and in a user turn the ``tool_result`` blocks
  come first, as the API requires.
* An assistant turn's thinking is sent back first, each block with its ``signature``
  (redacted thinking as ``redacted_thinking`` with its ``data``, which jackfield keeps in
  :attr:`Thinking.signature`). Thinking without a signature (from another provider, say)
  cannot be verified by the API and is left out.
* Server tool blocks (``server_tool_use``, ``web_search_tool_result``,
  ``tool_search_tool_result`` and the like) were run by Anthropic, not by the caller:
  they are neither text nor :class:`ToolCall` and are skipped in the neutral response
  and in the stream (their block indices are simply not mapped). A non-streamed
  :attr:`Response.raw` keeps them.
* Messages has no JSON mode: ``json_mode`` adds :data:`JSON_MODE_INSTRUCTION` to
  ``system``. A ``response_format`` in native mode becomes ``output_config.format``
  (beside a thinking ``effort``; keys of the caller's own ``output_config`` win).
* Text blocks are joined without a separator, as the stream assembler joins them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from .._schema_forms import anthropic_schema
from ..errors import (
    APIError,
    BadRequestError,
    ConfigurationError,
    StreamError,
    UnsupportedFeatureError,
)
from ..events import StreamEvent
from ..types import (
    AudioPart,
    CachePoint,
    ContentPart,
    DocumentPart,
    FinishReason,
    ImagePart,
    Message,
    OutputMode,
    Request,
    Response,
    TextPart,
    Thinking,
    ToolCall,
    Usage,
)
from ._assembler import StreamAssembler
from ._errors import error_from_payload
from ._parts import document_media_type
from ._shape import Malformed, count, obj, opt_text, text

__all__ = [
    "API_VERSION",
    "CALL_OPTIONS",
    "DEFAULT_MAX_TOKENS",
    "JSON_MODE_INSTRUCTION",
    "NONSTREAMING_MAX_TOKENS",
    "STOP_REASONS",
    "THINKING_BUDGETS",
    "EventParser",
    "build_payload",
    "has_structured_output",
    "needs_streaming",
    "parse_response",
    "parse_usage",
    "system_blocks",
    "thinking_params",
    "to_wire_messages",
    "uses_adaptive_thinking",
]

CALL_OPTIONS: frozenset[str] = frozenset(
    {"metadata", "output_config", "service_tier", "thinking", "top_k", "top_p"}
)
"""Messages body fields a call may pass as keywords (``Provider.call_options``); any
other field goes in ``extra={...}``."""

API_VERSION = "2023-06-01"
"""The ``anthropic-version`` this module's parser is written against; providers send it
unless ``config.api_version`` names another."""

DEFAULT_MAX_TOKENS = 4096
"""``max_tokens`` when neither the call nor the config sets it (the API requires one)."""

ADAPTIVE_DEFAULT_MAX_TOKENS = 16384
"""``max_tokens`` when adaptive thinking is on and nothing sets it (thinking counts)."""

NONSTREAMING_MAX_TOKENS = 21_333
"""Above this ``max_tokens`` a call may run past ten minutes, the limit of a
non-streamed request; the SDK's own rule (one hour per 128k tokens). Such calls are
streamed internally by :meth:`generate`."""

MIN_THINKING_BUDGET = 1024
"""The smallest ``budget_tokens`` the API accepts."""

THINKING_BUDGETS: dict[str, int] = {
    "minimal": 1024,
    "low": 2048,
    "medium": 8192,
    "high": 16384,
    "xhigh": 24576,
    "max": 32000,
}
"""``reasoning`` effort name -> ``budget_tokens`` for models with budget thinking;
``reasoning=True`` means ``"medium"``."""

ADAPTIVE_EFFORTS: dict[str, str] = {
    "minimal": "low",
    "low": "low",
    "medium": "medium",
    "high": "high",
    "xhigh": "xhigh",
    "max": "max",
}
"""``reasoning`` effort name -> ``output_config.effort`` for adaptive-thinking models."""

JSON_MODE_INSTRUCTION = (
    "Respond with a single valid JSON value and nothing else: no prose before or after "
    "it and no Markdown code fences."
)

STOP_REASONS: dict[str, FinishReason] = {
    "end_turn": FinishReason.STOP,
    "stop_sequence": FinishReason.STOP,
    "max_tokens": FinishReason.LENGTH,
    "model_context_window_exceeded": FinishReason.LENGTH,
    "tool_use": FinishReason.TOOL_CALLS,
    "refusal": FinishReason.REFUSAL,
}
"""Wire ``stop_reason`` -> :class:`FinishReason`; others (``pause_turn``) stay strings."""

_CLIENT_BLOCKS = frozenset({"text", "thinking", "redacted_thinking", "tool_use"})
_VERSION_TOKEN = re.compile(r"[-.@:_/]")
_DATA_URL = re.compile(r"^data:([\w.+-]+/[\w.+-]+);base64,(.*)$", re.DOTALL)


# -- requests ------------------------------------------------------------------------------


def _claude_version(model: str) -> tuple[int, int] | None:
    """``(major, minor)`` from ids like ``claude-opus-4-6``, ``claude-3-7-sonnet-2025...``."""
    numbers: list[int] = []
    for token in _VERSION_TOKEN.split(model.lower()):
        if token.isdigit() and len(token) < 8:  # an 8-digit date is not a version
            numbers.append(int(token))
            if len(numbers) == 2:
                break
        elif numbers:
            break
    if not numbers:
        return None
    return numbers[0], numbers[1] if len(numbers) > 1 else 0


def uses_adaptive_thinking(model: str) -> bool:
    """Whether ``model`` takes ``thinking: {"type": "adaptive"}`` (Claude 4.6 and later).

    Budget thinking is deprecated from Claude 4.6 on and rejected by Opus 4.7 and later;
    older models (Haiku 4.5, Sonnet 4.5, Claude 3.x) know only the budget form. A name
    without a version number, or without ``claude`` (another vendor's model behind an
    Anthropic-compatible endpoint, such as ``glm-4.6``), keeps the budget form.
    """
    name = model.lower()
    if "claude" not in name:
        return False
    if "mythos" in name:
        return True
    version = _claude_version(name)
    return version is not None and version >= (4, 6)


def has_structured_output(model: str) -> bool:
    """Whether ``model`` takes ``output_config.format`` (Claude 4.5 and later: Haiku 4.5,
    Sonnet 4.5 and 4.6, Opus 4.5 and later). Older models, and names without a Claude
    version (another vendor's model behind an Anthropic-compatible endpoint), do not."""
    name = model.lower()
    if "claude" not in name:
        return False
    if "mythos" in name:
        return True
    version = _claude_version(name)
    return version is not None and version >= (4, 5)


def thinking_params(
    reasoning: bool | str | None, model: str, max_tokens: int | None
) -> tuple[dict[str, Any], int | None]:
    """The body fields that turn thinking on, and the ``max_tokens`` to send.

    * ``None``/``False``: nothing (thinking stays off).
    * Adaptive models (:func:`uses_adaptive_thinking`): ``thinking: {"type": "adaptive"}``;
      an effort name adds ``output_config: {"effort": ...}`` (``minimal`` -> ``low``).
    * Other models: ``thinking: {"type": "enabled", "budget_tokens": N}`` with N from
      :data:`THINKING_BUDGETS` (``True`` = ``medium``). A digit string (``"12000"``) is
      an explicit budget on any model. ``max_tokens`` must exceed the budget: unset, it
      becomes budget + :data:`DEFAULT_MAX_TOKENS`; set too low, the budget drops to half
      of it (at least 1024); at 1024 or less, :class:`ConfigurationError`.

    ``max_tokens`` in the result is ``None`` when the caller's value (or the default)
    applies unchanged.
    """
    if reasoning is None or reasoning is False:
        return {}, max_tokens
    budget: int | None = None
    effort: str | None = None
    if isinstance(reasoning, str):
        name = reasoning.strip().lower()
        if name.isdigit():
            budget = int(name)
        elif name in THINKING_BUDGETS:
            effort = name
        else:
            known = ", ".join(THINKING_BUDGETS)
            raise ConfigurationError(
                f"unknown reasoning effort {reasoning!r}; use true, one of {known}, "
                "or a token budget such as '8000'",
                field="reasoning",
            )
    if budget is None and uses_adaptive_thinking(model):
        fields: dict[str, Any] = {"thinking": {"type": "adaptive"}}
        if effort is not None:
            fields["output_config"] = {"effort": ADAPTIVE_EFFORTS[effort]}
        return fields, max_tokens if max_tokens is not None else ADAPTIVE_DEFAULT_MAX_TOKENS
    if budget is None:
        budget = THINKING_BUDGETS[effort or "medium"]
    budget = max(budget, MIN_THINKING_BUDGET)
    if max_tokens is None:
        max_tokens = budget + DEFAULT_MAX_TOKENS
    elif max_tokens <= budget:
        if max_tokens <= MIN_THINKING_BUDGET:
            raise ConfigurationError(
                f"reasoning needs max_tokens above {MIN_THINKING_BUDGET} "
                f"(the smallest thinking budget); got {max_tokens}",
                field="max_tokens",
            )
        budget = max(MIN_THINKING_BUDGET, max_tokens // 2)
    return {"thinking": {"type": "enabled", "budget_tokens": budget}}, max_tokens


def _image(part: ImagePart) -> dict[str, Any]:
    if part.data:
        source = {"type": "base64", "media_type": part.media_type or "image/png", "data": part.data}
    else:
        url = part.url or ""
        match = _DATA_URL.match(url)
        if match:
            source = {"type": "base64", "media_type": match.group(1), "data": match.group(2)}
        else:
            source = {"type": "url", "url": url}
    return {"type": "image", "source": source}


_WIRE = "Anthropic Messages"
_PENDING = "__jackfield_cache_point__"  # a mark with no block before it in its message


def _cache_control(point: CachePoint) -> dict[str, Any]:
    control = {"type": "ephemeral"}
    if point.ttl:
        control["ttl"] = point.ttl
    return control


def _document(part: DocumentPart) -> dict[str, Any]:
    source: dict[str, Any]
    if part.text is not None:
        source = {"type": "text", "media_type": "text/plain", "data": part.text}
    elif part.data:
        source = {"type": "base64", "media_type": document_media_type(part, _WIRE)}
        source["data"] = part.data
    else:
        url = part.url or ""
        match = _DATA_URL.match(url)
        if match:
            media = document_media_type(DocumentPart(media_type=match.group(1)), _WIRE)
            source = {"type": "base64", "media_type": media, "data": match.group(2)}
        else:
            document_media_type(part, _WIRE)
            source = {"type": "url", "url": url}
    block: dict[str, Any] = {"type": "document", "source": source}
    if part.title:
        block["title"] = part.title
    return block


def _content_blocks(content: str | tuple[ContentPart, ...]) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    blocks: list[dict[str, Any]] = []
    for part in content:
        if isinstance(part, TextPart):
            if part.text:
                blocks.append({"type": "text", "text": part.text})
        elif isinstance(part, ImagePart):
            blocks.append(_image(part))
        elif isinstance(part, DocumentPart):
            blocks.append(_document(part))
        elif isinstance(part, CachePoint):
            if blocks and blocks[-1]["type"] != _PENDING:
                blocks[-1]["cache_control"] = _cache_control(part)
            else:
                blocks.append({"type": _PENDING, "cache_control": _cache_control(part)})
        elif isinstance(part, AudioPart):
            raise UnsupportedFeatureError(f"{_WIRE} takes no audio input", feature="audio")
    return blocks


def _no_block_before(where: str) -> BadRequestError:
    return BadRequestError(
        f"{where}: a cache point must follow the content it closes (a text, image or "
        "document part, or a tool); to cache up to the system prompt, end the system "
        "message with it"
    )


def _marked(content: str | tuple[ContentPart, ...]) -> bool:
    """Whether ``content`` holds a cache point (text alone never does)."""
    if isinstance(content, str):
        return False
    return any(type(part) is CachePoint for part in content)


def _place_pending(
    blocks: list[dict[str, Any]], out: list[dict[str, Any]], i: int
) -> list[dict[str, Any]]:
    """Move each mark that had no block before it in its message onto the block before
    it: the previous block of this message, else the last block of the turns so far."""
    placed: list[dict[str, Any]] = []
    for block in blocks:
        if block["type"] != _PENDING:
            placed.append(block)
            continue
        before = placed[-1] if placed else (out[-1]["content"][-1] if out else None)
        if before is None:
            raise _no_block_before(f"messages[{i}]")
        before["cache_control"] = block["cache_control"]
    return placed


def system_blocks(messages: Sequence[Message]) -> list[dict[str, Any]] | None:
    """The system messages as text blocks with their cache marks, or ``None`` when no
    system message holds a cache point (``system`` then stays one string)."""
    for m in messages:
        if m.role == "system" and _marked(m.content):
            break
    else:
        return None
    blocks: list[dict[str, Any]] = []
    for i, m in enumerate(messages):
        if m.role != "system":
            continue
        for block in _content_blocks(m.content):
            if block["type"] == _PENDING:
                if not blocks:
                    raise _no_block_before(f"messages[{i}]")
                blocks[-1]["cache_control"] = block["cache_control"]
            else:
                blocks.append(block)
    return blocks


def _thinking_blocks(thinking: Iterable[Thinking]) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    for t in thinking:
        if t.redacted:
            if t.signature:
                blocks.append({"type": "redacted_thinking", "data": t.signature})
        elif t.signature:
            blocks.append({"type": "thinking", "thinking": t.text, "signature": t.signature})
    return blocks


def _message_blocks(m: Message) -> list[dict[str, Any]]:
    if m.role == "tool":
        result: dict[str, Any] = {"type": "tool_result", "tool_use_id": m.tool_call_id}
        content = m.content
        marks: tuple[CachePoint, ...] = ()
        if not isinstance(content, str):
            marks = tuple(p for p in content if isinstance(p, CachePoint))
            content = tuple(p for p in content if not isinstance(p, CachePoint))
        if isinstance(content, str) or all(isinstance(p, TextPart) for p in content):
            if m.text:  # an empty result is sent without content
                result["content"] = m.text
        else:
            result["content"] = _content_blocks(content)
        if marks:  # a mark in a tool result closes the whole tool_result block
            result["cache_control"] = _cache_control(marks[-1])
        return [result]
    if m.role == "assistant":
        blocks = _thinking_blocks(m.thinking)
        blocks += _content_blocks(m.content)
        blocks += [
            {"type": "tool_use", "id": c.id, "name": c.name, "input": c.arguments}
            for c in m.tool_calls
        ]
        return blocks
    return _content_blocks(m.content)


def to_wire_messages(messages: Sequence[Message]) -> tuple[list[str], list[dict[str, Any]]]:
    """The system texts and the ``messages`` list of a Messages call.

    Consecutive messages of one wire role merge into one turn (tool results are user
    turns); a user turn lists its ``tool_result`` blocks first. A turn with a single text
    block (and no cache mark) is sent as a plain string. Messages with no content at all
    are left out. Cache marks of system messages are read by :func:`system_blocks`.
    """
    system: list[str] = []
    out: list[dict[str, Any]] = []
    for i, m in enumerate(messages):
        if m.role == "system":
            if m.text:
                system.append(m.text)
            continue
        blocks = _message_blocks(m)
        if _marked(m.content):
            blocks = _place_pending(blocks, out, i)
        if not blocks:
            continue
        role = "assistant" if m.role == "assistant" else "user"
        if out and out[-1]["role"] == role:
            out[-1]["content"].extend(blocks)
        else:
            out.append({"role": role, "content": blocks})
    for turn in out:
        blocks = turn["content"]
        if turn["role"] == "user" and len(blocks) > 1:
            blocks.sort(key=lambda b: b.get("type") != "tool_result")  # stable
        if len(blocks) == 1 and blocks[0].get("type") == "text" and len(blocks[0]) == 2:
            turn["content"] = blocks[0]["text"]  # a marked block keeps its cache_control
    return system, out


def _tool_choice(choice: str) -> dict[str, Any]:
    if choice == "auto":
        return {"type": "auto"}
    if choice in ("required", "any"):
        return {"type": "any"}
    if choice == "none":
        return {"type": "none"}
    return {"type": "tool", "name": choice}


def build_payload(
    request: Request, *, stream: bool, default_max_tokens: int = DEFAULT_MAX_TOKENS
) -> dict[str, Any]:
    """The JSON body of ``POST /v1/messages`` for ``request``.

    ``max_tokens`` is always sent (the API requires it): the request's (which already
    holds ``config.max_tokens``), else ``default_max_tokens``, raised for thinking as
    :func:`thinking_params` says. With thinking on, a ``temperature`` other than 1 is
    refused (:class:`UnsupportedFeatureError`: the API takes none), never dropped.
    ``request.extra`` is merged in last, so callers can pass any wire field
    (``top_k``, ``metadata``, ``output_config``, their own ``thinking`` ...).
    """
    system, messages = to_wire_messages(request.messages)
    thinking, max_tokens = thinking_params(request.reasoning, request.model, request.max_tokens)
    body: dict[str, Any] = {
        "model": request.model,
        "max_tokens": max_tokens if max_tokens is not None else default_max_tokens,
        "messages": messages,
    }
    if request.json_mode:
        system.append(JSON_MODE_INSTRUCTION)
    if system:
        body["system"] = _system_field(request.messages, system)
    if request.temperature is not None:
        if thinking and request.temperature != 1:
            raise UnsupportedFeatureError(
                f"temperature {request.temperature} cannot be sent with thinking on "
                f"{request.model} (the API takes only the default): leave temperature "
                "unset, or reasoning off",
                feature="temperature",
                model=request.model,
            )
        body["temperature"] = request.temperature
    body.update(thinking)
    output = request.output
    native = output is not None and output.mode is OutputMode.NATIVE
    if native:
        assert output is not None
        schema = anthropic_schema(output.schema)
        config = body.get("output_config")
        fmt = {"type": "json_schema", "schema": schema}
        body["output_config"] = {**config, "format": fmt} if config else {"format": fmt}
    if request.tools:
        tools: list[dict[str, Any]] = []
        for t in request.tools:
            tool: dict[str, Any] = {"name": t.name}
            if t.description:
                tool["description"] = t.description
            tool["input_schema"] = t.parameters
            if t.cache_point is not None:
                tool["cache_control"] = _cache_control(t.cache_point)
            tools.append(tool)
        body["tools"] = tools
        if request.tool_choice is not None:
            body["tool_choice"] = _tool_choice(request.tool_choice)
    if request.stop:
        body["stop_sequences"] = list(request.stop)
    if stream:
        body["stream"] = True
    if request.extra:
        ours = body.get("output_config")
        body.update(request.extra)
        theirs = request.extra.get("output_config")
        if native and isinstance(ours, dict) and isinstance(theirs, Mapping):
            body["output_config"] = {**ours, **theirs}  # the caller's keys win, ours stay
    return body


def _system_field(messages: Sequence[Message], texts: list[str]) -> str | list[dict[str, Any]]:
    """``texts`` (the system messages' texts, then any instructions added after them)
    as one string, or as text blocks when a system message carries a cache mark."""
    blocks = system_blocks(messages)
    if blocks is None:
        return "\n\n".join(texts)
    added = texts[sum(1 for m in messages if m.role == "system" and m.text) :]
    return blocks + [{"type": "text", "text": t} for t in added]


def needs_streaming(payload: Mapping[str, Any]) -> bool:
    """Whether a non-streamed call with this body may outlive the ten-minute limit."""
    max_tokens = payload.get("max_tokens")
    return isinstance(max_tokens, int) and max_tokens > NONSTREAMING_MAX_TOKENS


# -- responses -----------------------------------------------------------------------------


def stop_reason(value: str | None) -> FinishReason | str | None:
    """The normalised finish reason for the wire's ``stop_reason`` (``None`` for none)."""
    reason = opt_text(value, "stop_reason")
    if reason is None:
        return None
    return STOP_REASONS.get(reason, reason)


def parse_usage(data: Any) -> Usage:
    """Usage from the wire's ``usage`` object, in the contract's one meaning.

    Anthropic's ``input_tokens`` excludes cached input; the contract's includes it, so
    cache reads and writes are added to it (and reported as its parts,
    ``cache_read_tokens`` and ``cache_write_tokens``). Raises
    :class:`~jackfield.wire._shape.Malformed` naming a field of the wrong type.
    """
    usage = obj(dict(data) if isinstance(data, Mapping) else data, "usage")
    if usage is None:
        return Usage()
    details = obj(usage.get("output_tokens_details"), "usage.output_tokens_details") or {}
    read = count(usage.get("cache_read_input_tokens"), "usage.cache_read_input_tokens")
    write = count(usage.get("cache_creation_input_tokens"), "usage.cache_creation_input_tokens")
    return Usage(
        input_tokens=count(usage.get("input_tokens"), "usage.input_tokens") + read + write,
        output_tokens=count(usage.get("output_tokens"), "usage.output_tokens"),
        cache_read_tokens=read,
        cache_write_tokens=write,
        reasoning_tokens=count(
            details.get("thinking_tokens"), "usage.output_tokens_details.thinking_tokens"
        ),
    )


def parse_response(
    data: Any, *, provider: str, model: str, request_id: str | None = None
) -> Response:
    """A :class:`Response` from a non-streamed Messages body (server tool blocks skipped)."""
    if isinstance(data, Mapping) and data.get("type") == "error":
        raise error_from_payload(data, provider=provider, model=model)
    if not isinstance(data, Mapping) or not isinstance(data.get("content"), list):
        raise APIError(
            "the response is not a Messages body (no content list)",
            provider=provider,
            model=model,
            body=data,
        )
    try:
        return _response(data, provider, model, request_id)
    except Malformed as exc:
        raise APIError(
            f"malformed Messages body: {exc}", provider=provider, model=model, body=data
        ) from None


def _response(
    data: Mapping[str, Any], provider: str, model: str, request_id: str | None
) -> Response:
    texts: list[str] = []
    thinking: list[Thinking] = []
    calls: list[ToolCall] = []
    for i, block in enumerate(data["content"]):
        where = f"content[{i}]"
        if not isinstance(block, Mapping):
            raise Malformed(f"{where} is not an object")
        kind = block.get("type")
        if kind == "text":
            texts.append(text(block.get("text"), f"{where}.text"))
        elif kind == "thinking":
            thinking.append(
                Thinking(
                    text(block.get("thinking"), f"{where}.thinking"),
                    opt_text(block.get("signature"), f"{where}.signature"),
                )
            )
        elif kind == "redacted_thinking":
            thinking.append(
                Thinking("", opt_text(block.get("data"), f"{where}.data"), redacted=True)
            )
        elif kind == "tool_use":
            args = obj(block.get("input"), f"{where}.input")
            calls.append(
                ToolCall(
                    opt_text(block.get("id"), f"{where}.id") or f"call_{len(calls)}",
                    text(block.get("name"), f"{where}.name"),
                    args or {},
                )
            )
    reason = stop_reason(data.get("stop_reason"))
    if reason is None:
        reason = FinishReason.TOOL_CALLS if calls else FinishReason.STOP
    response_model = data.get("model")
    response_id = data.get("id")
    return Response(
        content="".join(texts),
        model=response_model if isinstance(response_model, str) and response_model else model,
        provider=provider,
        usage=parse_usage(data.get("usage")),
        finish_reason=reason,
        tool_calls=tuple(calls),
        thinking=tuple(thinking),
        raw=data,
        request_id=request_id or (response_id if isinstance(response_id, str) else None),
    )


# -- streams -------------------------------------------------------------------------------

_SKIP, _TEXT, _THINKING, _TOOL = 0, 1, 2, 3


class EventParser:
    """Turns each server-sent event of a Messages stream into jackfield events.

    Feed every event with :meth:`feed` (the ``event:`` name and the ``data`` text); call
    :meth:`close` at end of input. Blocks are tracked by the wire's ``index``, which
    counts every block, server tool blocks included; those are skipped. ``message_delta``
    usage is cumulative and replaces what ``message_start`` reported, field by field. An
    ``error`` event raises the mapped :class:`ProviderError` (``overloaded_error`` ->
    retryable :class:`OverloadedError`); a stream without ``message_stop`` raises
    :class:`StreamError` from :meth:`close`.
    """

    __slots__ = ("_blocks", "_secrets", "_usage", "asm", "done", "finish")

    def __init__(self, asm: StreamAssembler, *, secrets: Sequence[str] = ()) -> None:
        self.asm = asm
        self.done = False
        self.finish: FinishReason | str | None = None
        self._usage: dict[str, Any] = {}
        self._blocks: dict[int, list[Any]] = {}  # wire index -> [kind, got_input, input]
        self._secrets = tuple(secrets)

    def feed(self, event: str | None, data: str) -> list[StreamEvent]:
        """Events for one SSE event; the JSON's ``type`` wins over the ``event:`` name."""
        try:
            payload = json.loads(data)
        except ValueError:
            raise self._error(f"malformed stream event: {data[:200]!r}") from None
        if not isinstance(payload, dict):
            raise self._error(f"malformed stream event: {data[:200]!r}")
        try:
            return self._events(event, payload)
        except Malformed as exc:
            raise StreamError(
                f"malformed stream event: {exc}",
                provider=self.asm.provider,
                model=self.asm.model,
                body=payload,
            ) from None

    def _events(self, event: str | None, payload: dict[str, Any]) -> list[StreamEvent]:
        kind = payload.get("type") or event
        out: list[StreamEvent] = []
        asm = self.asm
        if kind == "error":
            raise error_from_payload(
                payload, provider=asm.provider, model=asm.model, secrets=self._secrets
            )
        if kind == "ping":
            return out
        if not asm.started:
            message = payload.get("message") if kind == "message_start" else None
            if isinstance(message, dict):
                self._take_usage(message.get("usage"))
                out.append(
                    asm.start(
                        model=opt_text(message.get("model"), "message.model"),
                        request_id=asm.request_id or opt_text(message.get("id"), "message.id"),
                    )
                )
                return out
            out.append(asm.start())
        if kind == "content_block_delta":
            out += self._delta(payload)
        elif kind == "content_block_start":
            out += self._block_start(payload)
        elif kind == "content_block_stop":
            index = payload.get("index")
            block = self._blocks.pop(index, None) if isinstance(index, int) else None
            if block is not None and block[0] != _SKIP:
                if block[0] == _TOOL and not block[1] and block[2]:
                    out += asm.tool_call(index, arguments=json.dumps(block[2]))
                out += asm.end_block()
        elif kind == "message_delta":
            delta = obj(payload.get("delta"), "delta") or {}
            reason = stop_reason(delta.get("stop_reason"))
            if reason is not None:
                self.finish = reason
            self._take_usage(payload.get("usage"))
        elif kind == "message_stop":
            self.done = True
            out += asm.finish(self.finish, parse_usage(self._usage))
        # message_start after the first event, and unknown event types: nothing to do
        return out

    def _take_usage(self, usage: Any) -> None:
        usage = obj(usage, "usage")
        if usage is not None:
            parse_usage(usage)  # checks the types now, at the event that carried them
            self._usage.update((k, v) for k, v in usage.items() if v is not None)

    def _block_start(self, payload: dict[str, Any]) -> list[StreamEvent]:
        index = payload.get("index")
        block = payload.get("content_block")
        if not isinstance(index, int) or not isinstance(block, dict):
            raise self._error(f"malformed content_block_start: {json.dumps(payload)[:200]}")
        kind = block.get("type")
        asm = self.asm
        if not isinstance(kind, str) or kind not in _CLIENT_BLOCKS:
            self._blocks[index] = [_SKIP, False, None]
            return []
        if kind == "text":
            self._blocks[index] = [_TEXT, False, None]
            out = asm.end_block()  # a new wire block is a new jackfield block
            return out + asm.text(text(block.get("text"), "content_block.text"))
        if kind == "thinking":
            self._blocks[index] = [_THINKING, False, None]
            out = asm.end_block()
            thought = text(block.get("thinking"), "content_block.thinking")
            signature = opt_text(block.get("signature"), "content_block.signature")
            if thought or signature:
                out += asm.thinking(thought, signature=signature)
            return out
        if kind == "redacted_thinking":
            self._blocks[index] = [_THINKING, False, None]
            out = asm.end_block()
            data = text(block.get("data"), "content_block.data")
            return out + asm.thinking("", signature=data, redacted=True)
        start_input = obj(block.get("input"), "content_block.input")
        call_id = text(block.get("id"), "content_block.id")
        name = text(block.get("name"), "content_block.name")
        self._blocks[index] = [_TOOL, False, start_input]
        return asm.tool_call(index, id=call_id, name=name)

    def _delta(self, payload: dict[str, Any]) -> list[StreamEvent]:
        index = payload.get("index")
        delta = payload.get("delta")
        if not isinstance(delta, dict):
            raise self._error(f"malformed content_block_delta: {json.dumps(payload)[:200]}")
        block = self._blocks.get(index) if isinstance(index, int) else None
        if block is None:
            raise self._error(f"content_block_delta for unknown block index {index!r}")
        kind = block[0]
        if kind == _SKIP:
            return []
        dtype = delta.get("type")
        asm = self.asm
        if dtype == "text_delta" and kind == _TEXT:
            return asm.text(text(delta.get("text"), "delta.text"))
        if dtype == "thinking_delta" and kind == _THINKING:
            return asm.thinking(text(delta.get("thinking"), "delta.thinking"))
        if dtype == "signature_delta" and kind == _THINKING:
            return asm.thinking("", signature=text(delta.get("signature"), "delta.signature"))
        if dtype == "input_json_delta" and kind == _TOOL:
            block[1] = True
            return asm.tool_call(
                index, arguments=text(delta.get("partial_json"), "delta.partial_json")
            )
        return []  # citations_delta and deltas of future kinds carry nothing we keep

    def _error(self, message: str) -> StreamError:
        return StreamError(message, provider=self.asm.provider, model=self.asm.model)

    def close(self) -> list[StreamEvent]:
        """End of input: raises :class:`StreamError` unless ``message_stop`` arrived."""
        if self.done:
            return []
        raise StreamError(
            "the stream ended before message_stop (truncated)",
            provider=self.asm.provider,
            model=self.asm.model,
        )
