"""Shared HTTP plumbing for aiohttp-speaking providers.

:class:`HTTPClient` keeps one ``aiohttp.ClientSession`` per event loop (a cached
provider used from a new loop gets a new session instead of "event loop is closed"),
sends the key as the configured auth method, bounds response size, maps failures to
:class:`ProviderError` and reports redacted traffic to a :class:`RawLog`.

Import this module only from code that needs HTTP: it imports aiohttp.
"""

from __future__ import annotations

import asyncio
import json
import weakref
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any, Protocol

import aiohttp

from ..config import AuthMethod, ProviderConfig, Secret
from ..errors import APIError, ProviderError, StreamError
from ..wire._errors import error_from_response
from ..wire._sse import SSEEvent, iter_sse
from ._limits import json_body

__all__ = ["HTTPClient", "RawLog", "auth_headers", "redact_headers"]

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


class HTTPClient:
    """Sessions, headers and error mapping for one provider instance."""

    def __init__(
        self,
        provider: str,
        config: ProviderConfig,
        *,
        headers: Mapping[str, str] | None = None,
        raw_log: RawLog | None = None,
        secrets: tuple[str, ...] = (),
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
        self._sessions: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, aiohttp.ClientSession
        ] = weakref.WeakKeyDictionary()
        self._closers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, AsyncIterator[None]] = (
            weakref.WeakKeyDictionary()
        )
        self._timeout = aiohttp.ClientTimeout(total=config.timeout, connect=config.connect_timeout)
        self._stream_timeout = aiohttp.ClientTimeout(
            total=None, connect=config.connect_timeout, sock_read=config.timeout
        )

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

    def _forget(self, loop: asyncio.AbstractEventLoop) -> None:
        self._sessions.pop(loop, None)
        self._closers.pop(loop, None)

    def session(self) -> aiohttp.ClientSession:
        """The session for the running event loop (created on first use in that loop)."""
        loop = asyncio.get_running_loop()
        session = self._sessions.get(loop)
        if session is None or session.closed:
            connector = aiohttp.TCPConnector(
                limit=self.config.max_connections, ttl_dns_cache=300, enable_cleanup_closed=False
            )
            session = aiohttp.ClientSession(
                connector=connector,
                headers=self.headers,
                timeout=self._timeout,
                auto_decompress=True,
                json_serialize=json.dumps,
            )
            self._sessions[loop] = session
            # Close the session when asyncio.run() ends this loop: its
            # shutdown_asyncgens() finalises this generator, which awaits the close.
            closer = _close_at_shutdown(session, self._forget, loop)
            self._closers[loop] = closer
            _keep(asyncio.ensure_future(closer.__anext__()))
        return session

    def error_for(self, status: int, headers: Mapping[str, str], body: bytes) -> ProviderError:
        """The error for a non-2xx answer; override to read a protocol's own error bodies."""
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
        if length is not None:
            if length > limit:
                raise APIError(
                    f"response body of {length} bytes exceeds max_response_bytes={limit}",
                    provider=self.provider,
                    status_code=response.status,
                )
            if "Content-Encoding" not in response.headers:
                # The body is exactly `length` bytes, within the limit: read it at once.
                return await response.read()
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.content.iter_any():
            size += len(chunk)
            if size > limit:
                raise APIError(
                    f"response body exceeds max_response_bytes={limit}",
                    provider=self.provider,
                    status_code=response.status,
                )
            chunks.append(chunk)
        return b"".join(chunks)

    async def post_json(self, url: str, payload: Any) -> tuple[Any, Mapping[str, str]]:
        """POST ``payload`` as JSON; return the decoded JSON body and the headers.

        A non-2xx status raises the :class:`ProviderError` the shared mapper picks.
        """
        self._log_request(url, payload)
        # bytes, not str: aiohttp's payload for bytes is cheaper (the JSON is ASCII)
        async with self.session().post(url, data=json.dumps(payload).encode()) as response:
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
        async with self.session().post(
            url, data=json.dumps(payload).encode(), timeout=self._stream_timeout
        ) as response:
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
            async for event in iter_sse(response.content.iter_any(), max_event_bytes=limit):
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
        loop = asyncio.get_running_loop()
        session = self._sessions.pop(loop, None)
        self._closers.pop(loop, None)
        if session is not None:
            await session.close()

    def close_nowait(self) -> None:
        """Close sessions without awaiting (from sync code such as ``clear_cache``)."""
        for loop, session in list(self._sessions.items()):
            if loop.is_running():
                loop.call_soon_threadsafe(_schedule_close, session)
        self._sessions.clear()


_BACKGROUND: set[asyncio.Future[Any]] = set()


def _keep(future: asyncio.Future[Any]) -> None:
    """Hold a reference to a background future until it is done (else it may be GC'd)."""
    _BACKGROUND.add(future)
    future.add_done_callback(_BACKGROUND.discard)


def _schedule_close(session: aiohttp.ClientSession) -> None:
    _keep(asyncio.ensure_future(session.close()))


async def _close_at_shutdown(
    session: aiohttp.ClientSession,
    forget: Callable[[asyncio.AbstractEventLoop], None],
    loop: asyncio.AbstractEventLoop,
) -> AsyncIterator[None]:
    try:
        yield
    finally:
        # The session references its loop, so the weak-keyed entry would never die:
        # drop it explicitly when the loop shuts down.
        forget(loop)
        if not session.closed:
            await session.close()
