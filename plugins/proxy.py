"""``proxy``: your own server that speaks the jackfield proxy protocol.

One endpoint, ``POST {base_url}/api/stream`` with a bearer token, answers with
jackfield's own stream events as server-sent events (``docs/proxy-protocol.md``). The
client rebuilds the events unchanged, checks the stream (``start`` first, ``end`` last)
and maps ``{"error": {...}}`` bodies and ``error`` events to the exact error class by
``error_type``. The protocol only streams: ``generate`` consumes the stream and returns
the ``end`` response. Retries follow the core rule: a stream is retried only before its
first content event; ``generate``, which shows nothing until the end, may retry a
retryable error at any point.

Tiers pass through: a tier resolves through ``config.tier_models`` (and the
``jackfield_model_for_tier`` hook), else the tier's own name (``"hosted_large"``) is sent
as the model and the server maps it. ``model`` is therefore never ``null`` from this
client.

Cancellation: leaving the ``async for`` (or cancelling the task) closes the connection.
A ``signal`` -- a callable returning ``True`` to stop, given per call
(``stream(..., signal=cb)``) or as ``config.extra["signal"]`` -- is polled before each
attempt connects and before each event; when it fires the connection is closed and
:class:`asyncio.CancelledError` is raised, as for a cancelled task. The signal never
goes on the wire nor into the request (cache keys and hooks never see it).
"""

from __future__ import annotations

import functools
import json
import math
import os
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Mapping, Sequence
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

import attrs

from jackfield import hookimpl
from jackfield.errors import (
    ERROR_CLASSES_BY_TYPE,
    BadRequestError,
    ConfigurationError,
    ProviderError,
    StreamError,
)
from jackfield.events import StreamEnd, StreamEvent, StreamStart, event_from_dict
from jackfield.provider import Provider, ProviderStream
from jackfield.types import ModelTier, Request, Response

if TYPE_CHECKING:
    from jackfield.provider import SSEEvent
    from jackfield.transport._http_client import HTTPClient, RawLog

__all__ = ["ProxyProvider", "Signal"]

Signal = Callable[[], bool]
"""Returns ``True`` when the call should stop (``threading.Event().is_set`` will do)."""

STREAM_PATH = "/api/stream"

_SIGNALS: ContextVar[tuple[Signal, ...]] = ContextVar("jackfield_proxy_signals", default=())
"""The signals of the call running in this context (read by :meth:`ProxyProvider._stream`)."""


