"""The mock provider: deterministic, offline, no key.

With no script it echoes the last user message (``"echo: <text>"``), streaming it word
by word; a ``json_mode`` call gets ``{"echo": "<text>"}`` and a ``response_format``
call a deterministic JSON value that fits the schema (a sample per type, an enum's
first value, every property present), as text or, in tool mode, as the answer tool's
call. A script of :class:`MockReply` values plays text, thinking, tool calls, usage,
latency and any error type, one reply per call, in order::

    provider = MockProvider(replies=[MockReply(error="rate_limit", retry_after=0.1),
                                     MockReply(text="ok")])
"""

from __future__ import annotations

import json
import re
from collections import deque
from collections.abc import AsyncIterator, Iterable, Mapping
from typing import Any

import attrs

from jackfield import hookimpl
from jackfield.config import ProviderConfig
from jackfield.errors import ERROR_CLASSES_BY_TYPE, ConfigurationError, ProviderError
from jackfield.events import StreamEvent
from jackfield.provider import Provider, RegisterProvider, StreamAssembler
from jackfield.types import (
    Capabilities,
    FinishReason,
    ModelTier,
    OutputMode,
    Request,
    Response,
    ToolCall,
    Usage,
)

__all__ = ["MockProvider", "MockReply"]

_WORDS = re.compile(r"\s*\S+\s*|\s+")


def _calls(value: Iterable[ToolCall]) -> tuple[ToolCall, ...]:
    return tuple(value)


@attrs.frozen(slots=True, kw_only=True)
class MockReply:
    """One scripted answer (or failure) of the mock provider.

    ``error`` is an ``error_type`` name (``"rate_limit"``, ``"overloaded"``, ...) or a
    :class:`ProviderError` instance. With ``fail_after_events`` a stream fails after that
    many events instead of before the first.
    """

    text: str = ""
    thinking: str | None = None
    thinking_signature: str | None = None
    tool_calls: tuple[ToolCall, ...] = attrs.field(default=(), converter=_calls)
    usage: Usage | None = None
    finish_reason: FinishReason | str | None = None
    error: str | ProviderError | None = None
    status_code: int | None = None
    retry_after: float | None = None
    delay: float = 0.0
    fail_after_events: int | None = None

    @classmethod
    def from_value(cls, value: MockReply | str | Mapping[str, Any]) -> MockReply:
        """Accept a reply, a plain text, or a dict of fields (as a TOML profile gives)."""
        if isinstance(value, MockReply):
            return value
        if isinstance(value, str):
            return cls(text=value)
        data = dict(value)
        calls = tuple(
            c if isinstance(c, ToolCall) else ToolCall.from_dict(c)
            for c in data.pop("tool_calls", ())
        )
        usage = data.pop("usage", None)
        if isinstance(usage, Mapping):
            usage = Usage(**usage)
        return cls(tool_calls=calls, usage=usage, **data)

    def make_error(self) -> ProviderError | None:
        """The error this reply raises, if any."""
        if self.error is None:
            return None
        if isinstance(self.error, ProviderError):
            return self.error
        cls = ERROR_CLASSES_BY_TYPE.get(self.error)
        if cls is None:
            raise ConfigurationError(
                f"unknown error type {self.error!r}", field="extra", provider="mock"
            )
        return cls(
            f"mock {self.error} error",
            provider="mock",
            status_code=self.status_code,
            retry_after=self.retry_after,
        )


