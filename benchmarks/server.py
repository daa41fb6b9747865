"""The benchmark's fake LLM server: HTTP/1.1 on 127.0.0.1, in its own process.

It speaks just enough HTTP for the clients under test (keep-alive, ``Content-Length``
request bodies) and answers ``POST .../chat/completions`` and ``POST .../responses`` in
the OpenAI wire formats, ``POST .../messages`` in the Anthropic one and
``POST .../models/{model}:generateContent`` (``:streamGenerateContent?alt=sse``, a
stream) in Gemini's. Every answer is pre-rendered bytes, status line and headers
included, and written with one ``transport.write`` (streams as chunked transfer encoding
in 64 KiB chunks), so the server spends almost no CPU per request and is never the
bottleneck. A streamed request's ``max_tokens`` (``max_output_tokens``,
``maxOutputTokens``) is the number of content chunks it gets back.

Run: ``python -m benchmarks.server [--cpu N]``; it prints ``PORT <n>`` and serves until
its stdin closes.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import socket
import sys

from . import wire

_STREAM = re.compile(rb'"stream"\s*:\s*true')
_MAX_TOKENS = re.compile(rb'"max(?:_tokens|_output_tokens|OutputTokens)"\s*:\s*(\d+)')
_CHUNK = 64 * 1024


def _head(status: str, headers: list[tuple[str, str]]) -> bytes:
    lines = [f"HTTP/1.1 {status}"] + [f"{k}: {v}" for k, v in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


_OPENAI_ID = ("x-request-id", "req_0123456789abcdef")
_ANTHROPIC_ID = ("request-id", "req_0123456789abcdef")
_GEMINI_SERVER = ("server", "scaffolding on HTTPServer2")
"""Gemini sends no request id header; its server header stands in the same place."""


def _json_response(
    body: bytes, header: tuple[str, str], content_type: str = "application/json"
) -> bytes:
    return (
        _head(
            "200 OK",
            [
                ("content-type", content_type),
                ("content-length", str(len(body))),
                ("connection", "keep-alive"),
                header,
            ],
        )
        + body
    )


def _stream_response(body: bytes, header: tuple[str, str]) -> bytes:
    head = _head(
        "200 OK",
        [
            ("content-type", "text/event-stream; charset=utf-8"),
            ("transfer-encoding", "chunked"),
            ("cache-control", "no-cache"),
            ("connection", "keep-alive"),
            header,
        ],
    )
    parts = [head]
    for i in range(0, len(body), _CHUNK):
        piece = body[i : i + _CHUNK]
        parts.append(b"%x\r\n%s\r\n" % (len(piece), piece))
    parts.append(b"0\r\n\r\n")
    return b"".join(parts)


_NOT_FOUND = _head("404 Not Found", [("content-length", "0"), ("connection", "keep-alive")])


class Answers:
    """Pre-rendered responses; a stream of a new length is rendered once, then reused."""

    def __init__(self) -> None:
        self.json = {
            "openai": _json_response(wire.openai_body(), _OPENAI_ID),
            "responses": _json_response(wire.responses_body(), _OPENAI_ID),
            "anthropic": _json_response(wire.anthropic_body(), _ANTHROPIC_ID),
            "gemini": _json_response(
                wire.gemini_body(), _GEMINI_SERVER, "application/json; charset=UTF-8"
            ),
        }
        self._streams: dict[tuple[str, int], bytes] = {}

    def stream(self, kind: str, n: int) -> bytes:
        key = (kind, n)
        found = self._streams.get(key)
        if found is None:
            if kind == "anthropic":
                found = _stream_response(wire.anthropic_stream(n), _ANTHROPIC_ID)
            elif kind == "responses":
                found = _stream_response(wire.responses_stream(n), _OPENAI_ID)
            elif kind == "gemini":
                found = _stream_response(wire.gemini_stream(n), _GEMINI_SERVER)
            else:
                found = _stream_response(wire.openai_stream(n), _OPENAI_ID)
            self._streams[key] = found
        return found

    def answer(self, path: bytes, body: bytes) -> bytes:
        path = path.split(b"?", 1)[0]
        if path.endswith(b"/messages"):
            kind = "anthropic"
        elif path.endswith(b"/chat/completions"):
            kind = "openai"
        elif path.endswith(b"/responses"):
            kind = "responses"
        elif path.endswith(b":generateContent"):  # Gemini: the path says whether it streams
            return self.json["gemini"]
        elif path.endswith(b":streamGenerateContent"):
            match = _MAX_TOKENS.search(body)
            return self.stream("gemini", int(match.group(1)) if match else 16)
        else:
            return _NOT_FOUND
        if _STREAM.search(body):
            match = _MAX_TOKENS.search(body)
            return self.stream(kind, int(match.group(1)) if match else 16)
        return self.json[kind]


class _Protocol(asyncio.Protocol):
    def __init__(self, answers: Answers) -> None:
        self.answers = answers
        self.buf = bytearray()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        while True:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(buf[:end])
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value.strip())
            total = end + 4 + length
            if len(buf) < total:
                return
            body = bytes(buf[end + 4 : total])
            del buf[:total]
            parts = head.split(b" ", 2)
            path = parts[1] if len(parts) > 1 else b"/"
            assert self.transport is not None
            self.transport.write(self.answers.answer(path, body))


async def serve(port: int, ready: asyncio.Future[int] | None = None) -> None:
    """Serve on 127.0.0.1:``port`` (0: a free port) until cancelled."""
    loop = asyncio.get_running_loop()
    answers = Answers()
    server = await loop.create_server(
        lambda: _Protocol(answers), "127.0.0.1", port, backlog=1024, reuse_address=True
    )
    bound = server.sockets[0].getsockname()[1]
    if ready is not None:
        ready.set_result(bound)
    else:
        print(f"PORT {bound}", flush=True)
    async with server:
        await _stdin_closed()


async def _stdin_closed() -> None:
    loop = asyncio.get_running_loop()
    done = loop.create_future()

    def on_readable() -> None:
        if not os.read(sys.stdin.fileno(), 4096) and not done.done():
            done.set_result(None)

    loop.add_reader(sys.stdin.fileno(), on_readable)
    try:
        await done
    finally:
        loop.remove_reader(sys.stdin.fileno())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--cpu", type=int, default=None, help="pin to this CPU")
    args = parser.parse_args(argv)
    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})
    asyncio.run(serve(args.port))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