class ProxyProvider(Provider):
    """A jackfield proxy server at ``base_url`` (or ``$JACKFIELD_PROXY_URL``)."""

    name = "proxy"
    description = "Your own server speaking the jackfield proxy protocol (bearer token)"
    api_key_env = "JACKFIELD_PROXY_TOKEN"
    requires_api_key = True
    default_auth_method = "bearer"
    tier_models = {tier: tier.value for tier in ModelTier}

    raw_log: RawLog | None = None
    """Receives redacted requests, responses and chunks; set it on the instance."""

    _http_client: HTTPClient | None = None

    @property
    def base_url(self) -> str | None:
        """``config.base_url``, else ``$JACKFIELD_PROXY_URL``."""
        url = self.config.base_url or os.environ.get("JACKFIELD_PROXY_URL") or ""
        return url.rstrip("/") or None

    def validate_config(self) -> None:
        """A base URL is required; ``config.extra["signal"]`` must be callable."""
        super().validate_config()
        url = self.base_url
        if not url or not url.startswith(("http://", "https://")):
            raise ConfigurationError(
                "proxy: base_url is required (http:// or https://); "
                "pass base_url=... or set $JACKFIELD_PROXY_URL",
                field="base_url",
                provider=self.name,
            )
        signal = self.config.extra.get("signal")
        if signal is not None and not callable(signal):
            raise ConfigurationError(
                "proxy: extra['signal'] must be a callable returning bool",
                field="extra",
                provider=self.name,
            )

    @property
    def http(self) -> HTTPClient:
        """The shared HTTP client (created on first use)."""
        client = self._http_client
        if client is None:
            from jackfield.transport._http_client import auth_headers

            client = _client_class()(
                self.name,
                self.config,
                headers=auth_headers(self.auth_method, self.api_key),
                raw_log=self.raw_log,
                secrets=self._secrets(),
            )
            self._http_client = client
        return client

    def payload(self, request: Request) -> dict[str, Any]:
        """The request JSON of the protocol."""
        wire = request.to_dict()
        return {
            "model": request.model,
            "messages": wire["messages"],
            "tools": wire["tools"],
            "tool_choice": request.tool_choice,
            "json_mode": request.json_mode,
            "stop": wire["stop"],
            "options": {
                "temperature": request.temperature,
                "max_tokens": request.max_tokens,
                "reasoning": request.reasoning,
            },
            "extra": wire["extra"],
        }

    # -- the template methods, with the signal taken out of the request -----------------

    def stream_request(self, request: Request, *, cache: bool | None = None) -> ProviderStream:
        """As :meth:`Provider.stream_request`; a ``signal`` in ``extra`` is taken out."""
        request, signals = self._take_signals(request)
        stream = super().stream_request(request, cache=cache)
        return ProviderStream(_watch(stream, signals)) if signals else stream

    async def generate_request(self, request: Request, *, cache: bool | None = None) -> Response:
        """As :meth:`Provider.generate_request`; a ``signal`` in ``extra`` is taken out."""
        request, signals = self._take_signals(request)
        token = _SIGNALS.set(signals)
        try:
            return await super().generate_request(request, cache=cache)
        finally:
            _SIGNALS.reset(token)

    def _take_signals(self, request: Request) -> tuple[Request, tuple[Signal, ...]]:
        signals: list[Signal] = []
        configured = self.config.extra.get("signal")
        if configured is not None:
            signals.append(configured)
        if "signal" in request.extra:
            extra = dict(request.extra)
            signal = extra.pop("signal")
            request = attrs.evolve(request, extra=extra)
            if signal is not None:
                if not callable(signal):
                    raise BadRequestError(
                        "signal must be a callable returning bool", provider=self.name
                    )
                signals.append(signal)
        if request.extra:
            try:
                json.dumps(request.extra)
            except (TypeError, ValueError) as exc:
                raise BadRequestError(
                    f"extra arguments must be JSON-serialisable: {exc}", provider=self.name
                ) from None
        return request, tuple(signals)

    # -- what a plugin writes -----------------------------------------------------------

    async def _generate(self, request: Request) -> Response:
        events = self._stream(request)
        try:
            async for event in events:
                if isinstance(event, StreamEnd):
                    return event.response
        finally:
            await events.aclose()  # type: ignore[attr-defined]
        raise StreamError("the proxy stream ended before its end event", provider=self.name)

    async def _stream(self, request: Request) -> AsyncIterator[StreamEvent]:
        signals = _SIGNALS.get()  # this call's, on every attempt (retries included)
        _check(signals)
        sse_events = self.http.stream_sse(f"{self.base_url}{STREAM_PATH}", self.payload(request))
        started = ended = False
        try:
            async for sse in sse_events:
                if sse.data == "[DONE]" or ended:
                    break
                event = self._event(sse)
                if not started and not isinstance(event, StreamStart):
                    raise StreamError(
                        f"the proxy stream began with {event.type!r}, not 'start'",
                        provider=self.name,
                    )
                started = True
                ended = isinstance(event, StreamEnd)
                if not ended:
                    _check(signals)
                yield event
        finally:
            await sse_events.aclose()  # type: ignore[attr-defined]
        if not ended:
            raise StreamError(
                "the proxy stream ended before its end event (truncated?)", provider=self.name
            )

    def _event(self, sse: SSEEvent) -> StreamEvent:
        try:
            data = json.loads(sse.data)
        except ValueError:
            raise StreamError(
                f"malformed proxy event data: {sse.data[:200]!r}", provider=self.name
            ) from None
        if not isinstance(data, dict):
            raise StreamError("a proxy event's data is not a JSON object", provider=self.name)
        if sse.event == "error" or ("error" in data and "type" not in data):
            from jackfield.provider import error_from_payload

            secrets = self._secrets()
            raise _protocol_error(data, None, None, self.name, secrets) or error_from_payload(
                data, provider=self.name, secrets=secrets
            )
        if sse.event is not None and sse.event != data.get("type"):
            raise StreamError(
                f"proxy event {sse.event!r} carries data of type {data.get('type')!r}",
                provider=self.name,
            )
        try:
            return event_from_dict(data)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise StreamError(f"invalid proxy event: {exc}", provider=self.name) from None

    # -- lifecycle ----------------------------------------------------------------------

    async def aclose(self) -> None:
        """Close this loop's HTTP session."""
        if self._http_client is not None:
            await self._http_client.aclose()

    def close_nowait(self) -> None:
        """Close HTTP sessions without awaiting."""
        if self._http_client is not None:
            self._http_client.close_nowait()


