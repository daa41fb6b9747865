"""The gateway (``jackfield serve``) against real loopback clients: jackfield's ``proxy``
client (both protocols), the official ``openai`` SDK, a tinyagent client written from
the protocol's published event list, raw HTTP; tokens, allow-lists, revocation, limits
(in memory; Redis in test_gateway_redis.py), errors, disconnects, the drain, metrics,
audit and the secrets canary.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import openai
import pytest

import jackfield
from jackfield import hookimpl
from jackfield.gateway import Gateway, TokenStore, current_token_name, load_config
from jackfield.plugins.mock import MockReply
from jackfield.plugins.proxy import ProxyProvider
from jackfield.testing._fake_server import ErrorReply, FakeLLMServer, Reply, Stall

CANARY_KEY = "sk-canary-gw-3f9a7c1e5b2d4a6f8e0c"


def write_config(tmp_path: Path, models: dict[str, str], **gateway: Any) -> Path:
    lines = ["[gateway]", 'tokens = "tokens.json"']
    limits = gateway.pop("limits", {})
    tiers = gateway.pop("tiers", {})
    profiles = gateway.pop("profiles", {})
    lines += [f"{k} = {json.dumps(v)}" for k, v in gateway.items()]
    lines += [
        "[gateway.models]",
        *(f"{json.dumps(k)} = {json.dumps(v)}" for k, v in models.items()),
    ]
    lines += ["[gateway.tiers]", *(f"{k} = {json.dumps(v)}" for k, v in tiers.items())]
    lines += ["[gateway.limits]", *(f"{k} = {json.dumps(v)}" for k, v in limits.items())]
    for name, table in profiles.items():
        lines += [f"[profiles.{name}]", *(f"{k} = {json.dumps(v)}" for k, v in table.items())]
    path = tmp_path / "gateway.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
async def gateway(tmp_path: Path) -> AsyncIterator[Gateway]:
    path = write_config(
        tmp_path,
        {"echo": "mock", "large": "mock:mock-large"},
        tiers={"hosted_large": "large"},
        audit_log="audit.jsonl",
        max_messages=5,
        max_body_bytes=20_000,
    )
    async with Gateway(load_config(path)) as gw:
        yield gw


def token(gw: Gateway, name: str = "app", **kwargs: Any) -> str:
    assert gw.tokens is not None
    return gw.tokens.create(name, **kwargs)


def auth(value: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {value}"}


async def post(url: str, body: Any, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session,
        session.post(url, json=body, headers=headers) as response,
    ):
        return response.status, dict(response.headers), await response.read()


# -- the jackfield protocol: the existing client, unchanged --------------------------------


async def test_the_proxy_client_streams_and_generates_through_the_gateway(gateway: Gateway) -> None:
    value = token(gateway)
    gateway.providers["echo"].script(MockReply(text="Paris.", thinking="The user asks."))
    async with ProxyProvider(base_url=gateway.url, api_key=value) as proxy:
        events = [e async for e in proxy.stream("Weather in Paris?", model="echo")]
        kinds = [e.type for e in events]
        assert kinds[0] == "start" and kinds[-1] == "end"
        assert {"thinking_delta", "text_delta"} <= set(kinds)
        end = events[-1]
        assert isinstance(end, jackfield.StreamEnd)
        assert end.response.content == "Paris." and end.response.thinking_text == "The user asks."
        answer = await proxy.generate("Hello", tier="hosted_large")
        assert answer.content == "echo: Hello" and answer.model == "mock-large"


async def test_structured_output_crosses_the_gateway_with_protocol_v2(gateway: Gateway) -> None:
    value = token(gateway)
    schema = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    gateway.providers["echo"].script(MockReply(text='{"city": "Paris"}'))
    async with ProxyProvider(base_url=gateway.url, api_key=value) as proxy:
        answer = await proxy.generate("Where?", model="echo", response_format=schema)
    assert answer.parsed == {"city": "Paris"}
    assert answer.output_mode is not None


# -- tokens, allow-lists, revocation ---------------------------------------------------


async def test_tokens_allow_lists_and_revocation_without_a_restart(gateway: Gateway) -> None:
    value = token(gateway, "narrow", allow=["echo"])
    body = {"messages": [{"role": "user", "content": "hi"}], "model": "echo"}
    url = f"{gateway.url}/api/stream"
    status, _, raw = await post(url, body, auth(value))
    assert status == 200 and b"event: end" in raw
    status, _, raw = await post(url, {**body, "model": "large"}, auth(value))
    assert status == 403 and json.loads(raw)["error"]["error_type"] == "permission"
    status, _, raw = await post(url, {**body, "model": "hosted_large"}, auth(value))
    assert status == 403
    for bad in ("", "Bearer nope", f"Bearer {value}x", f"Basic {value}"):
        status, _, raw = await post(url, body, {"Authorization": bad} if bad else {})
        assert status == 401 and json.loads(raw)["error"]["error_type"] == "authentication"
    # revoked by another process (the CLI): the next request is refused, no restart
    assert gateway.config.tokens is not None
    assert TokenStore(gateway.config.tokens).revoke("narrow")
    status, _, _ = await post(url, body, auth(value))
    assert status == 401


def test_the_token_file_holds_no_token_value(tmp_path: Path) -> None:
    store = TokenStore(tmp_path / "tokens.json")
    value = store.create("app", allow=["echo"], rpm=3)
    text = (tmp_path / "tokens.json").read_text()
    secret = value.rsplit("_", 1)[-1]
    assert value not in text and secret not in text
    assert store.authenticate(value) is not None
    assert store.authenticate(value[:-1] + ("A" if value[-1] != "A" else "B")) is None
    assert "digest" not in repr(store.records()[0]) or secret not in repr(store.records()[0])
    assert (tmp_path / "tokens.json").stat().st_mode & 0o077 == 0


# -- OpenAI Chat Completions: the official SDK ------------------------------------------


async def test_the_openai_sdk_streamed_and_not(gateway: Gateway) -> None:
    value = token(gateway)
    client = openai.AsyncOpenAI(base_url=f"{gateway.url}/v1", api_key=value, max_retries=0)
    async with client:
        models = await client.models.list()
        assert {m.id for m in models.data} >= {"echo", "large", "hosted_large"}
        done = await client.chat.completions.create(
            model="echo", messages=[{"role": "user", "content": "Hello"}]
        )
        assert done.choices[0].message.content == "echo: Hello"
        assert done.choices[0].finish_reason == "stop" and done.usage is not None
        stream = await client.chat.completions.create(
            model="echo",
            messages=[{"role": "user", "content": "Stream"}],
            stream=True,
            stream_options={"include_usage": True},
        )
        chunks = [chunk async for chunk in stream]
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        assert text == "echo: Stream"
        assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens > 0


async def test_the_openai_sdk_tool_calls_streamed_and_not(gateway: Gateway) -> None:
    value = token(gateway)
    call = jackfield.ToolCall("call_1", "get_weather", {"city": "Paris"})
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {
        "type": "object", "properties": {"city": {"type": "string"}}}}}]  # fmt: skip
    echo = gateway.providers["echo"]
    echo.script(MockReply(tool_calls=[call]), MockReply(tool_calls=[call]))
    async with openai.AsyncOpenAI(
        base_url=f"{gateway.url}/v1", api_key=value, max_retries=0
    ) as client:
        done = await client.chat.completions.create(
            model="echo", messages=[{"role": "user", "content": "Weather?"}], tools=tools
        )
        calls = done.choices[0].message.tool_calls
        assert calls is not None and calls[0].function.name == "get_weather"
        assert json.loads(calls[0].function.arguments) == {"city": "Paris"}
        assert done.choices[0].finish_reason == "tool_calls"
        stream = await client.chat.completions.create(
            model="echo", messages=[{"role": "user", "content": "Weather?"}], tools=tools,
            stream=True,
        )  # fmt: skip
        args = ""
        async for chunk in stream:
            for delta in (chunk.choices[0].delta.tool_calls or []) if chunk.choices else []:
                args += delta.function.arguments or "" if delta.function else ""
        assert json.loads(args) == {"city": "Paris"}


async def test_openai_errors_have_openai_shape_and_taxonomy_status(gateway: Gateway) -> None:
    value = token(gateway, allow=["echo"])
    async with openai.AsyncOpenAI(
        base_url=f"{gateway.url}/v1", api_key=value, max_retries=0
    ) as client:
        with pytest.raises(openai.NotFoundError) as missing:
            await client.chat.completions.create(
                model="nope", messages=[{"role": "user", "content": "x"}]
            )
        assert missing.value.status_code == 404
        with pytest.raises(openai.PermissionDeniedError):
            await client.chat.completions.create(
                model="large", messages=[{"role": "user", "content": "x"}]
            )
        with pytest.raises(openai.BadRequestError) as bad:
            await client.chat.completions.create(
                model="echo", messages=[{"role": "user", "content": "x"}], logprobs=True
            )
        assert bad.value.body is not None and "logprobs" in str(bad.value.body)
    async with openai.AsyncOpenAI(
        base_url=f"{gateway.url}/v1", api_key="not-a-token", max_retries=0
    ) as client:
        with pytest.raises(openai.AuthenticationError):
            await client.chat.completions.create(
                model="echo", messages=[{"role": "user", "content": "x"}]
            )


async def test_an_upstream_error_maps_to_each_protocols_shape(gateway: Gateway) -> None:
    value = token(gateway)
    echo = gateway.providers["echo"]
    echo.retry_policy = jackfield.RetryPolicy(max_retries=0)
    echo.script(MockReply(error="overloaded"), MockReply(error="authentication"))
    body = {"model": "echo", "messages": [{"role": "user", "content": "x"}]}
    status, _, raw = await post(f"{gateway.url}/v1/chat/completions", body, auth(value))
    assert status == 503 and json.loads(raw)["error"]["code"] == "overloaded"
    # the gateway's own upstream key failing is a server error, never the client's 401
    status, _, raw = await post(f"{gateway.url}/api/stream", body, auth(value))
    error = json.loads(raw)["error"]
    assert status == 502 and error["error_type"] == "server" and error["retryable"] is False


# -- the tinyagent protocol ---------------------------------------------------------------


async def tinyagent_events(url: str, body: Any, value: str) -> tuple[int, list[dict[str, Any]]]:
    """A tinyagent client, written from the published event list: ``data:`` lines."""
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session,
        session.post(f"{url}/api/stream", json=body, headers=auth(value)) as response,
    ):
        if response.status >= 400:
            return response.status, [await response.json()]
        events = []
        async for raw in response.content:
            line = raw.decode().strip()
            if line.startswith("data: ") and line[6:] != "[DONE]":
                events.append(json.loads(line[6:]))
        return response.status, events


async def test_a_tinyagent_client_gets_the_published_events(gateway: Gateway) -> None:
    value = token(gateway)
    call = jackfield.ToolCall("call_7", "lookup", {"q": "x"})
    gateway.providers["echo"].script(
        MockReply(text="Sure.", thinking="Think.", thinking_signature="sig1", tool_calls=[call])
    )
    body = {
        "model": {"id": "echo", "api": "openai-completions", "provider": "openai"},
        "context": {
            "systemPrompt": "Be brief.",
            "messages": [
                {"role": "user", "content": "Look it up", "timestamp": 1},
                {"role": "assistant", "content": [
                    {"type": "text", "text": "ok"},
                    {"type": "toolCall", "id": "c0", "name": "lookup", "arguments": {"q": "y"}},
                ]},
                {"role": "toolResult", "toolCallId": "c0", "toolName": "lookup",
                 "content": [{"type": "text", "text": "found"}], "isError": False},
            ],
            "tools": [{"name": "lookup", "description": "Look up", "parameters": {
                "type": "object", "properties": {"q": {"type": "string"}}}}],
        },
        "options": {"temperature": 0.2, "maxTokens": 100, "reasoning": "low"},
    }  # fmt: skip
    status, events = await tinyagent_events(gateway.url, body, value)
    assert status == 200
    kinds = [e["type"] for e in events]
    assert kinds[0] == "start" and kinds[-1] == "done"
    assert kinds[1:4] == ["thinking_start", "thinking_delta", "thinking_end"]
    assert events[3]["contentSignature"] == "sig1"
    tool_start = next(e for e in events if e["type"] == "toolcall_start")
    assert tool_start["id"] == "call_7" and tool_start["toolName"] == "lookup"
    args = "".join(e["delta"] for e in events if e["type"] == "toolcall_delta")
    assert json.loads(args) == {"q": "x"}
    assert {e["contentIndex"] for e in events if "contentIndex" in e} == {0, 1, 2}
    assert events[-1]["reason"] == "toolUse" and events[-1]["usage"]["totalTokens"] > 0
    sent = gateway.providers["echo"].requests[-1]
    assert sent.messages[0].role == "system" and sent.messages[-1].role == "tool"
    assert sent.temperature == 0.2 and sent.max_tokens == 100


async def test_tinyagent_errors_before_and_inside_the_stream(gateway: Gateway) -> None:
    value = token(gateway)
    body = {"model": {"id": "nope"}, "context": {"messages": [{"role": "user", "content": "x"}]}}
    status, events = await tinyagent_events(gateway.url, body, value)
    assert status == 404 and isinstance(events[0]["error"], str)
    echo = gateway.providers["echo"]
    echo.script(MockReply(text="partial answer", fail_after_events=3, error="server"))
    body["model"] = {"id": "echo"}
    status, events = await tinyagent_events(gateway.url, body, value)
    assert status == 200 and events[-1]["type"] == "error"
    assert events[-1]["reason"] == "error" and events[-1]["errorMessage"]


async def test_the_proxy_client_speaks_tinyagent_to_the_gateway(gateway: Gateway) -> None:
    value = token(gateway)
    gateway.providers["echo"].script(MockReply(text="hi", thinking="hm", thinking_signature="s"))
    async with ProxyProvider(
        base_url=gateway.url, api_key=value, extra={"protocol": "tinyagent"}
    ) as proxy:
        answer = await proxy.generate(
            [{"role": "system", "content": "sys"}, {"role": "user", "content": "x"}], model="echo"
        )
        assert answer.content == "hi" and answer.thinking[0].signature == "s"
        with pytest.raises(jackfield.NotFoundError):
            await proxy.generate("x", model="nope")
        doc = {"role": "user", "content": [{"type": "document", "text": "a report"}]}
        with pytest.raises(jackfield.UnsupportedFeatureError):  # before any I/O
            await proxy.generate([doc], model="echo")
    sent = gateway.providers["echo"].requests[0]
    assert sent.messages[0].content == "sys"


def test_the_proxy_client_refuses_an_unknown_protocol() -> None:
    with pytest.raises(jackfield.ConfigurationError) as info:
        ProxyProvider(base_url="http://127.0.0.1:9", api_key="k", extra={"protocol": "grpc"})
    assert info.value.field == "protocol"


# -- limits and robustness ------------------------------------------------------------------


async def test_rpm_limit_answers_429_with_retry_after_in_each_shape(gateway: Gateway) -> None:
    value = token(gateway, rpm=2)
    body = {"model": "echo", "messages": [{"role": "user", "content": "x"}]}
    for _ in range(2):
        status, _, _ = await post(f"{gateway.url}/v1/chat/completions", body, auth(value))
        assert status == 200
    status, headers, raw = await post(f"{gateway.url}/v1/chat/completions", body, auth(value))
    assert status == 429 and int(headers["Retry-After"]) >= 1
    assert json.loads(raw)["error"]["type"] == "rate_limit_error"
    status, headers, raw = await post(f"{gateway.url}/api/stream", body, auth(value))
    assert status == 429 and json.loads(raw)["error"]["error_type"] == "rate_limit"
    async with ProxyProvider(base_url=gateway.url, api_key=value, max_retries=0) as proxy:
        with pytest.raises(jackfield.RateLimitError) as info:
            await proxy.generate("x", model="echo")
    assert info.value.retry_after is not None and info.value.retry_after >= 1


async def test_token_budget_counts_usage(gateway: Gateway) -> None:
    value = token(gateway, daily_tokens=3)  # the mock's call costs 3 tokens
    body = {"model": "echo", "messages": [{"role": "user", "content": "x"}]}
    status, _, _ = await post(f"{gateway.url}/v1/chat/completions", body, auth(value))
    assert status == 200
    await asyncio.wait_for(asyncio.gather(*gateway._background), 5)
    status, _, raw = await post(f"{gateway.url}/v1/chat/completions", body, auth(value))
    assert status == 429 and "daily" in json.loads(raw)["error"]["message"]


async def test_body_and_message_count_limits(gateway: Gateway) -> None:
    value = token(gateway)
    many = [{"role": "user", "content": "x"}] * 6
    status, _, raw = await post(f"{gateway.url}/api/stream", {"messages": many}, auth(value))
    assert status == 400 and "too many messages" in json.loads(raw)["error"]["message"]
    huge = [{"role": "user", "content": "x" * 30_000}]
    status, _, raw = await post(f"{gateway.url}/v1/chat/completions",
                                {"model": "echo", "messages": huge}, auth(value))  # fmt: skip
    assert status == 413 and json.loads(raw)["error"]["code"] == "invalid_request"
    status, _, raw = await post(f"{gateway.url}/api/stream", {"messages": []}, auth(value))
    assert status == 400


async def test_a_client_disconnect_closes_the_upstream_connection(tmp_path: Path) -> None:
    async with FakeLLMServer() as upstream:
        upstream.enqueue(Stall(after_events=2, reply=Reply("a long answer " * 20, chunk_size=3)))
        up = {"provider": "openai-compat", "base_url": upstream.openai_base_url, "model": "m"}
        path = write_config(tmp_path, {"slow": "up"}, profiles={"up": up})
        async with Gateway(load_config(path)) as gw:
            value = token(gw)
            session = aiohttp.ClientSession()
            response = await session.post(
                f"{gw.url}/api/stream",
                json={"model": "slow", "messages": [{"role": "user", "content": "x"}]},
                headers=auth(value),
            )
            assert response.status == 200
            await asyncio.wait_for(response.content.readuntil(b"\n\n"), 5)
            assert upstream.open_connections == 1
            response.close()  # the client goes away mid-stream
            await session.close()
            assert await upstream.wait_for_connections(0, timeout=5)
            await asyncio.wait_for(_until(lambda: not gw._active), 5)
        text = gw.metrics.render()
        assert "jackfield_gateway_client_disconnects_total 1" in text


async def _until(predicate: Any) -> None:
    # gateway state (draining, calls in flight) has no event to wait on; bounded by callers
    while not predicate():  # noqa: ASYNC110
        await asyncio.sleep(0.01)


async def test_shutdown_drains_running_streams_and_refuses_new_calls(tmp_path: Path) -> None:
    path = write_config(tmp_path, {"echo": "mock"}, drain_seconds=5)
    gw = Gateway(load_config(path))
    await gw.start()
    value = token(gw)
    slow = jackfield.create_provider("mock", extra={"chunk_delay": 0.05})
    gw.providers["echo"] = slow
    async with ProxyProvider(base_url=gw.url, api_key=value, max_retries=0) as proxy:
        stream = proxy.stream("0123456789", model="echo")
        first = await anext(stream)
        assert first.type == "start"
        closing = asyncio.ensure_future(gw.aclose())
        await asyncio.wait_for(_until(lambda: gw.draining), 5)
        rest = [e async for e in stream]  # the running stream finishes whole
        assert rest[-1].type == "end" and rest[-1].response.content == "echo: 0123456789"
        await asyncio.wait_for(closing, 10)
    await slow.aclose()


async def test_drain_cancels_what_outlives_its_deadline(gateway: Gateway) -> None:
    value = token(gateway)
    slow = jackfield.create_provider("mock", extra={"latency": 30})
    gateway.providers["echo"] = slow
    body = {"model": "echo", "messages": [{"role": "user", "content": "x"}]}
    call = asyncio.ensure_future(post(f"{gateway.url}/v1/chat/completions", body, auth(value)))
    await asyncio.wait_for(_until(lambda: gateway._active), 5)
    assert await asyncio.wait_for(gateway.drain(0.1), 5) == 1
    status, _, _ = await post(f"{gateway.url}/api/stream", body, auth(value))
    assert status == 503
    async with aiohttp.ClientSession() as session, session.get(f"{gateway.url}/healthz") as r:
        assert r.status == 503
    with pytest.raises(aiohttp.ClientError):
        await asyncio.wait_for(call, 5)
    await slow.aclose()


# -- metrics, audit, hooks -----------------------------------------------------------------


class Seen:
    def __init__(self) -> None:
        self.names: list[str | None] = []

    @hookimpl
    def jackfield_response_received(self) -> None:
        self.names.append(current_token_name())


async def test_metrics_audit_and_hooks_name_the_token(gateway: Gateway) -> None:
    seen = Seen()
    gateway.registry.register_plugin(seen, name="seen")
    value = token(gateway, "billing-app")
    body = {"model": "echo", "messages": [{"role": "user", "content": "x"}]}
    assert (await post(f"{gateway.url}/v1/chat/completions", body, auth(value)))[0] == 200
    assert (await post(f"{gateway.url}/v1/chat/completions", {**body, "model": "x"},
                       auth(value)))[0] == 404  # fmt: skip
    assert seen.names == ["billing-app"]
    async with aiohttp.ClientSession() as session, session.get(f"{gateway.url}/metrics") as r:
        text = await r.text()
    assert 'jackfield_gateway_requests_total{endpoint="openai",model="echo",status="200"} 1' in text
    assert 'jackfield_gateway_errors_total{endpoint="openai",error_type="not_found"} 1' in text
    assert "jackfield_gateway_request_duration_seconds_bucket" in text
    assert 'jackfield_gateway_tokens_total{model="echo",direction="output"}' in text
    assert gateway.audit is not None
    await gateway.audit.aclose()  # flush
    lines = [json.loads(line) for line in gateway.audit.path.read_text().splitlines()]
    assert [(e["token"], e["status"]) for e in lines] == [
        ("billing-app", 200),
        ("billing-app", 404),
    ]
    assert value not in gateway.audit.path.read_text()


# -- the secrets canary -----------------------------------------------------------------


async def test_no_provider_key_and_no_client_token_anywhere(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with FakeLLMServer() as upstream:
        path = write_config(
            tmp_path,
            {"up": "canary"},
            audit_log="audit.jsonl",
            profiles={"canary": {"provider": "openai-compat", "model": "m",
                                 "base_url": upstream.openai_base_url,
                                 "api_key_env": "GW_CANARY_KEY", "max_retries": 0}},
        )  # fmt: skip
        import os

        os.environ["GW_CANARY_KEY"] = CANARY_KEY
        try:
            gw = Gateway(load_config(path))
        finally:
            del os.environ["GW_CANARY_KEY"]
        seen: list[str] = []
        async with gw:
            value = token(gw)
            upstream.enqueue(
                Reply("fine"),
                ErrorReply(401, {"error": {"message": f"Incorrect API key provided: {CANARY_KEY}",
                                           "type": "invalid_request_error"}}),
                Reply("streamed"),
            )  # fmt: skip
            body = {"model": "up", "messages": [{"role": "user", "content": "x"}]}
            for url, payload in (
                ("/v1/chat/completions", body),
                ("/api/stream", body),
                ("/api/stream", {**body, "model": "nope"}),
                ("/v1/chat/completions", {**body, "stream": True}),
            ):
                status, headers, raw = await post(gw.url + url, payload, auth(value))
                seen += [str(status), json.dumps(headers), raw.decode()]
            for bad in ("wrong", value + "x"):
                seen.append((await post(gw.url + "/api/stream", body, auth(bad)))[2].decode())
            async with aiohttp.ClientSession() as session:
                for route in ("/metrics", "/healthz"):
                    async with session.get(gw.url + route) as r:
                        seen.append(await r.text())
        sent = {k.lower(): v for k, v in upstream.requests[0].headers.items()}
        assert sent["authorization"] == f"Bearer {CANARY_KEY}"  # the key did reach upstream
        assert gw.audit is not None
        seen.append(gw.audit.path.read_text())
        seen.append((tmp_path / "tokens.json").read_text())
        seen += [r.getMessage() + repr(r.args) for r in caplog.records]
        everything = "\n".join(seen)
        assert "fine" in everything and "streamed" in everything
        assert CANARY_KEY not in everything
        assert value not in everything and value.rsplit("_", 1)[-1] not in everything