class MockProvider(Provider):
    """A deterministic offline provider for tests, demos and the CLI."""

    name = "mock"
    description = "Deterministic offline provider: echoes or plays a script (no key)"
    default_auth_method = "none"  # no key: none is read, required or sent
    default_capabilities = Capabilities(
        images=True,
        documents=True,
        document_urls=True,
        audio=True,
        structured_output=OutputMode.NATIVE,
        thinking=True,
    )
    tier_models = {
        ModelTier.LOCAL_SMALL: "mock-local",
        ModelTier.HOSTED_SMALL: "mock-small",
        ModelTier.HOSTED_LARGE: "mock-large",
    }

    def __init__(
        self,
        config: ProviderConfig | None = None,
        *,
        replies: Iterable[MockReply | str | Mapping[str, Any]] = (),
        **kwargs: Any,
    ) -> None:
        super().__init__(config, **kwargs)
        self.requests: list[Request] = []
        """Every request the mock received, in order (retries included)."""
        self._script: deque[MockReply] = deque()
        self.script(*self.config.extra.get("replies", ()), *replies)

    def validate_config(self) -> None:
        """Check the ``extra`` options: ``replies``, ``latency`` and ``chunk_delay``."""
        super().validate_config()
        for option in ("latency", "chunk_delay"):
            value = self.config.extra.get(option, 0)
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise ConfigurationError(
                    f"extra[{option!r}] must be a number >= 0", field="extra", provider=self.name
                )
        replies = self.config.extra.get("replies", ())
        if not isinstance(replies, list | tuple):
            raise ConfigurationError(
                "extra['replies'] must be a list", field="extra", provider=self.name
            )

    def script(self, *replies: MockReply | str | Mapping[str, Any]) -> None:
        """Queue replies; each call takes the next one, then echoes when none is left."""
        self._script.extend(MockReply.from_value(r) for r in replies)

    def _next(self, request: Request) -> MockReply:
        self.requests.append(request)
        if self._script:
            return self._script.popleft()
        output = request.output
        if output is not None:  # JSON that fits the schema, as the mode asks for it
            from jackfield.schema import sample_instance  # not at discovery

            value = sample_instance(output.schema)
            if output.mode is OutputMode.TOOL:
                return MockReply(tool_calls=[ToolCall("mock-answer", output.name, value)])
            return MockReply(text=json.dumps(value, ensure_ascii=False))
        last = next((m.text for m in reversed(request.messages) if m.role == "user"), "")
        if request.json_mode:
            return MockReply(text=json.dumps({"echo": last}, ensure_ascii=False))
        return MockReply(text=f"echo: {last}")

    def _usage(self, request: Request, reply: MockReply, text: str) -> Usage:
        if reply.usage is not None:
            return reply.usage
        prompt = sum(len(m.text) for m in request.messages)
        return Usage(input_tokens=max(1, prompt // 4), output_tokens=len(text.split()))

    async def _generate(self, request: Request) -> Response:
        reply = self._next(request)
        await self._sleep(reply.delay or self.config.extra.get("latency", 0))
        error = reply.make_error()
        if error is not None:
            raise error
        # _events applies max_tokens itself; cutting the text here first would hide the
        # cut from it and report finish_reason "stop" instead of "length".
        events = [e async for e in self._events(request, attrs.evolve(reply, error=None))]
        response = events[-1].response  # type: ignore[union-attr]
        return response

    async def _stream(self, request: Request) -> AsyncIterator[StreamEvent]:
        reply = self._next(request)
        await self._sleep(reply.delay or self.config.extra.get("latency", 0))
        error = reply.make_error()
        if error is not None and reply.fail_after_events is None:
            raise error
        async for event in self._events(request, reply):
            yield event

    async def _events(self, request: Request, reply: MockReply) -> AsyncIterator[StreamEvent]:
        asm = StreamAssembler(self.name, request.model)
        chunk_delay = float(self.config.extra.get("chunk_delay", 0))
        error = reply.make_error()
        count = 0

        async def emit(events: list[StreamEvent]) -> AsyncIterator[StreamEvent]:
            nonlocal count
            for event in events:
                if error is not None and count == reply.fail_after_events:
                    raise error
                count += 1
                yield event
            await self._sleep(chunk_delay)

        async for e in emit([asm.start(request_id=f"mock-{len(self.requests)}")]):
            yield e
        if reply.thinking is not None:
            for word in _WORDS.findall(reply.thinking):
                async for e in emit(asm.thinking(word)):
                    yield e
            async for e in emit(asm.thinking("", signature=reply.thinking_signature)):
                yield e
        text = _limit(reply.text, request.max_tokens)
        for word in _WORDS.findall(text):
            async for e in emit(asm.text(word)):
                yield e
        for i, call in enumerate(reply.tool_calls):
            args = json.dumps(call.arguments)
            half = len(args) // 2
            async for e in emit(
                asm.tool_call(i, id=call.id, name=call.name, arguments=args[:half])
            ):
                yield e
            async for e in emit(asm.tool_call(i, arguments=args[half:])):
                yield e
        reason = reply.finish_reason
        if reason is None and text != reply.text:
            reason = FinishReason.LENGTH
        async for e in emit(asm.finish(reason, self._usage(request, reply, text))):
            yield e

    @staticmethod
    async def _sleep(seconds: float) -> None:
        if seconds:
            import asyncio  # not at the top: discovery imports this module

            await asyncio.sleep(seconds)


def _limit(text: str, max_tokens: int | None) -> str:
    """Cut the text to ``max_tokens`` words, as a real model stops at its limit."""
    if max_tokens is None:
        return text
    words = _WORDS.findall(text)
    return text if len(words) <= max_tokens else "".join(words[:max_tokens])


@hookimpl
def jackfield_register_providers(register: RegisterProvider) -> None:
    """Register the mock provider."""
    register(MockProvider)
