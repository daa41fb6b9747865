"""Shared HTTP plumbing for aiohttp-speaking providers.

:class:`HTTPClient` keeps one ``aiohttp.ClientSession`` per event loop in a
:class:`~jackfield.transport._loop_local.LoopLocal` (a cached provider used from a new
loop gets a new session instead of "event loop is closed"), sends the key as the
configured auth method, bounds response size with
:func:`~jackfield.transport._limits.read_limited`, maps failures to
:class:`ProviderError` and reports redacted traffic to a :class:`RawLog`.

Import this module only from code that needs HTTP: it imports aiohttp.
"""

from __future__ import annotations

import functools
import json
import weakref
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any, Protocol

import aiohttp

from ..config import AuthMethod, ProviderConfig, Secret
from ..errors import ProviderError, StreamError
from ..wire._errors import error_from_response
from ..wire._sse import SSEEvent, iter_sse
from ._connection_trace import TrackingConnector, resending
from ._limits import json_body, read_limited
from ._loop_local import LoopLocal

__all__ = ["ErrorFor", "HTTPClient", "RawLog", "auth_headers", "redact_headers"]

SENSITIVE_HEADERS = frozenset({"authorization", "api-key", "x-api-key", "proxy-authorization"})


class RawLog(Protocol):
    """Receives every request, response and stream chunk a provider exchanges.

    Payloads are redacted first: auth headers never reach a raw log, and neither does
    the provider's key anywhere else (a server may echo it in a body or a header).
    """

    def on_request(
        self, provider: str, method: str, url: str, headers: Mapping[str, str], body: Any
    ) -> None:
        """A request is about to be sent."""

    def on_response(
        self, provider: str, status: int, headers: Mapping[str, str], body: Any
    ) -> None:
        """A response (or, for a stream, its status and headers) arrived."""

    def on_chunk(self, provider: str, data: str) -> None:
        """One stream event's data arrived."""


def auth_headers(method: AuthMethod, key: Secret | None) -> dict[str, str]:
    """The header that carries ``key`` for ``method`` (none for ``"none"`` or no key)."""
    if key is None or method == "none":
        return {}
    value = key.get_secret_value()
    if method == "bearer":
        return {"Authorization": f"Bearer {value}"}
    if method == "api-key":
        return {"api-key": value}
    return {"x-api-key": value}


def redact_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """A copy of ``headers`` with every credential replaced."""
    return {k: ("[REDACTED]" if k.lower() in SENSITIVE_HEADERS else v) for k, v in headers.items()}


