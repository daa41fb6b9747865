"""``anthropic``: Claude through the official ``anthropic`` SDK.

The SDK is imported when a client is first needed, never at discovery. The SDK sends
the request (auth, ``anthropic-version``, connection pooling) and jackfield reads the
raw bytes: a non-streamed body is parsed by :func:`jackfield.wire._anthropic.parse_response`,
a stream goes through `jackfield.provider.iter_sse` into
:class:`jackfield.wire._anthropic.EventParser` (the SDK's typed stream events cost 5-10x
more CPU per chunk). The SDK's own retries are off (``max_retries=0``): jackfield's
policy is the only retry layer. A call whose ``max_tokens`` may outlive a non-streamed
request is streamed internally by ``generate``.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncGenerator
from typing import TYPE_CHECKING, Any

from jackfield import ModelTier, hookimpl
from jackfield.config import ProviderConfig
from jackfield.errors import (
    APIError,
    AuthenticationError,
    ConfigurationError,
    NetworkError,
    ProviderError,
    ProviderTimeoutError,
    StreamError,
)
from jackfield.events import StreamEnd, StreamEvent
from jackfield.provider import (
    LoopLocal,
    Provider,
    StreamAssembler,
    anthropic_messages as wire,
    error_from_payload,
    error_from_response,
    json_body,
    limit_stream,
    read_limited,
)
from jackfield.types import Request, Response

if TYPE_CHECKING:
    from anthropic import AsyncAnthropic

__all__ = ["AnthropicProvider"]

_REQUIRED = ("model", "max_tokens", "messages")


class AnthropicProvider(Provider):
    """Anthropic's Messages API with ``$ANTHROPIC_API_KEY`` (sent as ``x-api-key``)."""

    name = "anthropic"
    description = "Anthropic Claude models through the official anthropic SDK"
    api_key_env = "ANTHROPIC_API_KEY"
    default_auth_method = "x-api-key"
    requires = ("anthropic",)
    extra = "anthropic"
    tokenizer = "heuristic"  # no public local tokenizer for Claude 3 and later
    tier_models = {
        ModelTier.LOCAL_SMALL: "claude-haiku-4-5",
        ModelTier.HOSTED_SMALL: "claude-sonnet-4-6",
        ModelTier.HOSTED_LARGE: "claude-opus-4-6",
    }

    def __init__(self, config: ProviderConfig | None = None, **kwargs: Any) -> None:
        super().__init__(config, **kwargs)
        self._clients: LoopLocal[AsyncAnthropic] = LoopLocal(
            self._new_client, lambda client: client.close()
        )

    @property
    def client(self) -> AsyncAnthropic:
        """The running event loop's SDK client (built on first use in each loop)."""
        return self._clients.get()

    def _new_client(self) -> AsyncAnthropic:
        import anthropic
        import httpx2

        cfg = self.config
        key = self.api_key.get_secret_value() if self.api_key else None
        method = self.auth_method
        # The key is sent as the auth method says, not as the SDK would send it (some
        # SDK releases send an API key as a bearer token): our header, theirs omitted.
        headers: dict[str, Any] = {
            "anthropic-version": cfg.api_version or wire.API_VERSION,
            **cfg.extra_headers,
        }
        api_key = auth_token = None
        if method == "bearer":
            auth_token = key
        else:
            api_key = key
            headers["Authorization"] = anthropic.Omit()
            headers["X-Api-Key"] = key if method == "x-api-key" and key else anthropic.Omit()
            if method == "api-key" and key:
                headers["api-key"] = key
        timeout = anthropic.Timeout(cfg.timeout, connect=cfg.connect_timeout)
        limits = httpx2.Limits(
            max_connections=cfg.max_connections, max_keepalive_connections=cfg.max_connections
        )
        http_client: httpx2.AsyncClient
        try:  # the SDK's aiohttp transport, as in the openai provider
            http_client = anthropic.DefaultAioHttpClient(timeout=timeout, limits=limits)
        except RuntimeError:  # an SDK build without its aiohttp adapter
            http_client = anthropic.DefaultAsyncHttpxClient(timeout=timeout, limits=limits)
        return anthropic.AsyncAnthropic(
            api_key=api_key,
            auth_token=auth_token,
            base_url=self.base_url,
            timeout=timeout,
            max_retries=0,
            default_headers=headers,
            http_client=http_client,
        )

    @staticmethod
    def _sdk_arguments(payload: dict[str, Any]) -> dict[str, Any]:
        # Only the required fields go as SDK keywords; the rest rides in extra_body, so
        # wire fields an older SDK does not know (output_config, ...) still reach the API.
        args = {k: payload[k] for k in _REQUIRED}
        rest = {k: v for k, v in payload.items() if k not in _REQUIRED and k != "stream"}
        if rest:
            args["extra_body"] = rest
        return args

    async def _generate(self, request: Request) -> Response:
        payload = wire.build_payload(request, stream=False)
        if wire.needs_streaming(payload):  # a non-streamed call might outlive its ten minutes
            events = self._stream(request)
            try:
                async for event in events:
                    if isinstance(event, StreamEnd):
                        return event.response
            finally:
                await events.aclose()
            raise StreamError("the stream ended without a response")  # pragma: no cover
        # with_streaming_response: the SDK leaves the body unread, so it is read here,
        # bounded by max_response_bytes, instead of whole into memory.
        async with self.client.messages.with_streaming_response.create(
            **self._sdk_arguments(payload)
        ) as raw:
            body = await read_limited(
                raw.iter_bytes(),
                self.config.max_response_bytes,
                content_length=raw.headers.get("content-length"),
                provider=self.name,
                status_code=raw.status_code,
            )
        data = json_body(body, status_code=raw.status_code, secrets=self._secrets())
        return wire.parse_response(
            data, provider=self.name, model=request.model, request_id=raw.headers.get("request-id")
        )

    async def _stream(self, request: Request) -> AsyncGenerator[StreamEvent, None]:
        from jackfield.provider import iter_sse

        payload = wire.build_payload(request, stream=True)
        asm = StreamAssembler(self.name, request.model)
        parser = wire.EventParser(asm, secrets=self._secrets())
        async with self.client.messages.with_streaming_response.create(
            **self._sdk_arguments(payload), stream=True
        ) as response:
            asm.request_id = response.headers.get("request-id")
            limit = self.config.max_response_bytes
            body = limit_stream(response.iter_bytes(), limit, provider=self.name)
            events = iter_sse(body, max_event_bytes=limit)
            try:
                async for sse in events:
                    for event in parser.feed(sse.event, sse.data):
                        yield event
                    if parser.done:
                        break
            finally:
                await events.aclose()  # type: ignore[attr-defined]
        for event in parser.close():
            yield event

    def map_exception(self, exc: BaseException) -> ProviderError | None:
        """Map every exception class the anthropic SDK exports, and its HTTP client's."""
        anthropic = sys.modules.get("anthropic")
        if anthropic is not None and isinstance(exc, anthropic.AnthropicError):
            return self._map_sdk_error(exc, anthropic)
        for name in ("httpx2", "httpx"):  # raised while the raw stream is read
            httpx = sys.modules.get(name)
            if httpx is not None:
                mapped = _map_httpx_error(exc, httpx)
                if mapped is not None:
                    return mapped
        return None

    def _map_sdk_error(self, exc: Any, anthropic: Any) -> ProviderError:
        secrets = self._secrets()
        if isinstance(exc, anthropic.APIStatusError):
            body = exc.body if exc.body is not None else exc.message
            if exc.status_code < 300:  # an ``error`` event inside a 200 stream
                payload = body if isinstance(body, dict) else {"error": {"message": str(body)}}
                err = error_from_payload(payload, provider=self.name, secrets=secrets)
                err.request_id = err.request_id or exc.request_id
                return err
            return error_from_response(
                exc.status_code, exc.response.headers, body, provider=self.name, secrets=secrets
            )
        if isinstance(exc, anthropic.APITimeoutError):
            return ProviderTimeoutError(f"request timed out: {exc.message}", secrets=secrets)
        if isinstance(exc, anthropic.APIConnectionError):
            cause = exc.__cause__ or exc.__context__
            detail = f" ({type(cause).__name__}: {cause})" if cause else ""
            return NetworkError(f"connection failed: {exc.message}{detail}", secrets=secrets)
        if isinstance(exc, anthropic.APIResponseValidationError):
            return APIError(
                f"invalid response: {exc.message}",
                status_code=exc.status_code,
                body=exc.body,
                secrets=secrets,
            )
        if isinstance(exc, anthropic.CredentialsError):
            return AuthenticationError(f"credentials: {exc}", secrets=secrets)
        retryable = isinstance(exc, getattr(anthropic, "RetryableError", ()))
        return APIError(f"{type(exc).__name__}: {exc}", retryable=retryable, secrets=secrets)

    async def aclose(self) -> None:
        """Close this loop's SDK client; other loops' clients close when their loop ends."""
        await self._clients.aclose()

    def close_nowait(self) -> None:
        """Close every loop's SDK client without awaiting."""
        self._clients.close_nowait()


def _map_httpx_error(exc: BaseException, httpx: Any) -> ProviderError | None:
    """The error for one of httpx's (or httpx2's) exceptions, else ``None``."""
    text = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, httpx.TimeoutException):
        return ProviderTimeoutError(f"request timed out: {text}")
    if isinstance(exc, httpx.TransportError):
        return NetworkError(f"connection failed: {text}")
    if isinstance(exc, httpx.DecodingError | httpx.StreamError):
        return StreamError(f"could not read the response: {text}")
    if isinstance(exc, httpx.HTTPStatusError):
        response = exc.response
        return error_from_response(response.status_code, response.headers, None)
    if isinstance(exc, httpx.InvalidURL):
        return ConfigurationError(f"invalid URL: {exc}", field="base_url")
    if isinstance(exc, httpx.HTTPError | httpx.CookieConflict):
        return APIError(text)
    return None


@hookimpl
def jackfield_register_providers(register: Any) -> None:
    """Register the anthropic provider."""
    register(AnthropicProvider)