async def _watch(
    stream: ProviderStream, signals: tuple[Signal, ...]
) -> AsyncGenerator[StreamEvent, None]:
    """``stream``'s events, polling ``signals`` before asking for each one.

    While an event is awaited, ``signals`` are the context's, so :meth:`_stream` polls
    them too: before each attempt connects and as each event arrives.
    """
    try:
        while True:
            _check(signals)
            token = _SIGNALS.set(signals)
            try:
                event = await stream.__anext__()
            except StopAsyncIteration:
                return
            finally:
                _SIGNALS.reset(token)
            if isinstance(event, StreamEnd):
                signals = ()  # complete: let the hooks run, never cancel a finished call
            yield event
    finally:
        await stream.aclose()


def _check(signals: tuple[Signal, ...]) -> None:
    for signal in signals:
        if signal():
            import asyncio  # not at the top: discovery imports this module

            raise asyncio.CancelledError("jackfield proxy call cancelled by its signal")


def _protocol_error(
    data: Any,
    status: int | None,
    headers: Mapping[str, str] | None,
    provider: str,
    secrets: Sequence[str],
) -> ProviderError | None:
    """The exact error for a protocol ``{"error": {"error_type": ...}}``, else ``None``."""
    err = data.get("error") if isinstance(data, Mapping) else None
    if not isinstance(err, Mapping):
        return None
    error_type = err.get("error_type")
    cls = ERROR_CLASSES_BY_TYPE.get(error_type) if isinstance(error_type, str) else None
    if cls is None:
        return None
    from jackfield.provider import parse_retry_after, request_id_from

    code = err.get("status_code")
    retry_after: float | None = None
    hint = err.get("retry_after")
    if isinstance(hint, int | float) and not isinstance(hint, bool) and 0 <= hint < math.inf:
        retry_after = float(hint)
    elif headers is not None:
        retry_after = parse_retry_after(headers)
    retryable = err.get("retryable")
    request_id = err.get("request_id")
    message = err.get("message")
    return cls(
        message if isinstance(message, str) and message else f"proxy error: {error_type}",
        provider=provider,
        status_code=code if isinstance(code, int) and not isinstance(code, bool) else status,
        retry_after=retry_after,
        request_id=request_id
        if isinstance(request_id, str) and request_id
        else (request_id_from(headers) if headers is not None else None),
        retryable=retryable if isinstance(retryable, bool) else None,
        body=data,
        secrets=secrets,
    )


@functools.cache
def _client_class() -> type[HTTPClient]:
    """:class:`HTTPClient` reading protocol error bodies (built lazily: imports aiohttp)."""
    from jackfield.provider import error_from_response
    from jackfield.transport._http_client import HTTPClient

    class ProxyHTTPClient(HTTPClient):
        def error_for(self, status: int, headers: Mapping[str, str], body: bytes) -> ProviderError:
            try:
                data = json.loads(body)
            except (ValueError, RecursionError):
                data = None
            return _protocol_error(
                data, status, headers, self.provider, self._secrets
            ) or error_from_response(
                status, headers, body, provider=self.provider, secrets=self._secrets
            )

    return ProxyHTTPClient


@hookimpl
def jackfield_register_providers(register: Any) -> None:
    """Register the proxy client."""
    register(ProxyProvider, aliases=["jackfield-proxy"])
