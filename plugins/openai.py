"""The ``openai`` provider: OpenAI Chat Completions through the official ``openai`` SDK.

The SDK does what it is good at: auth, organization/project headers, request building,
timeouts and typed errors. jackfield does the rest, once for every provider: the request
body comes from `jackfield.provider.openai_chat.build_payload`, answers are parsed from the
raw bytes by `jackfield.provider.openai_chat` (the SDK's pydantic models cost about 16x the
CPU of the parse per streamed chunk), streams go through `jackfield.provider.iter_sse`,
and the SDK's own retries are off (``max_retries=0``): jackfield's retry policy is the
one retry layer. The SDK client uses the SDK's own aiohttp transport
(``openai.DefaultAioHttpClient``), which reads a stream at raw-aiohttp cost.

The SDK is imported when the first client is built, never at discovery. The client is
bound to one event loop, so there is one per loop (`jackfield.provider.LoopLocal`).
"""

from __future__ import annotations

import contextlib
import functools
import sys
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from typing import TYPE_CHECKING, Any, cast

from jackfield import hookimpl
from jackfield.config import ProviderConfig
from jackfield.errors import (
    APIError,
    AuthenticationError,
    ConfigurationError,
    ContentFilterError,
    NetworkError,
    ProviderError,
    ProviderTimeoutError,
    StreamError,
)
from jackfield.events import StreamEvent
from jackfield.provider import (
    LoopLocal,
    Provider,
    SSEEvent,
    StreamAssembler,
    error_from_payload,
    error_from_response,
    iter_sse,
    json_body,
    limit_stream,
    openai_chat as wire,
    read_limited,
    request_id_from,
)
from jackfield.types import ModelTier, Request, Response

if TYPE_CHECKING:
    from openai import AsyncOpenAI

__all__ = ["OpenAIProvider"]


