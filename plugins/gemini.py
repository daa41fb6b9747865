"""``gemini``: Google Gemini through the official ``google-genai`` SDK (Gemini API or
Vertex AI).

The SDK is imported when a client is first needed, never at discovery. It does what it
is good at: the endpoint and resource names (Gemini API, Vertex AI express mode with a
key, Vertex AI with a project and an access token), the auth headers (the key goes in
``x-goog-api-key``, never in the URL) and token handling. jackfield builds the body
(`jackfield.provider.gemini.build_payload`) and reads the raw bytes: the SDK's typed
``generate_content`` would rebuild the body through its pydantic models and parse every
chunk into them, so the request goes through the SDK's client one level down
(``BaseApiClient._build_request`` and ``_async_request``, which hand back the unread
HTTP response), and jackfield's SSE decoder and
`jackfield.provider.gemini.ChunkParser` read the stream. Retries are off in the SDK
(``HttpRetryOptions(attempts=1)``): jackfield's policy is the only retry layer.

The SDK takes an httpx client but has no aiohttp adapter to hand it (its own aiohttp
path retries connection errors by itself, after a sleep of one to ten seconds), so it
is given plain httpx2 clients (`SDKProvider._httpx_clients`): bounded error bodies,
resends on a stale pooled connection, the config's connection limit.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import AsyncGenerator, Mapping
from typing import Any

from jackfield import ModelTier, hookimpl
from jackfield.errors import AuthenticationError, ConfigurationError, ProviderError
from jackfield.events import StreamEvent
from jackfield.provider import (
    RegisterProvider,
    SDKProvider,
    StreamAssembler,
    error_from_response,
    gemini as wire,
)
from jackfield.types import Capabilities, OutputMode, Request, Response

__all__ = ["GeminiProvider"]


class _GeminiClient:
    """One event loop's SDK client and the httpx2 clients it sends through."""

    __slots__ = ("api", "http", "sdk", "sync_http")

    def __init__(self, sdk: Any, http: Any, sync_http: Any) -> None:
        self.sdk = sdk
        self.api = sdk._api_client
        self.http = http
        self.sync_http = sync_http

    async def close(self) -> None:
        """Close the SDK client, then the httpx2 clients (the SDK leaves clients it was
        given open)."""
        try:
            await self.api.aclose()
        finally:
            await self.http.aclose()
            self.sync_http.close()


