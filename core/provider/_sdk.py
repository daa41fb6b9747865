"""``SDKProvider``: the base of a provider built on an official SDK client.

What every such provider repeats is here once:

- one SDK client per event loop (:class:`~jackfield.transport._loop_local.LoopLocal`),
  built by the subclass's :meth:`SDKProvider._new_client` on first use in each loop,
  closed by :meth:`SDKProvider.aclose`, :meth:`SDKProvider.close_nowait` or when its loop
  ends;
- the SDK's HTTP client (:meth:`SDKProvider._sdk_http_client`): the SDK's aiohttp
  adapter where the SDK has one, else its default httpx client, with the config's
  timeouts and ``max_connections``;
- bounded reading of the raw bytes the SDK leaves unread: :meth:`SDKProvider._read_body`
  for a whole JSON body, :meth:`SDKProvider._sse` for a stream, both limited by
  ``max_response_bytes``;
- :meth:`SDKProvider.map_exception` for the transport's exceptions (aiohttp's, httpx's),
  through the one table in :mod:`jackfield.transport._httpx_errors`, so the same failure
  reads the same whatever the SDK. A subclass maps its SDK's own exceptions and calls
  ``super().map_exception`` for the rest.

Nothing here is specific to one SDK, and no SDK or HTTP client is imported at import
time: a subclass imports its SDK inside :meth:`SDKProvider._new_client`.
"""

from __future__ import annotations

import functools
import weakref
from abc import abstractmethod
from collections.abc import AsyncGenerator, AsyncIterable, Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar, cast

from ..errors import APIError, NetworkError, ProviderError, ProviderTimeoutError
from ..transport._httpx_errors import error_from_transport
from ..transport._limits import json_body, limit_stream, read_limited
from ..transport._loop_local import LoopLocal
from ..wire._errors import error_from_payload, error_from_response
from ..wire._sse import SSEEvent, iter_sse
from ._base import Provider

if TYPE_CHECKING:
    from types import ModuleType

    from ..config import ProviderConfig

__all__ = ["SDKClient", "SDKProvider"]


class SDKClient(Protocol):
    """What :class:`SDKProvider` needs of an SDK client: an awaitable ``close()``."""

    def close(self) -> Awaitable[object]:
        """Release the client's connections."""
        ...


ClientT = TypeVar("ClientT", bound=SDKClient)


