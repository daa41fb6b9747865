"""The proxy provider against the fake server's ``/api/stream`` (loopback only)."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

import pytest

from jackfield.errors import (
    ERROR_CLASSES_BY_TYPE,
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    OverloadedError,
    ProviderError,
    QuotaExceededError,
    RateLimitError,
    ServerError,
    StreamError,
    UnsupportedFeatureError,
)
from jackfield.events import (
    StreamEnd,
    StreamEvent,
    StreamStart,
    TextDelta,
    ThinkingDelta,
    ThinkingEnd,
    ToolCallEnd,
    event_to_dict,
)
from jackfield.plugins import proxy as proxy_module
from jackfield.plugins.proxy import ProxyProvider
from jackfield.registry import Registry
from jackfield.retry import RetryPolicy
from jackfield.testing._fake_server import (
    ErrorReply,
    FakeLLMServer,
    InStreamError,
    Malformed,
    Raw,
    Reply,
    Stall,
    Truncate,
)
from jackfield.types import (
    AudioPart,
    CachePoint,
    DocumentPart,
    FinishReason,
    Message,
    OutputMode,
    Request,
    TextPart,
    ToolCall,
    ToolSpec,
    Usage,
)

TOKEN = "pb-proxy-token-0123456789"


class FakeSleep:
    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


class ChunkLog:
    """A RawLog keeping the stream chunks and the (redacted) request headers."""

    def __init__(self) -> None:
        self.chunks: list[str] = []
        self.headers: list[Mapping[str, str]] = []

    def on_request(
        self, provider: str, method: str, url: str, headers: Mapping[str, str], body: Any
    ) -> None:
        self.headers.append(dict(headers))

    def on_response(
        self, provider: str, status: int, headers: Mapping[str, str], body: Any
    ) -> None:
        pass

    def on_chunk(self, provider: str, data: str) -> None:
        self.chunks.append(data)


@pytest.fixture
async def server() -> AsyncIterator[FakeLLMServer]:
    async with FakeLLMServer(proxy_token=TOKEN) as srv:
        yield srv


@pytest.fixture
def sleep() -> FakeSleep:
    return FakeSleep()


@pytest.fixture
async def make(
    server: FakeLLMServer, sleep: FakeSleep
) -> AsyncIterator[Callable[..., ProxyProvider]]:
    made: list[ProxyProvider] = []

    def factory(**config: Any) -> ProxyProvider:
        config.setdefault("base_url", server.proxy_url)
        config.setdefault("api_key", TOKEN)
        provider = ProxyProvider(retry_policy=RetryPolicy(max_retries=2, sleep=sleep), **config)
        made.append(provider)
        return provider

    yield factory
    for provider in made:
        await provider.aclose()


@pytest.fixture
def proxy(make: Callable[..., ProxyProvider]) -> ProxyProvider:
    return make()


REPLY = Reply(
    "The weather in Paris is sunny, 21 degrees.",
    thinking="The user wants the weather; call the tool first.",
    thinking_signature="sig-abc",
    tool_calls=(ToolCall("call_1", "get_weather", {"city": "Paris", "unit": "C"}),),
    usage=Usage(input_tokens=12, output_tokens=34),
    chunk_size=7,
    arguments_chunk_size=5,
    model="upstream-model",
)


def _expected(rid: str | None) -> dict[str, Any]:
    return {
        "content": REPLY.text,
        "model": "upstream-model",
        "provider": "fake",
        "usage": {
            "input_tokens": 12,
            "output_tokens": 34,
            "cache_read_tokens": 0,
            "cache_write_tokens": 0,
            "reasoning_tokens": 0,
        },
        "finish_reason": "tool_calls",
        "tool_calls": [
            {"id": "call_1", "name": "get_weather", "arguments": {"city": "Paris", "unit": "C"}}
        ],
        "thinking": [{"text": REPLY.thinking, "signature": "sig-abc", "redacted": False}],
        "request_id": rid,
    }


def _error_body(error: ProviderError) -> dict[str, Any]:
    return {"error": error.to_dict()}


async def _consume(stream: AsyncIterator[StreamEvent], each: Callable[[StreamEvent], Any]) -> None:
    """Iterate ``stream`` with a plain ``async for``, calling ``each`` on every event."""
    async for event in stream:
        each(event)


# -- round trips ---------------------------------------------------------------------------


async def test_generate_round_trips_the_scripted_reply(
    proxy: ProxyProvider, server: FakeLLMServer
) -> None:
    server.enqueue(REPLY)
    response = await proxy.generate("Weather in Paris?")
    assert response.request_id and response.request_id.startswith("req_")
    assert response.to_dict() == _expected(response.request_id)
    assert response.finish_reason is FinishReason.TOOL_CALLS
    assert response.tool_calls == (
        ToolCall("call_1", "get_weather", {"city": "Paris", "unit": "C"}),
    )


async def test_stream_rebuilds_every_event_unchanged(
    make: Callable[..., ProxyProvider], server: FakeLLMServer
) -> None:
    proxy = make()
    log = ChunkLog()
    proxy.raw_log = log
    server.enqueue(REPLY)
    events: list[StreamEvent] = []
    async with proxy.stream("Weather in Paris?") as stream:
        async for event in stream:
            events.append(event)
    # Exactly what the server sent, in order, nothing re-indexed or re-assembled.
    sent = [json.loads(c) for c in log.chunks if c != "[DONE]"]
    assert [event_to_dict(e) for e in events] == sent
    assert log.chunks[-1] == "[DONE]"
    assert isinstance(events[0], StreamStart) and isinstance(events[-1], StreamEnd)
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == REPLY.text
    assert "".join(e.text for e in events if isinstance(e, ThinkingDelta)) == REPLY.thinking
    assert [e.signature for e in events if isinstance(e, ThinkingEnd)] == ["sig-abc"]
    assert [e.tool_call for e in events if isinstance(e, ToolCallEnd)] == list(REPLY.tool_calls)
    assert stream.response is not None
    assert stream.response.to_dict() == _expected(events[0].request_id)
    # The raw log never sees the token.
    assert log.headers and all(TOKEN not in json.dumps(h) for h in log.headers)


async def test_request_json_shape_and_bearer_header(
    proxy: ProxyProvider, server: FakeLLMServer
) -> None:
    tool = ToolSpec(
        "get_weather", "Weather by city", {"type": "object", "properties": {"city": {}}}
    )
    await proxy.generate(
        [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}],
        model="gpt-x",
        temperature=0.3,
        max_tokens=99,
        tools=[tool],
        tool_choice="auto",
        json_mode=True,
        stop=["END"],
        reasoning="high",
        extra={"user": "u-42"},
    )
    recorded = server.last_request
    assert recorded.path == "/api/stream" and recorded.method == "POST"
    assert recorded.headers["authorization"] == f"Bearer {TOKEN}"
    assert recorded.headers["content-type"].startswith("application/json")
    assert recorded.json == {
        "protocol_version": 2,
        "model": "gpt-x",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Hi"},
        ],
        "tools": [tool.to_dict()],
        "tool_choice": "auto",
        "json_mode": True,
        "stop": ["END"],
        "options": {"temperature": 0.3, "max_tokens": 99, "reasoning": "high"},
        "extra": {"user": "u-42"},
        "output": None,
    }


async def test_defaults_on_the_wire(proxy: ProxyProvider, server: FakeLLMServer) -> None:
    await proxy.generate("Hi")
    assert server.last_request.json == {
        "protocol_version": 2,
        "model": "hosted_small",
        "messages": [{"role": "user", "content": "Hi"}],
        "tools": [],
        "tool_choice": None,
        "json_mode": False,
        "stop": [],
        "options": {"temperature": None, "max_tokens": None, "reasoning": None},
        "extra": {},
        "output": None,
    }


async def test_tiers_pass_through_unless_configured(
    make: Callable[..., ProxyProvider], server: FakeLLMServer
) -> None:
    proxy = make(tier_models={"hosted_small": "small-one"})
    await proxy.generate("a", tier="hosted_large")
    await proxy.generate("b", tier="local_small")
    await proxy.generate("c")
    assert [r.model for r in server.requests] == ["hosted_large", "local_small", "small-one"]
    configured = make(model="my-default")
    await configured.generate("d")
    assert server.last_request.model == "my-default"


# -- errors before the stream ----------------------------------------------------------------


async def test_bad_token_is_an_authentication_error(
    make: Callable[..., ProxyProvider], server: FakeLLMServer
) -> None:
    proxy = make(api_key="wrong-token-abcdef")
    with pytest.raises(AuthenticationError) as info:
        await proxy.generate("Hi")
    err = info.value
    assert err.status_code == 401 and err.attempts == 1 and not err.retryable
    assert err.request_id and err.request_id.startswith("req_")
    assert err.provider == "proxy"
    assert server.request_count == 1
    assert "wrong-token-abcdef" not in f"{err} {err!r} {err.body}"


async def test_rate_limit_is_retried_with_the_servers_wait(
    proxy: ProxyProvider, server: FakeLLMServer, sleep: FakeSleep
) -> None:
    limited = RateLimitError("slow down", status_code=429, retry_after=1.5, request_id="r-1")
    server.enqueue(ErrorReply(429, _error_body(limited)), ErrorReply(429, _error_body(limited)))
    server.enqueue("ok now")
    response = await proxy.generate("Hi")
    assert response.content == "ok now"
    assert sleep.waits == [1.5, 1.5]
    assert server.request_count == 3


async def test_rate_limit_gives_up_after_max_retries(
    proxy: ProxyProvider, server: FakeLLMServer, sleep: FakeSleep
) -> None:
    limited = RateLimitError("slow down", status_code=429, retry_after=2.0, request_id="r-9")
    server.enqueue(*[ErrorReply(429, _error_body(limited))] * 3)
    with pytest.raises(RateLimitError) as info:
        await proxy.generate("Hi")
    err = info.value
    assert (err.status_code, err.retry_after, err.request_id, err.attempts) == (
        429,
        2.0,
        "r-9",
        3,
    )
    assert sleep.waits == [2.0, 2.0]


async def test_quota_is_not_retried(
    proxy: ProxyProvider, server: FakeLLMServer, sleep: FakeSleep
) -> None:
    quota = QuotaExceededError("balance exhausted", status_code=429, request_id="r-q")
    server.enqueue(ErrorReply(429, _error_body(quota)), "never reached")
    with pytest.raises(QuotaExceededError) as info:
        await proxy.generate("Hi")
    assert info.value.attempts == 1 and info.value.status_code == 429
    assert sleep.waits == [] and server.request_count == 1


@pytest.mark.parametrize("error_type", sorted(ERROR_CLASSES_BY_TYPE))
async def test_every_error_type_maps_to_its_exact_class(
    proxy: ProxyProvider, server: FakeLLMServer, error_type: str
) -> None:
    cls = ERROR_CLASSES_BY_TYPE[error_type]
    # retryable False everywhere: the class must come from error_type, not the status.
    sent = cls("it failed", status_code=418, retry_after=3.0, request_id="rid-7", retryable=False)
    server.enqueue(ErrorReply(502, _error_body(sent)))
    with pytest.raises(ProviderError) as info:
        await proxy.generate("Hi")
    err = info.value
    assert type(err) is cls
    assert (err.message, err.status_code, err.retry_after, err.request_id) == (
        "it failed",
        418,
        3.0,
        "rid-7",
    )
    assert err.retryable is False and err.attempts == 1


async def test_body_retryable_flag_wins_over_the_class_default(
    proxy: ProxyProvider, server: FakeLLMServer
) -> None:
    sent = ServerError("poisoned request", status_code=500, retryable=False)
    server.enqueue(ErrorReply(500, _error_body(sent)), "never reached")
    with pytest.raises(ServerError) as info:
        await proxy.generate("Hi")
    assert info.value.retryable is False and server.request_count == 1


async def test_a_body_not_in_protocol_shape_uses_the_generic_mapper(
    proxy: ProxyProvider, server: FakeLLMServer, sleep: FakeSleep
) -> None:
    server.enqueue(
        ErrorReply(
            429, {"error": {"type": "rate_limit_error", "message": "x"}}, {"retry-after": "4"}
        ),
        ErrorReply(503, "upstream down"),
        ErrorReply(400, {"error": {"error_type": "no_such_type", "message": "odd"}}),
    )
    with pytest.raises(ProviderError) as info:
        await proxy.generate("Hi")
    assert isinstance(info.value, BadRequestError) and info.value.status_code == 400
    assert len(sleep.waits) == 2 and sleep.waits[0] == 4.0  # retry-after header, then backoff
    assert server.request_count == 3


async def test_invalid_request_rejected_by_the_server(
    proxy: ProxyProvider, server: FakeLLMServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ProxyProvider, "payload", lambda self, request: {"messages": "nope"})
    with pytest.raises(BadRequestError) as info:
        await proxy.generate("Hi")
    assert info.value.status_code == 400 and "messages" in info.value.message


# -- errors inside the stream ----------------------------------------------------------------


async def test_in_stream_error_after_content_is_raised_once_not_retried(
    proxy: ProxyProvider, server: FakeLLMServer, sleep: FakeSleep
) -> None:
    busy = OverloadedError("upstream overloaded", status_code=529, request_id="r-o")
    server.enqueue(
        InStreamError(busy.to_dict(), after_events=4, reply=Reply("abcdefghij", chunk_size=2)),
        "never reached",
    )
    texts: list[str] = []

    def keep_text(event: StreamEvent) -> None:
        if isinstance(event, TextDelta):
            texts.append(event.text)

    with pytest.raises(OverloadedError) as info:
        await _consume(proxy.stream("Hi"), keep_text)
    err = info.value
    assert texts == ["ab", "cd"]  # start, text_start, "ab", "cd", then the error
    assert err.attempts == 1 and err.status_code == 529 and err.request_id == "r-o"
    assert err.retryable is True  # as the server said; a stream with output is not retried
    assert server.request_count == 1 and sleep.waits == []


async def test_in_stream_error_before_content_is_retried(
    proxy: ProxyProvider, server: FakeLLMServer, sleep: FakeSleep
) -> None:
    busy = OverloadedError("upstream overloaded", status_code=529)
    server.enqueue(InStreamError(busy.to_dict(), after_events=1), "second try")
    events = [e async for e in proxy.stream("Hi")]
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "second try"
    assert sum(isinstance(e, StreamStart) for e in events) == 1
    assert server.request_count == 2 and len(sleep.waits) == 1


async def test_generate_retries_a_retryable_error_at_any_point(
    proxy: ProxyProvider, server: FakeLLMServer
) -> None:
    # generate shows nothing until the end, so nothing can be duplicated.
    busy = OverloadedError("upstream overloaded", status_code=529)
    server.enqueue(InStreamError(busy.to_dict(), after_events=4), "complete")
    response = await proxy.generate("Hi")
    assert response.content == "complete" and server.request_count == 2


async def test_in_stream_error_not_in_protocol_shape(
    proxy: ProxyProvider, server: FakeLLMServer
) -> None:
    server.enqueue(InStreamError({"type": "overloaded_error", "message": "busy"}, after_events=3))
    with pytest.raises(ProviderError) as info:
        await proxy.stream("Hi").collect()
    assert isinstance(info.value, OverloadedError)


async def test_truncated_stream_is_a_stream_error(
    proxy: ProxyProvider, server: FakeLLMServer
) -> None:
    server.enqueue(Truncate(), Truncate(after_events=3, abort=True))
    with pytest.raises(StreamError, match="end event"):
        await proxy.generate("Hi")
    with pytest.raises(StreamError):
        await proxy.stream("Hi").collect()
    assert server.request_count == 2


async def test_malformed_event_is_a_stream_error(
    proxy: ProxyProvider, server: FakeLLMServer
) -> None:
    server.enqueue(Malformed(after_events=3))
    with pytest.raises(StreamError, match="malformed"):
        await proxy.stream("Hi").collect()


def _sse(*blocks: tuple[str | None, Any]) -> Raw:
    chunks = []
    for name, data in blocks:
        text = data if isinstance(data, str) else json.dumps(data)
        head = f"event: {name}\n" if name else ""
        chunks.append(f"{head}data: {text}\n\n".encode())
    return Raw(chunks=chunks, headers={"content-type": "text/event-stream"})


START = {"type": "start", "model": "m", "provider": "fake", "request_id": None}


@pytest.mark.parametrize(
    ("raw", "match"),
    [
        (_sse(("start", START), ("sparkle", {"type": "sparkle"})), "unknown stream event"),
        (_sse(("text_start", {"type": "text_start", "index": 0})), "began with"),
        (_sse(("start", START), ("text_start", {"type": "text_end", "index": 0})), "carries"),
        (_sse(("start", START), ("text_start", {"type": "text_start"})), "invalid proxy event"),
        (_sse(("start", START), (None, "[DONE]")), "end event"),
        (_sse(("start", START), ("text_start", [1, 2])), "not a JSON object"),
    ],
)
async def test_protocol_violations_are_stream_errors(
    proxy: ProxyProvider, server: FakeLLMServer, raw: Raw, match: str
) -> None:
    server.enqueue(raw)
    with pytest.raises(StreamError, match=match):
        await proxy.stream("Hi").collect()


async def test_end_is_final_even_without_done(proxy: ProxyProvider, server: FakeLLMServer) -> None:
    end = {
        "type": "end",
        "response": {"content": "", "model": "m", "provider": "fake", "finish_reason": "stop"},
    }
    server.enqueue(_sse(("start", START), ("end", end)))
    response = await proxy.generate("Hi")
    assert response.content == "" and response.model == "m"


# -- cancellation ----------------------------------------------------------------------------

STALL = Stall(after_events=4, reply=Reply("one two three four five six", chunk_size=4))


async def _closed(server: FakeLLMServer) -> None:
    assert await server.wait_for_connections(0)
    assert server.disconnects == 1


async def test_break_closes_the_connection(proxy: ProxyProvider, server: FakeLLMServer) -> None:
    server.enqueue(STALL)
    async with proxy.stream("Hi") as stream:
        async for event in stream:
            if isinstance(event, TextDelta):
                break
    await _closed(server)


async def test_break_without_a_context_manager_closes_the_connection(
    proxy: ProxyProvider, server: FakeLLMServer
) -> None:
    server.enqueue(STALL)
    async for event in proxy.stream("Hi"):
        if isinstance(event, TextDelta):
            break
    await _closed(server)  # the dropped generator is closed by the event loop


async def test_task_cancel_closes_the_connection(
    proxy: ProxyProvider, server: FakeLLMServer
) -> None:
    server.enqueue(STALL)
    got_text = asyncio.Event()

    async def consume() -> None:
        async for event in proxy.stream("Hi"):
            if isinstance(event, TextDelta):
                got_text.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(got_text.wait(), 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await _closed(server)


class SpyProxy(ProxyProvider):
    """Records every request that reaches the wire layer."""

    seen: list[Request]

    def payload(self, request: Request) -> dict[str, Any]:
        self.seen.append(request)
        return super().payload(request)


def _spy(server: FakeLLMServer, sleep: FakeSleep, **config: Any) -> SpyProxy:
    spy = SpyProxy(
        base_url=server.proxy_url,
        api_key=TOKEN,
        retry_policy=RetryPolicy(max_retries=2, sleep=sleep),
        **config,
    )
    spy.seen = []
    return spy


def _assert_signal_off_the_wire(spy: SpyProxy, server: FakeLLMServer) -> None:
    assert server.requests and all(r.json["extra"] == {} for r in server.requests)
    assert all("signal" not in r.body.decode() for r in server.requests)
    assert spy.seen and all(
        "signal" not in r.extra and "signal" not in r.canonical_json() for r in spy.seen
    )


async def test_signal_stops_a_stream_like_a_cancelled_task(
    server: FakeLLMServer, sleep: FakeSleep
) -> None:
    spy = _spy(server, sleep)
    stop = threading.Event()
    server.enqueue(STALL)
    seen: list[StreamEvent] = []

    def stop_at_text(event: StreamEvent) -> None:
        seen.append(event)
        if isinstance(event, TextDelta):
            stop.set()

    try:
        with pytest.raises(asyncio.CancelledError, match="signal"):
            await _consume(spy.stream("Hi", signal=stop.is_set), stop_at_text)
        assert isinstance(seen[-1], TextDelta)  # nothing after the signal
        await _closed(server)
        _assert_signal_off_the_wire(spy, server)
    finally:
        await spy.aclose()


async def test_signal_cancels_generate(server: FakeLLMServer, sleep: FakeSleep) -> None:
    spy = _spy(server, sleep)
    stop = threading.Event()
    server.enqueue(Reply("word " * 200, chunk_size=5, event_delay=0.01))

    async def trip() -> None:
        await server.wait_for_requests(1)
        stop.set()

    tripper = asyncio.create_task(trip())
    try:
        with pytest.raises(asyncio.CancelledError):
            await spy.generate("Hi", signal=stop.is_set)
        await tripper
        await _closed(server)
        _assert_signal_off_the_wire(spy, server)
    finally:
        await spy.aclose()


async def test_signal_from_config_and_before_any_request(
    server: FakeLLMServer, sleep: FakeSleep
) -> None:
    stop = threading.Event()
    spy = _spy(server, sleep, extra={"signal": stop.is_set})
    try:
        server.enqueue(STALL)
        with pytest.raises(asyncio.CancelledError):
            await _consume(
                spy.stream("Hi"), lambda e: stop.set() if isinstance(e, TextDelta) else None
            )
        await _closed(server)
        _assert_signal_off_the_wire(spy, server)
        # Already set: nothing is sent at all.
        with pytest.raises(asyncio.CancelledError):
            await spy.generate("Hi again")
        with pytest.raises(asyncio.CancelledError):
            await spy.stream("Hi again").collect()
        assert server.request_count == 1
    finally:
        await spy.aclose()


async def test_a_signal_that_never_fires_changes_nothing(
    proxy: ProxyProvider, server: FakeLLMServer
) -> None:
    server.enqueue(REPLY, REPLY)
    response = await proxy.generate("Hi", signal=lambda: False)
    streamed = await proxy.stream("Hi", signal=lambda: False).collect()
    assert response.content == streamed.content == REPLY.text
    assert all(r.json["extra"] == {} for r in server.requests)


# -- configuration and secrets ---------------------------------------------------------------


def test_config_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JACKFIELD_PROXY_URL", "http://127.0.0.1:9/")
    monkeypatch.setenv("JACKFIELD_PROXY_TOKEN", TOKEN)
    proxy = ProxyProvider()
    assert proxy.base_url == "http://127.0.0.1:9"
    assert proxy.api_key is not None and proxy.api_key.get_secret_value() == TOKEN
    assert TOKEN not in repr(proxy) and TOKEN not in repr(proxy.config)


@pytest.mark.parametrize(
    ("env", "config", "field"),
    [
        ({"JACKFIELD_PROXY_TOKEN": TOKEN}, {}, "base_url"),
        ({"JACKFIELD_PROXY_TOKEN": TOKEN, "JACKFIELD_PROXY_URL": "ftp://x"}, {}, "base_url"),
        ({"JACKFIELD_PROXY_URL": "http://127.0.0.1:9"}, {}, "api_key"),
        (
            {},
            {"base_url": "http://127.0.0.1:9", "api_key": "k" * 12, "extra": {"signal": 1}},
            "extra",
        ),
    ],
)
def test_invalid_config(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], config: dict[str, Any], field: str
) -> None:
    for name in ("JACKFIELD_PROXY_URL", "JACKFIELD_PROXY_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigurationError) as info:
        ProxyProvider(**config)
    assert info.value.field == field


async def test_bad_call_arguments_fail_before_any_request(
    proxy: ProxyProvider, server: FakeLLMServer
) -> None:
    with pytest.raises(BadRequestError, match="signal"):
        proxy.stream("Hi", signal="stop")
    with pytest.raises(BadRequestError, match="JSON"):
        await proxy.generate("Hi", extra={"user": object()})
    with pytest.raises(BadRequestError, match="did you mean 'signal'"):
        await proxy.generate("Hi", signl=lambda: False)
    assert server.request_count == 0


async def test_token_never_in_repr_or_errors(proxy: ProxyProvider, server: FakeLLMServer) -> None:
    assert TOKEN not in repr(proxy)
    echo = BadRequestError(f"you sent Authorization: Bearer {TOKEN}", status_code=400)
    leak = ServerError(f"token {TOKEN} rejected upstream", retryable=False)
    server.enqueue(ErrorReply(400, _error_body(echo)), InStreamError(leak.to_dict()))
    errors: list[ProviderError] = []
    for call in (proxy.generate("Hi"), proxy.stream("Hi").collect()):
        with pytest.raises(ProviderError) as info:
            await call
        errors.append(info.value)
    assert [type(e) for e in errors] == [BadRequestError, ServerError]
    for err in errors:
        assert TOKEN not in f"{err} {err!r} {err.message} {err.body} {err.args}"


async def test_registered_through_its_hook() -> None:
    registry = Registry(entry_points=False, plugins=(), strict=False)
    registry.register_plugin(proxy_module, "proxy")
    assert registry.get_provider_class("proxy") is ProxyProvider
    assert registry.get_provider_class("jackfield-proxy") is ProxyProvider


@pytest.mark.parametrize("streaming", [True, False])
async def test_signal_is_polled_before_a_retry_is_sent(
    server: FakeLLMServer, streaming: bool
) -> None:
    stop = threading.Event()

    async def sleep_then_stop(seconds: float) -> None:
        stop.set()  # the user gives up while the call waits to retry

    proxy = ProxyProvider(
        base_url=server.proxy_url,
        api_key=TOKEN,
        retry_policy=RetryPolicy(max_retries=2, sleep=sleep_then_stop),
    )
    limited = RateLimitError("slow down", status_code=429, retry_after=1.0)
    server.enqueue(ErrorReply(429, _error_body(limited)), "never sent")
    call = (
        proxy.stream("Hi", signal=stop.is_set).collect()
        if streaming
        else proxy.generate("Hi", signal=stop.is_set)
    )
    try:
        with pytest.raises(asyncio.CancelledError):
            await call
        assert server.request_count == 1
    finally:
        await proxy.aclose()


async def test_an_error_body_without_a_request_id_takes_the_header(
    proxy: ProxyProvider, server: FakeLLMServer
) -> None:
    quota = QuotaExceededError("balance exhausted", status_code=402)
    body = _error_body(quota)
    body["error"]["request_id"] = None
    # Raw: the fake server adds no x-request-id of its own, which would come first.
    server.enqueue(Raw(402, json.dumps(body).encode(), {"x-amzn-requestid": "amzn-7"}))
    with pytest.raises(QuotaExceededError) as info:
        await proxy.generate("Hi")
    assert info.value.request_id == "amzn-7" and info.value.status_code == 402


def test_the_proxy_is_an_http_provider_with_its_protocol_in_the_wire_layer() -> None:
    from jackfield.provider import HTTPProvider, proxy_protocol, tinyagent_protocol

    assert issubclass(ProxyProvider, HTTPProvider)
    request = Request(messages=[Message.user("Hi")], model="hosted_small", extra={"u": 1})
    proxy = ProxyProvider(base_url="http://127.0.0.1:9", api_key="k")
    assert proxy.payload(request) == proxy_protocol.build_payload(request)
    tiny = ProxyProvider(
        base_url="http://127.0.0.1:9", api_key="k", extra={"protocol": "tinyagent"}
    )
    assert tiny.payload(request) == tinyagent_protocol.build_payload(request)
    # a profile key, moved into extra by the registry
    made = Registry().create_provider(
        "proxy", base_url="http://127.0.0.1:9", api_key="k", protocol="tinyagent"
    )
    assert made.protocol == "tinyagent"


# -- protocol version 2 -----------------------------------------------------------------------

_SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
_V2_PARTS = [
    TextPart("Read these."),
    DocumentPart(data="JVBERi0xLjQ=", title="report"),
    DocumentPart(url="https://example.com/a.pdf"),
    DocumentPart(text="plain words"),
    AudioPart(data="UklGRg==", format="wav"),
    CachePoint(ttl="1h"),
]


async def test_version_2_carries_parts_tools_cache_points_and_the_output_schema(
    proxy: ProxyProvider, server: FakeLLMServer
) -> None:
    tool = ToolSpec("lookup", "Look up", {"type": "object", "properties": {}})
    server.enqueue(Reply('{"city": "Paris"}'))
    response = await proxy.generate(
        [Message.user(_V2_PARTS)], tools=[tool, CachePoint()], response_format=_SCHEMA
    )
    body = server.last_request.json
    assert body["protocol_version"] == 2
    assert [p["type"] for p in body["messages"][0]["content"]] == [
        "text",
        "document",
        "document",
        "document",
        "audio",
        "cache_point",
    ]
    assert body["messages"][0]["content"][1] == {
        "type": "document",
        "data": "JVBERi0xLjQ=",
        "url": None,
        "text": None,
        "media_type": None,
        "title": "report",
    }
    assert body["messages"][0]["content"][5] == {"type": "cache_point", "ttl": "1h"}
    assert body["tools"][0]["cache_point"] == {"type": "cache_point", "ttl": None}
    assert body["output"]["schema"] == _SCHEMA and body["output"]["mode"] == "native"
    assert response.output_mode is OutputMode.NATIVE  # the end event's response says so
    assert response.content == '{"city": "Paris"}'


async def test_a_version_1_client_is_served_exactly_version_1(server: FakeLLMServer) -> None:
    """A v1 body (no protocol_version) gets the v1 events: no output_mode in end."""
    import aiohttp

    v1_body = {
        "model": "m",
        "messages": [{"role": "user", "content": "hi"}],
        "output": {"schema": _SCHEMA, "mode": "native"},
    }
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{server.proxy_url}/api/stream",
            json=v1_body,
            headers={"Authorization": f"Bearer {TOKEN}"},
        ) as resp,
    ):
        text = await asyncio.wait_for(resp.text(), 10)
    events = [json.loads(x[6:]) for x in text.splitlines() if x.startswith("data: {")]
    end = events[-1]
    assert end["type"] == "end"
    assert "output_mode" not in end["response"]
    assert end["response"]["content"] == "echo: hi"


@pytest.mark.parametrize(
    ("content", "feature"),
    [
        ([TextPart("x"), DocumentPart(text="words")], "documents"),
        ([TextPart("x"), AudioPart(data="UklGRg==", format="wav")], "audio"),
        ([TextPart("x"), CachePoint()], "cache_points"),
        ("x", "structured_output"),
    ],
)
async def test_a_version_1_server_is_refused_what_it_would_drop(
    make: Callable[..., ProxyProvider], content: Any, feature: str
) -> None:
    async with FakeLLMServer(proxy_token=TOKEN, proxy_protocol_version=1) as old:
        proxy = make(base_url=old.proxy_url)
        try:
            old.enqueue(Reply("ignored"), Reply("plain"))
            kwargs = {"response_format": _SCHEMA} if feature == "structured_output" else {}
            events: list[Any] = []

            async def consume() -> None:
                async for event in proxy.stream([Message.user(content)], **kwargs):
                    events.append(event)

            with pytest.raises(UnsupportedFeatureError) as info:
                await consume()
            assert info.value.feature == feature and "protocol version 1" in str(info.value)
            assert events == []  # refused before any event reached the caller
            assert old.request_count == 1
            assert (await proxy.generate("plain")).content == "plain"  # v1 calls still work
        finally:
            await proxy.aclose()
