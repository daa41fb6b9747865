"""The HTTP client an official SDK sends its requests through.

The SDKs (openai, anthropic) take an httpx-style client. Where the SDK has one, its
aiohttp adapter is used (aiohttp is a jackfield dependency): a streamed chunk then costs
about what raw aiohttp costs, where httpx2's pure-Python HTTP/1.1 parser costs twice
that. Connections are limited to the config's ``max_connections``, all kept alive.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

__all__ = ["sdk_http_client"]


def sdk_http_client(sdk: ModuleType, timeout: Any, max_connections: int) -> Any:
    """``sdk``'s aiohttp adapter client, else its default httpx client.

    ``sdk`` is the SDK module (``openai``, ``anthropic``); ``timeout`` its ``Timeout``.
    """
    import httpx2

    limits = httpx2.Limits(
        max_connections=max_connections, max_keepalive_connections=max_connections
    )
    try:
        return sdk.DefaultAioHttpClient(timeout=timeout, limits=limits)
    except RuntimeError:  # an SDK build without its aiohttp adapter
        return sdk.DefaultAsyncHttpxClient(timeout=timeout, limits=limits)