class SDKProvider(Provider, Generic[ClientT]):
    """A :class:`Provider` that sends its requests through an official SDK client.

    A subclass implements :meth:`_new_client` (import the SDK there, build the client
    with ``max_retries=0`` and ``http_client=self._sdk_http_client(sdk, timeout)``),
    ``_generate`` and ``_stream`` (read the SDK's raw response with :meth:`_read_body`
    and :meth:`_sse`), and maps its SDK's exception classes in :meth:`map_exception`.
    """

    def __init__(self, config: ProviderConfig | None = None, **kwargs: Any) -> None:
        super().__init__(config, **kwargs)
        # The clients hold this provider weakly, so that dropping the provider drops
        # them too: the finaliser then closes them (no "Unclosed connector" warning).
        provider = weakref.ref(self)
        self._clients: LoopLocal[ClientT] = LoopLocal(
            functools.partial(_new_client, provider), functools.partial(_close_client, provider)
        )
        weakref.finalize(self, self._clients.close_nowait).atexit = False

    # -- the client --------------------------------------------------------------------

    @abstractmethod
    def _new_client(self) -> ClientT:
        """Build the SDK client for the running event loop (import the SDK here)."""

    async def _close_client(self, client: ClientT) -> None:
        """Release ``client`` (awaited in its own event loop)."""
        await client.close()

    @property
    def client(self) -> ClientT:
        """The running event loop's SDK client (built on first use in each loop)."""
        return self._clients.get()

    def _prepare(self) -> None:
        """Build this loop's client before a call's deadline starts (it loads
        certificates: not time a server should be blamed for)."""
        self._clients.get()

    def _sdk_http_client(self, sdk: ModuleType, timeout: Any) -> Any:
        """The SDK's HTTP client: its aiohttp adapter, else its default httpx client.

        ``sdk`` is the SDK module (``openai``, ``anthropic``); ``timeout`` its
        ``Timeout``. Connections are limited to the config's ``max_connections``, all
        kept alive; a non-2xx body is bounded by ``max_response_bytes``, and a request
        that met a stale pooled connection is resent
        (:class:`~jackfield.transport._sdk_http.BoundedTransport`).
        """
        from ..transport._sdk_http import sdk_http_client

        cfg = self.config
        return sdk_http_client(
            sdk, timeout, cfg.max_connections, cfg.max_response_bytes, self._on_headers
        )

    _on_headers: Callable[[Mapping[str, str]], None] | None = None

    def observe_headers(self, callback: Callable[[Mapping[str, str]], None]) -> bool:
        """See :meth:`Provider.observe_headers`: the SDK clients built from now on call
        it (set it before the first call)."""
        self._on_headers = callback
        return True

    def _httpx_clients(self) -> tuple[Any, Any]:
        """An ``(async, sync)`` pair of plain httpx2 clients for an SDK that takes httpx
        clients but has no aiohttp adapter (google-genai): the config's timeouts and
        ``max_connections``, error bodies bounded as :meth:`_sdk_http_client` bounds them.
        The SDK does not close clients it is given: :meth:`_close_client` must."""
        from ..transport._sdk_http import httpx_clients

        cfg = self.config
        return httpx_clients(
            cfg.timeout, cfg.connect_timeout, cfg.max_connections, cfg.max_response_bytes
        )

    async def aclose(self) -> None:
        """Close this event loop's SDK client; other loops' close when their loops end."""
        await self._clients.aclose()

    def close_nowait(self) -> None:
        """Close every loop's SDK client without awaiting."""
        self._clients.close_nowait()

    # -- bounded reading of the raw response ---------------------------------------------

    async def _read_body(
        self, chunks: AsyncIterable[bytes], headers: Mapping[str, str], status: int
    ) -> Any:
        """The decoded JSON of a whole body, read from ``chunks`` up to
        ``max_response_bytes`` (:class:`~jackfield.errors.APIError` beyond that, or if it
        is not JSON)."""
        body = await read_limited(
            chunks,
            self.config.max_response_bytes,
            content_length=headers.get("content-length"),
            provider=self.name,
            status_code=status,
        )
        return json_body(body, status_code=status, secrets=self._secrets())

    def _sse(
        self, chunks: AsyncIterable[bytes], content_type: str | None = None
    ) -> AsyncGenerator[SSEEvent, None]:
        """The server-sent events of a streamed body, at most ``max_response_bytes`` in
        all and per event (:class:`~jackfield.errors.StreamError` beyond that).
        ``content_type``, the response's header, names what came instead of events."""
        limit = self.config.max_response_bytes
        events = iter_sse(
            limit_stream(chunks, limit, provider=self.name),
            max_event_bytes=limit,
            content_type=content_type,
        )
        return cast("AsyncGenerator[SSEEvent, None]", events)

    # -- errors --------------------------------------------------------------------------

    def map_exception(self, exc: BaseException) -> ProviderError | None:
        """The error for a transport exception (aiohttp's, httpx2's or httpx's) in
        ``exc``'s ``__cause__`` chain, else ``None``. A subclass maps its SDK's own
        exceptions first and returns ``super().map_exception(exc)`` for the rest."""
        return error_from_transport(exc, secrets=self._secrets())

    def _map_api_error(self, exc: BaseException, sdk: ModuleType) -> ProviderError | None:
        """The error for the exception classes the official SDKs share (``openai`` and
        ``anthropic`` are generated alike): ``APIStatusError``, ``APIConnectionError``
        (``APITimeoutError`` too) and ``APIResponseValidationError``; else ``None``.

        ``sdk`` is the SDK module. A status error is classified from its raw body by the
        shared mapper; one with a 2xx status is an error event inside a stream.
        """
        secrets = self._secrets()
        if isinstance(exc, sdk.APIStatusError):
            body = _status_error_body(exc)
            if exc.status_code < 300:  # an ``error`` event inside a 200 stream
                payload = body if isinstance(body, Mapping) else {"error": {"message": str(body)}}
                err = error_from_payload(payload, provider=self.name, secrets=secrets)
                err.request_id = err.request_id or getattr(exc, "request_id", None)
                return err
            return error_from_response(
                exc.status_code, exc.response.headers, body, provider=self.name, secrets=secrets
            )
        if isinstance(exc, sdk.APIConnectionError):  # APITimeoutError too
            return self._connection_error(
                exc, exc.message, timed_out=isinstance(exc, sdk.APITimeoutError)
            )
        if isinstance(exc, sdk.APIResponseValidationError):
            return APIError(
                f"the response did not match the SDK's schema: {exc.message}",
                status_code=exc.status_code,
                body=exc.body,
                secrets=secrets,
            )
        return None

    def _connection_error(
        self, exc: BaseException, message: str, *, timed_out: bool
    ) -> ProviderError:
        """The error for an SDK's connection or timeout error: what the transport's own
        exception further down the chain says (the SDKs' aiohttp adapter reports a reset
        connection as a connect timeout), else a timeout or a network error. A
        jackfield error raised by the transport itself (a body over
        ``max_response_bytes``) is that error."""
        own = _own_error(exc.__cause__)
        if own is not None:
            return own
        found = error_from_transport(exc.__cause__, secrets=self._secrets())
        if found is not None:
            return found
        cause = exc.__cause__ or exc.__context__
        detail = f"{message}; {type(cause).__name__}: {cause}" if cause else message
        if timed_out:
            return ProviderTimeoutError(f"request timed out ({detail})", secrets=self._secrets())
        return NetworkError(f"connection failed ({detail})", secrets=self._secrets())


def _new_client(provider: weakref.ref[SDKProvider[ClientT]]) -> ClientT:
    alive = provider()
    assert alive is not None  # only asked for by a live provider
    return alive._new_client()


async def _close_client(provider: weakref.ref[SDKProvider[ClientT]], client: ClientT) -> None:
    alive = provider()
    if alive is not None:
        await alive._close_client(client)
    else:  # the provider was dropped: its finaliser is closing its clients
        await client.close()


def _own_error(exc: BaseException | None) -> ProviderError | None:
    """The first :class:`ProviderError` in ``exc``'s ``__cause__`` chain."""
    for _ in range(8):
        if exc is None or isinstance(exc, ProviderError):
            return exc
        exc = exc.__cause__
    return None


def _status_error_body(exc: Any) -> bytes | str | Mapping[str, Any] | None:
    """The raw body of an SDK's ``APIStatusError``: the bytes read, else the body the
    SDK parsed, else its message."""
    try:
        content = exc.response.content
    except Exception:  # the body was never read (a streamed response)
        content = None
    if isinstance(content, bytes) and content:
        return content
    body = exc.body
    if isinstance(body, bytes | str | Mapping):
        return body
    message = getattr(exc, "message", None)
    return message if isinstance(message, str) else None
