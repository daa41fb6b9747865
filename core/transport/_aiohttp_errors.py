"""Map aiohttp's client exceptions to jackfield errors: one table, as for httpx.

The rows use the wording of httpx's table (:mod:`._httpx_errors`), so a failure reads
the same through an aiohttp provider and through an SDK's client. Imported only once
aiohttp is.
"""

from __future__ import annotations

import asyncio
from typing import Any

from ..errors import (
    APIError,
    ConfigurationError,
    NetworkError,
    ProviderError,
    ProviderTimeoutError,
    StreamError,
)
from ._error_rules import ErrorRule, build_error, resolve_rules

__all__ = ["AIOHTTP_ERRORS", "error_from_aiohttp"]

#: aiohttp's exceptions, most specific first: the first row whose class the exception is
#: an instance of wins.
AIOHTTP_ERRORS: tuple[ErrorRule, ...] = (
    ErrorRule("ServerTimeoutError", ProviderTimeoutError, "request timed out"),
    # A transport failure like a reset: worth another attempt while nothing has reached
    # the caller (a stream that has yielded output is never retried).
    ErrorRule(
        "ClientPayloadError", StreamError, "the response was cut off or garbled", retryable=True
    ),
    ErrorRule("ClientResponseError", None, "HTTP error status"),
    ErrorRule("InvalidURL", ConfigurationError, "invalid base_url", field="base_url"),
    ErrorRule("ClientConnectionError", NetworkError, "connection failed"),
    ErrorRule("ClientOSError", NetworkError, "connection failed"),
    ErrorRule("ClientError", NetworkError, "HTTP client error"),
)


def error_from_aiohttp(exc: BaseException) -> ProviderError | None:
    """The jackfield error for an aiohttp exception, or ``None`` if it is not one."""
    import aiohttp

    if isinstance(exc, asyncio.TimeoutError):
        return ProviderTimeoutError(f"request timed out ({type(exc).__name__})")
    garbled = _unparsable_answer(exc, aiohttp)
    if garbled is not None:
        return garbled
    for cls, rule in resolve_rules(aiohttp, AIOHTTP_ERRORS):
        if isinstance(exc, cls):
            if isinstance(exc, aiohttp.ClientResponseError):
                return build_error(rule, exc, status=exc.status, headers=dict(exc.headers or {}))
            return build_error(rule, exc)
    return None


def _unparsable_answer(exc: BaseException, aiohttp: Any) -> ProviderError | None:
    """The error for an answer aiohttp could not parse as HTTP (a bad status line, bad
    headers): aiohttp reports it as a ``ClientResponseError`` with status 400, which
    would blame the caller; it is the server's fault."""
    from aiohttp.http_exceptions import HttpProcessingError

    if not isinstance(exc, aiohttp.ClientResponseError):
        return None
    cause = exc.__cause__
    if not isinstance(cause, HttpProcessingError):
        return None
    detail = " ".join((cause.message or str(cause)).split())  # aiohttp's spans lines
    return APIError(f"the server's answer is not valid HTTP ({type(cause).__name__}: {detail})")
