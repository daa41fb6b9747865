"""The one map from httpx2's exceptions to jackfield errors, and the SDK providers on it."""

from __future__ import annotations

import ast
import inspect
import itertools
from pathlib import Path
from typing import Any

import pytest

from jackfield.errors import (
    APIError,
    ConfigurationError,
    NetworkError,
    ProviderError,
    ProviderTimeoutError,
    ServerError,
    StreamError,
    UnknownError,
)
from jackfield.plugins.anthropic import AnthropicProvider
from jackfield.plugins.openai import OpenAIProvider
from jackfield.provider import Provider, SDKProvider
from jackfield.transport._httpx_errors import (
    HTTPX_ERRORS,
    error_from_httpx,
    error_from_transport,
)

httpx2 = pytest.importorskip("httpx2")

KEY = "sk-test-httpx-errors-0123456789"
PLUGINS = Path(__file__).resolve().parents[1] / "plugins"
URL = "http://127.0.0.1:9/v1/chat/completions"


def _httpx2_exception_classes() -> list[type[Exception]]:
    return [c for c in vars(httpx2).values() if isinstance(c, type) and issubclass(c, Exception)]


def _instance(cls: type[Exception]) -> Exception:
    """An instance of one of httpx2's exception classes, built as httpx2 builds it."""
    request = httpx2.Request("POST", URL)
    params = inspect.signature(cls.__init__).parameters
    if "response" in params:
        return cls("boom", request=request, response=httpx2.Response(503, request=request))
    if "request" in params:
        return cls("boom", request=request)
    if "message" in params:
        return cls("boom")
    return cls()


def _providers() -> list[SDKProvider[Any]]:
    return [OpenAIProvider(api_key=KEY), AnthropicProvider(api_key=KEY)]


def _describe(err: ProviderError | None) -> tuple[type[ProviderError], str, bool, int | None]:
    assert err is not None
    return type(err), err.message, err.retryable, err.status_code


def test_httpx2_exports_exceptions() -> None:
    classes = _httpx2_exception_classes()
    assert len(classes) >= 25
    assert httpx2.RemoteProtocolError in classes and httpx2.CookieConflict in classes


@pytest.mark.parametrize("cls", _httpx2_exception_classes(), ids=lambda c: c.__name__)
def test_every_httpx2_exception_is_mapped_alike_by_both_providers(cls: type[Exception]) -> None:
    exc = _instance(cls)
    shared = error_from_httpx(exc)
    assert isinstance(shared, ProviderError), cls
    assert not isinstance(shared, UnknownError), cls
    if not isinstance(exc, httpx2.HTTPStatusError):  # that one reads as its status does
        # the wording names the exception and keeps its text
        assert f"({type(exc).__name__}: {exc})" in shared.message, shared.message
    for provider in _providers():
        mapped = provider.map_exception(exc)
        assert _describe(mapped) == _describe(shared), (provider.name, cls)


@pytest.mark.parametrize(
    ("exc", "expected", "message", "retryable"),
    [
        (
            httpx2.ReadTimeout("slow"),
            ProviderTimeoutError,
            "request timed out (ReadTimeout: slow)",
            True,
        ),
        (
            httpx2.ConnectTimeout(""),
            ProviderTimeoutError,
            "request timed out (ConnectTimeout)",
            True,
        ),
        (
            httpx2.RemoteProtocolError("incomplete chunked read"),
            StreamError,
            "the response was cut off or garbled (RemoteProtocolError: incomplete chunked read)",
            True,
        ),
        (
            httpx2.DecodingError("bad gzip"),
            StreamError,
            "the response was cut off or garbled (DecodingError: bad gzip)",
            False,
        ),
        (
            httpx2.StreamClosed(),
            StreamError,
            "the response stream is unusable (StreamClosed: ",
            False,
        ),
        (
            httpx2.UnsupportedProtocol("ftp"),
            ConfigurationError,
            "invalid base_url (UnsupportedProtocol: ftp)",
            False,
        ),
        (httpx2.InvalidURL("no host"), ConfigurationError, "invalid base_url (InvalidURL: ", False),
        (httpx2.ReadError("reset"), NetworkError, "connection failed (ReadError: reset)", True),
        (httpx2.ProxyError("proxy"), NetworkError, "connection failed (ProxyError: proxy)", True),
        (
            httpx2.TooManyRedirects("loop"),
            APIError,
            "HTTP client error (TooManyRedirects: loop)",
            False,
        ),
        (httpx2.CookieConflict("two"), APIError, "HTTP client error (CookieConflict: two)", False),
    ],
)
def test_table_wording(
    exc: Exception, expected: type[ProviderError], message: str, retryable: bool
) -> None:
    for provider in _providers():
        err = provider.map_exception(exc)
        assert type(err) is expected
        assert err.message.startswith(message), err.message
        assert err.retryable is retryable
    if expected is ConfigurationError:
        err = error_from_httpx(exc)
        assert isinstance(err, ConfigurationError) and err.field == "base_url"