class OpenAIProvider(Provider):
    """OpenAI Chat Completions via ``openai.AsyncOpenAI`` (key from ``$OPENAI_API_KEY``)."""

    name = "openai"
    description = "OpenAI Chat Completions through the official openai SDK"
    tier_models = {
        ModelTier.LOCAL_SMALL: "gpt-5.4-nano",
        ModelTier.HOSTED_SMALL: "gpt-5.4-mini",
        ModelTier.HOSTED_LARGE: "gpt-5.5",
    }
    default_base_url = "https://api.openai.com/v1"
    api_key_env = "OPENAI_API_KEY"
    requires = ("openai",)
    extra = "openai"
    tokenizer = "tiktoken"

    def __init__(self, config: ProviderConfig | None = None, **kwargs: Any) -> None:
        super().__init__(config, **kwargs)
        self._clients: LoopLocal[AsyncOpenAI] = LoopLocal(self._new_client, _close_client)

    def validate_config(self) -> None:
        """The SDK sends the key as a bearer token; other auth methods are refused."""
        super().validate_config()
        if self.auth_method != "bearer":
            raise ConfigurationError(
                f"openai: auth_method {self.auth_method!r} is not supported (the SDK sends "
                "a bearer token); use the openai_compat provider for other schemes",
                field="auth_method",
                provider=self.name,
            )

    def _new_client(self) -> AsyncOpenAI:
        import httpx2
        import openai

        cfg = self.config
        key = self.api_key
        timeout = openai.Timeout(
            cfg.timeout, connect=cfg.timeout if cfg.connect_timeout is None else cfg.connect_timeout
        )
        limits = httpx2.Limits(
            max_connections=cfg.max_connections, max_keepalive_connections=cfg.max_connections
        )
        http_client: httpx2.AsyncClient
        try:
            # The SDK's own aiohttp transport (aiohttp is a jackfield dependency): a streamed
            # chunk costs about what raw aiohttp costs; httpx2's pure-Python HTTP/1.1
            # parser costs twice that.
            http_client = openai.DefaultAioHttpClient(timeout=timeout, limits=limits)
        except RuntimeError:  # an SDK build without its aiohttp adapter
            http_client = openai.DefaultAsyncHttpxClient(timeout=timeout, limits=limits)
        return openai.AsyncOpenAI(
            api_key=key.get_secret_value() if key else None,
            base_url=self.base_url,
            organization=cfg.organization,
            project=cfg.project,
            timeout=timeout,
            max_retries=0,  # jackfield's RetryPolicy is the only retry layer
            default_headers=cfg.extra_headers or None,
            http_client=http_client,
        )

    @property
    def client(self) -> AsyncOpenAI:
        """The SDK client of the running event loop (built on first use in that loop)."""
        return self._clients.get()

    async def _generate(self, request: Request) -> Response:
        # with_streaming_response: the SDK leaves the body unread, so it is read here,
        # bounded by max_response_bytes, instead of whole into memory.
        create = self.client.chat.completions.with_streaming_response.create
        async with create(**_sdk_arguments(wire.build_payload(request, stream=False))) as raw:
            http = raw.http_response
            body = await read_limited(
                http.aiter_bytes(),
                self.config.max_response_bytes,
                content_length=http.headers.get("content-length"),
                provider=self.name,
                status_code=http.status_code,
            )
        data = json_body(body, status_code=http.status_code, secrets=self._secrets())
        return wire.parse_response(
            data, provider=self.name, model=request.model, request_id=request_id_from(http.headers)
        )

    async def _stream(self, request: Request) -> AsyncIterator[StreamEvent]:
        asm = StreamAssembler(self.name, request.model)
        parser = wire.ChunkParser(asm)
        create = self.client.chat.completions.with_streaming_response.create
        async with create(**_sdk_arguments(wire.build_payload(request, stream=True))) as response:
            http = response.http_response
            asm.request_id = request_id_from(http.headers)
            # The raw bytes: the SDK's typed chunks are never built. Uncompressed (the usual
            # case) they skip httpx's decoder chain too.
            encoding = http.headers.get("content-encoding", "identity").strip().lower()
            body = http.aiter_raw() if encoding in ("identity", "") else http.aiter_bytes()
            limit = self.config.max_response_bytes
            events = cast(
                "AsyncGenerator[SSEEvent, None]",
                iter_sse(limit_stream(body, limit, provider=self.name), max_event_bytes=limit),
            )
            async with contextlib.aclosing(events):
                async for sse in events:
                    for event in parser.feed(sse.data):
                        yield event
                    if parser.done:
                        return
        for event in parser.close():  # no [DONE]: accepted only after a finish reason
            yield event

    def map_exception(self, exc: BaseException) -> ProviderError | None:
        """The :class:`ProviderError` for an ``openai`` SDK exception, or for a transport
        error (aiohttp, httpx2) that escapes while the raw stream is read."""
        if "openai" not in sys.modules:
            return None  # the SDK was never used: nothing of ours can have failed
        import openai

        secrets = self._secrets()
        name = type(exc).__name__
        if isinstance(exc, openai.APIStatusError):
            return error_from_response(
                exc.status_code, exc.response.headers, _body(exc), secrets=secrets
            )
        if isinstance(exc, openai.APIConnectionError):  # APITimeoutError too
            # The SDK's aiohttp adapter reports a reset connection as ConnectTimeout:
            # the transport's own exception, further down the chain, says what happened.
            found = _transport_error(exc.__cause__)
            if found is not None:
                return found
            if isinstance(exc, openai.APITimeoutError):
                return ProviderTimeoutError(f"request timed out ({exc.message})")
            return NetworkError(f"connection failed ({exc.message})")
        if isinstance(exc, openai.APIResponseValidationError):
            return APIError(
                f"the response did not match the SDK's schema: {exc.message}",
                status_code=exc.status_code,
                body=exc.body,
                secrets=secrets,
            )
        if isinstance(exc, openai.APIError):  # the SDK's own stream reader met an error chunk
            if isinstance(exc.body, Mapping):
                return error_from_payload(exc.body, secrets=secrets)
            return StreamError(f"error in stream: {exc.message}", secrets=secrets)
        if isinstance(exc, openai.ContentFilterFinishReasonError):
            return ContentFilterError(str(exc))
        if isinstance(exc, openai.LengthFinishReasonError):
            return APIError(str(exc))
        if isinstance(exc, openai.WebSocketConnectionClosedError | openai.WebSocketQueueFullError):
            return NetworkError(f"websocket failed ({name}: {exc})")
        if isinstance(exc, openai.InvalidWebhookSignatureError):
            return AuthenticationError(f"invalid webhook signature: {exc}")
        if isinstance(exc, openai.OpenAIError):  # client set-up: credentials, endpoints
            return ConfigurationError(f"openai SDK: {exc}", secrets=secrets)
        return _transport_error(exc)

    async def aclose(self) -> None:
        """Close this event loop's SDK client (others close when their loops end)."""
        await self._clients.aclose()

    def close_nowait(self) -> None:
        """Close every loop's SDK client without awaiting."""
        self._clients.close_nowait()


