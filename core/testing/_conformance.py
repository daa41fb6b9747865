"""The provider conformance battery: one test class a plugin's test suite subclasses.

Subclass :class:`ProviderConformance` in a test module (the subclass's name must start
with ``Test``), tell it how to build your provider against the fake server, and pytest
runs the standard battery on it::

    from jackfield.testing import ProviderConformance

    class TestAcme(ProviderConformance):
        wire = "openai"

        def make_provider(self, server, **config):
            return AcmeProvider(base_url=server.openai_base_url, **config)

The battery checks what every jackfield provider promises: answers with content, usage,
finish reason and model; well-formed streams whose deltas add up to the final answer;
tool calls with parsed arguments; early exit from a stream closing its connection;
offline token estimates; a model for every tier; bad configuration failing before any
request; HTTP errors, resets and timeouts mapped to the right classes and retried exactly
as the retry policy says; and the API key never showing in reprs, errors, hook payloads
or cache keys.

Each test builds a fresh provider with :meth:`ProviderConformance.make_provider`, passing
``api_key`` (a canary), and where a test needs them ``timeout`` or bad values, as config
overrides: pass ``**config`` on to your provider. After building, the battery replaces
``provider.retry_policy`` with a :class:`~jackfield.RetryPolicy` whose sleep is a
:class:`FakeSleep`, so retries cost no time. A test that does not apply to your
provider is skipped through ``skip_tests`` or by overriding it.

The battery needs pytest-asyncio (auto or strict mode; its tests carry the ``asyncio``
mark themselves).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
import warnings
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from typing import Any, ClassVar, Literal, TypeAlias

import attrs
import pytest

from ..errors import (
    AuthenticationError,
    ConfigurationError,
    NetworkError,
    NotFoundError,
    OverloadedError,
    PermissionDeniedError,
    ProviderError,
    ProviderTimeoutError,
    RateLimitError,
    ServerError,
    StreamError,
)
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
from ..provider._base import Provider
from ..registry._hookspecs import hookimpl
from ..retry import RetryPolicy
from ..types import FinishReason, Message, ModelTier, Response, ToolCall, ToolSpec, Usage
from ._checks_capabilities import CapabilityChecks
from ._checks_parts import PartsChecks
from ._checks_structured import StructuredOutputChecks
from ._checks_sync import SyncChecks
from ._scripts import (
    ErrorReply,
    InStreamError,
    Malformed,
    Reply,
    Reset,
    ScriptItem,
    Stall,
    Truncate,
)

__all__ = [
    "CANARY_KEY",
    "FAULTS",
    "FakeSleep",
    "ProviderConformance",
    "Wire",
    "assert_well_formed_stream",
]

Wire: TypeAlias = Literal["openai", "responses", "anthropic", "gemini", "proxy"]
"""A wire format the :class:`~jackfield.testing.FakeLLMServer` speaks."""

CANARY_KEY = "pbcanary-7Q2xK9mW4vR8tL3nJ6"
"""The API key the battery gives providers. Unlike an ``sk-...`` key it matches none of
jackfield's redaction patterns, so only redaction of the provider's own secret hides it."""

FAULTS: tuple[str, ...] = ("401", "403", "404", "429", "500", "529", "reset", "timeout")
"""The faults :meth:`ProviderConformance.test_fault_maps_and_retries` injects."""

RETRYABLE_FAULTS = frozenset({"429", "500", "529", "reset", "timeout"})

STREAM_FAULTS: tuple[str, ...] = ("truncate", "malformed", "in_stream_error")

RETRY_AFTER = 2.0
"""The ``retry-after`` seconds the scripted 429 carries."""

_HAS_PYTEST_ASYNCIO = importlib.util.find_spec("pytest_asyncio") is not None

_NO_SERVER = (
    "this provider has no server to inject network faults into (wire=None); set `wire` "
    "or override start_server() to serve it"
)

WEATHER_TOOL = ToolSpec(
    name="get_weather",
    description="Current weather in a city.",
    parameters={
        "type": "object",
        "properties": {
            "city": {"type": "string"},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
        },
        "required": ["city"],
    },
)
TIME_TOOL = ToolSpec(
    name="get_time",
    description="Current time in a time zone.",
    parameters={"type": "object", "properties": {"tz": {"type": "string"}}, "required": ["tz"]},
)
TOOL_CALLS = (
    ToolCall(id="call_conf_1", name="get_weather", arguments={"city": "Paris", "unit": "celsius"}),
    ToolCall(id="call_conf_2", name="get_time", arguments={"tz": "Europe/Paris"}),
)
ANSWER = "The quick brown fox jumps over the lazy dog, twice: fox, dog."
USAGE = Usage(input_tokens=11, output_tokens=7)
THINKING = "The user wants a number. Forty-two is the classic answer."
SIGNATURE = "sig-conformance-0001"


class FakeSleep:
    """An injectable ``sleep`` for :class:`~jackfield.RetryPolicy`: records, never waits.

    ``RetryPolicy(max_retries=2, sleep=FakeSleep())``; ``waits`` lists every wait asked.
    """

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        await asyncio.sleep(0)


def assert_well_formed_stream(events: Sequence[StreamEvent]) -> Response:
    """Check one stream's events and return the final :class:`~jackfield.Response`.

    ``StreamStart`` first and only there, ``StreamEnd`` last and only there; every block
    opens once, gets only deltas of its own kind while open, and closes once; a block's
    end carries the text of its deltas; the text deltas joined equal the response's
    content, the thinking deltas its thinking, and each tool call's end its tool call
    (with the argument fragments parsing to its arguments).
    """
    assert events, "the stream yielded no events"
    assert isinstance(events[0], StreamStart), f"first event is {events[0]!r}, not StreamStart"
    assert isinstance(events[-1], StreamEnd), f"last event is {events[-1]!r}, not StreamEnd"
    starts = [i for i, e in enumerate(events) if isinstance(e, StreamStart)]
    ends = [i for i, e in enumerate(events) if isinstance(e, StreamEnd)]
    assert starts == [0], f"StreamStart at positions {starts}"
    assert ends == [len(events) - 1], f"StreamEnd at positions {ends}"
    response = events[-1].response
    assert isinstance(response, Response)

    kinds = {
        TextStart: "text",
        TextDelta: "text",
        TextEnd: "text",
        ThinkingStart: "thinking",
        ThinkingDelta: "thinking",
        ThinkingEnd: "thinking",
        ToolCallStart: "tool",
        ToolCallDelta: "tool",
        ToolCallEnd: "tool",
    }
    open_blocks: dict[int, str] = {}
    closed: set[int] = set()
    parts: dict[int, list[str]] = {}
    text: list[str] = []
    thinking: list[str] = []
    calls: list[ToolCall] = []
    for position, event in enumerate(events[1:-1], start=1):
        kind = kinds.get(type(event))
        assert kind is not None, f"unexpected event {event!r} at position {position}"
        index = event.index  # type: ignore[union-attr]
        if isinstance(event, TextStart | ThinkingStart | ToolCallStart):
            assert index not in open_blocks and index not in closed, (
                f"block {index} opened twice (position {position})"
            )
            open_blocks[index] = kind
            parts[index] = []
            continue
        assert open_blocks.get(index) == kind, (
            f"{event!r} at position {position} is not inside an open {kind} block "
            f"(open: {open_blocks}, closed: {sorted(closed)})"
        )
        if isinstance(event, TextDelta):
            parts[index].append(event.text)
            text.append(event.text)
        elif isinstance(event, ThinkingDelta):
            parts[index].append(event.text)
            thinking.append(event.text)
        elif isinstance(event, ToolCallDelta):
            parts[index].append(event.arguments_delta)
        else:
            del open_blocks[index]
            closed.add(index)
            joined = "".join(parts[index])
            if isinstance(event, TextEnd | ThinkingEnd):
                assert event.text == joined, (
                    f"block {index} ends with {event.text!r}, its deltas say {joined!r}"
                )
            else:
                assert isinstance(event, ToolCallEnd)
                calls.append(event.tool_call)
                if joined.strip():
                    assert json.loads(joined) == event.tool_call.arguments, (
                        f"tool call {index}: fragments {joined!r} do not parse to "
                        f"{event.tool_call.arguments!r}"
                    )
    assert not open_blocks, f"blocks never closed: {open_blocks}"
    assert "".join(text) == response.content, (
        f"text deltas {''.join(text)!r} differ from the response content {response.content!r}"
    )
    assert "".join(thinking) == response.thinking_text, (
        f"thinking deltas {''.join(thinking)!r} differ from {response.thinking_text!r}"
    )
    assert tuple(calls) == response.tool_calls, (
        f"tool calls of the stream {calls!r} differ from the response's {response.tool_calls!r}"
    )
    return response


@attrs.define(slots=True)
class Session:
    """One test's server, provider and fake sleep; :meth:`script` queues answers."""

    case: ProviderConformance
    server: Any
    provider: Provider
    sleep: FakeSleep

    def script(self, *items: ScriptItem) -> None:
        """Queue the answers of the next calls (through :meth:`ProviderConformance.script`)."""
        self.case.script(self.server, self.provider, *items)

    @property
    def requests(self) -> int:
        """How many requests the server received (0 without a server)."""
        return int(self.server.request_count) if self.server is not None else 0