def test_status_error_is_classified_by_its_response() -> None:
    request = httpx2.Request("POST", URL)
    response = httpx2.Response(503, request=request, headers={"x-request-id": "req-9"})
    exc = httpx2.HTTPStatusError("503", request=request, response=response)
    for provider in _providers():
        err = provider.map_exception(exc)
        assert isinstance(err, ServerError)
        assert err.status_code == 503 and err.request_id == "req-9" and err.retryable


def test_table_is_most_specific_first() -> None:
    classes = [getattr(httpx2, rule.name) for rule in HTTPX_ERRORS if hasattr(httpx2, rule.name)]
    assert len(classes) == len(HTTPX_ERRORS)
    for i, earlier in enumerate(classes):
        for later in classes[i + 1 :]:
            assert not issubclass(later, earlier), (later, earlier)


def test_secrets_are_redacted() -> None:
    err = error_from_httpx(httpx2.ConnectError(f"refused for {KEY}"), secrets=(KEY,))
    assert err is not None and KEY not in err.message and "[REDACTED]" in err.message


def test_unrelated_exceptions_are_not_mapped() -> None:
    assert error_from_httpx(ValueError("x")) is None
    assert error_from_transport(ValueError("x")) is None
    assert error_from_transport(None) is None
    for provider in _providers():
        assert provider.map_exception(KeyError("x")) is None


# -- the __cause__ chain ---------------------------------------------------------------------


def _chain(*links: BaseException) -> BaseException:
    """``links[0]`` raised from ``links[1]`` raised from ..."""
    for outer, inner in itertools.pairwise(links):
        outer.__cause__ = inner
    return links[0]


def test_an_aiohttp_cause_wins_over_the_httpx_wrapper() -> None:
    aiohttp = pytest.importorskip("aiohttp")
    exc = _chain(httpx2.ReadError("wrapped"), aiohttp.ClientPayloadError("cut"))
    for provider in _providers():
        err = provider.map_exception(exc)
        assert type(err) is StreamError and err.retryable is True
        assert "ClientPayloadError" in err.message


def test_sdk_connection_errors_read_the_transport_cause_alike() -> None:
    anthropic = pytest.importorskip("anthropic")
    openai = pytest.importorskip("openai")
    request = httpx2.Request("POST", URL)
    results = []
    for provider, sdk in zip(_providers(), (openai, anthropic), strict=True):
        # the SDKs' aiohttp adapter reports a reset as a timeout; the cause says otherwise
        reset = _chain(sdk.APITimeoutError(request=request), httpx2.ReadError("reset"))
        timed_out = _chain(sdk.APIConnectionError(request=request), httpx2.ReadTimeout("slow"))
        bare_timeout = sdk.APITimeoutError(request=request)
        bare_refused = sdk.APIConnectionError(request=request)
        errors = [provider.map_exception(e) for e in (reset, timed_out)]
        results.append([_describe(err) for err in errors])
        # without a transport cause: the SDK's own message (each SDK words its own)
        # inside the one wording
        timeout_err = provider.map_exception(bare_timeout)
        refused_err = provider.map_exception(bare_refused)
        assert type(timeout_err) is ProviderTimeoutError and timeout_err.retryable
        assert timeout_err.message == f"request timed out ({bare_timeout.message})"
        assert type(refused_err) is NetworkError and refused_err.retryable
        assert refused_err.message == f"connection failed ({bare_refused.message})"
    assert results[0] == results[1]
    assert results[0] == [
        (NetworkError, "connection failed (ReadError: reset)", True, None),
        (ProviderTimeoutError, "request timed out (ReadTimeout: slow)", True, None),
    ]