async def _close_client(client: AsyncOpenAI) -> None:
    await client.close()


@functools.cache
def _create_parameters() -> frozenset[str]:
    """The body fields ``chat.completions.create`` takes as keyword arguments."""
    import inspect

    from openai.resources.chat.completions import AsyncCompletions

    params = inspect.signature(AsyncCompletions.create).parameters
    return frozenset(params) - {"self", "extra_headers", "extra_query", "extra_body", "timeout"}


def _sdk_arguments(payload: dict[str, Any]) -> dict[str, Any]:
    """``create()`` keyword arguments for ``payload``; unknown fields go in ``extra_body``."""
    known = _create_parameters()
    kwargs: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for key, value in payload.items():
        (kwargs if key in known else extra)[key] = value
    if extra:
        kwargs["extra_body"] = extra
    return kwargs


def _transport_error(exc: BaseException | None) -> ProviderError | None:
    """The error for the first aiohttp or httpx2 exception in ``exc``'s ``__cause__`` chain
    (the adapter wraps aiohttp's exceptions in httpx2's, the SDK wraps those)."""
    import httpx2

    aiohttp_loaded = "aiohttp" in sys.modules
    first_httpx: httpx2.HTTPError | httpx2.StreamError | None = None
    depth = 0
    while exc is not None and depth < 10:
        if aiohttp_loaded and type(exc).__module__.startswith("aiohttp"):
            from jackfield.transport._aiohttp_errors import error_from_aiohttp

            mapped = error_from_aiohttp(exc)
            if mapped is not None:
                return mapped
        if first_httpx is None and isinstance(exc, httpx2.HTTPError | httpx2.StreamError):
            first_httpx = exc
        exc, depth = exc.__cause__, depth + 1
    if first_httpx is None:
        return None
    name = type(first_httpx).__name__
    if isinstance(first_httpx, httpx2.TimeoutException):
        return ProviderTimeoutError(f"read timed out ({name})")
    if isinstance(first_httpx, httpx2.RemoteProtocolError | httpx2.DecodingError):
        return StreamError(f"the response was cut off or garbled ({name}: {first_httpx})")
    if isinstance(first_httpx, httpx2.StreamError):
        return StreamError(f"the response stream is unusable ({name}: {first_httpx})")
    if isinstance(first_httpx, httpx2.HTTPStatusError):
        response = first_httpx.response
        return error_from_response(response.status_code, response.headers, None)
    if isinstance(first_httpx, httpx2.UnsupportedProtocol):
        return ConfigurationError(f"invalid base_url ({name}: {first_httpx})", field="base_url")
    return NetworkError(f"connection failed ({name}: {first_httpx})")


def _body(exc: Any) -> bytes | str | Mapping[str, Any] | None:
    """The raw body of an ``APIStatusError`` (its parsed ``body`` when unread)."""
    try:
        content = exc.response.content
    except Exception:  # httpx2.ResponseNotRead: the body was never read
        content = None
    if isinstance(content, bytes) and content:
        return content
    body = exc.body
    return body if isinstance(body, bytes | str | Mapping) else None


@hookimpl
def jackfield_register_providers(register: Any) -> None:
    """Register the ``openai`` provider."""
    register(OpenAIProvider)
