"""The ``openai`` provider: OpenAI Chat Completions and the Responses API through the
official ``openai`` SDK.

The SDK does what it is good at: auth, organization/project headers, request building,
timeouts and typed errors. jackfield does the rest, once for every provider: the request
body comes from `jackfield.provider.openai_chat.build_payload` (or
`jackfield.provider.openai_responses.build_payload`), answers are parsed from the raw
bytes by the same wire modules (the SDK's pydantic models cost about 16x the CPU of the
parse per streamed chunk), and the SDK's own retries are off (``max_retries=0``):
jackfield's retry policy is the one retry layer.

Which API a call uses is the config's ``api`` option (``extra={"api": ...}``, or
``api=...`` in a profile or ``create_provider``): ``"chat"``, ``"responses"`` or
``"auto"`` (the default: the reasoning models, o-series and GPT-5 but its ``-chat``
snapshots, on Responses, where their reasoning round-trips; every other model on Chat
Completions).

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
from typing import TYPE_CHECKING, Any, Literal

import attrs

from jackfield import hookimpl
from jackfield.config import ProviderConfig
from jackfield.errors import (
    APIError,
    AuthenticationError,
    ConfigurationError,
    ContentFilterError,
    NetworkError,
    ProviderError,
    StreamError,
    UnsupportedFeatureError,
)
from jackfield.events import StreamEvent
from jackfield.provider import (
    RegisterProvider,
    SDKProvider,
    StreamAssembler,
    error_from_payload,
    openai_chat as wire,
    openai_model_capabilities,
    openai_responses as responses_wire,
    request_id_from,
)
from jackfield.types import Capabilities, ModelTier, OutputMode, Request, Response

if TYPE_CHECKING:
    from openai import AsyncOpenAI

__all__ = ["API_CHOICES", "OpenAIProvider"]

API_CHOICES = ("auto", "chat", "responses")
"""The values of the ``api`` option."""

_RESPONSES_ONLY = responses_wire.CALL_OPTIONS - wire.CALL_OPTIONS


class OpenAIProvider(SDKProvider["AsyncOpenAI"]):
    """OpenAI Chat Completions or the Responses API via ``openai.AsyncOpenAI`` (key from
    ``$OPENAI_API_KEY``); ``extra={"api": "chat" | "responses" | "auto"}`` chooses."""

    name = "openai"
    description = "OpenAI Chat Completions and Responses through the official openai SDK"
    tier_models = {
        ModelTier.LOCAL_SMALL: "gpt-5.4-nano",
        ModelTier.HOSTED_SMALL: "gpt-5.4-mini",
        ModelTier.HOSTED_LARGE: "gpt-5.5",
    }
    default_base_url = "https://api.openai.com/v1"
    api_key_env = "OPENAI_API_KEY"
    requires = ("openai",)
    call_options = wire.CALL_OPTIONS | responses_wire.CALL_OPTIONS
    extra_fields = frozenset({"api"})
    extra = "openai"
    tokenizer = "tiktoken"
    default_capabilities = Capabilities(
        images=True,
        documents=True,
        structured_output=OutputMode.NATIVE,
        thinking=True,
    )
    """For a model no family in ``OPENAI_FAMILIES`` matches (a newer model)."""

    def __init__(self, config: ProviderConfig | None = None, **kwargs: Any) -> None:
        """As :class:`~jackfield.provider.Provider`, and ``api=`` (``"chat"``,
        ``"responses"`` or ``"auto"``) as a keyword: it is kept in ``config.extra``."""
        if "api" in kwargs:
            api = kwargs.pop("api")
            base = config if config is not None else ProviderConfig()
            extra = {**base.extra, **kwargs.pop("extra", {}), "api": api}
            config = base.evolve(extra=extra)
        super().__init__(config, **kwargs)

    def api_for(self, model: str) -> Literal["chat", "responses"]:
        """The API a call to ``model`` uses: the config's ``api``, or with ``"auto"`` (the
        default) Responses for the reasoning models and Chat Completions for the rest."""
        api = self.config.extra.get("api") or "auto"
        if api == "auto":
            return "responses" if wire.is_reasoning_model(model) else "chat"
        return "responses" if api == "responses" else "chat"

    def model_capabilities(self, model: str) -> Capabilities:
        """By model family: audio input on the audio models only, images and PDFs on the
        vision models, thinking on the reasoning models (o-series, GPT-5). On the
        Responses API no audio input, and PDFs by URL too."""
        caps = openai_model_capabilities(model, self.default_capabilities)
        if self.api_for(model) == "responses":
            caps = attrs.evolve(caps, audio=False, document_urls=caps.documents)
        return caps

    def build_request(self, messages: Any, **kwargs: Any) -> Request:
        """:meth:`Provider.build_request`, then what one API cannot carry is refused
        before any I/O: ``stop`` and the Chat-only options on Responses, the
        Responses-only options on Chat Completions."""
        request = super().build_request(messages, **kwargs)
        if self.api_for(request.model) == "responses":
            responses_wire.check_request(request, self.name)
        else:
            other = sorted(_RESPONSES_ONLY.intersection(request.extra))
            if other:
                raise UnsupportedFeatureError(
                    f"Chat Completions has no {', '.join(other)}; use api='responses'",
                    feature=other[0],
                    provider=self.name,
                    model=request.model,
                )
        return request

    def validate_config(self) -> None:
        """``api`` is one of :data:`API_CHOICES`; the SDK sends the key as a bearer
        token, other auth methods are refused."""
        api = self.config.extra.get("api")
        if api is not None and api not in API_CHOICES:
            raise ConfigurationError(
                f"api {api!r} is not one of {', '.join(API_CHOICES)}",
                field="api",
                provider=self.name,
            )
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
        if self.api_for(request.model) == "responses":
            return await self._generate_responses(request)
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
        if self.api_for(request.model) == "responses":
            async for event in self._stream_responses(request):
                yield event
            return
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

    async def _generate_responses(self, request: Request) -> Response:
        payload = responses_wire.build_payload(request, stream=False)
        create = self.client.responses.with_streaming_response.create
        async with create(**_sdk_arguments(payload, "responses")) as raw:
            http = raw.http_response
            data = await self._read_body(http.aiter_bytes(), http.headers, http.status_code)
        return responses_wire.parse_response(
            data,
            provider=self.name,
            model=request.model,
            request_id=request_id_from(http.headers),
            secrets=self._secrets(),
        )

    async def _stream_responses(self, request: Request) -> AsyncIterator[StreamEvent]:
        asm = StreamAssembler(self.name, request.model)
        parser = responses_wire.EventParser(asm, secrets=self._secrets())
        payload = responses_wire.build_payload(request, stream=True)
        create = self.client.responses.with_streaming_response.create
        async with create(**_sdk_arguments(payload, "responses")) as response:
            http = response.http_response
            asm.request_id = request_id_from(http.headers)
            encoding = http.headers.get("content-encoding", "identity").strip().lower()
            body = http.aiter_raw() if encoding in ("identity", "") else http.aiter_bytes()
            content_type = http.headers.get("content-type")
            async with contextlib.aclosing(self._sse(body, content_type)) as events:
                async for sse in events:
                    for event in parser.feed(sse.data):
                        yield event
                    if parser.done:
                        return
        for event in parser.close():  # raises: the stream ended before its terminal event
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
def _create_parameters(api: str) -> frozenset[str]:
    """The body fields ``chat.completions.create`` (``api="chat"``) or
    ``responses.create`` takes as keyword arguments."""
    import inspect

    if api == "responses":
        from openai.resources.responses import AsyncResponses

        params = inspect.signature(AsyncResponses.create).parameters
    else:
        from openai.resources.chat.completions import AsyncCompletions

        params = inspect.signature(AsyncCompletions.create).parameters
    return frozenset(params) - {"self", "extra_headers", "extra_query", "extra_body", "timeout"}


def _sdk_arguments(payload: dict[str, Any], api: str = "chat") -> dict[str, Any]:
    """``create()`` keyword arguments for ``payload``; unknown fields go in ``extra_body``."""
    known = _create_parameters(api)
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