# -- the SDK providers are built on SDKProvider -----------------------------------------------


def test_both_sdk_plugins_extend_sdk_provider() -> None:
    assert issubclass(SDKProvider, Provider)
    for cls in (OpenAIProvider, AnthropicProvider):
        assert issubclass(cls, SDKProvider)
        for name in ("client", "aclose", "close_nowait", "_read_body", "_sse"):
            assert name not in vars(cls), (cls, name)


_HTTPX_NAMES = {rule.name for rule in HTTPX_ERRORS} - {"StreamError", "HTTPError"}


@pytest.mark.parametrize("module", ["openai", "anthropic"])
def test_no_plugin_has_its_own_httpx_mapper(module: str) -> None:
    tree = ast.parse((PLUGINS / f"{module}.py").read_text(encoding="utf-8"))
    imported = {
        alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    } | {
        str(node.module).split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
    }
    assert not imported & {"httpx", "httpx2", "aiohttp"}, imported
    names = {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)} | {
        node.id for node in ast.walk(tree) if isinstance(node, ast.Name)
    }
    assert not names & _HTTPX_NAMES, names & _HTTPX_NAMES
    functions = {
        node.name
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    }
    assert not {"_transport_error", "_map_httpx_error"} & functions


def test_every_aiohttp_client_error_is_mapped() -> None:
    import aiohttp

    from jackfield.transport._aiohttp_errors import AIOHTTP_ERRORS, error_from_aiohttp
    from jackfield.transport._error_rules import resolve_rules

    rows = resolve_rules(aiohttp, AIOHTTP_ERRORS)
    assert len(rows) == len(AIOHTTP_ERRORS)  # every row names a class aiohttp has
    classes = [
        c
        for c in vars(aiohttp).values()
        if isinstance(c, type) and issubclass(c, aiohttp.ClientError)
    ]
    assert len(classes) > 10
    for cls in classes:  # each class (some need arguments to build) has a row
        assert any(issubclass(cls, row_cls) for row_cls, _ in rows), cls
    mapped = error_from_aiohttp(aiohttp.ServerDisconnectedError())
    assert isinstance(mapped, ProviderError) and mapped.retryable


def test_the_two_tables_word_one_failure_alike() -> None:
    import aiohttp

    from jackfield.transport._aiohttp_errors import AIOHTTP_ERRORS
    from jackfield.transport._httpx_errors import HTTPX_ERRORS

    wording = {rule.wording for rule in HTTPX_ERRORS}
    for rule in AIOHTTP_ERRORS:
        assert rule.wording in wording, rule  # no wording of aiohttp's own
    cut = error_from_transport(aiohttp.ClientPayloadError("cut"))
    also_cut = error_from_transport(httpx2.RemoteProtocolError("cut"))
    assert cut is not None and also_cut is not None
    assert (type(cut), cut.retryable) == (type(also_cut), also_cut.retryable)
    assert cut.message.split(" (")[0] == also_cut.message.split(" (")[0]


@pytest.mark.parametrize(
    ("build", "status"),
    [
        (lambda sdk, resp: sdk.APIResponseValidationError(response=resp(200, {}), body={}), 200),
        (lambda sdk, resp: sdk.InternalServerError("boom", response=resp(500, {}), body=None), 500),
        (lambda sdk, resp: sdk.APITimeoutError(request=resp(500, {}).request), None),
    ],
    ids=["response-validation", "status-500", "timeout"],
)
def test_the_sdks_shared_exceptions_map_alike(build: Any, status: int | None) -> None:
    import anthropic
    import openai

    request = httpx2.Request("POST", "https://api.example.test/v1/x")

    def resp(code: int, body: Any) -> httpx2.Response:
        return httpx2.Response(code, request=request, json=body)

    results = []
    for sdk, provider in (
        (openai, OpenAIProvider(api_key="k")),
        (anthropic, AnthropicProvider(api_key="k")),
    ):
        err = provider.map_exception(build(sdk, resp))
        assert isinstance(err, ProviderError)
        # the wording is jackfield's; the SDK's own text follows in parentheses
        results.append((type(err), err.retryable, err.status_code, err.message.split(" (")[0]))
    assert results[0] == results[1]
    assert results[0][2] == status
