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
aiohttp's table, in the same shape and wording, is in :mod:`._aiohttp_errors`.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from ..errors import (
    APIError,
    ConfigurationError,
    NetworkError,
    ProviderError,
    ProviderTimeoutError,
    StreamError,
)
from ._error_rules import ErrorRule, build_error, resolve_rules

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = [
    "HTTPX_ERRORS",
    "HTTPX_MODULES",
    "error_from_httpx",
    "error_from_transport",
]

#: The httpx-style modules whose exceptions are mapped, in the order they are tried.
HTTPX_MODULES: tuple[str, ...] = ("httpx2", "httpx")

#: How far down a ``__cause__`` chain :func:`error_from_transport` looks.
MAX_CHAIN_DEPTH = 10


#: httpx's exceptions, most specific first: the first row whose class the exception is an
#: instance of wins. Every class httpx2 exports matches some row.
HTTPX_ERRORS: tuple[ErrorRule, ...] = (
    ErrorRule("TimeoutException", ProviderTimeoutError, "request timed out"),
    # A connection cut mid-body: worth another attempt while nothing has reached the
    # caller, as aiohttp's ClientPayloadError is (a stream with output is never retried).
    ErrorRule(
        "RemoteProtocolError", StreamError, "the response was cut off or garbled", retryable=True
    ),
    ErrorRule("DecodingError", StreamError, "the response was cut off or garbled"),
    ErrorRule("StreamError", StreamError, "the response stream is unusable"),
    ErrorRule("HTTPStatusError", None, "HTTP error status"),
    ErrorRule("UnsupportedProtocol", ConfigurationError, "invalid base_url", field="base_url"),
    ErrorRule("InvalidURL", ConfigurationError, "invalid base_url", field="base_url"),
    ErrorRule("TransportError", NetworkError, "connection failed"),
    ErrorRule("HTTPError", APIError, "HTTP client error"),
    ErrorRule("CookieConflict", APIError, "HTTP client error"),
)


def error_from_httpx(exc: BaseException, *, secrets: Sequence[str] = ()) -> ProviderError | None:
    """The jackfield error for ``exc`` if it is an httpx2 or httpx exception, else ``None``.

    Only modules already imported are consulted: an exception of a module nobody has
    imported cannot exist. ``secrets`` are redacted from the message.
    """
    for module_name in HTTPX_MODULES:
        module = sys.modules.get(module_name)
        if module is None:
            continue
        for cls, rule in resolve_rules(module, HTTPX_ERRORS):
            if isinstance(exc, cls):
                response = getattr(exc, "response", None) if rule.error is None else None
                status = getattr(response, "status_code", None)
                return build_error(
                    rule,
                    exc,
                    secrets,
                    status=status if isinstance(status, int) else None,
                    headers=getattr(response, "headers", None),
                )
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
