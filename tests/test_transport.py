"""Transport written once: sessions through LoopLocal, bodies through read_limited, one
request-id table, and the proxy provider built on HTTPProvider with a wire module."""

from __future__ import annotations

import ast
import asyncio
import inspect
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

import jackfield
from jackfield.errors import APIError, RateLimitError
from jackfield.plugins import proxy as proxy_module
from jackfield.plugins.proxy import ProxyProvider
from jackfield.provider import (
    HTTPProvider,
    LoopLocal,
    OpenAICompatibleProvider,
    SSEEvent,
    _http as http_provider_module,
    proxy_protocol,
    read_limited,
)
from jackfield.testing._fake_server import ErrorReply, FakeLLMServer, Raw
from jackfield.transport import _http_client
from jackfield.transport._http_client import HTTPClient
from jackfield.types import Message, Request

# -- 1. HTTPClient keeps its sessions in a LoopLocal ------------------------------------------


def _client() -> HTTPClient:
    provider = jackfield.create_provider(
        "openai-compat", base_url="http://127.0.0.1:9", model="m", fresh=True
    )
    assert isinstance(provider, HTTPProvider)
    return provider.http


def test_http_client_holds_its_sessions_in_a_loop_local() -> None:
    client = _client()
    assert isinstance(client.sessions, LoopLocal)
    for duplicate in ("_sessions", "_closers", "_forget"):
        assert not hasattr(client, duplicate), duplicate
    for helper in ("_close_at_shutdown", "_keep", "_schedule_close", "_BACKGROUND"):
        assert not hasattr(_http_client, helper), helper


def test_a_session_per_loop_closed_when_the_loop_ends() -> None:
    client = _client()
    seen: list[aiohttp.ClientSession] = []

    async def use() -> None:
        session = client.session()
        assert client.session() is session  # the same one within a loop
        assert client.sessions.peek() is session
        seen.append(session)

    asyncio.run(use())
    assert seen[0].closed  # asyncio.run() closed it when it ended the loop
    asyncio.run(use())
    assert seen[1] is not seen[0] and seen[1].closed
    assert len(client.sessions) == 0


async def test_aclose_closes_this_loops_session_and_a_new_one_follows() -> None:
    client = _client()
    first = client.session()
    await client.aclose()
    assert first.closed and client.sessions.peek() is None
    second = client.session()
    assert second is not first and not second.closed
    await client.aclose()


async def test_a_session_closed_behind_its_back_is_replaced() -> None:
    client = _client()
    first = client.session()
    await first.close()
    second = client.session()
    assert second is not first and not second.closed
    await client.aclose()


async def test_close_nowait_from_sync_code_closes_the_running_loops_session() -> None:
    client = _client()
    session = client.session()
    client.close_nowait()
    assert len(client.sessions) == 0
    for _ in range(5):
        await asyncio.sleep(0)
    assert session.closed


# -- 2. one read_limited ---------------------------------------------------------------------

BODY = json.dumps(
    {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "model": "m",
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}
        ],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }
).encode()


async def _chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


async def _generate(server: FakeLLMServer, **config: Any) -> Any:
    provider = jackfield.create_provider(
        "openai-compat",
        base_url=server.openai_base_url,
        model="m",
        max_retries=0,
        fresh=True,
        **config,
    )
    async with provider:
        return await provider.generate("hi")