class _HookRecorder:
    """An observer plugin recording the repr of every payload of every hook it sees."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def _add(self, hook: str, **payload: Any) -> None:
        texts = []
        for name, value in payload.items():
            texts.append(f"{name}={value!r}")
            if isinstance(value, Provider):
                texts.append(repr(value.config))
            elif isinstance(value, ProviderError):
                texts.extend([str(value), str(value.body), repr(value.args)])
            elif hasattr(value, "to_dict"):
                with contextlib.suppress(Exception):
                    texts.append(repr(value.to_dict()))
        self.calls.append((hook, "\n".join(texts)))

    @hookimpl
    def jackfield_request_started(self, provider: Any, request: Any, attempt: int) -> None:
        self._add("request_started", provider=provider, request=request, attempt=attempt)

    @hookimpl
    def jackfield_response_received(
        self, provider: Any, request: Any, response: Any, duration: float
    ) -> None:
        self._add("response_received", provider=provider, request=request, response=response)

    @hookimpl
    def jackfield_request_failed(
        self, provider: Any, request: Any, error: Any, duration: float
    ) -> None:
        self._add("request_failed", provider=provider, request=request, error=error)

    @hookimpl
    def jackfield_retrying(
        self, provider: Any, request: Any, error: Any, attempt: int, wait: float
    ) -> None:
        self._add("retrying", provider=provider, request=request, error=error)

    @hookimpl
    def jackfield_model_for_tier(self, provider: Any, tier: Any) -> None:
        self._add("model_for_tier", provider=provider, tier=tier)

    @hookimpl
    def jackfield_estimate_tokens(
        self, provider: Any, model: str, messages: Any, tools: Any
    ) -> None:
        self._add("estimate_tokens", provider=provider, model=model, messages=messages)


@contextlib.contextmanager
def _quiet_tokenizer() -> Iterator[None]:
    """Hide jackfield.tokens' one-time warning that tiktoken's vocabulary could not be
    fetched (no network in CI): it is about the environment, not the provider."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="jackfield.tokens", category=RuntimeWarning)
        yield


