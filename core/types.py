"""Value types shared by every provider: messages, tools, requests and responses.

All are frozen, slotted attrs classes. They are the neutral form: each plugin converts
them to its own wire format and back.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal, TypeAlias

import attrs

__all__ = [
    "AudioPart",
    "CachePoint",
    "Capabilities",
    "ContentPart",
    "DocumentPart",
    "FinishReason",
    "ImagePart",
    "Message",
    "MessageInput",
    "ModelTier",
    "OutputMode",
    "OutputSchema",
    "Request",
    "Response",
    "Role",
    "TextPart",
    "Thinking",
    "ToolCall",
    "ToolChoice",
    "ToolSpec",
    "Usage",
]

Role: TypeAlias = Literal["system", "user", "assistant", "tool"]
ROLES: frozenset[str] = frozenset({"system", "user", "assistant", "tool"})


class ModelTier(enum.StrEnum):
    """A size class of model; each provider maps every tier to one of its model ids."""

    LOCAL_SMALL = "local_small"
    HOSTED_SMALL = "hosted_small"
    HOSTED_LARGE = "hosted_large"


class FinishReason(enum.StrEnum):
    """Why the model stopped, normalised across providers."""

    STOP = "stop"
    LENGTH = "length"
    TOOL_CALLS = "tool_calls"
    CONTENT_FILTER = "content_filter"
    REFUSAL = "refusal"
    OTHER = "other"


@attrs.frozen(slots=True)
class TextPart:
    """A block of text inside a message."""

    text: str
    type: Literal["text"] = "text"


@attrs.frozen(slots=True)
class ImagePart:
    """An image inside a user message, given by URL or by base64 data."""

    url: str | None = None
    data: str | None = None
    media_type: str | None = None
    type: Literal["image"] = "image"


@attrs.frozen(slots=True)
class DocumentPart:
    """A document inside a user message: a PDF by base64 ``data`` or ``url``, or a
    plain-text document by ``text``.

    ``media_type`` is ``"application/pdf"`` for data and URLs unless given, and
    ``"text/plain"`` for text; ``title`` names the document where the wire has a slot.
    """

    data: str | None = None
    url: str | None = None
    text: str | None = None
    media_type: str | None = None
    title: str | None = None
    type: Literal["document"] = "document"


@attrs.frozen(slots=True)
class AudioPart:
    """Audio input inside a user message: base64 ``data`` (or a ``url`` where the wire
    takes one) in ``format`` (``"wav"``, ``"mp3"``, ...)."""

    data: str | None = None
    url: str | None = None
    format: str | None = None
    type: Literal["audio"] = "audio"


@attrs.frozen(slots=True)
class CachePoint:
    """A prompt-cache breakpoint: the prompt up to here may be cached and reused.

    Put one after any content part (a system message may hold parts too) or after a tool
    in a call's ``tools`` list. ``ttl`` (``"5m"``, ``"1h"``) asks for a lifetime where
    the provider offers a choice. A provider that caches automatically accepts the
    marks and needs nothing more.
    """

    ttl: str | None = None
    type: Literal["cache_point"] = "cache_point"


ContentPart: TypeAlias = TextPart | ImagePart | DocumentPart | AudioPart | CachePoint


@attrs.frozen(slots=True)
class Thinking:
    """A block of model reasoning; the signature lets it be sent back unchanged."""

    text: str
    signature: str | None = None
    redacted: bool = False


def _freeze_dict(value: Mapping[str, Any] | None) -> dict[str, Any]:
    return dict(value) if value else {}


@attrs.frozen(slots=True)
class ToolCall:
    """A call the model asked for: an id to answer with, a tool name and parsed arguments."""

    id: str
    name: str
    arguments: dict[str, Any] = attrs.field(factory=dict, converter=_freeze_dict, hash=False)
    raw_arguments: str | None = attrs.field(default=None, eq=False, repr=False)
    """The argument text as streamed, kept when it was not valid JSON."""

    def to_dict(self) -> dict[str, Any]:
        """Return the call as a JSON-ready dict."""
        d: dict[str, Any] = {"id": self.id, "name": self.name, "arguments": self.arguments}
        if self.raw_arguments is not None:
            d["raw_arguments"] = self.raw_arguments
        return d

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ToolCall:
        """Build a call from :meth:`to_dict` output."""
        return cls(
            id=data["id"],
            name=data["name"],
            arguments=dict(data.get("arguments") or {}),
            raw_arguments=data.get("raw_arguments"),
        )


@attrs.frozen(slots=True)
class ToolSpec:
    """A tool the model may call; ``parameters`` is a JSON schema of type object.

    ``cache_point`` marks a prompt-cache breakpoint after this tool (a
    :class:`CachePoint` placed after it in a call's ``tools`` list sets it)."""

    name: str
    description: str = ""
    parameters: dict[str, Any] = attrs.field(
        factory=lambda: {"type": "object", "properties": {}}, converter=_freeze_dict, hash=False
    )
    cache_point: CachePoint | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the spec as a JSON-ready dict."""
        d: dict[str, Any] = {
            "name": self.name,
            "description": self.description,
            "parameters": self.parameters,
        }
        if self.cache_point is not None:
            d["cache_point"] = attrs.asdict(self.cache_point)
        return d


def _to_content(value: str | Iterable[ContentPart]) -> str | tuple[ContentPart, ...]:
    if isinstance(value, str):
        return value
    if isinstance(value, (bytes, bytearray, Mapping)) or not isinstance(value, Iterable):
        # a clear TypeError here; what the tuple holds is checked before any request
        raise TypeError(
            "Message.content must be text or a sequence of content parts, "
            f"not {type(value).__name__}"
        )
    return tuple(value)


def _to_tuple(value: Iterable[Any] | None) -> tuple[Any, ...]:
    return tuple(value) if value else ()


@attrs.frozen(slots=True)
class Message:
    """One turn of a conversation.

    ``content`` is text or a sequence of content parts (:class:`TextPart`,
    :class:`ImagePart`, :class:`DocumentPart`, :class:`AudioPart`, :class:`CachePoint`). An
    assistant turn may carry ``tool_calls`` and ``thinking``; a tool turn answers the
    call named by ``tool_call_id``.
    """

    role: Role
    content: str | tuple[ContentPart, ...] = attrs.field(default="", converter=_to_content)
    name: str | None = None
    tool_calls: tuple[ToolCall, ...] = attrs.field(default=(), converter=_to_tuple)
    tool_call_id: str | None = None
    thinking: tuple[Thinking, ...] = attrs.field(default=(), converter=_to_tuple)

    @classmethod
    def system(cls, content: str | Iterable[ContentPart]) -> Message:
        """A system instruction."""
        return cls("system", content)

    @classmethod
    def user(cls, content: str | Iterable[ContentPart], *, name: str | None = None) -> Message:
        """A user turn."""
        return cls("user", content, name=name)

    @classmethod
    def assistant(
        cls,
        content: str | Iterable[ContentPart] = "",
        *,
        tool_calls: Iterable[ToolCall] = (),
        thinking: Iterable[Thinking] = (),
    ) -> Message:
        """An assistant turn, optionally with the tool calls and thinking it produced."""
        return cls("assistant", content, tool_calls=tuple(tool_calls), thinking=tuple(thinking))

    @classmethod
    def tool(cls, tool_call_id: str, content: Any, *, name: str | None = None) -> Message:
        """The result of the tool call ``tool_call_id``: text, or any JSON value (sent as
        its JSON text)."""
        if not isinstance(content, str):
            try:
                content = json.dumps(content, ensure_ascii=False, allow_nan=False)
            except (TypeError, ValueError) as exc:
                raise TypeError(
                    f"Message.tool content must be text or a JSON value: {exc}"
                ) from None
        return cls("tool", content, name=name, tool_call_id=tool_call_id)

    @property
    def text(self) -> str:
        """The message's text, with content parts joined."""
        if isinstance(self.content, str):
            return self.content
        return "".join(p.text for p in self.content if isinstance(p, TextPart))


MessageInput: TypeAlias = (
    "str | Message | Mapping[str, Any] | Sequence[Message | Mapping[str, Any]]"
)

ToolChoice: TypeAlias = str
"""``"auto"``, ``"none"``, ``"required"`` or the name of one tool."""


@attrs.frozen(slots=True)
class Usage:
    """Token counts for one call, with one meaning on every wire.

    ``input_tokens`` is everything the model read, cached or not: ``cache_read_tokens``
    (read from a prompt cache) and ``cache_write_tokens`` (written to one) are parts of
    it, never added to it. ``reasoning_tokens`` are part of ``output_tokens``.
    """

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        """Input plus output tokens."""
        return self.input_tokens + self.output_tokens


class OutputMode(enum.StrEnum):
    """How a provider obtains structured output, strongest first."""

    NATIVE = "native"
    """The API enforces the schema (OpenAI strict ``json_schema``, Anthropic's
    ``output_config``, a server's ``response_format``)."""
    TOOL = "tool"
    """A forced call of one tool whose parameters are the schema."""
    PROMPT = "prompt"
    """Instructions in the prompt; the reply is validated afterwards."""


@attrs.frozen(slots=True)
class OutputSchema:
    """The structured output a call asks for: a JSON schema of the answer.

    ``target`` is the Python type the answer is built as (a pydantic model, a dataclass,
    a ``TypedDict``) or ``None`` for a plain schema (the answer is a dict). ``mode`` is
    set by the provider from its capabilities when the request is built, unless the
    caller forced a weaker one (``jackfield.schema.output_schema(X, mode="tool")``).
    """

    schema: dict[str, Any] = attrs.field(converter=_freeze_dict, hash=False)
    name: str = "output"
    description: str = ""
    strict: bool = True
    target: Any = attrs.field(default=None, eq=False, repr=False)
    mode: OutputMode | None = None
    retries: int = 0
    """How many times a reply that does not validate is sent back with its errors
    (the call's ``output_retries``); not part of :meth:`to_dict` (nor of a cache key)."""

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready form (``target`` is a Python type and is left out)."""
        return {
            "schema": self.schema,
            "name": self.name,
            "description": self.description,
            "strict": self.strict,
            "mode": None if self.mode is None else str(self.mode),
        }


@attrs.frozen(slots=True)
class Response:
    """A complete answer from a provider."""

    content: str
    model: str
    provider: str
    usage: Usage = attrs.field(factory=Usage)
    finish_reason: FinishReason | str = FinishReason.STOP
    tool_calls: tuple[ToolCall, ...] = attrs.field(default=(), converter=_to_tuple)
    thinking: tuple[Thinking, ...] = attrs.field(default=(), converter=_to_tuple)
    raw: Any = attrs.field(default=None, eq=False, repr=False)
    request_id: str | None = attrs.field(default=None, eq=False)
    cached: bool = attrs.field(default=False, eq=False)
    parsed: Any = attrs.field(default=None, eq=False, repr=False)
    """The structured output, validated: an instance of the requested type (a dict for
    a plain schema); ``None`` when the call asked for none."""
    output_mode: OutputMode | None = None
    """How structured output was obtained (native, tool or prompt); ``None`` if not asked."""

    @property
    def thinking_text(self) -> str:
        """All thinking blocks' text joined."""
        return "".join(t.text for t in self.thinking)

    def to_message(self) -> Message:
        """This answer as an assistant turn, ready to send back (thinking included)."""
        return Message.assistant(self.content, tool_calls=self.tool_calls, thinking=self.thinking)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of every field but ``raw``."""
        d: dict[str, Any] = {
            "content": self.content,
            "model": self.model,
            "provider": self.provider,
            "usage": attrs.asdict(self.usage),
            "finish_reason": str(self.finish_reason),
            "tool_calls": [c.to_dict() for c in self.tool_calls],
            "thinking": [attrs.asdict(t) for t in self.thinking],
            "request_id": self.request_id,
        }
        if self.output_mode is not None:
            d["output_mode"] = str(self.output_mode)
        return d

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Response:
        """Build a response from :meth:`to_dict` output."""
        reason = data.get("finish_reason", "stop")
        if reason in FinishReason.__members__.values():
            reason = FinishReason(reason)
        return cls(
            content=data["content"],
            model=data["model"],
            provider=data["provider"],
            usage=Usage(**_known(Usage, data.get("usage") or {})),
            finish_reason=reason,
            tool_calls=tuple(ToolCall.from_dict(c) for c in data.get("tool_calls", ())),
            thinking=tuple(Thinking(**_known(Thinking, t)) for t in data.get("thinking", ())),
            request_id=data.get("request_id"),
            output_mode=_output_mode(data.get("output_mode")),
        )


def _output_mode(value: Any) -> OutputMode | None:
    return OutputMode(value) if value in OutputMode.__members__.values() else None


def _known(cls: type[Any], data: Mapping[str, Any]) -> dict[str, Any]:
    """The entries of ``data`` that are fields of ``cls`` (newer senders may add more)."""
    names = {a.name for a in attrs.fields(cls)}
    return {k: v for k, v in data.items() if k in names}


def _message_to_dict(m: Message) -> dict[str, Any]:
    content: Any = m.content if isinstance(m.content, str) else [attrs.asdict(p) for p in m.content]
    d: dict[str, Any] = {"role": m.role, "content": content}
    if m.name is not None:
        d["name"] = m.name
    if m.tool_calls:
        d["tool_calls"] = [c.to_dict() for c in m.tool_calls]
    if m.tool_call_id is not None:
        d["tool_call_id"] = m.tool_call_id
    if m.thinking:
        d["thinking"] = [attrs.asdict(t) for t in m.thinking]
    return d


@attrs.frozen(slots=True)
class Request:
    """Everything one call needs, after validation and tier resolution.

    ``extra`` holds provider-specific keyword arguments passed through to the wire.
    """

    messages: tuple[Message, ...] = attrs.field(converter=_to_tuple)
    model: str
    temperature: float | None = None
    max_tokens: int | None = None
    tools: tuple[ToolSpec, ...] = attrs.field(default=(), converter=_to_tuple)
    tool_choice: ToolChoice | None = None
    json_mode: bool = False
    stop: tuple[str, ...] = attrs.field(default=(), converter=_to_tuple)
    reasoning: bool | str | None = None
    extra: dict[str, Any] = attrs.field(factory=dict, converter=_freeze_dict, hash=False)
    output: OutputSchema | None = None
    """The structured output asked for (``response_format=``), if any."""

    def to_dict(self) -> dict[str, Any]:
        """A canonical JSON-ready dict of the request (stable across dict ordering)."""
        d: dict[str, Any] = {
            "messages": [_message_to_dict(m) for m in self.messages],
            "model": self.model,
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            "tools": [t.to_dict() for t in self.tools],
            "tool_choice": self.tool_choice,
            "json_mode": self.json_mode,
            "stop": list(self.stop),
            "reasoning": self.reasoning,
            "extra": self.extra,
        }
        if self.output is not None:  # absent otherwise: older cache keys stay valid
            d["output"] = self.output.to_dict()
        return d

    def canonical_json(self) -> str:
        """The request as compact JSON with sorted keys: the input of cache keys."""
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"), default=str)


@attrs.frozen(slots=True)
class Capabilities:
    """What a provider (for one model) can express; a call asking for more is refused
    before any I/O with :class:`~jackfield.errors.UnsupportedFeatureError`.

    Declared by each provider (``Provider.default_capabilities``, refined per model
    family), overridable in configuration, shown by ``provider.capabilities(model)``
    and ``jackfield providers --json``.
    """

    tools: bool = True
    parallel_tool_calls: bool = True
    images: bool = False
    documents: bool = False
    """PDF and plain-text documents, by data."""
    document_urls: bool = False
    """Documents by URL."""
    audio: bool = False
    structured_output: OutputMode = attrs.field(default=OutputMode.PROMPT, converter=OutputMode)
    """The strongest structured-output mode (prompt mode is always possible)."""
    json_mode: bool = True
    thinking: bool = False
    temperature: bool = True
    """The model takes a sampling temperature (reasoning models fix their own)."""
    cache_points: Literal["explicit", "automatic", "none"] = "automatic"
    """``explicit``: marks become the wire's breakpoints; ``automatic``: the provider
    caches by itself and marks are accepted; ``none``: marks are refused."""
    max_cache_points: int | None = None
    """The most breakpoints one call may carry (Anthropic: 4); ``None``: no limit."""
    context_window: int | None = None
    """The model's context window in tokens, where known."""

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready form."""
        d = attrs.asdict(self)
        d["structured_output"] = str(self.structured_output)
        return d
