"""Raw-socket servers for the hostile-server tests (``test_hostile_*.py``).

Independent of :mod:`jackfield.testing`'s fake server: a :class:`RawServer` is an
``asyncio.start_server`` socket whose handler writes whatever bytes a test wants, so a
test can send what no well-behaved HTTP server would (broken chunked framing, a bad
status line, a close right after the last byte). :data:`WIRES` builds each of the four
kinds of provider (openai-compat, openai, anthropic, proxy) against one, and
:func:`answer` renders a valid answer in its wire format.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from jackfield.provider import Provider
from jackfield.testing._fake_anthropic import AnthropicWire
from jackfield.testing._fake_openai import OpenAIWire
from jackfield.testing._fake_proxy import ProxyWire
from jackfield.testing._fake_server import Reply
from jackfield.testing._fake_wire import RenderContext

KEY = "sk-hostile-5e1d0c9b8a7f6e5d"

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def read_request(reader: asyncio.StreamReader) -> bytes:
    """Read one HTTP/1.1 request (head and a ``content-length`` body); ``b""`` at EOF."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, ConnectionError):
        return b""
    length = 0
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    body = await reader.readexactly(length) if length else b""
    return head + body


class RawServer:
    """``asyncio.start_server`` on 127.0.0.1 running ``handler`` per connection."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.connections = 0
        """Connections accepted in all."""
        self.peak = 0
        """The most connections open at once."""
        self._open = 0
        self.closed_all = asyncio.Event()
        """Set while no connection is open (after the first one)."""
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def open_connections(self) -> int:
        """Connections open now (as the server sees them)."""
        return self._open

    @property
    def port(self) -> int:
        assert self._server is not None
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._open += 1
        self.closed_all.clear()
        self.peak = max(self.peak, self._open)
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            await self.handler(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass  # a client gone, or the server closing: the connection simply ends
        finally:
            self._open -= 1
            if not self._open:
                self.closed_all.set()
            self._tasks.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def __aenter__(self) -> RawServer:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()


def answer(wire: str, *, stream: bool, text: str = "hello") -> tuple[bytes, bytes]:
    """A valid answer in ``wire``'s format: (content type, body)."""
    content_type, events = answer_events(wire, stream=stream, text=text)
    return content_type, b"".join(events)


def answer_events(
    wire: str, *, stream: bool, text: str = "hello", chunk_size: int = 5
) -> tuple[bytes, list[bytes]]:
    """A valid answer in ``wire``'s format: (content type, its SSE events, or its one
    body); a stream's text comes ``chunk_size`` characters per event."""
    renderer = {"openai": OpenAIWire, "anthropic": AnthropicWire, "proxy": ProxyWire}[wire]()
    ctx = RenderContext(
        stream=stream,
        include_usage=True,
        model="m",
        input_tokens=3,
        stop_sequence=None,
        reasoning_field=None,
        provider="p",
    )
    rendered = renderer.render(Reply(text, chunk_size=chunk_size), ctx)
    if rendered.stream:
        return b"text/event-stream", list(rendered.events)
    return b"application/json", [rendered.body]


def head(
    status: bytes = b"200 OK", content_type: bytes = b"application/json", **extra: str
) -> bytes:
    """A response head without framing headers (the test adds its own)."""
    lines = [b"HTTP/1.1 " + status, b"content-type: " + content_type]
    lines += [f"{k.replace('_', '-')}: {v}".encode() for k, v in extra.items()]
    return b"\r\n".join(lines) + b"\r\n"


def chunked(body: bytes) -> bytes:
    """``body`` as one chunk and the last chunk."""
    return b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)


WIRES: dict[str, str] = {
    "openai-compat": "openai",
    "openai": "openai",
    "anthropic": "anthropic",
    "proxy": "proxy",
}


def make_provider(name: str, port: int, **config: Any) -> Provider:
    """Provider ``name`` pointed at 127.0.0.1:``port``."""
    base = f"http://127.0.0.1:{port}"
    if name == "openai-compat":
        from jackfield.plugins.openai_compat import OpenAICompatProvider

        return OpenAICompatProvider(base_url=f"{base}/v1", model="m", api_key=KEY, **config)
    if name == "openai":
        from jackfield.plugins.openai import OpenAIProvider

        return OpenAIProvider(base_url=f"{base}/v1", model="m", api_key=KEY, **config)
    if name == "anthropic":
        from jackfield.plugins.anthropic import AnthropicProvider

        return AnthropicProvider(base_url=base, model="m", api_key=KEY, **config)
    from jackfield.plugins.proxy import ProxyProvider

    return ProxyProvider(base_url=base, model="m", api_key=KEY, **config)


def _import_sdks() -> None:
    # Importing an SDK takes seconds on a loaded machine, and a provider imports its SDK
    # on first use: within the first call's deadline, which these tests keep short.
    for sdk in ("openai", "anthropic"):
        if importlib.util.find_spec(sdk) is not None:
            importlib.import_module(sdk)


_import_sdks()


def provider_params() -> list[Any]:
    """The four providers, an SDK one skipped when its SDK is missing."""
    params = []
    for name in WIRES:
        sdk = name if name in ("openai", "anthropic") else None
        marks = []
        if sdk is not None and importlib.util.find_spec(sdk) is None:
            marks.append(pytest.mark.skip(reason=f"{sdk} SDK not installed"))
        params.append(pytest.param(name, id=name, marks=marks))
    return params


@contextlib.asynccontextmanager
async def closing(provider: Provider) -> AsyncIterator[Provider]:
    """``provider``, closed afterwards."""
    try:
        yield provider
    finally:
        await provider.aclose()


def is_stream(request: bytes) -> bool:
    """Whether a request asks for a stream (the proxy protocol always streams)."""
    return any(m in request for m in (b'"stream":true', b'"stream": true', b"/api/stream"))


async def call(provider: Provider, streamed: bool, bound: float = 10.0) -> Any:
    """One ``generate`` or streamed call, failing the test (not hanging it) past ``bound``."""
    if streamed:
        return await asyncio.wait_for(provider.stream("hi").collect(), bound)
    return await asyncio.wait_for(provider.generate("hi"), bound)
