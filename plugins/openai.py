"""The ``openai`` provider: OpenAI Chat Completions through the official ``openai`` SDK.

The SDK does what it is good at: auth, organization/project headers, request building,
timeouts and typed errors. jackfield does the rest, once for every provider: the request
body comes from `jackfield.provider.openai_chat.build_payload`, answers are parsed from the
raw bytes by `jackfield.provider.openai_chat` (the SDK's pydantic models cost about 16x the
CPU of the parse per streamed chunk), and the SDK's own retries are off
(``max_retries=0``): jackfield's retry policy is the one retry layer.

What every SDK provider shares comes from `jackfield.provider.SDKProvider`: one client per
event loop, the SDK's own aiohttp transport (``openai.DefaultAioHttpClient``, which reads
a stream at raw-aiohttp cost), bounded reading of bodies and streams, and the one table
for the transport's exceptions. This module keeps what is OpenAI's: the client, the
``create()`` arguments and the mapping of the SDK's own exception classes.

The SDK is imported when the first client is built, never at discovery.
"""

from __future__ import annotations

import contextlib
import functools
import sys
from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING, Any

from jackfield import hookimpl
from jackfield.errors import (
    APIError,
    AuthenticationError,
    ConfigurationError,
    ContentFilterError,
    NetworkError,
    ProviderError,
    StreamError,
)
from jackfield.events import StreamEvent
from jackfield.provider import (
    RegisterProvider,
    SDKProvider,
    StreamAssembler,
    error_from_payload,
    openai_chat as wire,
    openai_model_capabilities,
    request_id_from,
)
from jackfield.types import Capabilities, ModelTier, OutputMode, Request, Response

if TYPE_CHECKING:
    from openai import AsyncOpenAI

__all__ = ["OpenAIProvider"]


class OpenAIProvider(SDKProvider["AsyncOpenAI"]):
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
    call_options = wire.CALL_OPTIONS
    extra = "openai"
    tokenizer = "tiktoken"
    default_capabilities = Capabilities(
        images=True,
        documents=True,
        structured_output=OutputMode.NATIVE,
        thinking=True,
    )
    """For a model no family in ``OPENAI_FAMILIES`` matches (a newer model)."""

    def model_capabilities(self, model: str) -> Capabilities:
        """By model family: audio input on the audio models only, images and PDFs on the
        vision models, thinking on the reasoning models (o-series, GPT-5)."""
        return openai_model_capabilities(model, self.default_capabilities)

    def validate_config(self) -> None:
        """The SDK sends the key as a bearer token; other auth methods are refused."""
        super().validate_config()
        if self.auth_method != "bearer":
            raise ConfigurationError(
                f"auth_method {self.auth_method!r} is not supported (the SDK sends "
                "a bearer token); use the openai_compat provider for other schemes",
                field="auth_method",
                provider=self.name,
            )

    def _new_client(self) -> AsyncOpenAI:
        import openai

        cfg = self.config
        key = self.api_key
        # No pool timeout: a wait for a free connection is bounded by the call's deadline.
        timeout = openai.Timeout(
            cfg.timeout,
            connect=cfg.timeout if cfg.connect_timeout is None else cfg.connect_timeout,
            pool=None,
        )
        return openai.AsyncOpenAI(
            api_key=key.get_secret_value() if key else None,
            base_url=self.base_url,
            organization=cfg.organization,
            project=cfg.project,
            timeout=timeout,
            max_retries=0,  # jackfield's RetryPolicy is the only retry layer
            default_headers=cfg.extra_headers or None,
            http_client=self._sdk_http_client(openai, timeout),
        )

    async def _generate(self, request: Request) -> Response:
        # with_streaming_response: the SDK leaves the body unread, so it is read here,
        # bounded by max_response_bytes, instead of whole into memory.
        create = self.client.chat.completions.with_streaming_response.create
        async with create(**_sdk_arguments(wire.build_payload(request, stream=False))) as raw:
            http = raw.http_response
            data = await self._read_body(http.aiter_bytes(), http.headers, http.status_code)
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
            content_type = http.headers.get("content-type")
            async with contextlib.aclosing(self._sse(body, content_type)) as events:
                async for sse in events:
                    for event in parser.feed(sse.data):
                        yield event
                    if parser.done:
                        return
        for event in parser.close():  # no [DONE]: accepted only after a finish reason
            yield event

    def map_exception(self, exc: BaseException) -> ProviderError | None:
        """The :class:`ProviderError` for an ``openai`` SDK exception; a transport error
        (aiohttp, httpx2) that escapes while the raw stream is read goes through the
        shared table (`SDKProvider.map_exception`)."""
        openai = sys.modules.get("openai")
        if openai is None:  # the SDK was never used: no SDK exception can exist
            return super().map_exception(exc)
        mapped = self._map_api_error(exc, openai)
        if mapped is not None:
            return mapped
        secrets = self._secrets()
        name = type(exc).__name__
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
        return super().map_exception(exc)


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


@hookimpl
def jackfield_register_providers(register: RegisterProvider) -> None:
    """Register the ``openai`` provider."""
    register(OpenAIProvider)
