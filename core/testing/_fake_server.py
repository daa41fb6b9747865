"""A loopback fake LLM server speaking the real OpenAI (Chat Completions and Responses),
Anthropic, Gemini and jackfield-proxy wires.

:class:`FakeLLMServer` is an aiohttp server bound to ``127.0.0.1`` on a free port. Point an
SDK or a jackfield provider at it, script its answers, and assert on what it received::

    async with FakeLLMServer() as server:
        server.enqueue(Reply("Hello!"), ErrorReply(529, {"type": "error", ...}))
        client = openai.AsyncOpenAI(base_url=server.openai_base_url, api_key="x")
        ...
        assert server.requests[0].json["model"] == "gpt-4o"
        assert await server.wait_for_connections(0)

Endpoints (each answers in the service's own wire format, headers included):

=========================================================  ============================
``POST /v1/chat/completions``, ``POST /chat/completions``,  OpenAI Chat Completions,
``POST /openai/deployments/{deployment}/chat/completions``  streamed or not (Azure path)
``POST /v1/responses``, ``POST /responses``                 OpenAI Responses, streamed
                                                            or not
``POST /v1/messages``                                       Anthropic Messages
``POST /v1/messages/count_tokens``                          ``{"input_tokens": N}``
``POST /{version}/.../models/{model}:generateContent``,     Gemini (API and Vertex AI
``...:streamGenerateContent?alt=sse``                       paths), streamed or not
``POST /api/stream``                                        jackfield proxy protocol
``GET /v1/models``, ``GET /models``                         OpenAI model list
=========================================================  ============================

Every request is answered by the next queued script item (see
:mod:`jackfield.testing._scripts`), whichever endpoint it hits; with an empty queue the
``handler`` callable decides, then ``default_reply``, then an echo of the last user
message (``"echo: <text>"``), so a test with no script still works. Requests to unknown
paths get OpenAI's 404 body and consume nothing.

Each wire's bodies, SSE events, errors, ids and headers live in its own module behind
the :class:`~jackfield.testing._fake_wire.WireRenderer` interface:
:mod:`jackfield.testing._fake_openai`, :mod:`jackfield.testing._fake_responses`,
:mod:`jackfield.testing._fake_anthropic`,
:mod:`jackfield.testing._fake_gemini` and :mod:`jackfield.testing._fake_proxy` (which
also documents the jackfield proxy protocol); this module is the wire-independent server:
routing, the script queue, the request log, connection counting and fault injection.

The module also runs stand-alone (``python -m jackfield.testing._fake_server --help``), for
benchmarks that want the server in its own process.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import http
import inspect
import json
import math
import signal
import socket
import struct
import sys
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any, Final, Literal, TypeAlias

import attrs
from aiohttp import web
from aiohttp.web_protocol import RequestHandler
from multidict import CIMultiDict

from ._fake_anthropic import ANTHROPIC, render_count_tokens
from ._fake_gemini import GEMINI, gemini_path
from ._fake_openai import OPENAI, render_model_list, unknown_url_body
from ._fake_proxy import PROXY, PROXY_V1, ProxyWire
from ._fake_responses import RESPONSES, responses_user_text
from ._fake_wire import (
    JSON_CONTENT_TYPE,
    PH_ID_B,
    PH_RID_B,
    SSE_CONTENT_TYPE,
    Rejection,
    RenderContext,
    Rendered,
    WireRenderer,
    dumps,
)
from ._scripts import (
    Delay,
    ErrorReply,
    InStreamError,
    Malformed,
    Raw,
    Reply,
    Reset,
    ScriptItem,
    Stall,
    Truncate,
)

__all__ = [
    "Delay",
    "ErrorReply",
    "FakeLLMServer",
    "InStreamError",
    "Malformed",
    "Raw",
    "RecordedRequest",
    "Reply",
    "Reset",
    "Responder",
    "ScriptItem",
    "Stall",
    "Truncate",
    "main",
]

Endpoint: TypeAlias = Literal[
    "openai",
    "responses",
    "azure",
    "anthropic",
    "count_tokens",
    "gemini",
    "proxy",
    "models",
    "unknown",
]
DEFAULT_MODEL: Final = "fake-model"
_TEMPLATE_CACHE_SIZE: Final = 64
_TEARDOWN_WAIT: Final = 5.0


@attrs.frozen(slots=True)
class RecordedRequest:
    """One request as the server received it.

    ``headers`` is a plain dict with lower-case names (repeated headers joined with
    ``", "``); ``body`` the raw bytes; ``json`` the parsed body, or ``None`` when it is
    empty or not JSON; ``endpoint`` which API the path belongs to (``"openai"``,
    ``"responses"``, ``"azure"``, ``"anthropic"``, ``"count_tokens"``, ``"proxy"``, ``"models"`` or
    ``"unknown"``).
    """

    method: str
    path: str
    query: dict[str, str] = attrs.field(hash=False)
    headers: dict[str, str] = attrs.field(hash=False)
    body: bytes
    json: Any = attrs.field(hash=False)
    endpoint: Endpoint = "unknown"

    @property
    def stream(self) -> bool:
        """Whether the client asked for a streamed answer (always true for the proxy)."""
        if self.endpoint == "proxy":
            return True
        if self.endpoint == "gemini":  # Gemini streams by path, not by a body field
            return self.path.endswith(":streamGenerateContent")
        return isinstance(self.json, dict) and bool(self.json.get("stream"))

    @property
    def model(self) -> str | None:
        """The ``model`` field of the JSON body (Gemini: of the path), if any."""
        if self.endpoint == "gemini":
            found = gemini_path(self.path)
            return found[0] if found else None
        if isinstance(self.json, dict):
            model = self.json.get("model")
            return model if isinstance(model, str) else None
        return None

    @property
    def last_user_text(self) -> str:
        """The text of the last user message (``""`` if there is none)."""
        if not isinstance(self.json, dict):
            return ""
        if self.endpoint == "gemini":
            return _gemini_user_text(self.json.get("contents"))
        if self.endpoint == "responses":
            return responses_user_text(self.json)
        messages = self.json.get("messages")
        if not isinstance(messages, list):
            return ""
        for message in reversed(messages):
            if isinstance(message, dict) and message.get("role") == "user":
                return _text_of(message.get("content"))
        return ""


Responder: TypeAlias = Callable[
    [RecordedRequest], "ScriptItem | str | Awaitable[ScriptItem | str | None] | None"
]
"""A dynamic responder: given the request, the item to answer with (``None``: default)."""


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for part in content:
            if isinstance(part, dict) and part.get("type", "text") == "text":
                text = part.get("text")
                if isinstance(text, str):
                    parts.append(text)
        return "".join(parts)
    return ""


def _gemini_user_text(contents: Any) -> str:
    """The text of the last Gemini user turn that has text (not only function results)."""
    if not isinstance(contents, list):
        return ""
    for turn in reversed(contents):
        if isinstance(turn, dict) and turn.get("role", "user") == "user":
            parts = turn.get("parts")
            texts = [
                p["text"]
                for p in parts or ()
                if isinstance(p, dict) and isinstance(p.get("text"), str)
            ]
            if texts:
                return "".join(texts)
    return ""


def _estimate_input_tokens(data: Any) -> int:
    """About four characters per token over every text the request carries."""
    if not isinstance(data, dict):
        return 1
    chars = 0
    system = data.get("system")
    if system is not None:
        chars += len(_text_of(system))
    messages = data.get("messages")
    if isinstance(messages, list):
        for m in messages:
            if isinstance(m, dict):
                chars += len(_text_of(m.get("content"))) + 4
    contents = data.get("contents")  # Gemini
    if isinstance(contents, list):
        chars += len(_gemini_user_text(contents)) + 4 * len(contents)
    items = data.get("input")  # OpenAI Responses
    if isinstance(items, list):
        instructions = data.get("instructions")
        chars += len(responses_user_text(data)) + 4 * len(items)
        chars += len(instructions) if isinstance(instructions, str) else 0
    return max(1, math.ceil(chars / 4))


# ------------------------------------------------------------------------------ server


class _Exchange:
    """Per-request state the handler needs to classify how the request ended."""

    __slots__ = ("server_closed", "streaming")

    def __init__(self) -> None:
        self.server_closed = False
        self.streaming = False


class _Route:
    __slots__ = ("deployment", "endpoint")

    def __init__(self, endpoint: Endpoint, deployment: str | None = None) -> None:
        self.endpoint: Endpoint = endpoint
        self.deployment = deployment


def _route(method: str, path: str) -> _Route:
    path = path.rstrip("/") or "/"
    if method == "POST":
        if path in ("/v1/chat/completions", "/chat/completions"):
            return _Route("openai")
        if path in ("/v1/responses", "/responses"):
            return _Route("responses")
        if path == "/v1/messages":
            return _Route("anthropic")
        if path == "/v1/messages/count_tokens":
            return _Route("count_tokens")
        if path == "/api/stream":
            return _Route("proxy")
        gemini = gemini_path(path)
        if gemini is not None:
            return _Route("gemini", gemini[0])
        parts = path.split("/")
        if (
            len(parts) == 6
            and parts[1] == "openai"
            and parts[2] == "deployments"
            and parts[4] == "chat"
            and parts[5] == "completions"
        ):
            return _Route("azure", parts[3])
    elif method == "GET" and path in ("/v1/models", "/models"):
        return _Route("models")
    return _Route("unknown")


_ITEM_TYPES: Final = (
    str,
    Reply,
    ErrorReply,
    Reset,
    Delay,
    Stall,
    Truncate,
    Malformed,
    InStreamError,
    Raw,
)

_Answer: TypeAlias = (
    Reply | ErrorReply | Reset | Stall | Truncate | Malformed | InStreamError | Raw | str
)

_WIRE_OF: Final[dict[Endpoint, WireRenderer]] = {
    "openai": OPENAI,
    "responses": RESPONSES,
    "azure": OPENAI,
    "models": OPENAI,
    "unknown": OPENAI,
    "anthropic": ANTHROPIC,
    "count_tokens": ANTHROPIC,
    "gemini": GEMINI,
    "proxy": PROXY,
}


class _TrackingServer(web.Server):
    """aiohttp's low-level server, counting TCP connections as they open and close."""

    def __init__(self, handler: Any, *, owner: FakeLLMServer, **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self._owner = owner

    def connection_made(self, handler: RequestHandler, transport: asyncio.Transport) -> None:
        super().connection_made(handler, transport)
        self._owner._connections.add(handler)

    def connection_lost(self, handler: RequestHandler, exc: BaseException | None = None) -> None:
        self._owner._connections.discard(handler)
        super().connection_lost(handler, exc)


class FakeLLMServer:
    """A scripted fake of the OpenAI (Chat Completions, Responses), Anthropic, Gemini and
    jackfield-proxy HTTP APIs on loopback.

    :param proxy_token: when set, ``/api/stream`` requires ``Authorization: Bearer
        <proxy_token>`` and answers 401 otherwise.
    :param api_key: when set, the OpenAI endpoints require ``Authorization: Bearer
        <api_key>`` (or Azure's ``api-key`` header), the Anthropic ones ``x-api-key`` and
        the Gemini ones ``x-goog-api-key``, answering each service's real error otherwise.
    :param host: the address to bind; loopback by default (keep it so in tests).
    :param port: the port; 0 picks a free one.
    :param events_per_write: how many SSE events go into one socket write. 1 (the
        default) flushes every event as the services do; benchmarks raise it to serve huge
        streams cheaply.
    :param openai_reasoning_field: the delta / message field that carries a
        :class:`Reply`'s thinking on OpenAI-format endpoints (``"reasoning_content"``
        as vLLM and DeepSeek send, ``"reasoning"`` as OpenRouter does, ``None`` to drop
        thinking).
    :param proxy_provider: the ``provider`` name the proxy reports in its events.
    :param proxy_protocol_version: the newest proxy protocol version served (2); ``1``
        plays a version-1 server (no version header, exactly the version-1 events).
    :param models: the model ids ``GET /v1/models`` lists.
    :param default_reply: the item used when the queue is empty and no handler answers;
        ``None`` echoes the last user message.
    :param handler: a dynamic responder called when the queue is empty (sync or async);
        returning ``None`` falls back to ``default_reply``.
    :param shutdown_timeout: seconds :meth:`stop` lets aiohttp wait for connections.
    """

    def __init__(
        self,
        *,
        proxy_token: str | None = None,
        api_key: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        events_per_write: int = 1,
        openai_reasoning_field: str | None = "reasoning_content",
        proxy_provider: str = "fake",
        proxy_protocol_version: int = 2,
        models: Sequence[str] = (DEFAULT_MODEL,),
        default_reply: ScriptItem | str | None = None,
        handler: Responder | None = None,
        shutdown_timeout: float = 0.25,
    ) -> None:
        if events_per_write < 1:
            raise ValueError("events_per_write must be at least 1")
        self.proxy_token = proxy_token
        self.api_key = api_key
        self.host = host
        self.events_per_write = events_per_write
        self.openai_reasoning_field = openai_reasoning_field
        self.proxy_provider = proxy_provider
        if proxy_protocol_version not in (1, 2):
            raise ValueError("proxy_protocol_version must be 1 or 2")
        self._proxy_wire: ProxyWire = PROXY if proxy_protocol_version == 2 else PROXY_V1
        self.models: list[str] = list(models)
        self.default_reply: ScriptItem | str | None = default_reply
        """The item used when the queue is empty and no handler answers (``None``: echo)."""
        self.handler: Responder | None = handler
        """A dynamic responder consulted when the queue is empty (``None``: none)."""
        self._port = port
        self._shutdown_timeout = shutdown_timeout
        self._queue: deque[ScriptItem | str] = deque()
        self._requests: list[RecordedRequest] = []
        self._connections: set[RequestHandler] = set()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._active_streams = 0
        self._disconnects = 0
        self._runner: web.ServerRunner | None = None
        self._bound_port: int | None = None
        self._stopping = False
        self._templates: OrderedDict[tuple[Any, ...], Rendered] = OrderedDict()

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> FakeLLMServer:
        """Bind and start serving; returns the server. Starting twice is an error."""
        if self._runner is not None:
            raise RuntimeError("FakeLLMServer is already started")
        self._stopping = False
        server = _TrackingServer(
            self._handle, owner=self, handler_cancellation=True, access_log=None
        )
        runner = web.ServerRunner(server, shutdown_timeout=self._shutdown_timeout)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self._port, reuse_address=True)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self._bound_port = int(runner.addresses[0][1])
        return self

    async def stop(self) -> None:
        """Stop serving: cancel every handler (stalled ones too) and close connections.

        Never hangs: handlers are cancelled first and aiohttp's shutdown wait is
        ``shutdown_timeout``. Stopping a stopped server does nothing.
        """
        runner = self._runner
        if runner is None:
            return
        self._stopping = True
        tasks = [t for t in self._tasks if not t.done()]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=1.0)
        try:
            await asyncio.wait_for(runner.cleanup(), timeout=self._shutdown_timeout + 2.0)
        except TimeoutError:  # pragma: no cover - defensive
            pass
        finally:
            self._runner = None
            self._connections.clear()

    async def __aenter__(self) -> FakeLLMServer:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    # ----------------------------------------------------------------- addresses

    @property
    def port(self) -> int:
        """The bound port (after :meth:`start`)."""
        if self._bound_port is None:
            raise RuntimeError("FakeLLMServer is not started")
        return self._bound_port

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``, without a trailing slash."""
        return f"http://{self.host}:{self.port}"

    @property
    def openai_base_url(self) -> str:
        """The base URL for the openai SDK and OpenAI-compatible providers (``url + /v1``)."""
        return self.url + "/v1"

    @property
    def anthropic_base_url(self) -> str:
        """The base URL for the anthropic SDK (it appends ``/v1/messages`` itself)."""
        return self.url

    @property
    def gemini_base_url(self) -> str:
        """The base URL for the google-genai SDK (it appends ``/v1beta/models/...``; for
        Vertex AI ``/v1beta1/...``)."""
        return self.url

    @property
    def proxy_url(self) -> str:
        """The base URL of the jackfield proxy protocol (it serves ``/api/stream``)."""
        return self.url

    @property
    def azure_endpoint(self) -> str:
        """The ``azure_endpoint`` for the openai SDK's ``AsyncAzureOpenAI`` (the bare URL)."""
        return self.url

    # -------------------------------------------------------------------- script

    def enqueue(self, *items: ScriptItem | str) -> None:
        """Queue answers, used in order, one per request to any endpoint.

        A ``str`` is short for ``Reply(text=...)``.
        """
        for item in items:
            if not isinstance(item, _ITEM_TYPES):
                raise TypeError(f"not a script item: {item!r}")
        self._queue.extend(items)

    @property
    def pending(self) -> int:
        """How many queued items have not been used yet."""
        return len(self._queue)

    # ----------------------------------------------------------------- recording

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received, in arrival order (the live list)."""
        return self._requests

    @property
    def request_count(self) -> int:
        """How many requests have been received."""
        return len(self._requests)

    @property
    def last_request(self) -> RecordedRequest:
        """The most recent request; ``IndexError`` when there is none."""
        return self._requests[-1]

    def clear(self) -> None:
        """Forget recorded requests, queued items and the disconnect count."""
        self._requests.clear()
        self._queue.clear()
        self._disconnects = 0

    # --------------------------------------------------------------- connections

    @property
    def open_connections(self) -> int:
        """TCP connections currently open to the server."""
        return len(self._connections)

    @property
    def active_requests(self) -> int:
        """Requests whose handler is still running (streams, stalls, delays)."""
        return sum(1 for t in self._tasks if not t.done())

    @property
    def active_streams(self) -> int:
        """Streamed responses currently being written or stalled."""
        return self._active_streams

    @property
    def disconnects(self) -> int:
        """Requests whose client went away while the handler was still answering.

        Counted when a handler is cancelled by the client's disconnect (a stall, a delay,
        a stream cut short by an early ``break``) or a write finds the connection gone.
        A response already handed in full to the socket is not counted; faults the server
        causes itself (:class:`Reset`, ``Truncate(abort=True)``) and :meth:`stop` are not.
        """
        return self._disconnects

    async def wait_for_connections(self, n: int = 0, timeout: float = 5.0) -> bool:  # noqa: ASYNC109
        """Wait until exactly ``n`` connections are open; ``False`` on timeout."""
        return await self._wait_until(lambda: len(self._connections) == n, timeout)

    async def wait_for_requests(self, n: int, timeout: float = 5.0) -> bool:  # noqa: ASYNC109
        """Wait until at least ``n`` requests have arrived; ``False`` on timeout."""
        return await self._wait_until(lambda: len(self._requests) >= n, timeout)

    async def wait_idle(self, timeout: float = 5.0) -> bool:  # noqa: ASYNC109
        """Wait until no handler is running; ``False`` on timeout."""
        return await self._wait_until(lambda: self.active_requests == 0, timeout)

    @staticmethod
    async def _wait_until(predicate: Callable[[], bool], limit: float) -> bool:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + limit
        while not predicate():
            if loop.time() >= deadline:
                return False
            await asyncio.sleep(0.005)
        return True

    # ------------------------------------------------------------------- handler

    async def _handle(self, request: web.BaseRequest) -> web.StreamResponse:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        ex = _Exchange()
        try:
            return await self._dispatch(request, ex)
        except asyncio.CancelledError:
            if not self._stopping and not ex.server_closed:
                self._disconnects += 1
            raise
        except ConnectionResetError:
            # A write found the client gone before aiohttp cancelled us.
            if not ex.server_closed:
                self._disconnects += 1
            raise asyncio.CancelledError() from None
        finally:
            if ex.streaming:
                self._active_streams -= 1

    async def _dispatch(self, request: web.BaseRequest, ex: _Exchange) -> web.StreamResponse:
        body = await request.read()
        route = _route(request.method, request.path)
        headers: dict[str, str] = {}
        for key, value in request.headers.items():
            k = key.lower()
            headers[k] = f"{headers[k]}, {value}" if k in headers else value
        parsed: Any = None
        if body:
            try:
                parsed = json.loads(body)
            except ValueError:
                parsed = None
        rec = RecordedRequest(
            method=request.method,
            path=request.path,
            query=dict(request.query.items()),
            headers=headers,
            body=body,
            json=parsed,
            endpoint=route.endpoint,
        )
        self._requests.append(rec)
        wire = self._proxy_wire if route.endpoint == "proxy" else _WIRE_OF[route.endpoint]

        if route.endpoint == "unknown":
            return self._json_response(404, unknown_url_body(request.method, request.path), wire)
        refused = self._check_auth(rec, wire) or wire.body_rejection(parsed)
        if refused is not None:
            return self._json_response(refused.status, refused.body, wire, refused.request_id)

        item = await self._undelay(await self._next_item(rec), rec)
        if isinstance(item, str):
            item = Reply(item)

        if isinstance(item, Reset):
            return await self._reset(request, ex)
        if isinstance(item, ErrorReply):
            return self._error_reply(item, wire)
        if isinstance(item, Raw):
            return await self._raw(request, item)
        reply = item if isinstance(item, Reply) else (item.reply or self._fallback_reply(rec))
        rendered = self._render(route, rec, reply)
        rid = reply.request_id or wire.new_request_id()
        token = wire.new_token()
        if rendered.stream:
            return await self._stream(request, wire, rendered, item, reply, rid, token, ex)
        return await self._respond_body(request, wire, rendered, item, rid, token, ex)

    def _check_auth(self, rec: RecordedRequest, wire: WireRenderer) -> Rejection | None:
        secret = self.proxy_token if isinstance(wire, ProxyWire) else self.api_key
        if secret is None or wire.authorized(rec.headers, secret):
            return None
        return wire.auth_rejection()

    async def _next_item(self, rec: RecordedRequest) -> ScriptItem | str:
        if self._queue:
            return self._queue.popleft()
        if self.handler is not None:
            result = self.handler(rec)
            if inspect.isawaitable(result):
                result = await result
            if result is not None:
                return result
        return self._fallback(rec)

    def _fallback(self, rec: RecordedRequest) -> ScriptItem | str:
        if self.default_reply is not None:
            return self.default_reply
        return Reply(f"echo: {rec.last_user_text}")

    async def _undelay(self, item: ScriptItem | str, rec: RecordedRequest) -> _Answer:
        while True:
            if not isinstance(item, Delay):
                return item
            await asyncio.sleep(item.seconds)
            item = self._after_delay(item, rec)

    def _after_delay(self, delay: Delay, rec: RecordedRequest) -> ScriptItem | str:
        if delay.then is not None:
            return delay.then
        item = self._fallback(rec)
        # A default reply that is itself an open-ended Delay must not loop forever.
        return Reply(f"echo: {rec.last_user_text}") if item is delay else item

    def _fallback_reply(self, rec: RecordedRequest) -> Reply:
        default = self.default_reply
        if isinstance(default, Reply):
            return default
        if isinstance(default, str):
            return Reply(default)
        return Reply(f"echo: {rec.last_user_text}")

    # ----------------------------------------------------------------- rendering

    def _render(self, route: _Route, rec: RecordedRequest, reply: Reply) -> Rendered:
        data = rec.json if isinstance(rec.json, dict) else {}
        endpoint = route.endpoint
        if endpoint == "count_tokens":
            tokens = (
                reply.usage.input_tokens
                if reply.usage is not None
                else _estimate_input_tokens(data)
            )
            return render_count_tokens(tokens)
        if endpoint == "models":
            return render_model_list(self.models)
        model = data.get("model")
        if not isinstance(model, str) or not model:
            model = route.deployment or DEFAULT_MODEL
        generation = data.get("generationConfig")
        stop = data.get("stop_sequences") or data.get("stop")
        if stop is None and isinstance(generation, dict):
            stop = generation.get("stopSequences")
        stop_sequence = (
            stop[0] if isinstance(stop, list) and stop and isinstance(stop[0], str) else None
        )
        options = data.get("stream_options")
        version = data.get("protocol_version") if endpoint == "proxy" else None
        output = data.get("output") if endpoint == "proxy" else None
        mode = output.get("mode") if isinstance(output, dict) else None
        include = data.get("include") if endpoint == "responses" else None
        ctx = RenderContext(
            stream=rec.stream,
            include_usage=isinstance(options, dict) and bool(options.get("include_usage")),
            model=model,
            input_tokens=_estimate_input_tokens(data) if reply.usage is None else 0,
            stop_sequence=stop_sequence,
            reasoning_field=self.openai_reasoning_field,
            provider=self.proxy_provider,
            protocol_version=version if type(version) is int else 1,
            output_mode=mode if isinstance(mode, str) else None,
            encrypted_reasoning=isinstance(include, list)
            and "reasoning.encrypted_content" in include,
        )
        wire = self._proxy_wire if endpoint == "proxy" else _WIRE_OF[endpoint]
        key: tuple[Any, ...] | None = (wire.name, reply, ctx)
        cached: Rendered | None = None
        try:
            cached = self._templates.get(key) if key is not None else None
        except TypeError:  # an unhashable value inside the reply: render every time
            key = None
        if cached is not None and key is not None:
            self._templates.move_to_end(key)
            return cached
        rendered = wire.render(reply, ctx)
        if key is not None:
            self._templates[key] = rendered
            if len(self._templates) > _TEMPLATE_CACHE_SIZE:
                self._templates.popitem(last=False)
        return rendered

    # ------------------------------------------------------------------- writing

    @staticmethod
    def _headers(wire: WireRenderer, rid: str | None, content_type: str) -> CIMultiDict[str]:
        headers: CIMultiDict[str] = CIMultiDict()
        headers["Content-Type"] = content_type
        if content_type.startswith("text/event-stream"):
            headers["Cache-Control"] = "no-cache"
        wire.add_headers(headers, rid)
        return headers

    def _json_response(
        self, status: int, body: Any, wire: WireRenderer, rid: str | None = None
    ) -> web.Response:
        if rid is None:
            rid = wire.new_request_id()
        return web.Response(
            status=status,
            reason=_reason_phrase(status),
            body=dumps(body).encode(),
            headers=self._headers(wire, rid, JSON_CONTENT_TYPE),
        )

    def _error_reply(self, item: ErrorReply, wire: WireRenderer) -> web.Response:
        body = item.body
        if isinstance(body, bytes):
            data = body
        elif isinstance(body, str):
            data = body.encode()
        else:
            data = dumps(dict(body)).encode()
        content_type = JSON_CONTENT_TYPE
        if isinstance(body, str | bytes):
            try:
                json.loads(data)
            except ValueError:
                content_type = "text/plain; charset=utf-8"
        headers = self._headers(wire, wire.new_request_id(), content_type)
        for key, value in item.headers:
            if key.lower() in ("content-length", "transfer-encoding"):
                continue
            headers[key] = value  # replaces the default of the same (case-insensitive) name
        return web.Response(
            status=item.status, reason=_reason_phrase(item.status), body=data, headers=headers
        )

    async def _raw(self, request: web.BaseRequest, item: Raw) -> web.StreamResponse:
        headers: CIMultiDict[str] = CIMultiDict()
        for key, value in item.headers:
            if key.lower() in ("content-length", "transfer-encoding"):
                continue
            headers.add(key, value)
        if "content-type" not in headers:
            sample = (item.chunks[0] if item.chunks else item.body).lstrip()[:6]
            looks_sse = sample.startswith((b"data:", b"event:", b":", b"id:"))
            headers["Content-Type"] = SSE_CONTENT_TYPE if looks_sse else JSON_CONTENT_TYPE
        reason = _reason_phrase(item.status)
        if item.chunks is None:
            return web.Response(status=item.status, reason=reason, body=item.body, headers=headers)
        resp = web.StreamResponse(status=item.status, reason=reason, headers=headers)
        await resp.prepare(request)
        for chunk in item.chunks:
            if chunk:
                await resp.write(chunk)
        await resp.write_eof()
        return resp

    async def _reset(self, request: web.BaseRequest, ex: _Exchange) -> web.StreamResponse:
        ex.server_closed = True
        transport = request.transport
        if transport is None:
            raise asyncio.CancelledError()
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()
        return await self._await_teardown()

    async def _close_mid_body(self, request: web.BaseRequest, ex: _Exchange) -> web.StreamResponse:
        ex.server_closed = True
        transport = request.transport
        if transport is not None:
            transport.close()  # flushes what was written, then FIN: an incomplete body
        return await self._await_teardown()

    @staticmethod
    async def _await_teardown() -> web.StreamResponse:
        # Closing the transport makes aiohttp cancel this handler (handler_cancellation);
        # wait for that rather than returning a response nobody can receive.
        await asyncio.sleep(_TEARDOWN_WAIT)
        raise asyncio.CancelledError()

    async def _respond_body(
        self,
        request: web.BaseRequest,
        wire: WireRenderer,
        rendered: Rendered,
        item: ScriptItem,
        rid: str,
        token: str,
        ex: _Exchange,
    ) -> web.StreamResponse:
        body = _substitute(rendered.body, token, rid)
        headers = self._headers(wire, rid, rendered.content_type)
        if isinstance(item, Stall):
            await asyncio.get_running_loop().create_future()  # until cancelled
        if isinstance(item, Malformed):
            body = item.data.encode()
        elif isinstance(item, InStreamError):
            body = wire.error_envelope(item.payload).encode()
        elif isinstance(item, Truncate):
            half = body[: len(body) // 2]
            if not item.abort:
                body = half
            else:
                resp = web.StreamResponse(status=200, headers=headers)
                resp.content_length = len(body)
                await resp.prepare(request)
                await resp.write(half)
                return await self._close_mid_body(request, ex)
        return web.Response(status=200, body=body, headers=headers)

    async def _stream(
        self,
        request: web.BaseRequest,
        wire: WireRenderer,
        rendered: Rendered,
        item: ScriptItem,
        reply: Reply,
        rid: str,
        token: str,
        ex: _Exchange,
    ) -> web.StreamResponse:
        events = rendered.events
        total = len(events)
        if isinstance(item, Reply):
            stop = total
        else:
            assert isinstance(item, Stall | Truncate | Malformed | InStreamError)
            content_end = total - rendered.terminal
            n = item.after_events
            stop = content_end if n is None else min(n, content_end)
        resp = web.StreamResponse(
            status=200, headers=self._headers(wire, rid, rendered.content_type)
        )
        ex.streaming = True
        self._active_streams += 1
        await resp.prepare(request)
        step = self.events_per_write
        delay = reply.event_delay
        i = 0
        while i < stop:
            j = min(i + step, stop)
            data = events[i] if j == i + 1 else b"".join(events[i:j])
            await resp.write(_substitute(data, token, rid))
            if delay:
                await asyncio.sleep(delay)
            i = j
        if isinstance(item, Stall):
            await asyncio.get_running_loop().create_future()  # until cancelled
        elif isinstance(item, Truncate) and item.abort:
            return await self._close_mid_body(request, ex)
        elif isinstance(item, Malformed):
            await resp.write(wire.garbage_event(item.data))
        elif isinstance(item, InStreamError):
            await resp.write(wire.error_event(item.payload))
        await resp.write_eof()
        return resp


def _substitute(data: bytes, token: str, rid: str) -> bytes:
    return data.replace(PH_ID_B, token.encode()).replace(PH_RID_B, rid.encode())


def _reason_phrase(status: int) -> str:
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return {529: "Site Overloaded"}.get(status, "Unknown")


# -------------------------------------------------------------------------- command line


def _parse_args(argv: Iterable[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m jackfield.testing._fake_server",
        description="Serve the jackfield fake LLM server until interrupted; prints its URL.",
    )
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--events-per-write", type=int, default=1)
    p.add_argument("--proxy-token", default=None)
    p.add_argument(
        "--chunks",
        type=int,
        default=0,
        help="answer every request with a text of this many stream chunks (0: echo)",
    )
    p.add_argument("--chunk-size", type=int, default=8, help="characters per chunk")
    return p.parse_args(None if argv is None else list(argv))


async def _serve(args: argparse.Namespace) -> None:
    default: Reply | None = None
    if args.chunks > 0:
        size = max(1, args.chunk_size)
        words = ("lorem ipsum dolor sit amet " * (args.chunks * size // 27 + 1))[
            : args.chunks * size
        ]
        default = Reply(words, chunk_size=size)
    server = FakeLLMServer(
        host=args.host,
        port=args.port,
        events_per_write=max(1, args.events_per_write),
        proxy_token=args.proxy_token,
        default_reply=default,
    )
    done = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, done.set)
    async with server:
        print(server.url, flush=True)
        await done.wait()


def main(argv: Iterable[str] | None = None) -> int:
    """Run the server from the command line until SIGINT/SIGTERM; prints the URL first."""
    asyncio.run(_serve(_parse_args(argv)))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
