"""Errors as the gateway answers them: the taxonomy's HTTP status, an upstream credential
failure turned into a server error (the client must not blame its own token), and the
``Retry-After`` header. Each protocol shapes the body; the status is the same for all.
"""

from __future__ import annotations

import math
from typing import Final

from ..errors import ProviderError, ServerError

__all__ = ["STATUS", "client_error", "headers_for", "status_for"]

STATUS: Final[dict[str, int]] = {
    "configuration": 500,
    "authentication": 401,
    "permission": 403,
    "not_found": 404,
    "invalid_request": 400,
    "context_window": 400,
    "content_filter": 400,
    "unsupported_feature": 400,
    "output_validation": 502,
    "rate_limit": 429,
    "quota": 402,
    "timeout": 504,
    "network": 502,
    "server": 502,
    "overloaded": 503,
    "stream": 502,
    "api_error": 502,
    "unknown": 500,
}
"""The HTTP status of each error type (``docs/proxy-protocol.md``)."""


def client_error(error: ProviderError, *, upstream: bool) -> ProviderError:
    """``error`` as the client may see it: an upstream ``authentication`` or
    ``permission`` failure (the gateway's own key) becomes a non-retryable
    :class:`ServerError`, and a ``configuration`` error a server error without details."""
    if upstream and error.error_type in ("authentication", "permission"):
        return ServerError(
            f"the gateway's upstream credential was refused ({error.error_type})",
            provider=error.provider,
            model=error.model,
            status_code=502,
            request_id=error.request_id,
            retryable=False,
        )
    if upstream and error.error_type == "configuration":
        return ServerError(
            "the gateway's upstream provider is misconfigured", status_code=500, retryable=False
        )
    return error


def status_for(error: ProviderError) -> int:
    """The HTTP status: the taxonomy's for the error type (an upstream status is not
    reused: a 401 from upstream is the gateway's problem, not the client's)."""
    return STATUS.get(error.error_type, 500)


def headers_for(error: ProviderError) -> dict[str, str]:
    """``Retry-After`` (whole seconds, rounded up) when the error has a wait."""
    wait = error.retry_after
    if wait is None or not math.isfinite(wait) or wait < 0:
        return {}
    return {"Retry-After": str(max(1, math.ceil(wait)))}
