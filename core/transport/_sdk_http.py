"""The HTTP client an official SDK sends its requests through.

The SDKs (openai, anthropic) take an httpx-style client. Where the SDK has one, its
aiohttp adapter is used (aiohttp is a jackfield dependency): a streamed chunk then costs
about what raw aiohttp costs, where httpx2's pure-Python HTTP/1.1 parser costs twice
that. Connections are limited to the config's ``max_connections``, all kept alive.

Every request goes through :class:`BoundedTransport`, which gives the SDK path what
:class:`~jackfield.transport._http_client.HTTPClient` gives the aiohttp one: a request
that met a stale pooled connection is resent at once
(:func:`~jackfield.transport._connection_trace.resending`), waits for a free pooled
connection mark the attempt (so a deadline that runs out says so), and a non-2xx body --
which the SDK would read whole -- is read here, decoded and bounded by
``max_response_bytes``.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable, Mapping
from types import ModuleType
from typing import Any

import httpx2

from ._limits import read_decoded_limited

__all__ = ["BoundedTransport", "httpx_clients", "sdk_http_client"]

_FRAMING = frozenset({b"content-encoding", b"content-length", b"transfer-encoding"})


class BoundedTransport(httpx2.AsyncBaseTransport):
    """Wraps an SDK's transport: resends on a stale connection, bounds error bodies."""

    def __init__(
        self,
        inner: httpx2.AsyncBaseTransport,
        *,
        max_response_bytes: int,
        max_resends: int,
        on_headers: Callable[[Mapping[str, str]], None] | None = None,
    ) -> None:
        self.inner = inner
        self.max_response_bytes = max_response_bytes
        self.max_resends = max_resends
        self.on_headers = on_headers
        """Called with every response's headers (rate-limit budgets), if set."""

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        """Send ``request``; a non-2xx answer comes back with its body read, bounded."""
        from ._connection_trace import resending

        try:
            request.content  # noqa: B018 - raises if the body is a stream: not resendable
            resends = self.max_resends
        except httpx2.RequestNotRead:
            resends = 0
        response = await resending(
            lambda: self.inner.handle_async_request(request), max_resends=resends
        )
        if self.on_headers is not None:
            self.on_headers(response.headers)
        if 200 <= response.status_code < 300:
            return response
        try:
            body = await read_decoded_limited(
                response.aiter_raw(),
                response.headers.get("content-encoding"),
                self.max_response_bytes,
                content_length=response.headers.get("content-length"),
                status_code=response.status_code,
            )
        finally:
            await response.aclose()
        headers = [(k, v) for k, v in response.headers.raw if k.lower() not in _FRAMING]
        return httpx2.Response(
            response.status_code,
            headers=headers,
            content=body,
            request=request,
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        """Close the wrapped transport."""
        await self.inner.aclose()


def sdk_http_client(
    sdk: ModuleType,
    timeout: Any,
    max_connections: int,
    max_response_bytes: int = 64 << 20,
    on_headers: Callable[[Mapping[str, str]], None] | None = None,
) -> Any:
    """``sdk``'s aiohttp adapter client, else its default httpx client, through a
    :class:`BoundedTransport`.

    ``sdk`` is the SDK module (``openai``, ``anthropic``); ``timeout`` its ``Timeout``;
    ``on_headers`` receives every response's headers.
    """
    limits = httpx2.Limits(
        max_connections=max_connections, max_keepalive_connections=max_connections
    )
    inner = _aiohttp_transport(sdk, limits)
    if inner is not None:
        try:
            return sdk.DefaultAioHttpClient(
                timeout=timeout,
                limits=limits,
                transport=_bounded(inner, limits, max_response_bytes, on_headers),
            )
        except RuntimeError:  # an SDK build without its aiohttp adapter
            pass
    inner = httpx2.AsyncHTTPTransport(limits=limits)
    return sdk.DefaultAsyncHttpxClient(
        timeout=timeout,
        limits=limits,
        transport=_bounded(inner, limits, max_response_bytes, on_headers),
    )


def httpx_clients(
    timeout: float,
    connect_timeout: float | None,
    max_connections: int,
    max_response_bytes: int = 64 << 20,
) -> tuple[httpx2.AsyncClient, httpx2.Client]:
    """Plain httpx2 clients for an SDK that takes an httpx client but has no transport of
    its own to wrap (google-genai): the async one sends through a
    :class:`BoundedTransport`; the sync one only fills the SDK's sync slot (it is never
    used, and opens no connection until it is)."""
    limits = httpx2.Limits(
        max_connections=max_connections, max_keepalive_connections=max_connections
    )
    bounds = httpx2.Timeout(timeout, connect=connect_timeout, pool=None)
    inner = httpx2.AsyncHTTPTransport(limits=limits, verify=_ssl_context())
    transport = _bounded(inner, limits, max_response_bytes)
    return (
        httpx2.AsyncClient(timeout=bounds, limits=limits, transport=transport),
        httpx2.Client(timeout=bounds, verify=_ssl_context()),
    )


def _bounded(
    inner: httpx2.AsyncBaseTransport,
    limits: httpx2.Limits,
    max_response_bytes: int,
    on_headers: Callable[[Mapping[str, str]], None] | None = None,
) -> BoundedTransport:
    return BoundedTransport(
        inner,
        max_response_bytes=max_response_bytes,
        max_resends=limits.max_connections or 0,
        on_headers=on_headers,
    )


def _aiohttp_transport(sdk: ModuleType, limits: httpx2.Limits) -> Any:
    """The SDK's aiohttp transport on a session that traces its connections, or
    ``None`` if the SDK has no aiohttp adapter (or aiohttp is missing)."""
    try:
        vendored = importlib.import_module(f"{sdk.__name__}._vendor.httpx_aiohttp")
        import aiohttp
    except ImportError:
        return None
    from ._connection_trace import TrackingConnector

    ssl_context = _ssl_context()
    keepalive = limits.keepalive_expiry

    def session() -> aiohttp.ClientSession:
        # As the adapter builds its own, tracking pool waits and reused connections.
        connector = TrackingConnector(
            limit=limits.max_connections or 0,
            keepalive_timeout=keepalive if keepalive is not None else 15.0,
            ssl=ssl_context,
        )
        return aiohttp.ClientSession(connector=connector)

    return vendored.AiohttpTransport(verify=ssl_context, limits=limits, client=session)


@functools.cache
def _ssl_context() -> Any:
    """One verifying SSL context for every SDK client (loading certificates costs tens
    of milliseconds; the adapter would build one per client)."""
    return httpx2.create_ssl_context()
