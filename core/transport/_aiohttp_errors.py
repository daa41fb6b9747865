"""Map aiohttp's client exceptions to jackfield errors (imported only once aiohttp is)."""

from __future__ import annotations

import asyncio

from ..errors import NetworkError, ProviderError, ProviderTimeoutError, StreamError

__all__ = ["error_from_aiohttp"]


def error_from_aiohttp(exc: BaseException) -> ProviderError | None:
    """The jackfield error for an aiohttp exception, or ``None`` if it is not one."""
    import aiohttp

    name = type(exc).__name__
    if isinstance(exc, aiohttp.ServerTimeoutError | asyncio.TimeoutError):
        return ProviderTimeoutError(f"request timed out ({name})")
    if isinstance(exc, aiohttp.ClientPayloadError):
        # A transport failure like a reset: worth another attempt while nothing has
        # reached the caller (a stream that has yielded output is never retried).
        return StreamError(
            f"the response body was cut off or malformed ({name}: {exc})", retryable=True
        )
    if isinstance(exc, aiohttp.ClientResponseError):
        from ..wire._errors import error_from_response

        return error_from_response(exc.status, dict(exc.headers or {}), exc.message)
    if isinstance(exc, aiohttp.ClientConnectionError | aiohttp.ClientOSError):
        return NetworkError(f"connection failed ({name}: {exc})")
    if isinstance(exc, aiohttp.InvalidURL):
        return NetworkError(f"invalid URL: {exc}")
    if isinstance(exc, aiohttp.ClientError):
        return NetworkError(f"HTTP client error ({name}: {exc})")
    return None
