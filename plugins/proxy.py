"""``proxy``: your own server that speaks the jackfield proxy protocol.

One endpoint, ``POST {base_url}/api/stream`` with a bearer token, answers with
jackfield's own stream events as server-sent events (``docs/proxy-protocol.md``). The
client rebuilds the events unchanged, checks the stream (``start`` first, ``end`` last)
and maps ``{"error": {...}}`` bodies and ``error`` events to the exact error class by
``error_type``. The protocol only streams: ``generate`` consumes the stream and returns
the ``end`` response. Retries follow the core rule: a stream is retried only before its
first content event; ``generate``, which shows nothing until the end, may retry a
retryable error at any point.

Protocol version 2 (``docs/proxy-protocol.md``): the request carries
``protocol_version: 2``, the structured-output schema (``output``) and the new content
parts (documents, audio, cache points); the ``end`` response names its ``output_mode``. A
server that does not answer with the ``jackfield-protocol: 2`` header is a version-1
server: a call using what only version 2 carries is refused with
:class:`~jackfield.errors.UnsupportedFeatureError` before any event reaches the caller.

The provider is an :class:`~jackfield.provider.HTTPProvider` (a session per event loop,
bounded bodies, raw logging) whose :meth:`~ProxyProvider.error_for` reads protocol error
bodies. The protocol itself -- the request JSON, decoding one event, the error mapping --
is :data:`jackfield.provider.proxy_protocol`, which does no I/O.

``protocol = "tinyagent"`` (a profile key, or ``extra={"protocol": "tinyagent"}``) talks
to an existing server of the tinyagent protocol instead (the ``ProxyStreamOptions``
clients' wire, :data:`jackfield.provider.tinyagent_protocol`): same path, a
``{"model", "context", "options"}`` body, pi-ai events rebuilt into jackfield's. It
carries text, inline images, tools and thinking; a call needing more (documents,
audio, cache points, a native schema) is refused before any I/O.

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

import json
import os
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Mapping
from contextvars import ContextVar
from typing import Any

import attrs

from jackfield import hookimpl
from jackfield.errors import (
    BadRequestError,
    ConfigurationError,
    ProviderError,
    StreamError,
    UnsupportedFeatureError,
)
from jackfield.events import StreamEnd, StreamEvent, StreamStart
from jackfield.provider import (
    HTTPProvider,
    ProviderStream,
    RegisterProvider,
    proxy_protocol,
    tinyagent_protocol,
)
from jackfield.types import Capabilities, ModelTier, OutputMode, Request, Response

__all__ = ["PROTOCOLS", "ProxyProvider", "Signal"]

PROTOCOLS = ("jackfield", "tinyagent")
"""The wire protocols the client speaks (``protocol`` setting)."""

_TINYAGENT_CAPABILITIES = Capabilities(
    images=True, thinking=True, structured_output=OutputMode.PROMPT, cache_points="none"
)

Signal = Callable[[], bool]
"""Returns ``True`` when the call should stop (``threading.Event().is_set`` will do)."""

_SIGNALS: ContextVar[tuple[Signal, ...]] = ContextVar("jackfield_proxy_signals", default=())
"""The signals of the call running in this context (read by :meth:`ProxyProvider._stream`)."""


class ProxyProvider(HTTPProvider):
    """A jackfield proxy server at ``base_url`` (or ``$JACKFIELD_PROXY_URL``)."""

    name = "proxy"
    description = "Your own server speaking the jackfield proxy protocol (bearer token)"
    api_key_env = "JACKFIELD_PROXY_TOKEN"  # a required key, sent as a bearer token
    tier_models = {tier: tier.value for tier in ModelTier}
    call_options = frozenset({"signal"})  # taken out of the request: never sent
    extra_fields = frozenset({"protocol"})
    default_capabilities = Capabilities(  # the server decides, and refuses what it cannot
        images=True,
        documents=True,
        document_urls=True,
        audio=True,
        structured_output=OutputMode.NATIVE,
        thinking=True,
        cache_points="explicit",
    )

    @property
    def base_url(self) -> str | None:
        """``config.base_url``, else ``$JACKFIELD_PROXY_URL``."""
        url = self.config.base_url or os.environ.get("JACKFIELD_PROXY_URL") or ""
        return url.rstrip("/") or None

    @property
    def protocol(self) -> str:
        """The wire protocol: ``"jackfield"`` (the default) or ``"tinyagent"``."""
        return str(self.config.extra.get("protocol") or "jackfield")

    def model_capabilities(self, model: str) -> Capabilities:
        """The tinyagent protocol carries less than jackfield's (no documents, audio,
        cache points or schema): a call needing them is refused before any I/O."""
        if self.protocol == "tinyagent":
            return _TINYAGENT_CAPABILITIES
        return self.default_capabilities

    def validate_config(self) -> None:
        """An ``http(s)`` base URL is required; ``config.extra["signal"]`` must be callable;
        ``protocol`` is one of :data:`PROTOCOLS`."""
        if self.protocol not in PROTOCOLS:
            raise ConfigurationError(
                f"protocol must be one of {', '.join(PROTOCOLS)}",
                field="protocol",
                provider=self.name,
            )
        url = self.base_url
        if not url or not url.startswith(("http://", "https://")):
            raise ConfigurationError(
                "base_url is required (http:// or https://); "
                "pass base_url=... or set $JACKFIELD_PROXY_URL",
                field="base_url",
                provider=self.name,
            )
        super().validate_config()
        signal = self.config.extra.get("signal")
        if signal is not None and not callable(signal):
            raise ConfigurationError(
                "extra['signal'] must be a callable returning bool",
                field="extra",
                provider=self.name,
            )

    def payload(self, request: Request) -> dict[str, Any]:
        """The request JSON of the protocol (:func:`proxy_protocol.build_payload`)."""
        if self.protocol == "tinyagent":
            return tinyagent_protocol.build_payload(request)
        return proxy_protocol.build_payload(request)

    def error_for(self, status: int, headers: Mapping[str, str], body: bytes) -> ProviderError:
        """A protocol error body maps to its exact class; any other body, as usual."""
        if self.protocol == "tinyagent":
            return tinyagent_protocol.error_from_response(
                status, headers, body, provider=self.name, secrets=self._secrets()
            )
        return proxy_protocol.error_from_response(
            status, headers, body, provider=self.name, secrets=self._secrets()
        )

    # -- the template methods, with the signal taken out of the request -----------------

    def build_request(self, messages: Any, *, signal: Any = None, **kwargs: Any) -> Request:
        """As :meth:`Provider.build_request`; a ``signal`` keyword rides in ``extra``."""
        request = super().build_request(messages, **kwargs)
        if signal is None:
            return request
        if not callable(signal):
            raise BadRequestError("signal must be a callable returning bool", provider=self.name)
        return attrs.evolve(request, extra={**request.extra, "signal": signal})

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

    def _check_server_version(self, request: Request, headers: Mapping[str, str]) -> None:
        """A version-1 server ignores what only version 2 carries: refuse, before any
        event reaches the caller (the connection is closed), rather than let it drop."""
        feature = proxy_protocol.v2_feature(request)
        if feature is not None and proxy_protocol.server_version(headers) < 2:
            raise UnsupportedFeatureError(
                f"the proxy server speaks protocol version 1, which cannot carry "
                f"{feature}; upgrade the server to version 2 (docs/proxy-protocol.md)",
                feature=feature,
                provider=self.name,
                model=request.model,
            )

    # -- what a plugin writes -----------------------------------------------------------

    async def _generate(self, request: Request) -> Response:
        return await self._generate_by_streaming(request)  # the protocol only streams

    async def _stream(self, request: Request) -> AsyncIterator[StreamEvent]:
        signals = _SIGNALS.get()  # this call's, on every attempt (retries included)
        _check(signals)
        if self.protocol == "tinyagent":
            async for event in self._stream_tinyagent(request, signals):
                yield event
            return
        headers: dict[str, str] = {}
        sse_events = self.http.stream_sse(
            f"{self.base_url}{proxy_protocol.STREAM_PATH}",
            self.payload(request),
            headers_out=headers,
        )
        secrets = self._secrets()
        started = ended = False
        try:
            async for sse in sse_events:
                if not started:
                    self._check_server_version(request, headers)
                if sse.data == "[DONE]" or ended:
                    break
                event = proxy_protocol.decode_event(sse, provider=self.name, secrets=secrets)
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

    async def _stream_tinyagent(
        self, request: Request, signals: tuple[Signal, ...]
    ) -> AsyncIterator[StreamEvent]:
        reader = tinyagent_protocol.EventReader(self.name, request.model, self._secrets())
        sse_events = self.http.stream_sse(
            f"{self.base_url}{tinyagent_protocol.STREAM_PATH}", self.payload(request)
        )
        try:
            async for sse in sse_events:
                if sse.data == "[DONE]":
                    break
                for event in reader.feed(sse.data):
                    if not isinstance(event, StreamEnd):
                        _check(signals)
                    yield event
                if reader.done:
                    break
        finally:
            await sse_events.aclose()  # type: ignore[attr-defined]
        if not reader.done:
            raise StreamError(
                "the tinyagent stream ended before its done event (truncated?)",
                provider=self.name,
            )


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


@hookimpl
def jackfield_register_providers(register: RegisterProvider) -> None:
    """Register the proxy client."""
    register(ProxyProvider, aliases=["jackfield-proxy"])
