"""``anthropic``: Claude through the official ``anthropic`` SDK.

The SDK is imported when a client is first needed, never at discovery. The SDK sends
the request (auth, ``anthropic-version``, connection pooling) and jackfield reads the
raw bytes: a non-streamed body is parsed by :func:`jackfield.wire._anthropic.parse_response`,
a stream goes through `jackfield.provider.iter_sse` into
:class:`jackfield.wire._anthropic.EventParser` (the SDK's typed stream events cost 5-10x
more CPU per chunk). The SDK's own retries are off (``max_retries=0``): jackfield's
policy is the only retry layer. A call whose ``max_tokens`` may outlive a non-streamed
request is streamed internally by ``generate``.

What every SDK provider shares comes from `jackfield.provider.SDKProvider`: one client per
event loop, the SDK's aiohttp transport, bounded reading of bodies and streams, and the
one table for the transport's exceptions (aiohttp's, httpx2's). This module keeps what
is Anthropic's: the client and its auth headers, the ``create()`` arguments and the
mapping of the SDK's own exception classes.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import AsyncGenerator
from typing import TYPE_CHECKING, Any

import attrs

from jackfield import ModelTier, hookimpl
from jackfield.errors import APIError, AuthenticationError, ProviderError
from jackfield.events import StreamEvent
from jackfield.provider import (
    RegisterProvider,
    SDKProvider,
    StreamAssembler,
    anthropic_messages as wire,
)
from jackfield.types import Capabilities, OutputMode, Request, Response

if TYPE_CHECKING:
    from anthropic import AsyncAnthropic

__all__ = ["AnthropicProvider"]

_REQUIRED = ("model", "max_tokens", "messages")


class AnthropicProvider(SDKProvider["AsyncAnthropic"]):
    """Anthropic's Messages API with ``$ANTHROPIC_API_KEY`` (sent as ``x-api-key``)."""

    name = "anthropic"
    description = "Anthropic Claude models through the official anthropic SDK"
    api_key_env = "ANTHROPIC_API_KEY"
    default_auth_method = "x-api-key"
    requires = ("anthropic",)
    extra = "anthropic"
    tokenizer = "heuristic"  # no public local tokenizer for Claude 3 and later
    call_options = wire.CALL_OPTIONS
    default_capabilities = Capabilities(
        images=True,
        documents=True,
        document_urls=True,
        structured_output=OutputMode.TOOL,
        thinking=True,
        cache_points="explicit",
        max_cache_points=4,
    )
    """Tool mode for structured output unless the model family has it natively (see
    :meth:`model_capabilities`)."""
    tier_models = {
        ModelTier.LOCAL_SMALL: "claude-haiku-4-5",
        ModelTier.HOSTED_SMALL: "claude-sonnet-4-6",
        ModelTier.HOSTED_LARGE: "claude-opus-4-6",
    }

    def model_capabilities(self, model: str) -> Capabilities:
        """Claude 4.5 and later enforce a schema natively (``output_config.format``);
        older families get structured output by a forced tool call."""
        caps = self.default_capabilities
        if wire.has_structured_output(model):
            return attrs.evolve(caps, structured_output=OutputMode.NATIVE)
        return caps

    def _new_client(self) -> AsyncAnthropic:
        import anthropic

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
        # No pool timeout: a wait for a free connection is bounded by the call's deadline.
        timeout = anthropic.Timeout(cfg.timeout, connect=cfg.connect_timeout, pool=None)
        return anthropic.AsyncAnthropic(
            api_key=api_key,
            auth_token=auth_token,
            base_url=self.base_url,
            timeout=timeout,
            max_retries=0,
            default_headers=headers,
            http_client=self._sdk_http_client(anthropic, timeout),
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
            return await self._generate_by_streaming(request)
        # with_streaming_response: the SDK leaves the body unread, so it is read here,
        # bounded by max_response_bytes, instead of whole into memory.
        async with self.client.messages.with_streaming_response.create(
            **self._sdk_arguments(payload)
        ) as raw:
            data = await self._read_body(raw.iter_bytes(), raw.headers, raw.status_code)
        return wire.parse_response(
            data, provider=self.name, model=request.model, request_id=raw.headers.get("request-id")
        )

    async def _stream(self, request: Request) -> AsyncGenerator[StreamEvent, None]:
        payload = wire.build_payload(request, stream=True)
        asm = StreamAssembler(self.name, request.model)
        parser = wire.EventParser(asm, secrets=self._secrets())
        async with self.client.messages.with_streaming_response.create(
            **self._sdk_arguments(payload), stream=True
        ) as response:
            asm.request_id = response.headers.get("request-id")
            body = self._sse(response.iter_bytes(), response.headers.get("content-type"))
            async with contextlib.aclosing(body) as events:
                async for sse in events:
                    for event in parser.feed(sse.event, sse.data):
                        yield event
                    if parser.done:
                        break
        for event in parser.close():
            yield event

    def map_exception(self, exc: BaseException) -> ProviderError | None:
        """Map every exception class the anthropic SDK exports; its HTTP client's go
        through the shared table (`SDKProvider.map_exception`)."""
        anthropic = sys.modules.get("anthropic")
        if anthropic is not None and isinstance(exc, anthropic.AnthropicError):
            return self._map_sdk_error(exc, anthropic)
        return super().map_exception(exc)

    def _map_sdk_error(self, exc: Any, anthropic: Any) -> ProviderError:
        mapped = self._map_api_error(exc, anthropic)
        if mapped is not None:
            return mapped
        secrets = self._secrets()
        if isinstance(exc, anthropic.CredentialsError):
            return AuthenticationError(f"credentials: {exc}", secrets=secrets)
        retryable = isinstance(exc, getattr(anthropic, "RetryableError", ()))
        return APIError(f"{type(exc).__name__}: {exc}", retryable=retryable, secrets=secrets)


@hookimpl
def jackfield_register_providers(register: RegisterProvider) -> None:
    """Register the anthropic provider."""
    register(AnthropicProvider)