class GeminiProvider(SDKProvider[_GeminiClient]):
    """Gemini's ``generateContent`` with ``$GEMINI_API_KEY`` (sent as ``x-goog-api-key``).

    Vertex AI: ``extra={"vertexai": True}`` with the key (express mode), or with
    ``project=...``, ``extra={"location": ...}`` and an OAuth access token as the key
    (``auth_method="bearer"``) or application default credentials
    (``auth_method="none"``).
    """

    name = "gemini"
    description = "Google Gemini through the official google-genai SDK (Gemini API, Vertex AI)"
    api_key_env = "GEMINI_API_KEY"
    default_auth_method = "x-api-key"
    requires = ("google.genai",)
    extra = "gemini"
    tokenizer = "heuristic"  # no local Gemini tokenizer without sentencepiece
    call_options = wire.CALL_OPTIONS
    default_capabilities = Capabilities(
        images=True,
        documents=True,
        document_urls=True,
        audio=True,
        structured_output=OutputMode.NATIVE,
        thinking=True,
        cache_points="automatic",
        context_window=1_048_576,
    )
    tier_models = {
        ModelTier.LOCAL_SMALL: "gemini-3.5-flash-lite",
        ModelTier.HOSTED_SMALL: "gemini-3.8-flash",
        ModelTier.HOSTED_LARGE: "gemini-3.1-pro-preview",
    }

    @property
    def vertex(self) -> bool:
        """Whether the provider calls Vertex AI (``extra={"vertexai": True}``)."""
        return bool(self.config.extra.get("vertexai"))

    def validate_config(self) -> None:
        """``auth_method``: ``x-api-key`` (a Gemini API or Vertex AI express-mode key),
        or on Vertex AI ``bearer`` (an access token) and ``none`` (default credentials),
        both with a ``project``."""
        if self.auth_method == "none" and not self.vertex:
            raise ConfigurationError(
                "auth_method 'none' needs Vertex AI (extra={'vertexai': True} and a "
                "project): the Gemini API takes only a key",
                field="auth_method",
                provider=self.name,
            )
        super().validate_config()
        method = self.auth_method
        if method == "api-key":
            raise ConfigurationError(
                "auth_method 'api-key' is not supported: the key goes in x-goog-api-key "
                "('x-api-key'); use 'bearer' for a Vertex AI access token",
                field="auth_method",
                provider=self.name,
            )
        if method in ("bearer", "none"):
            if not self.vertex:
                raise ConfigurationError(
                    f"auth_method {method!r} needs Vertex AI: set extra={{'vertexai': True}} "
                    "and a project (the Gemini API takes only a key)",
                    field="auth_method",
                    provider=self.name,
                )
            if not self.config.project:
                raise ConfigurationError(
                    "Vertex AI with an access token or default credentials needs project=...",
                    field="project",
                    provider=self.name,
                )
        location = self.config.extra.get("location")
        if location is not None and (not isinstance(location, str) or not location.strip()):
            raise ConfigurationError(
                "extra['location'] must be a Vertex AI location such as 'us-central1'",
                field="extra",
                provider=self.name,
            )

    def model_capabilities(self, model: str) -> Capabilities:
        """Gemini 1.x and 2.0 do not think; Gemma models on the API take no tools, files
        or schema."""
        name = model.lower().rpartition("/")[2]
        caps = self.default_capabilities
        if name.startswith("gemma"):
            return Capabilities(
                tools=False,
                parallel_tool_calls=False,
                images=True,
                json_mode=False,
                cache_points="automatic",
                context_window=131_072,
            )
        if name.startswith(("gemini-1.", "gemini-2.0")):
            return Capabilities(
                images=True,
                documents=True,
                document_urls=True,
                audio=True,
                structured_output=OutputMode.NATIVE,
                cache_points="automatic",
                context_window=caps.context_window,
            )
        return caps

    def _new_client(self) -> _GeminiClient:
        from google import genai
        from google.genai import types

        cfg = self.config
        http, sync_http = self._httpx_clients()
        key = self.api_key.get_secret_value() if self.api_key else None
        kwargs: dict[str, Any] = {}
        method = self.auth_method
        if self.vertex:
            kwargs["vertexai"] = True
            if method == "x-api-key":  # express mode: the key alone names the project
                kwargs["api_key"] = key
            else:
                kwargs["project"] = cfg.project
                kwargs["location"] = cfg.extra.get("location") or "global"
                if method == "bearer":
                    from google.oauth2.credentials import Credentials

                    kwargs["credentials"] = Credentials(token=key)  # type: ignore[no-untyped-call]
        else:
            kwargs["vertexai"] = False
            kwargs["api_key"] = key
        options = types.HttpOptions(
            base_url=self.base_url,
            api_version=cfg.api_version or ("v1beta1" if self.vertex else "v1beta"),
            headers=dict(cfg.extra_headers) or None,
            timeout=max(1, round(cfg.timeout * 1000)),  # milliseconds
            retry_options=types.HttpRetryOptions(attempts=1),  # jackfield retries
            httpx_async_client=http,
            httpx_client=sync_http,
        )
        try:
            sdk = genai.Client(http_options=options, **kwargs)
        except BaseException:
            sync_http.close()
            raise
        return _GeminiClient(sdk, http, sync_http)

    async def _close_client(self, client: _GeminiClient) -> None:
        await client.close()

    async def _send(self, request: Request, *, stream: bool) -> Any:
        """The unread HTTP response of ``request`` (a non-2xx one raised by the SDK)."""
        path = wire.method_path(request.model, stream=stream, vertex=self.vertex)
        api = self.client.api
        http_request = api._build_request("post", path, wire.build_payload(request))
        # stream=True even for generateContent: the body is left unread, for _read_body.
        result = await api._async_request(http_request, stream=True)
        return result.response_stream

    async def _generate(self, request: Request) -> Response:
        response = await self._send(request, stream=False)
        try:
            data = await self._read_body(
                response.aiter_bytes(), response.headers, response.status_code
            )
        finally:
            await response.aclose()
        return wire.parse_response(
            data, provider=self.name, model=request.model, secrets=self._secrets()
        )

    async def _stream(self, request: Request) -> AsyncGenerator[StreamEvent, None]:
        asm = StreamAssembler(self.name, request.model)
        parser = wire.ChunkParser(asm, secrets=self._secrets())
        response = await self._send(request, stream=True)
        try:
            headers = response.headers
            encoding = headers.get("content-encoding", "identity").strip().lower()
            body = response.aiter_raw() if encoding in ("identity", "") else response.aiter_bytes()
            sse_events = self._sse(body, headers.get("content-type"))
            async with contextlib.aclosing(sse_events) as events:
                async for sse in events:  # Gemini ends a stream with its body
                    for event in parser.feed(sse.data):
                        yield event
        finally:
            await response.aclose()
        for event in parser.close():
            yield event

    def map_exception(self, exc: BaseException) -> ProviderError | None:
        """The SDK's ``APIError`` (a non-2xx answer) is classified from its raw body by
        the shared mapper; google-auth's errors are authentication errors; transport
        errors go through the shared table (`SDKProvider.map_exception`)."""
        errors = sys.modules.get("google.genai.errors")
        if errors is not None and isinstance(exc, errors.APIError):
            response = getattr(exc, "response", None)
            headers: Mapping[str, str] = getattr(response, "headers", None) or {}
            body: Any = None
            with contextlib.suppress(Exception):  # a response that was never read
                body = response.content if response is not None else None
            return error_from_response(
                int(exc.code or 0),
                headers,
                body or exc.details,
                provider=self.name,
                secrets=self._secrets(),
            )
        auth = sys.modules.get("google.auth.exceptions")
        if auth is not None and isinstance(exc, auth.GoogleAuthError):
            if isinstance(exc, getattr(auth, "TransportError", ())):
                return super().map_exception(exc) or self._connection_error(
                    exc, str(exc), timed_out=False
                )
            return AuthenticationError(f"Google credentials: {exc}", secrets=self._secrets())
        return super().map_exception(exc)


@hookimpl
def jackfield_register_providers(register: RegisterProvider) -> None:
    """Register the gemini provider."""
    register(GeminiProvider)
