"""Map httpx's (and httpx2's) exceptions to jackfield errors: one table for every SDK provider.

The official SDKs send their requests through an httpx-style client (httpx2 here, or
httpx), usually on top of their aiohttp adapter. Exceptions of that client escape to
jackfield while a provider reads the raw bytes of a response, and they sit in the
``__cause__`` chain of the SDK's own connection errors. :data:`HTTPX_ERRORS` says, once,
what each of them becomes; :func:`error_from_httpx` applies it to one exception and
:func:`error_from_transport` finds the most telling exception in a ``__cause__`` chain
(aiohttp's own, else httpx's) and maps that.

The table names classes, not objects: it is resolved against whichever of ``httpx2`` and
``httpx`` is already in :data:`sys.modules`, so importing this module imports neither.
:func:`httpx_limits` builds the one httpx object the SDK providers pass to their client
(connection limits), so that httpx2 is imported only in the transport layer.
"""

from __future__ import annotations

import functools
import sys
from typing import TYPE_CHECKING, NamedTuple

from ..errors import (
    APIError,
    ConfigurationError,
    NetworkError,
    ProviderError,
    ProviderTimeoutError,
    StreamError,
)

if TYPE_CHECKING:
    from collections.abc import Sequence
    from types import ModuleType

    import httpx2

__all__ = [
    "HTTPX_ERRORS",
    "HTTPX_MODULES",
    "HTTPXRule",
    "error_from_httpx",
    "error_from_transport",
    "httpx_limits",
]

#: The httpx-style modules whose exceptions are mapped, in the order they are tried.
HTTPX_MODULES: tuple[str, ...] = ("httpx2", "httpx")

#: How far down a ``__cause__`` chain :func:`error_from_transport` looks.
MAX_CHAIN_DEPTH = 10


class HTTPXRule(NamedTuple):
    """One row of :data:`HTTPX_ERRORS`."""

    name: str
    """The exception class's name in ``httpx2``/``httpx`` (it matches its subclasses too)."""
    error: type[ProviderError] | None
    """The jackfield error raised; ``None``: the one :func:`error_from_response` picks."""
    wording: str
    """The message, followed by ``(ExceptionName: its text)``."""
    retryable: bool | None = None
    """Overrides the error class's ``default_retryable`` when not ``None``."""
    field: str | None = None
    """For a :class:`ConfigurationError`: the config field at fault."""


#: httpx's exceptions, most specific first: the first row whose class the exception is an
#: instance of wins. Every class httpx2 exports matches some row.
HTTPX_ERRORS: tuple[HTTPXRule, ...] = (
    HTTPXRule("TimeoutException", ProviderTimeoutError, "request timed out"),
    # A connection cut mid-body: worth another attempt while nothing has reached the
    # caller, as aiohttp's ClientPayloadError is (a stream with output is never retried).
    HTTPXRule(
        "RemoteProtocolError", StreamError, "the response was cut off or garbled", retryable=True
    ),
    HTTPXRule("DecodingError", StreamError, "the response was cut off or garbled"),
    HTTPXRule("StreamError", StreamError, "the response stream is unusable"),
    HTTPXRule("HTTPStatusError", None, "HTTP error status"),
    HTTPXRule("UnsupportedProtocol", ConfigurationError, "invalid base_url", field="base_url"),
    HTTPXRule("InvalidURL", ConfigurationError, "invalid base_url", field="base_url"),
    HTTPXRule("TransportError", NetworkError, "connection failed"),
    HTTPXRule("HTTPError", APIError, "HTTP client error"),
    HTTPXRule("CookieConflict", APIError, "HTTP client error"),
)


@functools.lru_cache(maxsize=4)
def _resolve(module: ModuleType) -> tuple[tuple[type[BaseException], HTTPXRule], ...]:
    """The rows of :data:`HTTPX_ERRORS` whose class ``module`` defines, with that class."""
    resolved: list[tuple[type[BaseException], HTTPXRule]] = []
    for rule in HTTPX_ERRORS:
        cls = getattr(module, rule.name, None)
        if isinstance(cls, type) and issubclass(cls, BaseException):
            resolved.append((cls, rule))
    return tuple(resolved)


def _build(rule: HTTPXRule, exc: BaseException, secrets: Sequence[str]) -> ProviderError:
    if rule.error is None:  # HTTPStatusError: classify by the response, as for every client
        from ..wire._errors import error_from_response

        response = getattr(exc, "response", None)
        status = getattr(response, "status_code", None)
        if isinstance(status, int):
            return error_from_response(
                status, getattr(response, "headers", None), None, secrets=secrets
            )
        return APIError(_message("HTTP client error", exc), secrets=secrets)
    message = _message(rule.wording, exc)
    if rule.field is not None:
        return ConfigurationError(message, field=rule.field, secrets=secrets)
    return rule.error(message, retryable=rule.retryable, secrets=secrets)


def _message(wording: str, exc: BaseException) -> str:
    text = str(exc)
    name = type(exc).__name__
    return f"{wording} ({name}: {text})" if text else f"{wording} ({name})"


def error_from_httpx(exc: BaseException, *, secrets: Sequence[str] = ()) -> ProviderError | None:
    """The jackfield error for ``exc`` if it is an httpx2 or httpx exception, else ``None``.

    Only modules already imported are consulted: an exception of a module nobody has
    imported cannot exist. ``secrets`` are redacted from the message.
    """
    for module_name in HTTPX_MODULES:
        module = sys.modules.get(module_name)
        if module is None:
            continue
        for cls, rule in _resolve(module):
            if isinstance(exc, cls):
                return _build(rule, exc, secrets)
    return None


def error_from_transport(
    exc: BaseException | None, *, secrets: Sequence[str] = ()
) -> ProviderError | None:
    """The error for the transport failure in ``exc``'s ``__cause__`` chain, else ``None``.

    ``exc`` itself is the chain's first link. The first aiohttp exception in the chain
    wins (the SDKs' aiohttp adapter wraps aiohttp's exceptions in httpx2's, and the SDKs
    wrap those: a reset connection may surface as an httpx ``ConnectTimeout`` whose
    cause says what happened); without one, the first httpx exception is mapped.
    """
    aiohttp_loaded = "aiohttp" in sys.modules
    first_httpx: ProviderError | None = None
    depth = 0
    while exc is not None and depth < MAX_CHAIN_DEPTH:
        if aiohttp_loaded and type(exc).__module__.startswith("aiohttp"):
            from ._aiohttp_errors import error_from_aiohttp

            mapped = error_from_aiohttp(exc)
            if mapped is not None:
                return mapped
        if first_httpx is None:
            first_httpx = error_from_httpx(exc, secrets=secrets)
        exc, depth = exc.__cause__, depth + 1
    return first_httpx


def httpx_limits(max_connections: int) -> httpx2.Limits:
    """Connection limits for an SDK's httpx2 client: ``max_connections``, all kept alive."""
    import httpx2

    return httpx2.Limits(max_connections=max_connections, max_keepalive_connections=max_connections)
