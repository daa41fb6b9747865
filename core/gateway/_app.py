"""The gateway: the aiohttp application, its routes, and the path of one call.

A call goes: drain check, token, body (bounded), the protocol's parse, model look-up
and the token's allow-list, limits, then the upstream provider (through the registry:
profiles, routers, the response cache and the observer hooks apply as configured),
then the answer in the protocol's shape. Nothing is written to a store on this path:
the token counts and the audit line are handed to background tasks.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from ..errors import (
    AuthenticationError,
    BadRequestError,
    NotFoundError,
    OverloadedError,
    PermissionDeniedError,
    ProviderError,
    StreamError,
)
from ..events import StreamEnd
from ..provider import Provider
from ..registry import Registry
from ..types import Usage
from ..wire._tinyagent import is_tinyagent_body
from ._audit import _CALLER, AuditSink, GatewayObserver
from ._calls import Call, WireProtocol
from ._config import GatewayConfig
from ._errors import client_error, headers_for, status_for
from ._jackfield import JACKFIELD
from ._limits import Limiter, Limits, MemoryLimiter, RedisLimiter
from ._metrics import Metrics
from ._openai import OPENAI, model_list
from ._tinyagent import TINYAGENT
from ._tokens import TokenRecord, TokenStore

__all__ = ["Gateway", "create_app"]

log = logging.getLogger("jackfield.gateway")

_GATEWAY: web.AppKey[Gateway] = web.AppKey("jackfield_gateway")


class _Outcome:
    """What the metrics and the audit line say about one call."""

    __slots__ = ("disconnected", "error_type", "limits", "model", "status", "token", "usage")

    def __init__(self) -> None:
        self.status = 500
        self.model = "-"
        self.token: str | None = None
        self.error_type: str | None = None
        self.usage: Usage | None = None
        self.limits: Limits | None = None
        self.disconnected = False


class Gateway:
    """One gateway: its config, providers, tokens, limits, metrics and audit sink.

    Use :attr:`app` with your own aiohttp runner, or :meth:`start` / :meth:`aclose`
    (``async with Gateway(config) as gw``) to serve on a port.
    """

    def __init__(self, config: GatewayConfig, *, registry: Registry | None = None) -> None:
        self.config = config
        self.registry = registry or Registry(config_path=config.config_path)
        self.metrics = Metrics()
        self.registry.register_plugin(GatewayObserver(self.metrics), name=f"gateway-{id(self)}")
        self.tokens = (
            TokenStore(config.tokens) if config.auth == "tokens" and config.tokens else None
        )
        extra: dict[str, Any] = {"cache": config.cache} if config.cache else {}
        self.providers: dict[str, Provider] = {
            name: self.registry.create_provider(target, **extra)
            for name, target in config.models.items()
        }
        limits = config.limits
        self.limiter: Limiter = (
            RedisLimiter(
                limits.redis_url,
                prefix=limits.redis_prefix,
                fail_open=limits.on_redis_error == "open",
            )
            if limits.redis_url
            else MemoryLimiter()
        )
        self.audit = AuditSink(config.audit_log) if config.audit_log else None
        self.draining = False
        self._active: set[asyncio.Task[Any]] = set()
        self._background: set[asyncio.Task[Any]] = set()
        self._runner: web.AppRunner | None = None
        self.address: tuple[str, int] | None = None
        self.metrics.gauge(
            "jackfield_gateway_in_flight", "Calls being answered now.", lambda: len(self._active)
        )
        if isinstance(self.limiter, RedisLimiter):
            limiter = self.limiter
            self.metrics.gauge(
                "jackfield_gateway_limit_store_errors",
                "Redis errors met by the limits (since start).",
                lambda: limiter.failures,
            )
        if self.audit is not None:
            sink = self.audit
            self.metrics.gauge(
                "jackfield_gateway_audit_dropped",
                "Audit lines dropped (queue full or write failed).",
                lambda: sink.dropped,
            )
        self.app = self._make_app()

    # -- the application -----------------------------------------------------------------

    def _make_app(self) -> web.Application:
        app = web.Application(client_max_size=self.config.max_body_bytes)
        app[_GATEWAY] = self
        stream = self._route(JACKFIELD, sniff=True)
        app.router.add_post("/api/stream", stream)
        if self.config.tinyagent_path:
            app.router.add_post(self.config.tinyagent_path, self._route(TINYAGENT))
        app.router.add_post("/v1/chat/completions", self._route(OPENAI))
        app.router.add_get("/v1/models", self._models)
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/metrics", self._metrics)
        app.on_startup.append(self._on_startup)
        app.on_cleanup.append(self._on_cleanup)
        return app

    async def _on_startup(self, app: web.Application) -> None:
        if self.audit is not None:
            self.audit.start()

    async def _on_cleanup(self, app: web.Application) -> None:
        if self._background:
            await asyncio.wait(self._background, timeout=5)
        if self.audit is not None:
            await self.audit.aclose()
        await self.limiter.aclose()
        for provider in self.providers.values():
            await provider.aclose()

    def _route(
        self, proto: WireProtocol, *, sniff: bool = False
    ) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def handler(request: web.Request) -> web.StreamResponse:
            return await self._handle(request, proto, sniff)

        return handler

    async def _healthz(self, request: web.Request) -> web.Response:
        if self.draining:
            return web.json_response({"status": "draining"}, status=503)
        return web.json_response({"status": "ok", "models": len(self.providers)})

    async def _metrics(self, request: web.Request) -> web.Response:
        return web.Response(
            text=self.metrics.render(), content_type="text/plain", charset="utf-8",
            headers={"X-Content-Type-Options": "nosniff"},
        )  # fmt: skip

    async def _models(self, request: web.Request) -> web.Response:
        try:
            token = self._authenticate(request)
        except ProviderError as error:
            return self._error(OPENAI, error, local=True)
        names = [*self.config.models, *self.config.tiers]
        shown = [n for n in names if token is None or token.allows(self._names(n))]
        return web.json_response(model_list(shown))

    # -- one call ------------------------------------------------------------------------

    def _authenticate(self, request: web.Request) -> TokenRecord | None:
        if self.tokens is None:
            return None
        header = request.headers.get("Authorization", "")
        scheme, _, value = header.partition(" ")
        if not value:  # Anthropic-style clients send the token as x-api-key
            scheme, value = "bearer", request.headers.get("x-api-key", "")
        record = self.tokens.authenticate(value.strip()) if scheme.lower() == "bearer" else None
        if record is None:
            raise AuthenticationError("missing or invalid token", status_code=401)
        return record

    async def _body(self, request: web.Request) -> Any:
        try:
            raw = await request.read()
        except web.HTTPRequestEntityTooLarge:
            raise BadRequestError(
                f"the request body is larger than {self.config.max_body_bytes} bytes",
                status_code=413,
            ) from None
        try:
            return json.loads(raw)
        except (ValueError, RecursionError):
            raise BadRequestError("the request body is not valid JSON", status_code=400) from None

    def _names(self, name: str) -> set[str]:
        public = self.config.tiers.get(name, name)
        target = self.config.models.get(public, "")
        return {name, public, target, target.partition(":")[0]}

    def _resolve(self, name: str | None) -> tuple[str, Provider]:
        if name is None:
            name = self.config.default_model
            if name is None:
                raise BadRequestError("model is required (this gateway has no default model)")
        public = self.config.tiers.get(name, name)
        provider = self.providers.get(public)
        if provider is None:
            raise NotFoundError(f"model {name[:100]!r} is not served here", status_code=404)
        return public, provider

    def _limits(self, token: TokenRecord) -> Limits:
        d = self.config.limits
        return Limits(
            rpm=token.rpm or d.rpm,
            tpm=token.tpm or d.tpm,
            daily_tokens=token.daily_tokens or d.daily_tokens,
        )

    async def _handle(
        self, request: web.Request, proto: WireProtocol, sniff: bool
    ) -> web.StreamResponse:
        started = time.perf_counter()
        task = asyncio.current_task()
        if task is not None:
            self._active.add(task)
        out = _Outcome()
        try:
            try:
                if self.draining:
                    raise OverloadedError(
                        "the gateway is shutting down", status_code=503, retry_after=1.0
                    )
                token = self._authenticate(request)
                out.token = token.name if token is not None else None
                data = await self._body(request)
                if sniff and is_tinyagent_body(data):
                    proto = TINYAGENT
                call = proto.parse(data)
                if len(call.kwargs["messages"]) > self.config.max_messages:
                    raise BadRequestError(f"too many messages (at most {self.config.max_messages})")
                public, provider = self._resolve(call.model)
                out.model = public
                if token is not None:
                    if not token.allows(self._names(call.model or public)):
                        raise PermissionDeniedError(
                            f"token {token.name!r} may not use model {public!r}", status_code=403
                        )
                    limits = out.limits = self._limits(token)
                    try:
                        await self.limiter.admit(token.name, limits)
                    except ProviderError as error:
                        self.metrics.rejections.inc(error.error_type)
                        raise
            except ProviderError as error:
                return self._answer_error(proto, error, out, local=True)
            reset = _CALLER.set(out.token)
            try:
                if call.stream:
                    return await self._stream(request, proto, call, public, provider, out, started)
                response = await provider.generate(**call.kwargs)
                out.usage = response.usage
                out.status = 200
                return web.json_response(proto.complete(call, public, response))
            except ProviderError as error:
                return self._answer_error(proto, error, out, local=False)
            finally:
                _CALLER.reset(reset)
        except asyncio.CancelledError:
            out.disconnected = True
            raise
        finally:
            if task is not None:
                self._active.discard(task)
            self._finish(proto, out, time.perf_counter() - started, request)

    async def _stream(
        self,
        request: web.Request,
        proto: WireProtocol,
        call: Call,
        public: str,
        provider: Provider,
        out: _Outcome,
        started: float,
    ) -> web.StreamResponse:
        events = provider.stream(**call.kwargs)
        try:
            first = await anext(events)
        except StopAsyncIteration:
            raise StreamError("the upstream stream ended before its first event") from None
        except BaseException:
            await events.aclose()
            raise
        self.metrics.first_event.observe(time.perf_counter() - started, proto.name)
        response = web.StreamResponse(headers=proto.stream_headers)
        out.status = 200
        encoder = proto.encoder(call, public)
        try:
            await response.prepare(request)
            await response.write(encoder.event(first))
            async for event in events:
                chunk = encoder.event(event)
                if chunk:
                    await response.write(chunk)
                if isinstance(event, StreamEnd):
                    out.usage = event.response.usage
            tail = encoder.done()
            if tail:
                await response.write(tail)
        except ProviderError as error:
            error = client_error(error, upstream=True)
            out.error_type = error.error_type
            with contextlib.suppress(ConnectionResetError):
                await response.write(encoder.error(error))
        except ConnectionResetError:
            out.disconnected = True  # the client went away: the finally closes upstream
            return response
        finally:
            await events.aclose()
        with contextlib.suppress(ConnectionResetError):
            await response.write_eof()
        return response

    def _answer_error(
        self, proto: WireProtocol, error: ProviderError, out: _Outcome, *, local: bool
    ) -> web.Response:
        error = client_error(error, upstream=not local)
        response = self._error(proto, error, local=local)
        out.status = response.status
        out.error_type = error.error_type
        return response

    def _error(self, proto: WireProtocol, error: ProviderError, *, local: bool) -> web.Response:
        code = error.status_code
        status = code if local and code is not None and 400 <= code < 600 else status_for(error)
        return web.json_response(proto.error_body(error), status=status, headers=headers_for(error))

    def _finish(
        self, proto: WireProtocol, out: _Outcome, seconds: float, request: web.Request
    ) -> None:
        m = self.metrics
        status = "499" if out.disconnected else str(out.status)
        m.requests.inc(proto.name, out.model, status)
        m.latency.observe(seconds, proto.name)
        if out.error_type is not None:
            m.errors.inc(proto.name, out.error_type)
        if out.disconnected:
            m.disconnects.inc()
        usage = out.usage
        if usage is not None:
            m.tokens.inc(out.model, "input", by=usage.input_tokens)
            m.tokens.inc(out.model, "output", by=usage.output_tokens)
            limits = out.limits
            if out.token is not None and limits is not None and limits.counts_tokens:
                self._spawn(self.limiter.record(out.token, limits, usage.total_tokens))
        if self.audit is not None:
            self.audit.record(
                {
                    "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                    "token": out.token,
                    "endpoint": proto.name,
                    "path": request.path,
                    "model": out.model,
                    "status": int(status),
                    "error_type": out.error_type,
                    "input_tokens": usage.input_tokens if usage else 0,
                    "output_tokens": usage.output_tokens if usage else 0,
                    "duration_ms": round(seconds * 1000, 3),
                }
            )

    def _spawn(self, coro: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # -- serving and shutdown ------------------------------------------------------------

    async def start(self, host: str | None = None, port: int | None = None) -> tuple[str, int]:
        """Serve on ``host:port`` (the config's by default; port 0: a free one)."""
        self._runner = web.AppRunner(
            self.app, handler_cancellation=True, access_log=None,
            shutdown_timeout=self.config.drain_seconds,
        )  # fmt: skip
        await self._runner.setup()
        site = web.TCPSite(
            self._runner,
            host or self.config.host,
            self.config.port if port is None else port,
        )
        await site.start()
        address = self._runner.addresses[0]
        self.address = (str(address[0]), int(address[1]))
        return self.address

    @property
    def url(self) -> str:
        """``http://host:port`` of the running gateway."""
        if self.address is None:
            raise RuntimeError("the gateway is not started")
        return f"http://{self.address[0]}:{self.address[1]}"

    async def drain(self, timeout: float | None = None) -> int:  # noqa: ASYNC109
        """Refuse new calls (503, and ``/healthz`` says ``draining``), let running ones
        finish for ``timeout`` seconds (the config's ``drain_seconds``), then cancel the
        rest. Returns how many were cancelled."""
        self.draining = True
        wait = self.config.drain_seconds if timeout is None else timeout
        current = asyncio.current_task()
        running = {t for t in self._active if t is not current}
        if not running:
            return 0
        _, pending = await asyncio.wait(running, timeout=wait)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending, timeout=5)
        return len(pending)

    async def aclose(self) -> None:
        """Stop listening, drain running calls, then release everything."""
        runner, self._runner = self._runner, None
        if runner is None:
            return
        for site in list(runner.sites):
            await site.stop()
        await self.drain()
        await runner.cleanup()

    async def __aenter__(self) -> Gateway:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


def create_app(config: GatewayConfig, *, registry: Registry | None = None) -> web.Application:
    """The gateway as an aiohttp application, to mount or run yourself.

    Run it with ``web.AppRunner(app, handler_cancellation=True)`` so that a client that
    disconnects cancels its upstream call at once (see ``docs/gateway.md``).
    """
    return Gateway(config, registry=registry).app


def gateway_of(app: web.Application) -> Gateway:
    """The :class:`Gateway` behind an application made by :func:`create_app`."""
    return app[_GATEWAY]