async def _wait_until(predicate: Any, timeout: float) -> bool:  # noqa: ASYNC109
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() >= deadline:
            return False
        await asyncio.sleep(0.01)
    return True


class ProviderConformance(
    # The battery's capability checks, one mixin module each:
    CapabilityChecks,  # _checks_capabilities: undeclared refused before I/O, declared sent
    SyncChecks,  # _checks_sync: the sync calls, from threads and inside a running loop
    StructuredOutputChecks,  # _checks_structured: response_format in the declared mode
    PartsChecks,  # _checks_parts: documents, audio and cache points reach the wire
):
    """The standard battery every jackfield provider should pass; subclass it.

    Set the class attributes that describe your provider and implement
    :meth:`make_provider`. Override the hooks (:meth:`start_server`, :meth:`script`,
    :meth:`error_reply`, :meth:`expected_error`, :meth:`bad_configs`, ...) where your
    provider differs, and skip what does not apply with :attr:`skip_tests`.
    """

    wire: ClassVar[Wire | None] = "openai"
    """The wire format your provider speaks, served by a
    :class:`~jackfield.testing.FakeLLMServer` per test: ``"openai"`` (Chat Completions,
    Azure deployment paths included), ``"responses"`` (OpenAI's Responses API),
    ``"anthropic"`` (Messages), ``"gemini"``
    (``generateContent``, Gemini API and Vertex AI paths) or ``"proxy"`` (the
    jackfield proxy protocol). ``None``: no fake server -- serve your own wire by
    overriding :meth:`start_server` and :meth:`script`, or run without a server (the
    network-fault tests are then skipped)."""
    supports_streaming: ClassVar[bool] = True
    """The provider streams natively; ``False`` skips the tests of a live connection
    (early exit, in-stream faults). Derived streams are still checked."""
    supports_tools: ClassVar[bool | None] = None
    """The provider sends tools and returns tool calls; ``None`` (the default): as its
    :meth:`~jackfield.provider.Provider.capabilities` declare for its default model."""
    supports_thinking: ClassVar[bool | None] = None
    """The provider returns reasoning as thinking blocks; ``None``: as declared."""
    requires_api_key: ClassVar[bool] = True
    """The provider refuses to start without a key, and the server checks the key."""
    api_key: ClassVar[str] = CANARY_KEY
    """The key passed to :meth:`make_provider`; the battery checks it never leaks."""
    timeout: ClassVar[float] = 0.3
    """Seconds of the ``timeout`` config in the timeout tests."""
    max_retries: ClassVar[int] = 2
    """The retry policy's ``max_retries`` in the retry tests."""
    server_options: ClassVar[Mapping[str, Any]] = {}
    """Extra keyword arguments for the :class:`~jackfield.testing.FakeLLMServer`
    (``openai_reasoning_field="reasoning"`` for OpenRouter-style reasoning, say)."""
    skip_tests: ClassVar[Mapping[str, str]] = {}
    """Test names (without parameters) to skip, each with its reason."""

    if _HAS_PYTEST_ASYNCIO:
        pytestmark: ClassVar[list[pytest.MarkDecorator]] = [pytest.mark.asyncio]

    # -- what a plugin author writes ------------------------------------------------------

    def make_provider(self, server: Any, **config: Any) -> Provider:
        """Build the provider under test against ``server``.

        ``server`` is the started :class:`~jackfield.testing.FakeLLMServer` (or whatever
        :meth:`start_server` returned; ``None`` without a server). ``config`` holds
        :class:`~jackfield.ProviderConfig` overrides chosen by the test (``api_key``
        always; ``timeout``, ``max_retries`` or invalid values in some tests): pass
        them on, for example
        ``return AcmeProvider(base_url=server.openai_base_url, **config)``.
        """
        raise NotImplementedError(
            f"{type(self).__name__} must implement make_provider(self, server, **config)"
        )

    # -- hooks ------------------------------------------------------------------------------

    def fake_server_options(self) -> dict[str, Any]:
        """Keyword arguments of the fake server: the key check and :attr:`server_options`."""
        options: dict[str, Any] = {}
        if self.wire == "proxy":
            options["proxy_token"] = self.api_key
        elif self.requires_api_key:
            options["api_key"] = self.api_key
        options.update(self.server_options)
        return options

    async def start_server(self) -> Any:
        """Start and return the server of one test (``None`` when :attr:`wire` is None)."""
        if self.wire is None:
            return None
        from ._fake_server import FakeLLMServer

        return await FakeLLMServer(**self.fake_server_options()).start()

    async def stop_server(self, server: Any) -> None:
        """Stop what :meth:`start_server` started."""
        if server is not None:
            await server.stop()

    def script(self, server: Any, provider: Provider, *items: ScriptItem) -> None:
        """Queue the answers of the next calls, one item per request.

        The default enqueues them on the fake server. A provider without a server
        translates them for itself (a :class:`~jackfield.testing.Reply` into its own
        script, say); items it cannot play should ``pytest.skip``.
        """
        if server is None:
            pytest.skip(f"{type(self).__name__}.script() must be overridden: {_NO_SERVER}")
        server.enqueue(*items)

    def error_reply(self, status: int, message: str | None = None) -> ScriptItem:
        """The scripted HTTP error of ``status`` in this :attr:`wire`'s own shape.

        The 429 carries ``retry-after: 2``. ``message`` replaces the default message.
        """
        headers = {"retry-after": f"{RETRY_AFTER:g}"} if status == 429 else {}
        text = message or _MESSAGES.get(status, f"HTTP {status}")
        if self.wire == "proxy":
            cls = _CLASSES.get(status, ServerError)
            retry_after = RETRY_AFTER if status == 429 else None
            return ErrorReply.from_error(
                cls(text, status_code=status, retry_after=retry_after), status=status
            )
        if self.wire == "gemini":
            from ._fake_gemini import gemini_error_body

            return ErrorReply(status, gemini_error_body(status, text), headers)
        if self.wire == "anthropic":
            body: dict[str, Any] = {
                "type": "error",
                "error": {"type": _ANTHROPIC_TYPES.get(status, "api_error"), "message": text},
            }
            return ErrorReply(status, body, headers)
        error_type, code = _OPENAI_TYPES.get(status, ("server_error", None))
        body = {"error": {"message": text, "type": error_type, "param": None, "code": code}}
        return ErrorReply(status, body, headers)

    def fault(self, name: str) -> ScriptItem:
        """The script item of a fault in :data:`FAULTS`."""
        if name == "reset":
            return Reset()
        if name == "timeout":
            return Stall(after_events=0)
        return self.error_reply(int(name))

    def expected_error(self, fault: str) -> type[ProviderError]:
        """The error class a fault in :data:`FAULTS` must raise."""
        return _EXPECTED[fault]

    def in_stream_error(self) -> tuple[dict[str, Any], type[ProviderError]]:
        """An error payload sent inside a 200 stream, and the class it must raise."""
        if self.wire == "anthropic":
            return {"type": "overloaded_error", "message": "Overloaded"}, OverloadedError
        if self.wire == "proxy":
            return ServerError("upstream failed mid-stream").to_dict(), ServerError
        if self.wire == "gemini":
            message = "An internal error has occurred. Please retry or report it."
            return {"code": 500, "message": message, "status": "INTERNAL"}, ServerError
        return {
            "message": "The server had an error while processing your request.",
            "type": "server_error",
            "code": None,
        }, ServerError

    def bad_configs(self) -> list[tuple[dict[str, Any], str]]:
        """Invalid config overrides and the field each must be blamed on.

        Each must raise :class:`~jackfield.ConfigurationError` from :meth:`make_provider`,
        before any request. Extend the list with your provider's own rules.
        """
        return [
            ({"temperature": 7.5}, "temperature"),
            ({"max_tokens": 0}, "max_tokens"),
            ({"timeout": 0}, "timeout"),
            ({"max_retries": -1}, "max_retries"),
            ({"auth_method": "telepathy"}, "auth_method"),
            ({"extra_headers": {"X-Bad": "line\nbreak"}}, "extra_headers"),
        ]

    def response_provider(self, server: Any, provider: Provider) -> str:
        """The ``provider`` name an answer must report: the provider's own name, except
        through the proxy protocol, where answers name the upstream provider."""
        if self.wire == "proxy" and server is not None:
            return str(server.proxy_provider)
        return provider.name

    def tools(self) -> list[ToolSpec]:
        """The tools offered in the tool-call tests."""
        return [WEATHER_TOOL, TIME_TOOL]

    # -- plumbing ---------------------------------------------------------------------------

    @pytest.fixture(autouse=True)
    def _jackfield_conformance_gate(self, request: pytest.FixtureRequest) -> None:
        name = getattr(request.node, "originalname", None) or request.node.name
        reason = self.skip_tests.get(name)
        if reason is not None:
            pytest.skip(reason)
        if not request.config.pluginmanager.has_plugin("asyncio"):
            pytest.fail(
                "jackfield's conformance battery needs pytest-asyncio (pip install pytest-asyncio)",
                pytrace=False,
            )

    def build(self, server: Any, **config: Any) -> Provider:
        """:meth:`make_provider` with the canary key unless the test passes its own."""
        config.setdefault("api_key", self.api_key)
        provider = self.make_provider(server, **config)
        assert isinstance(provider, Provider), f"make_provider returned {provider!r}"
        return provider

    @contextlib.asynccontextmanager
    async def session(self, *, max_retries: int = 0, **config: Any) -> AsyncIterator[Session]:
        """Start a server, build a provider with a fake-sleep retry policy; clean up after."""
        server = await self.start_server()
        try:
            provider = self.build(server, **config)
            sleep = FakeSleep()
            provider.retry_policy = RetryPolicy(max_retries=max_retries, sleep=sleep)
            try:
                yield Session(self, server, provider, sleep)
            finally:
                await provider.aclose()
        finally:
            await self.stop_server(server)

    def _need_server(self, session: Session) -> None:
        if session.server is None:
            pytest.skip(_NO_SERVER)

    def _need(self, flag: bool, what: str) -> None:
        if not flag:
            pytest.skip(f"{type(self).__name__} declares no {what}")

    def supports(self, provider: Provider, feature: Literal["tools", "thinking"]) -> bool:
        """``supports_<feature>`` when set, else the provider's declaration for its
        default model."""
        flag: bool | None = getattr(self, f"supports_{feature}")
        if flag is not None:
            return flag
        return bool(getattr(provider.capabilities(), feature))

    async def _collect(self, stream: AsyncIterator[StreamEvent]) -> list[StreamEvent]:
        return [event async for event in stream]

    # -- answers ----------------------------------------------------------------------------

    async def test_generate_returns_response(self) -> None:
        """generate: a Response with content, usage, finish reason, model and provider."""
        async with self.session() as s:
            s.script(Reply(ANSWER, usage=USAGE))
            response = await s.provider.generate(
                [Message.system("Be brief."), Message.user("Say the fox sentence.")]
            )
            assert isinstance(response, Response)
            assert response.content == ANSWER
            assert response.usage.input_tokens == USAGE.input_tokens
            assert response.usage.output_tokens == USAGE.output_tokens
            assert response.finish_reason == FinishReason.STOP
            assert isinstance(response.model, str) and response.model
            assert response.provider == self.response_provider(s.server, s.provider)
            assert response.tool_calls == ()

    async def test_request_reaches_server(self) -> None:
        """The server receives one request carrying the user's text."""
        async with self.session() as s:
            self._need_server(s)
            s.script(Reply(ANSWER))
            await s.provider.generate("What does the fox do?")
            assert s.requests == 1
            last = getattr(s.server, "last_request", None)  # a server of your own may lack it
            if last is not None:
                assert last.last_user_text == "What does the fox do?"

    async def test_generate_uses_requested_model(self) -> None:
        """An explicit ``model`` is the model the answer reports."""
        async with self.session() as s:
            s.script(Reply(ANSWER))
            response = await s.provider.generate("hi", model="conformance-model-x")
            assert response.model == "conformance-model-x"

    async def test_finish_reason_length(self) -> None:
        """A reply cut at max_tokens reports FinishReason.LENGTH."""
        async with self.session() as s:
            s.script(Reply("cut sh", finish_reason=FinishReason.LENGTH))
            response = await s.provider.generate("Write a long essay.", max_tokens=3)
            assert response.finish_reason == FinishReason.LENGTH

    # -- streams ----------------------------------------------------------------------------

    async def test_stream_is_well_formed(self) -> None:
        """StreamStart first, StreamEnd last, balanced blocks, deltas == final content."""
        async with self.session() as s:
            s.script(Reply(ANSWER, usage=USAGE, chunk_size=5))
            stream = s.provider.stream("Say the fox sentence.")
            events = await self._collect(stream)
            response = assert_well_formed_stream(events)
            assert response.content == ANSWER
            assert response.finish_reason == FinishReason.STOP
            assert isinstance(response.model, str) and response.model
            assert response.provider == self.response_provider(s.server, s.provider)
            assert sum(isinstance(e, TextDelta) for e in events) >= (
                2 if self.supports_streaming else 1
            )

    async def test_stream_reports_usage(self) -> None:
        """The final response of a stream carries the usage the server reported."""
        async with self.session() as s:
            s.script(Reply(ANSWER, usage=USAGE))
            events = await self._collect(s.provider.stream("Say the fox sentence."))
            response = assert_well_formed_stream(events)
            assert response.usage.input_tokens == USAGE.input_tokens
            assert response.usage.output_tokens == USAGE.output_tokens

    async def test_stream_matches_generate(self) -> None:
        """The same answer streamed and not streamed gives the same response."""
        async with self.session() as s:
            reply = Reply(ANSWER, usage=USAGE, chunk_size=7)
            s.script(reply, reply)
            generated = await s.provider.generate("Say it.")
            streamed = assert_well_formed_stream(await self._collect(s.provider.stream("Say it.")))
            assert streamed.content == generated.content
            assert streamed.finish_reason == generated.finish_reason
            assert streamed.usage == generated.usage
            assert streamed.tool_calls == generated.tool_calls

    async def test_stream_early_exit_closes_connection(self) -> None:
        """Leaving the ``async for`` early closes the connection; the server sees it."""
        self._need(self.supports_streaming, "native streaming")
        async with self.session(timeout=5.0) as s:
            self._need_server(s)
            # The server streams the reply, then holds the response open: only the
            # client closing the connection ends this request.
            s.script(Stall(reply=Reply("word " * 50, chunk_size=5)))
            seen = 0
            try:
                async for event in s.provider.stream("Talk for a long time."):
                    if isinstance(event, TextDelta):
                        seen += 1
                        if seen == 2:
                            break
            except ProviderTimeoutError:
                pytest.fail(
                    "the stream yielded no text before the server went quiet: the provider "
                    "reads the whole response before yielding its events"
                )
            assert seen == 2
            await self._assert_closed(s.server, "the consumer left the async for")

    async def test_stream_aclose_closes_connection(self) -> None:
        """``async with provider.stream(...)`` closes the connection when the block exits."""
        self._need(self.supports_streaming, "native streaming")
        async with self.session(timeout=5.0) as s:
            self._need_server(s)
            s.script(Stall(reply=Reply("word " * 50, chunk_size=5)))
            async with s.provider.stream("Talk for a long time.") as stream:
                async for event in stream:
                    if isinstance(event, TextDelta):
                        break
            await self._assert_closed(s.server, "the stream was closed")

    async def _assert_closed(self, server: Any, when: str) -> None:
        if not hasattr(server, "disconnects"):
            pytest.skip("the server counts no disconnects (a server of your own)")
        closed = await _wait_until(
            lambda: server.disconnects >= 1 and server.active_streams == 0, 5.0
        )
        assert closed, (
            f"the server still holds the response open after {when} "
            f"(disconnects={server.disconnects}, active_streams={server.active_streams})"
        )
        assert await server.wait_for_connections(0, timeout=5.0), (
            f"{server.open_connections} connection(s) still open after {when}"
        )

    # -- tools and thinking -----------------------------------------------------------------

    async def test_tool_calls_generate(self) -> None:
        """Tool calls come back with ids, names and parsed arguments."""
        async with self.session() as s:
            self._need(self.supports(s.provider, "tools"), "tool support")
            s.script(Reply(tool_calls=TOOL_CALLS))
            response = await s.provider.generate("Weather and time in Paris?", tools=self.tools())
            assert response.finish_reason == FinishReason.TOOL_CALLS
            assert [(c.id, c.name, c.arguments) for c in response.tool_calls] == [
                (c.id, c.name, c.arguments) for c in TOOL_CALLS
            ]

    async def test_tool_calls_stream(self) -> None:
        """Streamed tool calls round-trip: fragments joined, arguments parsed, order kept."""
        async with self.session() as s:
            self._need(self.supports(s.provider, "tools"), "tool support")
            s.script(Reply(tool_calls=TOOL_CALLS, arguments_chunk_size=5))
            events = await self._collect(
                s.provider.stream("Weather and time in Paris?", tools=self.tools())
            )
            response = assert_well_formed_stream(events)
            assert response.finish_reason == FinishReason.TOOL_CALLS
            assert [(c.id, c.name, c.arguments) for c in response.tool_calls] == [
                (c.id, c.name, c.arguments) for c in TOOL_CALLS
            ]
            starts = [e for e in events if isinstance(e, ToolCallStart)]
            assert [(e.id, e.name) for e in starts] == [(c.id, c.name) for c in TOOL_CALLS]

    async def test_tool_result_round_trip(self) -> None:
        """An answer's tool calls, sent back with tool results, make a valid next request."""
        async with self.session() as s:
            self._need(self.supports(s.provider, "tools"), "tool support")
            s.script(Reply(tool_calls=TOOL_CALLS[:1]), Reply("It is sunny in Paris."))
            first = await s.provider.generate("Weather in Paris?", tools=self.tools())
            history = [
                Message.user("Weather in Paris?"),
                first.to_message(),
                Message.tool(first.tool_calls[0].id, '{"sky": "clear", "celsius": 21}'),
            ]
            second = await s.provider.generate(history, tools=self.tools())
            assert second.content == "It is sunny in Paris."

    async def test_thinking(self) -> None:
        """Thinking arrives as thinking blocks, streamed and not, with its signature."""
        async with self.session() as s:
            self._need(self.supports(s.provider, "thinking"), "thinking support")
            reply = Reply("42", thinking=THINKING, thinking_signature=SIGNATURE, chunk_size=9)
            s.script(reply, reply)
            response = await s.provider.generate("The answer?", reasoning=True)
            assert response.thinking_text == THINKING
            assert response.content == "42"
            events = await self._collect(s.provider.stream("The answer?", reasoning=True))
            streamed = assert_well_formed_stream(events)
            assert streamed.thinking_text == THINKING
            assert streamed.content == "42"
            if self.wire in ("anthropic", "proxy"):
                assert [t.signature for t in response.thinking] == [SIGNATURE]
                assert [t.signature for t in streamed.thinking] == [SIGNATURE]
            elif self.wire == "responses":  # the encrypted content, inside the signature
                for block in (*response.thinking, *streamed.thinking):
                    assert block.signature and SIGNATURE in block.signature, block

    # -- offline behaviour ------------------------------------------------------------------

    async def test_estimate_tokens(self) -> None:
        """estimate_tokens is positive, grows with the input, counts tools, does no I/O."""
        async with self.session() as s:
            with _quiet_tokenizer():
                p = s.provider
                short = p.estimate_tokens("Hi")
                long = p.estimate_tokens("Hi " + "the quick brown fox jumps over it " * 50)
                assert isinstance(short, int) and short > 0
                assert long > short
                history = [Message.user("Hi"), Message.assistant("Hey"), Message.user("Sun?")]
                assert p.estimate_tokens(history) > short
                if self.supports(p, "tools"):
                    assert p.estimate_tokens("Hi", tools=self.tools()) > short
                assert s.requests == 0

    async def test_every_tier_maps_to_a_model(self) -> None:
        """Every ModelTier maps to a model id, and a call by tier uses that model."""
        async with self.session() as s:
            for tier in ModelTier:
                model = s.provider.model_for_tier(tier)
                assert isinstance(model, str) and model.strip(), f"{tier}: {model!r}"
            tier = ModelTier.HOSTED_LARGE
            s.script(Reply(ANSWER))
            response = await s.provider.generate("hi", tier=tier)
            assert response.model == s.provider.model_for_tier(tier)

    async def test_bad_config_fails_before_any_request(self) -> None:
        """Invalid config values raise ConfigurationError naming the field, before any I/O."""
        server = await self.start_server()
        try:
            for overrides, field in self.bad_configs():
                with pytest.raises(ConfigurationError) as info:
                    self.build(server, **overrides)
                assert info.value.field == field, (
                    f"{overrides}: the error names field {info.value.field!r}, not {field!r}"
                )
            if server is not None:
                assert server.request_count == 0
        finally:
            await self.stop_server(server)

    async def test_missing_api_key_fails_before_any_request(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Without a key (argument or environment) creation fails with ConfigurationError."""
        self._need(self.requires_api_key, "required API key")
        server = await self.start_server()
        try:
            provider = self.build(server)
            for env in {type(provider).api_key_env, provider.config.api_key_env} - {None}:
                monkeypatch.delenv(str(env), raising=False)
            await provider.aclose()
            with pytest.raises(ConfigurationError) as info:
                self.build(server, api_key=None)
            assert info.value.field == "api_key"
            if server is not None:
                assert server.request_count == 0
        finally:
            await self.stop_server(server)

    # -- faults, error mapping and retries ----------------------------------------------

    @pytest.mark.parametrize("fault", FAULTS)
    async def test_fault_maps_and_retries(self, fault: str) -> None:
        """Each fault raises its class; only retryable ones are retried, as often as allowed."""
        retries = self.max_retries
        config = {"timeout": self.timeout} if fault == "timeout" else {}
        async with self.session(max_retries=retries, **config) as s:
            self._need_server(s)
            retryable = fault in RETRYABLE_FAULTS
            attempts = retries + 1 if retryable else 1
            s.script(*[self.fault(fault) for _ in range(attempts)])
            expected = self.expected_error(fault)
            with pytest.raises(ProviderError) as info:
                await s.provider.generate("hello")
            err = info.value
            assert type(err) is expected, f"{fault}: raised {err!r}, expected {expected.__name__}"
            assert err.retryable is retryable
            assert err.provider == s.provider.name
            if fault.isdigit():
                assert err.status_code == int(fault)
            assert err.attempts == attempts, f"{fault}: {err.attempts} attempts, not {attempts}"
            # A timed-out attempt's request may still be queued in the server's handler
            # when the error reaches here (same loop): let the server record what it got.
            await _wait_until(lambda: s.requests >= attempts, 2.0)
            assert s.requests == attempts, f"{fault}: server saw {s.requests} requests"
            assert len(s.sleep.waits) == attempts - 1
            assert all(w > 0 for w in s.sleep.waits), s.sleep.waits
            if fault == "429":
                assert err.retry_after == RETRY_AFTER
                assert s.sleep.waits == [RETRY_AFTER] * retries

    async def test_retry_then_success(self) -> None:
        """A retryable error followed by an answer: the call succeeds on the retry."""
        async with self.session(max_retries=self.max_retries) as s:
            self._need_server(s)
            s.script(self.error_reply(500), self.error_reply(429), Reply(ANSWER))
            response = await s.provider.generate("hello")
            assert response.content == ANSWER
            assert s.requests == 3
            assert len(s.sleep.waits) == 2

    async def test_stream_retried_before_first_event(self) -> None:
        """A stream that fails before any event is retried, and then streams normally."""
        async with self.session(max_retries=self.max_retries) as s:
            self._need_server(s)
            s.script(self.error_reply(529), Reply(ANSWER))
            events = await self._collect(s.provider.stream("hello"))
            assert assert_well_formed_stream(events).content == ANSWER
            assert s.requests == 2

    async def test_cut_off_body_is_retried(self) -> None:
        """A non-streamed answer whose connection drops mid-body is retried: nothing has
        reached the caller yet, so it is a transport failure like a reset."""
        async with self.session(max_retries=self.max_retries) as s:
            self._need_server(s)
            s.script(Truncate(reply=Reply(ANSWER), abort=True), Reply(ANSWER))
            response = await s.provider.generate("hello")
            assert response.content == ANSWER
            assert s.requests == 2

    async def test_stream_cut_off_before_first_event_is_retried(self) -> None:
        """A stream whose connection drops before any event is retried, then streams."""
        self._need(self.supports_streaming, "native streaming")
        async with self.session(max_retries=self.max_retries) as s:
            self._need_server(s)
            s.script(Truncate(after_events=0, reply=Reply(ANSWER), abort=True), Reply(ANSWER))
            events = await self._collect(s.provider.stream("hello"))
            assert assert_well_formed_stream(events).content == ANSWER
            assert s.requests == 2

    @pytest.mark.parametrize("fault", STREAM_FAULTS)
    async def test_stream_fault_after_first_event(self, fault: str) -> None:
        """A stream that breaks after yielding raises, and is never retried (no duplicates)."""
        self._need(self.supports_streaming, "native streaming")
        async with self.session(max_retries=self.max_retries) as s:
            self._need_server(s)
            reply = Reply(ANSWER, chunk_size=4)
            expected: type[ProviderError] = StreamError
            item: ScriptItem
            # past the first text delta: Responses opens with four events before it
            after = 6 if self.wire == "responses" else 4
            if fault == "truncate":
                item = Truncate(after_events=after, reply=reply)
            elif fault == "malformed":
                item = Malformed(after_events=after, reply=reply)
            else:
                payload, expected = self.in_stream_error()
                item = InStreamError(payload, after_events=after, reply=reply)
            s.script(item, Reply("must never be requested"))
            events: list[StreamEvent] = []

            async def consume() -> None:
                async for event in s.provider.stream("hello"):
                    events.append(event)

            with pytest.raises(ProviderError) as info:
                await consume()
            err = info.value
            assert isinstance(err, expected), f"{fault}: raised {err!r}, not {expected.__name__}"
            assert any(isinstance(e, TextDelta) for e in events), "no text before the fault"
            assert not any(isinstance(e, StreamEnd) for e in events)
            assert s.requests == 1, f"{fault}: the stream was retried after yielding"
            assert err.attempts == 1

    # -- secrets ----------------------------------------------------------------------------

    async def test_api_key_never_leaks(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """The key is in no repr, str, error, hook payload or cache key."""
        from ..registry._registry import Registry

        key = self.api_key
        recorder = _HookRecorder()
        registry = Registry(entry_points=False, plugins=(), strict=True)
        registry.register_plugin(recorder, name="conformance-hook-recorder")
        async with self.session(max_retries=1) as s:
            p = s.provider
            p.hooks = registry.hooks
            texts = [repr(p), str(p), repr(p.config), str(p.config)]
            if p.api_key is not None:
                texts += [repr(p.api_key), str(p.api_key)]

            s.script(Reply(ANSWER), Reply(ANSWER))
            await p.generate("hello", tier=ModelTier.HOSTED_SMALL)
            events = await self._collect(p.stream("hello"))
            texts += [repr(e) for e in events]
            with _quiet_tokenizer():
                p.estimate_tokens("hello")
            p.model_for_tier(ModelTier.LOCAL_SMALL)

            if s.server is not None:
                recorded = getattr(s.server, "requests", None)  # None: a server of your own
                if self.requires_api_key and recorded is not None:
                    sent = [json.dumps(r.headers) for r in recorded]
                    assert all(key in h for h in sent), "the key never reached the server"
                echo = f"Incorrect API key provided: {key}. Authorization: Bearer {key}"
                s.script(self.error_reply(429), Reply(ANSWER), self.error_reply(401, echo))
                await p.generate("hello")  # a retry: the retrying hook sees the 429
                with pytest.raises(ProviderError) as info:
                    await p.generate("hello")
                err = info.value
                texts += [str(err), repr(err), err.message, str(err.body), repr(err.args)]
                texts += [repr(err.to_dict())]

            hooks_seen = {hook for hook, _ in recorder.calls}
            assert {"request_started", "response_received", "estimate_tokens"} <= hooks_seen
            texts += [text for _, text in recorder.calls]

            cls = type(p)
            registry.register_provider(cls)
            registry.create_provider(cls.name, p.config)
            registry.create_provider(cls.name, p.config, model="conformance-other-model")
            if cls.api_key_env:
                monkeypatch.setenv(cls.api_key_env, key)
                registry.create_provider(cls.name, p.config.evolve(api_key=None))
            keys = registry.cache_keys()
            assert keys
            texts += keys
            await registry.aclear_cache()

        leaks = [t for t in texts if key in t]
        assert not leaks, f"the API key appears in: {leaks[:3]}"


_EXPECTED: dict[str, type[ProviderError]] = {
    "401": AuthenticationError,
    "403": PermissionDeniedError,
    "404": NotFoundError,
    "429": RateLimitError,
    "500": ServerError,
    "529": OverloadedError,
    "reset": NetworkError,
    "timeout": ProviderTimeoutError,
}

_CLASSES: dict[int, type[ProviderError]] = {
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    429: RateLimitError,
    500: ServerError,
    529: OverloadedError,
}

_MESSAGES: dict[int, str] = {
    401: "Incorrect API key provided.",
    403: "You are not allowed to use this model.",
    404: "The model `conformance-missing` does not exist or you do not have access to it.",
    429: "Rate limit reached for requests. Please try again in 2s.",
    500: "The server had an error while processing your request.",
    529: "Overloaded",
}

_OPENAI_TYPES: dict[int, tuple[str, str | None]] = {
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("invalid_request_error", "permission_denied"),
    404: ("invalid_request_error", "model_not_found"),
    429: ("requests", "rate_limit_exceeded"),
    500: ("server_error", None),
    529: ("overloaded_error", None),
}

_ANTHROPIC_TYPES: dict[int, str] = {
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}
