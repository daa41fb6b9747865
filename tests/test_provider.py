"""The provider contract through the mock and tiny test providers."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, ClassVar

import pytest

from jackfield import hookimpl
from jackfield.errors import (
    BadRequestError,
    ConfigurationError,
    MissingDependencyError,
    NetworkError,
    ProviderError,
    ProviderTimeoutError,
    StreamError,
    UnknownError,
)
from jackfield.events import (
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
from jackfield.plugins.mock import MockProvider, MockReply
from jackfield.provider import Provider, ProviderStream
from jackfield.registry import Registry
from jackfield.retry import RetryPolicy
from jackfield.types import (
    FinishReason,
    Message,
    ModelTier,
    Request,
    Response,
    ToolCall,
    ToolSpec,
    Usage,
)
from jackfield.wire._assembler import events_for_response

if TYPE_CHECKING:
    from conftest import FakeSleep

WEATHER = ToolSpec(
    "weather",
    "Current weather",
    {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)


def _check_event_order(events: list[StreamEvent]) -> None:
    """StreamStart first, StreamEnd last, blocks balanced and numbered in order."""
    assert isinstance(events[0], StreamStart)
    assert isinstance(events[-1], StreamEnd)
    assert sum(isinstance(e, StreamStart | StreamEnd) for e in events) == 2
    open_block: int | None = None
    kinds = {TextStart: TextEnd, ThinkingStart: ThinkingEnd, ToolCallStart: ToolCallEnd}
    deltas = {TextStart: TextDelta, ThinkingStart: ThinkingDelta, ToolCallStart: ToolCallDelta}
    expected_end: type[Any] | None = None
    expected_delta: type[Any] | None = None
    last_index = -1
    for e in events[1:-1]:
        if type(e) in kinds:
            assert open_block is None, "a block started before the previous one ended"
            assert e.index == last_index + 1, "block indices must increase by one"  # type: ignore[union-attr]
            open_block = last_index = e.index  # type: ignore[union-attr]
            expected_end, expected_delta = kinds[type(e)], deltas[type(e)]  # type: ignore[index]
        elif type(e) is expected_end:
            assert e.index == open_block  # type: ignore[union-attr]
            open_block = expected_end = expected_delta = None
        else:
            assert type(e) is expected_delta, f"{type(e).__name__} outside its block"
            assert e.index == open_block  # type: ignore[union-attr]
    assert open_block is None, "a block was never closed"


# -- generate and stream through the mock ------------------------------------------------------


async def test_echo_generate_and_stream_agree() -> None:
    mock = MockProvider()
    response = await mock.generate("hello world")
    assert response.content == "echo: hello world"
    assert response.provider == "mock"
    assert response.model == "mock-small"
    assert response.finish_reason is FinishReason.STOP
    events = [e async for e in mock.stream("hello world")]
    _check_event_order(events)
    text = "".join(e.text for e in events if isinstance(e, TextDelta))
    assert text == "echo: hello world"
    end = events[-1]
    assert isinstance(end, StreamEnd)
    assert end.response == response
    assert [e.text for e in events if isinstance(e, TextEnd)] == ["echo: hello world"]
    assert sum(isinstance(e, TextDelta) for e in events) == 3  # streamed word by word


async def test_thinking_keeps_its_signature() -> None:
    mock = MockProvider(
        replies=[MockReply(thinking="let me think", thinking_signature="sig", text="answer")] * 2
    )
    events = [e async for e in mock.stream("q")]
    _check_event_order(events)
    assert [type(e) for e in events[:2]] == [StreamStart, ThinkingStart]
    ends = [e for e in events if isinstance(e, ThinkingEnd)]
    assert len(ends) == 1
    assert (ends[0].index, ends[0].text, ends[0].signature) == (0, "let me think", "sig")
    assert "".join(e.text for e in events if isinstance(e, ThinkingDelta)) == "let me think"
    text_start = next(e for e in events if isinstance(e, TextStart))
    assert text_start.index == 1
    response = events[-1].response  # type: ignore[union-attr]
    assert response.thinking[0].signature == "sig"
    assert response.thinking_text == "let me think"
    assert response.content == "answer"
    generated = await mock.generate("q")
    assert generated.thinking == response.thinking
    assert generated.to_message().thinking[0].signature == "sig"


async def test_tool_calls_stream_partial_and_parsed_arguments() -> None:
    call = ToolCall("call_1", "weather", {"city": "Paris", "unit": "celsius"})
    mock = MockProvider(replies=[MockReply(text="Let me check.", tool_calls=[call])] * 2)
    events = [e async for e in mock.stream("weather?", tools=[WEATHER])]
    _check_event_order(events)
    start = next(e for e in events if isinstance(e, ToolCallStart))
    assert (start.id, start.name) == ("call_1", "weather")
    deltas = [e for e in events if isinstance(e, ToolCallDelta)]
    assert len(deltas) == 2
    raw = "".join(d.arguments_delta for d in deltas)
    assert raw == '{"city": "Paris", "unit": "celsius"}'
    # the first half is cut mid-object, yet parsed as far as it goes
    assert deltas[0].partial_arguments is not None
    assert deltas[0].partial_arguments.get("city") == "Paris"
    assert deltas[-1].partial_arguments == call.arguments
    end = next(e for e in events if isinstance(e, ToolCallEnd))
    assert end.tool_call == call
    assert end.index == start.index == 1
    response = events[-1].response  # type: ignore[union-attr]
    assert response.tool_calls == (call,)
    assert response.finish_reason is FinishReason.TOOL_CALLS
    generated = await mock.generate("weather?", tools=[WEATHER], tool_choice="weather")
    assert generated.tool_calls == (call,)


async def test_usage_is_reported() -> None:
    usage = Usage(input_tokens=11, output_tokens=2, reasoning_tokens=1)
    mock = MockProvider(replies=[MockReply(text="hi there", usage=usage)] * 2)
    assert (await mock.generate("x")).usage == usage
    assert (await mock.stream("x").collect()).usage == usage
    default = await MockProvider().generate("abcdefgh")
    assert default.usage.input_tokens == 2  # len("abcdefgh") // 4
    assert default.usage.output_tokens == 2  # "echo:", "abcdefgh"


async def test_max_tokens_cuts_the_answer_with_finish_reason_length() -> None:
    mock = MockProvider(replies=[MockReply(text="one two three four five")] * 2)
    response = await mock.generate("x", max_tokens=2)
    assert response.content == "one two "
    assert response.finish_reason is FinishReason.LENGTH
    streamed = await mock.stream("x", max_tokens=2).collect()
    assert streamed.content == "one two "
    assert streamed.finish_reason is FinishReason.LENGTH
    assert mock.requests[0].max_tokens == 2


async def test_config_defaults_reach_the_request() -> None:
    mock = MockProvider(temperature=0.3, max_tokens=50, model="mock-large")
    await mock.generate("x")
    request = mock.requests[0]
    assert (request.temperature, request.max_tokens, request.model) == (0.3, 50, "mock-large")
    await mock.generate(
        "x", temperature=0.9, max_tokens=5, model="m2", stop="\n", extra={"seed": 7}
    )
    request = mock.requests[1]
    assert (request.temperature, request.max_tokens, request.model) == (0.9, 5, "m2")
    assert request.stop == ("\n",)
    assert request.extra == {"seed": 7}


async def test_messages_forms() -> None:
    mock = MockProvider()
    await mock.generate([{"role": "system", "content": "s"}, {"role": "user", "content": "u"}])
    await mock.generate(Message.user("m"))
    await mock.generate({"role": "user", "content": [{"type": "text", "text": "parts"}]})
    assert [r.messages[-1].text for r in mock.requests] == ["u", "m", "parts"]
    assert mock.requests[0].messages[0] == Message.system("s")


# -- ProviderStream -----------------------------------------------------------------------------


async def test_provider_stream_collect_text_and_response() -> None:
    mock = MockProvider(replies=["alpha beta", "gamma delta"])
    stream = mock.stream("x")
    assert isinstance(stream, ProviderStream)
    assert stream.response is None
    response = await stream.collect()
    assert response.content == "alpha beta"
    assert stream.response == response

    stream = mock.stream("x")
    pieces = [t async for t in stream.text()]
    assert pieces == ["gamma ", "delta"]
    assert stream.response is not None
    assert stream.response.content == "gamma delta"


async def test_async_with_closes_the_stream_early() -> None:
    mock = _Tracked()
    async with mock.stream("x") as stream:
        async for event in stream:
            if isinstance(event, TextDelta):
                break
    assert mock.closed == 1
    assert mock.produced < 10
    with pytest.raises(StopAsyncIteration):
        await stream.__anext__()


async def test_early_break_then_aclose_leaves_nothing_pending() -> None:
    mock = _Tracked()
    stream = mock.stream("x")
    got: list[str] = []
    async for event in stream:
        if isinstance(event, TextDelta):
            got.append(event.text)
            break
    await stream.aclose()
    assert got == ["w0 "]
    assert mock.closed == 1
    assert mock.produced < 10  # the upstream was not drained
    assert asyncio.all_tasks() == {asyncio.current_task()}
    # the mock's nested generators too
    mock_stream = MockProvider(replies=["a b c d e f g"]).stream("x")
    async for event in mock_stream:
        if isinstance(event, TextDelta):
            break
    await mock_stream.aclose()
    assert asyncio.all_tasks() == {asyncio.current_task()}


class _Tracked(MockProvider):
    """A provider whose raw stream records whether it was closed."""

    name = "tracked"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.closed = 0
        self.produced = 0

    async def _stream(self, request: Request) -> AsyncIterator[StreamEvent]:
        from jackfield.wire._assembler import StreamAssembler

        asm = StreamAssembler(self.name, request.model)
        try:
            yield asm.start()
            for i in range(10):
                for event in asm.text(f"w{i} "):
                    self.produced += 1
                    yield event
            for event in asm.finish():
                yield event
        finally:
            self.closed += 1


# -- input validation before I/O ----------------------------------------------------------------

BAD_CALLS: list[tuple[str, Any, dict[str, Any]]] = [
    ("unknown role", [{"role": "robot", "content": "x"}], {}),
    ("unknown role object", [Message("robot", "x")], {}),  # type: ignore[arg-type]
    ("tool result without call", [Message.user("x"), Message.tool("call_9", "42")], {}),
    ("tool result without id", [{"role": "tool", "content": "42"}], {}),
    ("tool schema not object", "x", {"tools": [ToolSpec("t", "", {"type": "string"})]}),
    ("tool dict schema not object", "x", {"tools": [{"name": "t", "parameters": "nope"}]}),
    ("bad tool name", "x", {"tools": [ToolSpec("bad name!")]}),
    ("duplicate tool", "x", {"tools": [WEATHER, WEATHER]}),
    ("lone surrogate", "bad \ud800 text", {}),
    (
        "lone surrogate in part",
        [{"role": "user", "content": [{"type": "text", "text": "\udfff"}]}],
        {},
    ),
    ("empty messages", [], {}),
    ("not messages", 42, {}),
    ("temperature too high", "x", {"temperature": 3}),
    ("temperature negative", "x", {"temperature": -0.1}),
    ("temperature nan", "x", {"temperature": float("nan")}),
    ("temperature text", "x", {"temperature": "hot"}),
    ("max_tokens zero", "x", {"max_tokens": 0}),
    ("max_tokens float", "x", {"max_tokens": 2.5}),
    ("max_tokens bool", "x", {"max_tokens": True}),
    ("tool_choice unknown", "x", {"tools": [WEATHER], "tool_choice": "other"}),
    ("tool_choice without tools", "x", {"tool_choice": "weather"}),
    ("tool_choice not text", "x", {"tool_choice": 3}),
    ("empty stop", "x", {"stop": [""]}),
    ("tool_calls on user", [{"role": "user", "content": "x", "tool_calls": [{"name": "f"}]}], {}),
    ("image without data", [{"role": "user", "content": [{"type": "image"}]}], {}),
]


@pytest.mark.parametrize(("case", "messages", "kwargs"), BAD_CALLS, ids=[c[0] for c in BAD_CALLS])
async def test_bad_input_raises_bad_request_before_any_io(
    case: str, messages: Any, kwargs: dict[str, Any]
) -> None:
    mock = MockProvider()
    with pytest.raises(BadRequestError) as info:
        await mock.generate(messages, **kwargs)
    assert info.value.provider == "mock"
    assert info.value.error_type == "invalid_request"
    with pytest.raises(BadRequestError):
        mock.stream(messages, **kwargs)  # raised at the call, before iterating
    assert mock.requests == []


async def test_tool_result_after_its_call_is_valid() -> None:
    mock = MockProvider()
    call = ToolCall("call_1", "weather", {"city": "Oslo"})
    await mock.generate(
        [Message.user("w?"), Message.assistant(tool_calls=[call]), Message.tool("call_1", "cold")],
        tools=[WEATHER],
    )
    assert len(mock.requests) == 1


# -- tiers ---------------------------------------------------------------------------------------


class TierPolicy:
    @hookimpl
    def jackfield_model_for_tier(self, provider: Provider, tier: ModelTier) -> str | None:
        return "hooked-large" if tier is ModelTier.HOSTED_LARGE else None


def test_tier_resolution_order(registry: Registry) -> None:
    plain = registry.create_provider("mock", fresh=True)
    assert plain.model_for_tier("hosted_large") == "mock-large"  # class table
    registry.register_plugin(TierPolicy(), name="policy")
    hooked = registry.create_provider("mock", fresh=True)
    assert hooked.model_for_tier(ModelTier.HOSTED_LARGE) == "hooked-large"  # hook beats table
    assert hooked.model_for_tier("hosted-small") == "mock-small"  # hook said None
    configured = registry.create_provider(
        "mock", fresh=True, tier_models={"hosted_large": "cfg-large"}
    )
    assert configured.model_for_tier("hosted_large") == "cfg-large"  # config beats hook


async def test_tier_picks_the_model_of_a_call() -> None:
    mock = MockProvider()
    await mock.generate("x", tier="local_small")
    await mock.generate("x", tier=ModelTier.HOSTED_LARGE)
    await mock.generate("x", tier="local_small", model="explicit")
    await mock.generate("x")
    assert [r.model for r in mock.requests] == [
        "mock-local",
        "mock-large",
        "explicit",
        "mock-small",
    ]


async def test_unknown_tier_raises_configuration_error_naming_it() -> None:
    mock = MockProvider()
    with pytest.raises(ConfigurationError, match="'gigantic'") as info:
        mock.model_for_tier("gigantic")
    assert info.value.field == "tier"
    with pytest.raises(ConfigurationError, match="'gigantic'"):
        await mock.generate("x", tier="gigantic")
    assert mock.requests == []


class NoLocal(MockProvider):
    name = "nolocal"
    tier_models: ClassVar = {ModelTier.HOSTED_SMALL: "s", ModelTier.HOSTED_LARGE: "l"}


def test_missing_tier_raises_configuration_error_naming_it() -> None:
    provider = NoLocal()
    with pytest.raises(ConfigurationError, match="local_small") as info:
        provider.model_for_tier(ModelTier.LOCAL_SMALL)
    assert info.value.field == "tier_models"
    assert info.value.provider == "nolocal"
    assert NoLocal(tier_models={"local_small": "tiny"}).model_for_tier("local_small") == "tiny"


# -- creation-time checks ------------------------------------------------------------------------


class Keyed(Provider):
    name = "keyed"
    requires_api_key = True
    api_key_env = "JACKFIELD_TEST_KEYED_KEY"
    tier_models: ClassVar = {ModelTier.HOSTED_SMALL: "keyed-1"}

    async def _generate(self, request: Request) -> Response:
        return Response("ok", request.model, self.name)


def test_missing_api_key_fails_at_creation(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JACKFIELD_TEST_KEYED_KEY", raising=False)
    with pytest.raises(ConfigurationError, match=r"\$JACKFIELD_TEST_KEYED_KEY") as info:
        Keyed()
    assert info.value.field == "api_key"
    assert info.value.provider == "keyed"
    monkeypatch.setenv("JACKFIELD_TEST_KEYED_KEY", "env-key-123")
    provider = Keyed()
    assert provider.api_key is not None
    assert provider.api_key.get_secret_value() == "env-key-123"
    assert Keyed(api_key="explicit-1").api_key.get_secret_value() == "explicit-1"  # type: ignore[union-attr]
    monkeypatch.delenv("JACKFIELD_TEST_KEYED_KEY")
    assert Keyed(auth_method="none").api_key is None  # no key needed without auth


def test_missing_api_key_fails_through_the_registry(
    registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("JACKFIELD_TEST_KEYED_KEY", raising=False)
    registry.register_provider(Keyed)
    with pytest.raises(ConfigurationError):
        registry.create_provider("keyed")
    assert registry.cache_keys() == []


class NeedsSDK(Keyed):
    name = "needs-sdk"
    requires_api_key = False
    requires = ("no_such_module_xyz",)
    extra = "xyz"


def test_missing_dependency_names_the_install_line(registry: Registry) -> None:
    with pytest.raises(MissingDependencyError) as info:
        NeedsSDK()
    assert info.value.install_command == "pip install 'jackfield[xyz]'"
    assert "pip install 'jackfield[xyz]'" in str(info.value)
    assert info.value.package == "no_such_module_xyz"
    registry.register_provider(NeedsSDK)  # registering never imports the SDK
    assert registry.is_registered("needs-sdk")
    with pytest.raises(MissingDependencyError, match=r"pip install 'jackfield\[xyz\]'"):
        registry.create_provider("needs-sdk")


# -- exception mapping ---------------------------------------------------------------------------


class Raising(Provider):
    name = "raising"
    requires_api_key = False
    tier_models: ClassVar = {ModelTier.HOSTED_SMALL: "r-1"}
    to_raise: ClassVar[BaseException | None] = None

    def __init__(self, exc: BaseException, **kwargs: Any) -> None:
        super().__init__(retry_policy=RetryPolicy(max_retries=0), **kwargs)
        self.exc = exc

    async def _generate(self, request: Request) -> Response:
        raise self.exc

    async def _stream(self, request: Request) -> AsyncIterator[StreamEvent]:
        yield StreamStart(request.model, self.name)
        raise self.exc


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (TimeoutError("read timed out"), ProviderTimeoutError),
        (ConnectionResetError(104, "reset by peer"), NetworkError),
        (ConnectionRefusedError(111, "refused"), NetworkError),
        (ValueError("weird"), UnknownError),
        (KeyError("missing"), UnknownError),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, BaseException) else v.__name__,
)
async def test_exceptions_are_mapped_with_the_original_as_cause(
    exc: BaseException, expected: type[ProviderError]
) -> None:
    provider = Raising(exc)
    with pytest.raises(expected) as info:
        await provider.generate("x")
    assert info.value.__cause__ is exc
    assert info.value.provider == "raising"
    assert info.value.model == "r-1"
    assert info.value.attempts == 1
    with pytest.raises(expected) as info:
        await provider.stream("x").collect()
    assert info.value.__cause__ is exc


async def test_mapped_timeout_is_retried(fake_sleep: FakeSleep) -> None:
    provider = Raising(TimeoutError())
    provider.retry_policy = RetryPolicy(max_retries=2, sleep=fake_sleep)
    with pytest.raises(ProviderTimeoutError) as info:
        await provider.generate("x")
    assert info.value.attempts == 3
    assert len(fake_sleep.waits) == 2


async def test_map_exception_hook_of_a_plugin_wins() -> None:
    class Mapped(Raising):
        def map_exception(self, exc: BaseException) -> ProviderError | None:
            if isinstance(exc, ValueError):
                return BadRequestError(f"sdk said: {exc}")
            return None

    with pytest.raises(BadRequestError, match="sdk said: nope") as info:
        await Mapped(ValueError("nope")).generate("x")
    assert isinstance(info.value.__cause__, ValueError)


async def test_cancellation_is_not_mapped() -> None:
    with pytest.raises(asyncio.CancelledError):
        await Raising(asyncio.CancelledError()).generate("x")


CANARY = "sk-canary-123456789"
PLAIN_CANARY = "plain-canary-key-000"


@pytest.mark.parametrize("key", [CANARY, PLAIN_CANARY])
async def test_a_key_echoed_in_an_error_is_redacted(key: str) -> None:
    echoed = ProviderError(f"invalid key {key} for you", body={"echo": key}, status_code=401)
    provider = Raising(echoed, api_key=key)
    with pytest.raises(ProviderError) as info:
        await provider.generate("x")
    err = info.value
    for text in (str(err), repr(err), err.message, err.body or "", *map(str, err.args)):
        assert key not in text
    assert "invalid key" in err.message

    provider = Raising(ValueError(f"client built with {key}"), api_key=key)
    with pytest.raises(UnknownError) as info2:
        await provider.generate("x")
    assert key not in str(info2.value)
    with pytest.raises(UnknownError) as info3:
        await provider.stream("x").collect()
    assert key not in str(info3.value)


# -- observer hooks ------------------------------------------------------------------------------


class Observer:
    def __init__(self) -> None:
        self.events: list[tuple[Any, ...]] = []

    @hookimpl
    def jackfield_request_started(self, provider: Provider, request: Request, attempt: int) -> None:
        self.events.append(("started", provider, request, attempt))

    @hookimpl
    def jackfield_response_received(
        self, provider: Provider, request: Request, response: Response, duration: float
    ) -> None:
        self.events.append(("received", provider, request, response, duration))

    @hookimpl
    def jackfield_request_failed(
        self, provider: Provider, request: Request, error: ProviderError, duration: float
    ) -> None:
        self.events.append(("failed", provider, request, error, duration))


class Exploding:
    @hookimpl
    def jackfield_request_started(self) -> None:
        raise RuntimeError("observer bug")

    @hookimpl
    def jackfield_response_received(self) -> None:
        raise RuntimeError("observer bug")

    @hookimpl
    def jackfield_request_failed(self) -> None:
        raise RuntimeError("observer bug")


async def test_observer_hooks_receive_the_expected_arguments(
    registry: Registry, fake_sleep: FakeSleep
) -> None:
    observer = Observer()
    registry.register_plugin(observer, name="observer")
    mock = registry.create_provider(
        "mock", fresh=True, extra={"replies": [{"error": "server"}, {"text": "fine"}]}
    )
    mock.retry_policy = RetryPolicy(max_retries=2, sleep=fake_sleep)
    response = await mock.generate("x")
    assert [e[0] for e in observer.events] == ["started", "started", "received"]
    assert [e[3] for e in observer.events[:2]] == [1, 2]
    _, provider, request, got, duration = observer.events[2]
    assert provider is mock
    assert isinstance(request, Request) and request.messages[-1].text == "x"
    assert got == response
    assert duration >= 0

    observer.events.clear()
    mock.script(MockReply(error="authentication"))
    with pytest.raises(ProviderError) as info:
        await mock.generate("y")
    assert [e[0] for e in observer.events] == ["started", "failed"]
    assert observer.events[1][3] is info.value
    assert observer.events[1][3].attempts == 1

    observer.events.clear()
    streamed = await mock.stream("z").collect()
    assert [e[0] for e in observer.events] == ["started", "received"]
    assert observer.events[1][3] == streamed

    observer.events.clear()
    mock.script(MockReply(text="a b c", error="server", fail_after_events=3))
    with pytest.raises(ProviderError):
        await mock.stream("z").collect()
    assert [e[0] for e in observer.events] == ["started", "failed"]


async def test_an_observer_that_raises_does_not_break_the_call(
    registry: Registry, caplog: pytest.LogCaptureFixture
) -> None:
    observer = Observer()
    registry.register_plugin(observer, name="observer")
    registry.register_plugin(Exploding(), name="exploding")
    mock = registry.create_provider("mock", fresh=True)
    with caplog.at_level(logging.ERROR, logger="jackfield.hooks"):
        assert (await mock.generate("x")).content == "echo: x"
        assert (await mock.stream("x").collect()).content == "echo: x"
        mock.script(MockReply(error="quota"))
        with pytest.raises(ProviderError) as info:
            await mock.generate("x")
    assert info.value.error_type == "quota"  # the observer's error never replaces it
    assert "observer bug" in caplog.text
    # the well-behaved observer still saw everything
    assert [e[0] for e in observer.events] == [
        "started",
        "received",
        "started",
        "received",
        "started",
        "failed",
    ]


# -- truncated streams ---------------------------------------------------------------------------


class Truncating(Raising):
    name = "truncating"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(RuntimeError("unused"), **kwargs)

    async def _stream(self, request: Request) -> AsyncIterator[StreamEvent]:
        yield StreamStart(request.model, self.name)
        yield TextStart(0)
        yield TextDelta(0, "half an ans")


async def test_a_truncated_stream_raises_stream_error() -> None:
    seen: list[StreamEvent] = []

    async def consume() -> None:
        async for event in Truncating().stream("x"):
            seen.append(event)

    with pytest.raises(StreamError, match="truncated") as info:
        await consume()
    assert [type(e) for e in seen] == [StreamStart, TextStart, TextDelta]
    assert info.value.provider == "truncating"
    assert info.value.model == "r-1"
    assert info.value.attempts == 1


async def test_aclose_and_async_with_on_the_provider() -> None:
    async with MockProvider() as mock:
        assert (await mock.generate("x")).content == "echo: x"
    assert (await mock.generate("again")).content == "echo: again"  # usable after aclose


class _OnlyStreams(Provider):
    """An API that only streams: ``_generate`` drains its own stream."""

    name = "only-streams"
    requires_api_key = False
    tier_models = {tier: "s-1" for tier in ModelTier}
    cut: ClassVar[bool] = False
    closed: ClassVar[list[bool]] = []

    async def _generate(self, request: Request) -> Response:
        return await self._generate_by_streaming(request)

    async def _stream(self, request: Request) -> AsyncIterator[StreamEvent]:
        try:
            response = Response("streamed", request.model, self.name, Usage(1, 1), "stop")
            events = list(events_for_response(response))
            for event in events[:1] if self.cut else events:
                yield event
        finally:
            type(self).closed.append(True)


async def test_generate_by_streaming_returns_the_final_response_and_closes_the_stream() -> None:
    _OnlyStreams.cut, _OnlyStreams.closed = False, []
    response = await _OnlyStreams(max_retries=0).generate("hi")
    assert response.content == "streamed" and _OnlyStreams.closed == [True]


async def test_generate_by_streaming_refuses_a_stream_without_its_end() -> None:
    _OnlyStreams.cut, _OnlyStreams.closed = True, []
    with pytest.raises(StreamError, match="before its final event") as info:
        await _OnlyStreams(max_retries=0).generate("hi")
    assert info.value.provider == "only-streams" and _OnlyStreams.closed == [True]