async def test_http_client_reads_bodies_through_read_limited(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[int | str | None] = []

    async def spy(chunks: Any, limit: int, **kwargs: Any) -> bytes:
        calls.append(kwargs.get("content_length"))
        return await read_limited(chunks, limit, **kwargs)

    monkeypatch.setattr(_http_client, "read_limited", spy)
    async with FakeLLMServer() as server:
        server.enqueue(Raw(body=BODY), Raw(body=BODY, chunks=[BODY[:10], BODY[10:]]))
        # A body of known length, not content-encoded, is read at once (the fast path).
        assert (await _generate(server)).content == "hi"
        assert calls == []
        # A chunked body goes through the one bounded reader.
        assert (await _generate(server)).content == "hi"
        assert calls == [None]


@pytest.mark.parametrize("chunked", [True, False])
async def test_body_limit_errors_are_read_limiteds_own(chunked: bool) -> None:
    limit = 100
    big = b"x" * 300
    with pytest.raises(APIError) as expected:
        await read_limited(
            _chunks(big[:150], big[150:]),
            limit,
            content_length=None if chunked else len(big),
            status_code=200,
        )
    async with FakeLLMServer() as server:
        server.enqueue(Raw(body=big, chunks=[big[:150], big[150:]] if chunked else None))
        with pytest.raises(APIError) as got:
            await _generate(server, max_response_bytes=limit)
    assert got.value.message == expected.value.message
    assert got.value.status_code == 200


# -- 3. one request-id table -----------------------------------------------------------------


def test_the_provider_layer_keeps_no_request_id_table_of_its_own() -> None:
    assert not hasattr(http_provider_module, "REQUEST_ID_HEADERS")
    assert not hasattr(http_provider_module, "request_id_from_headers")


async def test_an_openai_compatible_provider_finds_x_amzn_requestid() -> None:
    sse = [
        b'data: {"id":"c","object":"chat.completion.chunk","model":"m","choices":'
        b'[{"index":0,"delta":{"role":"assistant","content":"hi"},"finish_reason":null}]}\n\n',
        b'data: {"id":"c","object":"chat.completion.chunk","model":"m","choices":'
        b'[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n',
        b"data: [DONE]\n\n",
    ]
    headers = {"x-amzn-requestid": "amzn-req-42"}
    async with FakeLLMServer() as server:
        server.enqueue(
            Raw(body=BODY, headers=headers),
            Raw(body=b"".join(sse), chunks=sse, headers=headers),
        )
        provider = jackfield.create_provider(
            "openai-compat", base_url=server.openai_base_url, model="m", fresh=True
        )
        async with provider:
            generated = await provider.generate("hi")
            streamed = await provider.stream("hi").collect()
    assert generated.request_id == "amzn-req-42"
    assert streamed.request_id == "amzn-req-42"


# -- 4. the proxy provider is an HTTPProvider; its protocol is a wire module ------------------


def test_proxy_provider_is_an_http_provider() -> None:
    assert issubclass(ProxyProvider, HTTPProvider)
    for own in ("http", "aclose", "close_nowait", "raw_log", "_http_client"):
        assert own not in vars(ProxyProvider), own


def test_proxy_plugin_imports_only_the_plugin_author_api() -> None:
    tree = ast.parse(inspect.getsource(proxy_module))
    allowed = {
        "jackfield",
        "jackfield.provider",
        "jackfield.types",
        "jackfield.events",
        "jackfield.errors",
        "jackfield.config",
    }
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        for name in names:
            if name == "jackfield" or name.startswith("jackfield."):
                assert name in allowed, name


def test_proxy_protocol_is_pure_wire() -> None:
    payload = proxy_protocol.build_payload(
        Request(messages=[Message.user("hi")], model="hosted_large")
    )
    assert payload["model"] == "hosted_large"
    assert payload["messages"][0]["content"] == "hi"
    event = proxy_protocol.decode_event(
        SSEEvent(data=json.dumps({"type": "text_delta", "text": "x", "index": 0})),
        provider="proxy",
    )
    assert event.type == "text_delta"
    limited = RateLimitError("slow", status_code=429, retry_after=2.0)
    err = proxy_protocol.error_from_response(
        429, {}, json.dumps({"error": limited.to_dict()}).encode(), provider="proxy"
    )
    assert type(err) is RateLimitError and err.retry_after == 2.0


async def test_an_http_provider_may_map_its_own_error_bodies() -> None:
    class Teapot(RateLimitError):
        pass

    class Custom(OpenAICompatibleProvider):
        name = "custom-errors"
        requires_api_key = False

        def error_for(self, status: int, headers: Any, body: bytes) -> Any:
            return Teapot(f"mapped {status}", provider=self.name, status_code=status)

    async with FakeLLMServer() as server:
        server.enqueue(ErrorReply(418, {"error": "teapot"}))
        provider = Custom(base_url=server.openai_base_url, model="m", max_retries=0)
        async with provider:
            with pytest.raises(Teapot, match="mapped 418"):
                await provider.generate("hi")