class _RedactingRawLog:
    """Passes traffic on to a :class:`RawLog` with credentials and ``secrets`` redacted."""

    __slots__ = ("_log", "_redact", "_secrets")

    def __init__(self, log: RawLog, secrets: tuple[str, ...]) -> None:
        from ..errors import redact

        self._log = log
        self._secrets = secrets
        self._redact = redact

    def _value(self, value: Any) -> Any:
        if isinstance(value, str):
            return self._redact(value, self._secrets)
        if isinstance(value, bytes):
            text = value.decode("utf-8", "surrogateescape")
            return self._redact(text, self._secrets).encode("utf-8", "surrogateescape")
        if isinstance(value, Mapping):
            return {self._value(k): self._value(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self._value(v) for v in value]
        return value

    def _headers(self, headers: Mapping[str, str]) -> dict[str, str]:
        return {k: self._value(v) for k, v in redact_headers(headers).items()}

    def on_request(
        self, provider: str, method: str, url: str, headers: Mapping[str, str], body: Any
    ) -> None:
        self._log.on_request(
            provider, method, self._value(url), self._headers(headers), self._value(body)
        )

    def on_response(
        self, provider: str, status: int, headers: Mapping[str, str], body: Any
    ) -> None:
        self._log.on_response(provider, status, self._headers(headers), self._value(body))

    def on_chunk(self, provider: str, data: str) -> None:
        self._log.on_chunk(provider, self._value(data))


ErrorFor = Callable[[int, Mapping[str, str], bytes], ProviderError]
"""Maps a non-2xx answer (status, headers, body) to the error to raise."""


class HTTPClient:
    """Sessions, headers and error mapping for one provider instance.

    ``error_for``, if given, replaces :meth:`error_for` (a protocol with error bodies of
    its own); the default is the shared mapper, ``error_from_response``.
    """

    def __init__(
        self,
        provider: str,
        config: ProviderConfig,
        *,
        headers: Mapping[str, str] | None = None,
        raw_log: RawLog | None = None,
        secrets: tuple[str, ...] = (),
        error_for: ErrorFor | None = None,
    ) -> None:
        self.provider = provider
        self.config = config
        self.headers = {
            "Content-Type": "application/json",
            **(headers or {}),
            **config.extra_headers,
        }
        self._secrets = secrets
        self.raw_log = raw_log  # stored redacting: see the property
        self.on_headers: Callable[[Mapping[str, str]], None] | None = None
        """Called with every response's headers once they arrive (rate-limit budgets)."""
        self._error_for = error_for
        # Only connecting is bounded here: the whole call, and each wait of a stream, are
        # bounded by the provider's own deadline (``timeout``), which also bounds a wait
        # for a free pooled connection -- aiohttp's ``connect`` would count that wait as a
        # connect timeout, and its ``sock_read`` would re-arm a timer on every chunk read.
        self._timeout = aiohttp.ClientTimeout(
            total=None, connect=None, sock_connect=config.connect_timeout, sock_read=None
        )
        # The factory does not reference self: no cycle keeps a dropped client alive.
        self.sessions: LoopLocal[aiohttp.ClientSession] = LoopLocal(
            functools.partial(_new_session, config.max_connections, self.headers, self._timeout),
            aiohttp.ClientSession.close,
            is_closed=_is_closed,
        )
        """One session per event loop, closed when asyncio.run() ends that loop."""
        # Dropped without aclose() while its loop runs: close the sessions then, instead of
        # leaving aiohttp to warn "Unclosed connector" when it collects them.
        weakref.finalize(self, self.sessions.close_nowait).atexit = False

    @property
    def raw_log(self) -> RawLog | None:
        """The raw log, behind a filter that redacts the provider's key from everything
        it passes on: headers (credentials by name, any value holding the key), bodies,
        chunks and URLs -- a server may echo the key in an error body or header."""
        return self._raw_log

    @raw_log.setter
    def raw_log(self, log: RawLog | None) -> None:
        if log is not None and not isinstance(log, _RedactingRawLog):
            log = _RedactingRawLog(log, self._secrets)
        self._raw_log = log

    def session(self) -> aiohttp.ClientSession:
        """The session for the running event loop (created on first use in that loop)."""
        return self.sessions.get()

    def error_for(self, status: int, headers: Mapping[str, str], body: bytes) -> ProviderError:
        """The error for a non-2xx answer: the ``error_for`` given at construction (a
        protocol's own error bodies), else the shared mapper."""
        if self._error_for is not None:
            return self._error_for(status, headers, body)
        return error_from_response(
            status, headers, body, provider=self.provider, secrets=self._secrets
        )

    def _log_request(self, url: str, payload: Any) -> None:
        if self.raw_log is not None:
            self.raw_log.on_request(
                self.provider, "POST", url, redact_headers(self.headers), payload
            )

    async def _read_limited(self, response: aiohttp.ClientResponse) -> bytes:
        limit = self.config.max_response_bytes
        length = response.content_length
        if length is not None and length <= limit and "Content-Encoding" not in response.headers:
            # The body is exactly `length` bytes, within the limit: read it at once.
            return await response.read()
        return await read_limited(
            response.content.iter_any(),
            limit,
            content_length=length,
            provider=self.provider,
            status_code=response.status,
        )

    async def _send(self, url: str, data: bytes) -> aiohttp.ClientResponse:
        """POST ``data``; the response once its head arrived. A request that met a stale
        pooled connection is resent at once (:func:`resending`)."""
        session = self.session()
        return await resending(
            lambda: session.post(url, data=data), max_resends=self.config.max_connections
        )

    async def post_json(self, url: str, payload: Any) -> tuple[Any, Mapping[str, str]]:
        """POST ``payload`` as JSON; return the decoded JSON body and the headers.

        A non-2xx status raises the :class:`ProviderError` the shared mapper picks.
        """
        self._log_request(url, payload)
        # bytes, not str: aiohttp's payload for bytes is cheaper (the JSON is ASCII)
        async with await self._send(url, json.dumps(payload).encode()) as response:
            if self.on_headers is not None:
                self.on_headers(response.headers)
            body = await self._read_limited(response)
            if self.raw_log is not None:
                self.raw_log.on_response(
                    self.provider, response.status, dict(response.headers), body
                )
            if response.status >= 300:
                raise self.error_for(response.status, response.headers, body)
            data = json_body(
                body, provider=self.provider, status_code=response.status, secrets=self._secrets
            )
            return data, response.headers

    async def stream_sse(
        self, url: str, payload: Any, *, headers_out: dict[str, str] | None = None
    ) -> AsyncIterator[SSEEvent]:
        """POST ``payload`` and iterate the server-sent events of the answer.

        Non-2xx raises before the first event. ``headers_out``, if given, receives the
        response headers (for request ids). Closing the iterator closes the connection.
        """
        self._log_request(url, payload)
        async with await self._send(url, json.dumps(payload).encode()) as response:
            if self.on_headers is not None:
                self.on_headers(response.headers)
            if response.status >= 300:
                body = await self._read_limited(response)
                if self.raw_log is not None:
                    self.raw_log.on_response(
                        self.provider, response.status, dict(response.headers), body
                    )
                raise self.error_for(response.status, response.headers, body)
            if headers_out is not None:
                headers_out.update((k.lower(), v) for k, v in response.headers.items())
            if self.raw_log is not None:
                self.raw_log.on_response(
                    self.provider, response.status, dict(response.headers), None
                )
            raw_log = self.raw_log
            limit = self.config.max_response_bytes
            seen = 0
            events = iter_sse(
                response.content.iter_any(),
                max_event_bytes=limit,
                content_type=response.headers.get("Content-Type"),
            )
            async for event in events:
                seen += len(event.data)
                if seen > limit:
                    raise StreamError(
                        f"stream exceeds max_response_bytes={limit}", provider=self.provider
                    )
                if raw_log is not None:
                    raw_log.on_chunk(self.provider, event.data)
                yield event

    async def aclose(self) -> None:
        """Close the running loop's session; other loops' close when those loops end."""
        await self.sessions.aclose()

    def close_nowait(self) -> None:
        """Close sessions without awaiting (from sync code such as ``clear_cache``)."""
        self.sessions.close_nowait()


def _new_session(
    max_connections: int, headers: Mapping[str, str], timeout: aiohttp.ClientTimeout
) -> aiohttp.ClientSession:
    connector = TrackingConnector(
        limit=max_connections, ttl_dns_cache=300, enable_cleanup_closed=False
    )
    return aiohttp.ClientSession(
        connector=connector,
        headers=headers,
        timeout=timeout,
        auto_decompress=True,
        json_serialize=json.dumps,
    )


def _is_closed(session: aiohttp.ClientSession) -> bool:
    return session.closed
