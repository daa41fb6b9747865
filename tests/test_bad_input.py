"""Bad input: whatever a caller or a server sends, the answer is a typed error.

Already property-tested elsewhere (verified, not repeated here): the SSE decoder gives
the same events for any chunking and only ``StreamError`` for garbage
(``test_sse.py::test_property_*``); ``parse_streaming_json`` never raises and agrees
with ``json.loads`` (``test_streaming_json.py``); ``error_from_response`` turns any
status, headers and body into a ``ProviderError``
(``test_http_errors.py::test_property_always_a_provider_error``).

Here:

* ``ProviderConfig`` with arbitrary values in every field either validates or raises
  ``ConfigurationError`` -- never ``TypeError``, ``OverflowError`` or anything else;
* ``error_from_payload`` (an error inside a stream) turns any value into a
  ``ProviderError``; the aiohttp exception mapper maps every aiohttp exception class; and
  every provider's own mapper turns any exception into a ``ProviderError``;
* invalid messages and tools raise a ``BadRequestError`` before any I/O, from every
  HTTP-speaking provider, streamed or not: the fake server sees zero requests.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import math
import pickle
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from test_reliability_providers import KEY, Spec, provider_params

from jackfield.config import ProviderConfig
from jackfield.errors import (
    BadRequestError,
    ConfigurationError,
    NetworkError,
    ProviderError,
    ProviderTimeoutError,
    StreamError,
)
from jackfield.testing._fake_server import FakeLLMServer
from jackfield.types import Message, ModelTier, TextPart, ToolCall, ToolSpec
from jackfield.wire._errors import error_from_payload

FAST = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SLOW_TO_DRAW = settings(FAST, max_examples=80)  # two configs per example

# -- ProviderConfig: validates or raises ConfigurationError --------------------------------

_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(10**400), max_value=10**400)
    | st.floats()  # nan and +-inf included
    | st.text(max_size=20)
    | st.binary(max_size=10)
)
_anything = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.tuples(inner, inner)
        | st.dictionaries(st.text(max_size=8) | st.integers(), inner, max_size=3)
        | st.frozensets(st.integers() | st.text(max_size=4), max_size=3)
    ),
    max_leaves=8,
)
# Values each field might plausibly get, so that valid configs are generated too.
_plausible: dict[str, st.SearchStrategy[Any]] = {
    "api_key": st.sampled_from([KEY, "", "k"]),
    "base_url": st.sampled_from(["http://127.0.0.1:1/v1", "https://x.invalid", "ftp://x"]),
    "auth_method": st.sampled_from(["bearer", "api-key", "x-api-key", "none", "magic"]),
    "temperature": st.floats(min_value=-1, max_value=3),
    "timeout": st.floats(min_value=-1, max_value=100),
    "tier_models": st.dictionaries(
        st.sampled_from([*ModelTier, "hosted-large", "local_small", "huge"]),
        st.text(max_size=5),
        max_size=3,
    ),
    "extra_headers": st.dictionaries(st.text(max_size=8), st.text(max_size=8), max_size=3),
    "reasoning": st.sampled_from([True, False, "high", ""]),
    "cache": st.sampled_from([True, False, "memory", "sqlite:/tmp/x.db"]),
}
_FIELDS = [f.name for f in attrs.fields(ProviderConfig) if f.init]
_config_fields = st.fixed_dictionaries(
    {}, optional={name: _anything | _plausible.get(name, _anything) for name in _FIELDS}
)


def _check_config(build: Any) -> ProviderConfig | None:
    try:
        return build()  # type: ignore[no-any-return]
    except ConfigurationError as exc:
        error = exc
    assert error.error_type == "configuration"
    assert KEY not in str(error) and KEY not in repr(error)
    return None


@FAST
@given(fields=_config_fields)
def test_provider_config_validates_or_raises_configuration_error(fields: dict[str, Any]) -> None:
    cfg = _check_config(lambda: ProviderConfig(**fields))
    again = _check_config(lambda: ProviderConfig.from_mapping(fields))
    assert (cfg is None) == (again is None)
    if cfg is None:
        return
    assert cfg == again
    assert KEY not in repr(cfg) and KEY not in str(cfg)
    assert len(cfg.fingerprint()) == 32
    assert cfg.evolve() == cfg


@SLOW_TO_DRAW
@given(base=_config_fields, changes=_config_fields)
def test_provider_config_evolve_validates_or_raises_configuration_error(
    base: dict[str, Any], changes: dict[str, Any]
) -> None:
    cfg = _check_config(lambda: ProviderConfig(**base))
    if cfg is not None:
        _check_config(lambda: cfg.evolve(**changes))


@FAST
@given(data=st.dictionaries(st.text(max_size=12), _anything, max_size=4))
def test_provider_config_from_any_mapping(data: dict[str, Any]) -> None:
    _check_config(lambda: ProviderConfig.from_mapping(data))


# -- error mappers: anything in, a ProviderError out ----------------------------------------

_json_like = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=40)
    | st.sampled_from([KEY, f"Bearer {KEY}", "insufficient_quota", "overloaded_error"]),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(["error", "message", "type", "code", "status", "retry_after"])
            | st.text(max_size=8),
            inner,
            max_size=4,
        )
    ),
    max_leaves=20,
)


@FAST
@given(payload=_json_like | st.binary(max_size=50), status=st.none() | st.integers())
def test_error_from_payload_turns_anything_into_a_provider_error(payload: Any, status: Any) -> None:
    err = error_from_payload(payload, provider="p", model="m", secrets=[KEY])
    assert isinstance(err, ProviderError)
    assert err.message
    for text in (str(err), repr(err), err.message, err.body or "", json.dumps(err.to_dict())):
        assert KEY not in text
    clone = pickle.loads(pickle.dumps(err))
    assert type(clone) is type(err) and clone.message == err.message


def _aiohttp_exceptions() -> list[BaseException]:
    """One instance of every client exception class aiohttp exports."""
    import aiohttp
    from aiohttp.client_reqrep import ConnectionKey, RequestInfo
    from multidict import CIMultiDict, CIMultiDictProxy
    from yarl import URL

    url = URL("http://127.0.0.1:1/v1/chat/completions")
    headers = CIMultiDictProxy(CIMultiDict({"Retry-After": "1"}))
    info = RequestInfo(url, "POST", headers, url)
    key = ConnectionKey("127.0.0.1", 1, False, True, None, None, None, None)
    out: list[BaseException] = []
    for name in sorted(dir(aiohttp)):
        cls = getattr(aiohttp, name)
        if not (inspect.isclass(cls) and issubclass(cls, aiohttp.ClientError)):
            continue
        if issubclass(cls, aiohttp.ClientResponseError):
            out.append(cls(info, (), status=503, message="unavailable", headers=headers))
        elif issubclass(cls, aiohttp.ClientConnectorError):
            out.append(cls(key, OSError(111, "refused")))
        elif issubclass(cls, aiohttp.ServerFingerprintMismatch):
            out.append(cls(b"expected", b"got", "127.0.0.1", 1))
        elif issubclass(cls, aiohttp.InvalidURL):
            out.append(cls(url, "description"))
        else:
            try:
                out.append(cls("message"))
            except TypeError:
                out.append(cls())
        str(out[-1])  # a well-built instance
    return out


def test_every_aiohttp_exception_maps_to_a_provider_error() -> None:
    from jackfield.transport._aiohttp_errors import error_from_aiohttp

    excs = _aiohttp_exceptions()
    assert len(excs) > 20
    for exc in excs:
        err = error_from_aiohttp(exc)
        assert isinstance(err, ProviderError), f"{type(exc).__name__} is not mapped"
        str(err)
        pickle.loads(pickle.dumps(err))


def test_aiohttp_mapping_classes() -> None:
    import aiohttp

    from jackfield.transport._aiohttp_errors import error_from_aiohttp

    by_name = {type(e).__name__: e for e in _aiohttp_exceptions()}
    for name in ("ServerTimeoutError", "ConnectionTimeoutError", "SocketTimeoutError"):
        if name in by_name:
            assert isinstance(error_from_aiohttp(by_name[name]), ProviderTimeoutError), name
    assert isinstance(error_from_aiohttp(by_name["ClientPayloadError"]), StreamError)
    for name in ("ServerDisconnectedError", "ClientConnectorError", "ClientOSError"):
        assert isinstance(error_from_aiohttp(by_name[name]), NetworkError), name
    assert error_from_aiohttp(ValueError("not aiohttp")) is None
    assert isinstance(error_from_aiohttp(TimeoutError()), ProviderTimeoutError)
    assert issubclass(aiohttp.ServerTimeoutError, TimeoutError)


@FAST
@given(
    status=st.integers(min_value=-1, max_value=1000),
    message=st.text(max_size=60) | st.sampled_from([KEY, f"Bearer {KEY}"]),
    headers=st.dictionaries(
        st.sampled_from(["Retry-After", "retry-after-ms", "x-should-retry", "x-request-id"])
        | st.text(min_size=1, max_size=10),
        st.text(max_size=20),
        max_size=4,
    ),
)
def test_aiohttp_response_errors_map_for_any_status_and_headers(
    status: int, message: str, headers: dict[str, str]
) -> None:
    import aiohttp
    from aiohttp.client_reqrep import RequestInfo
    from multidict import CIMultiDict, CIMultiDictProxy
    from yarl import URL

    url = URL("http://127.0.0.1:1/")
    info = RequestInfo(url, "POST", CIMultiDictProxy(CIMultiDict()), url)
    try:
        hdrs: Any = CIMultiDictProxy(CIMultiDict(headers))
    except (TypeError, ValueError):
        hdrs = None
    exc = aiohttp.ClientResponseError(info, (), status=status, message=message, headers=hdrs)
    from jackfield.transport._aiohttp_errors import error_from_aiohttp

    err = error_from_aiohttp(exc)
    assert isinstance(err, ProviderError)
    assert err.retry_after is None or (err.retry_after >= 0 and math.isfinite(err.retry_after))


def _odd_exceptions() -> list[BaseException]:
    """Exceptions a transport or SDK might raise, including ones nobody maps."""
    out: list[BaseException] = [
        TimeoutError(),
        ConnectionResetError(104, "reset"),
        OSError("socket"),
        ValueError(f"bad value {KEY}"),
        KeyError("choices"),
        RuntimeError(),
        UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte"),
        RecursionError(),
        MemoryError(),
        type("WeirdSDKError", (Exception,), {})("an exception nobody maps"),
        *_aiohttp_exceptions(),
    ]
    for module, names in (
        ("httpx", ("ReadTimeout", "ConnectError", "RemoteProtocolError", "ReadError")),
        ("httpx2", ("ReadTimeout", "ConnectError", "RemoteProtocolError", "ReadError")),
        ("openai", ("APIConnectionError", "APITimeoutError")),
        ("anthropic", ("APIConnectionError", "APITimeoutError")),
    ):
        mod = _try_import(module)
        if mod is None:
            continue
        for name in names:
            cls = getattr(mod, name)
            try:
                out.append(cls("boom"))
            except TypeError:  # the SDKs' connection errors want the request
                http = _try_import("httpx2") or _try_import("httpx")
                out.append(cls(request=http.Request("POST", "http://127.0.0.1:1/")))
    return out


def _try_import(name: str) -> Any:
    try:
        return __import__(name)
    except ImportError:
        return None


@pytest.mark.parametrize("spec", provider_params())
async def test_every_provider_maps_any_exception_to_a_provider_error(spec: Spec) -> None:
    async with FakeLLMServer() as server:
        provider = spec.make(server)
        request = provider.build_request("hi")
        for exc in _odd_exceptions():
            err = provider._as_provider_error(exc, request)
            assert isinstance(err, ProviderError), f"{type(exc).__name__}: {err!r}"
            assert err.provider and err.model == request.model
            assert KEY not in str(err) and KEY not in repr(err)
        for exc in (asyncio.CancelledError(), KeyboardInterrupt()):
            with pytest.raises(type(exc)):
                provider._as_provider_error(exc, request)
        await provider.aclose()


# -- invalid messages and tools: BadRequestError before any I/O -----------------------------

_CALL = ToolCall("call_1", "get_weather", {"city": "Paris"})
_WEATHER = {"name": "get_weather", "parameters": {"type": "object", "properties": {}}}
BAD_CALLS: dict[str, dict[str, Any]] = {
    "unknown role (dict)": {"messages": [{"role": "wizard", "content": "hi"}]},
    "unknown role (Message)": {"messages": [Message("wizard", "hi")]},  # type: ignore[arg-type]
    "no messages": {"messages": []},
    "messages not a list": {"messages": 42},
    "message of wrong type": {"messages": ["hi", 42]},
    "content of wrong type": {"messages": [{"role": "user", "content": 123}]},
    "content part of wrong type": {"messages": [{"role": "user", "content": [123]}]},
    "content as a mapping": {"messages": [{"role": "user", "content": {"text": "hi"}}]},
    "non-UTF-8 bytes as the prompt": {"messages": b"caf\xe9"},
    "non-UTF-8 bytes as content": {"messages": [{"role": "user", "content": b"\xff\xfe"}]},
    "lone surrogate in text": {"messages": "caf\ud800"},
    "lone surrogate in a part": {"messages": [Message.user([TextPart("x\udfff")])]},
    "lone surrogate in system": {"messages": [Message.system("\ud83d"), Message.user("hi")]},
    "lone surrogate in a name": {"messages": [Message.user("hi", name="b\udc00b")]},
    "lone surrogate in tool call arguments": {
        "messages": [
            Message.user("hi"),
            Message.assistant("", tool_calls=[ToolCall("c1", "f", {"city": "\ud800"})]),
            Message.tool("c1", "ok"),
        ]
    },
    "lone surrogate in a tool result": {
        "messages": [
            Message.user("hi"),
            Message.assistant("", tool_calls=[ToolCall("c1", "f", {})]),
            Message.tool("c1", "\ud800"),
        ]
    },
    "lone surrogate in a tool description": {"tools": [{**_WEATHER, "description": "\ud800"}]},
    "lone surrogate in a tool schema": {
        "tools": [{"name": "f", "parameters": {"type": "object", "properties": {"\ud800": {}}}}]
    },
    "lone surrogate in a stop sequence": {"stop": ["\ud800"]},
    "lone surrogate in the model": {"model": "m\ud800"},
    "lone surrogate in an extra argument": {"extra": {"user": "\ud800"}},
    "tool result without a call": {"messages": [Message.user("hi"), Message.tool("call_9", "42")]},
    "tool result without an id": {"messages": [{"role": "tool", "content": "42"}]},
    "tool calls on a user message": {
        "messages": [{"role": "user", "content": "hi", "tool_calls": [_CALL.to_dict()]}]
    },
    "tool call arguments not an object": {
        "messages": [
            {"role": "assistant", "content": "", "tool_calls": [{"name": "f", "arguments": 5}]}
        ]
    },
    "schema not an object": {
        "tools": [{"name": "f", "parameters": {"type": "string"}}],
    },
    "schema not a mapping": {"tools": [{"name": "f", "parameters": "object"}]},
    "schema a list": {"tools": [ToolSpec("f", "", {"type": ["object", "null"]})]},
    "tool name with spaces": {"tools": [{**_WEATHER, "name": "get weather"}]},
    "tool name empty": {"tools": [{**_WEATHER, "name": ""}]},
    "tool without a name": {"tools": [{"parameters": {"type": "object"}}]},
    "tool of wrong type": {"tools": ["get_weather"]},
    "duplicate tool names": {"tools": [_WEATHER, _WEATHER]},
    "tool_choice names no tool": {"tools": [_WEATHER], "tool_choice": "get_time"},
    "tool_choice without tools": {"tool_choice": "get_weather"},
    "tool_choice of wrong type": {"tools": [_WEATHER], "tool_choice": 5},
    "tool_choice a mapping": {"tools": [_WEATHER], "tool_choice": {"type": "function"}},
    "temperature out of range": {"temperature": 5},
    "temperature nan": {"temperature": math.nan},
    "max_tokens zero": {"max_tokens": 0},
    "empty stop sequence": {"stop": ["ok", ""]},
    # shapes that used to raise a bare TypeError / AttributeError, or reach the server
    "role as a list": {"messages": [{"role": ["user"], "content": "hi"}]},
    "role as a dict": {"messages": [{"role": {"user": 1}, "content": "hi"}]},
    "role as a list (Message)": {"messages": [Message(["user"], "hi")]},  # type: ignore[arg-type]
    "image_url not a part": {
        "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": 5}]}]
    },
    "image url not a string": {
        "messages": [{"role": "user", "content": [{"type": "image", "url": 5}]}]
    },
    "text part not a string": {
        "messages": [{"role": "user", "content": [{"type": "text", "text": 5}]}]
    },
    "tool_calls=5": {"messages": [{"role": "assistant", "content": "x", "tool_calls": 5}]},
    "tool_calls=0": {"messages": [{"role": "assistant", "content": "x", "tool_calls": 0}]},
    "tool_calls not ToolCalls (Message)": {"messages": [Message("assistant", "x", tool_calls=[5])]},
    "thinking=5": {"messages": [{"role": "assistant", "content": "x", "thinking": 5}]},
    "thinking=[5]": {"messages": [{"role": "assistant", "content": "x", "thinking": [5]}]},
    "thinking entry with an unknown key": {
        "messages": [{"role": "assistant", "content": "x", "thinking": [{"text": "a", "b": 1}]}]
    },
    "thinking text not a string": {
        "messages": [{"role": "assistant", "content": "x", "thinking": [{"text": 5}]}]
    },
    "name not a string": {"messages": [{"role": "user", "content": "hi", "name": 5}]},
    "tools=5": {"tools": 5},
    "tools=0": {"tools": 0},
    "tools a mapping": {"tools": _WEATHER},
    "stop=5": {"stop": 5},
    "model=5": {"model": 5},
    "model=0": {"model": 0},
    "reasoning=5": {"reasoning": 5},
    "json_mode a list": {"json_mode": [1]},
    "non-JSON extra value": {"extra": {"when": object()}},
    "nan in extra": {"extra": {"x": math.nan}},
    "extra not a mapping": {"extra": ["top_p"]},
    "misspelled keyword": {"modle": "x"},
    "empty prompt": {"messages": ""},
}


@pytest.mark.parametrize("spec", provider_params())
async def test_invalid_input_raises_bad_request_before_any_io(spec: Spec) -> None:
    async with FakeLLMServer() as server:
        provider = spec.make(server)
        try:
            for what, call in BAD_CALLS.items():
                kwargs = {"messages": "hi", **call}
                messages = kwargs.pop("messages")
                with pytest.raises(BadRequestError) as info:
                    await provider.generate(messages, **kwargs)
                assert info.value.provider == provider.name, what
                # stream() validates when called, before the first event is asked for.
                with pytest.raises(BadRequestError):
                    provider.stream(messages, **kwargs)
                assert server.request_count == 0, f"{what}: a request was sent"
            # ... and the same provider still works afterwards.
            assert (await provider.generate("hi")).content == "echo: hi"
        finally:
            await provider.aclose()
    assert server.request_count == 1


# -- property: any bad shape in any field, every provider, BadRequestError naming it ---------

_NOWHERE_URL = "http://127.0.0.1:9"  # nothing listens: a request sent would fail otherwise


class _Nowhere:
    """Stands in for a fake server: validation must refuse before any connection."""

    openai_base_url = f"{_NOWHERE_URL}/v1"
    anthropic_base_url = _NOWHERE_URL
    gemini_base_url = _NOWHERE_URL
    proxy_url = _NOWHERE_URL
    azure_endpoint = _NOWHERE_URL


_not_json = (
    st.builds(object)
    | st.binary(min_size=1, max_size=3)
    | st.sampled_from([math.nan, math.inf, -math.inf])
    | st.frozensets(st.integers(), min_size=1, max_size=2)
)
_wrong = (
    st.integers()
    | st.floats(allow_nan=False)
    | st.lists(st.integers(), min_size=1, max_size=2)
    | st.dictionaries(st.text(max_size=3), st.integers(), min_size=1, max_size=2)
    | _not_json
)
_KNOWN_KEYWORDS = {
    "model", "tier", "temperature", "max_tokens", "tools", "tool_choice", "json_mode",
    "stop", "reasoning", "cache", "extra",
}  # fmt: skip


def _assistant(**fields: Any) -> dict[str, Any]:
    return {"messages": [Message.user("hi"), {"role": "assistant", "content": "x", **fields}]}


# each: (the field the error must name, a strategy of calls with one bad value in it)
_BAD_SHAPES: list[tuple[str, st.SearchStrategy[dict[str, Any]]]] = [
    ("role", _wrong.map(lambda v: {"messages": [{"role": v, "content": "hi"}]})),
    ("role", _wrong.map(lambda v: {"messages": [Message(v, "hi")]})),
    ("content[0]", _wrong.map(lambda v: {"messages": [{"role": "user", "content": [v]}]})),
    (
        "content[0]",
        _wrong.map(
            lambda v: {
                "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": v}]}]
            }
        ),
    ),
    ("tool_calls", _wrong.map(lambda v: _assistant(tool_calls=v))),
    ("tool_calls[0]", _wrong.map(lambda v: _assistant(tool_calls=[v]))),
    ("thinking", _wrong.map(lambda v: _assistant(thinking=v))),
    ("thinking[0]", _wrong.map(lambda v: _assistant(thinking=[v]))),
    ("name", _wrong.map(lambda v: {"messages": [{"role": "user", "content": "hi", "name": v}]})),
    ("tools", _wrong.map(lambda v: {"tools": v})),
    ("stop", _wrong.map(lambda v: {"stop": v})),
    ("model", _wrong.map(lambda v: {"model": v})),
    ("reasoning", _wrong.map(lambda v: {"reasoning": v})),
    ("json_mode", _wrong.map(lambda v: {"json_mode": v})),
    ("extra", _wrong.filter(lambda v: not isinstance(v, dict)).map(lambda v: {"extra": v})),
    ("extra['k']", _not_json.map(lambda v: {"extra": {"k": v}})),
    (
        "unknown keyword",
        st.tuples(
            st.from_regex(r"[a-z][a-z_]{0,9}", fullmatch=True).filter(
                lambda k: k not in _KNOWN_KEYWORDS
            ),
            _wrong,
        ).map(lambda kv: {kv[0]: kv[1]}),
    ),
]
_bad_calls = st.one_of(
    [strategy.map(lambda call, field=field: (field, call)) for field, strategy in _BAD_SHAPES]
)
_NOWHERE_PROVIDERS: dict[str, Any] = {}


@pytest.mark.parametrize("spec", provider_params())
@settings(FAST, max_examples=150)
@given(bad=_bad_calls)
def test_property_any_bad_shape_is_a_bad_request_naming_the_field(
    spec: Spec, bad: tuple[str, dict[str, Any]]
) -> None:
    field, call = bad
    if spec.name not in _NOWHERE_PROVIDERS:
        _NOWHERE_PROVIDERS[spec.name] = spec.make(_Nowhere(), max_retries=0)  # type: ignore[arg-type]
    provider = _NOWHERE_PROVIDERS[spec.name]
    kwargs = {"messages": "hi", **call}
    if field == "unknown keyword" and next(iter(call)) in provider.call_options:
        return  # a keyword this provider declares: not a bad shape here
    messages = kwargs.pop("messages")
    with pytest.raises(BadRequestError) as info:
        provider.stream(messages, **kwargs)  # validates now, before any I/O
    with pytest.raises(BadRequestError) as again:
        asyncio.run(asyncio.wait_for(provider.generate(messages, **kwargs), 5))
    assert str(again.value) == str(info.value)
    assert info.value.provider == provider.name
    named = next(iter(call)) if field == "unknown keyword" else field
    assert named in info.value.message, (named, info.value.message)


def test_bad_request_is_raised_without_a_running_loop() -> None:
    """Validation needs no event loop: ``stream(bad)`` raises synchronously."""
    from jackfield.plugins.mock import MockProvider

    with pytest.raises(BadRequestError):
        MockProvider().stream([{"role": "wizard", "content": "x"}])
