"""No parameter is dropped silently, anywhere: each built-in provider x each feature of
the contract, sent through the fake server. Either the captured wire body carries the
feature, or a typed error (``UnsupportedFeatureError`` / ``BadRequestError``) was raised
and the server saw no request.

The wire shapes asserted are the ones each wire format has a slot for: Chat Completions
(openai, azure, openrouter, ollama, vllm, openai-compat), OpenAI's Responses API
(openai-responses, and openai on a reasoning model by default), Anthropic Messages,
Gemini and the jackfield proxy protocol (version 2). Each body is judged by the endpoint
it reached. The mock has no wire and is not in the table.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from test_reliability_providers import HTTP_PROVIDERS, Spec

from jackfield.errors import BadRequestError, ProviderError
from jackfield.provider import Provider
from jackfield.testing._fake_server import FakeLLMServer
from jackfield.testing._scripts import Reply
from jackfield.types import (
    AudioPart,
    CachePoint,
    DocumentPart,
    ImagePart,
    Message,
    OutputMode,
    TextPart,
    ToolSpec,
)

MODELS: dict[str, str] = {
    "openai": "gpt-5.4-mini",
    "openai-responses": "gpt-5.4-mini",
    "azure": "gpt-4o",
    "openrouter": "openai/gpt-5.4-mini",
    "anthropic": "claude-sonnet-4-6",
    "ollama": "qwen2.5vl:7b",
    "vllm": "served-model",
    "openai-compat": "served-model",
    "proxy": "hosted_small",
    "gemini": "gemini-3.8-flash",
}
"""A realistic model per provider (its declaration decides carry-or-refuse)."""

WEATHER = ToolSpec(
    "get_weather",
    "Current weather.",
    {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)
SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "rank": {"type": "integer"}},
    "required": ["city", "rank"],
}
PDF = "JVBERi0xLjQKJcfsj6IKdHJhaWxlcgo8PD4+CiUlRU9GCg=="
PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJ"
WAV = "UklGRiQAAABXQVZFZm10IBAAAAABAAEAQB8AAIA+AAACABAAZGF0YQAAAAA="
DOC_TEXT = "Quarterly numbers: revenue up nine percent."


def _user(*parts: Any) -> list[Message]:
    return [Message.user([TextPart("Look at this."), *parts])]


FEATURES: dict[str, dict[str, Any]] = {
    "tools": {"tools": [WEATHER]},
    "tool_choice": {"tools": [WEATHER], "tool_choice": "required"},
    "parallel_tool_calls": {"tools": [WEATHER], "parallel_tool_calls": False},
    "images": {"messages": _user(ImagePart(data=PNG, media_type="image/png"))},
    "documents_data": {"messages": _user(DocumentPart(data=PDF, title="report"))},
    "documents_url": {"messages": _user(DocumentPart(url="https://example.com/report.pdf"))},
    "documents_text": {"messages": _user(DocumentPart(text=DOC_TEXT, title="notes"))},
    "audio": {"messages": _user(AudioPart(data=WAV, format="wav"))},
    "structured_output": {"response_format": SCHEMA},
    "json_mode": {"json_mode": True},
    "reasoning": {"reasoning": True},
    "reasoning_effort": {"reasoning": "high"},
    "cache_points": {
        "messages": [Message.system([TextPart("Be brief."), CachePoint()]), Message.user("hi")]
    },
    "tool_cache_point": {"tools": [WEATHER, CachePoint()]},
    "stop": {"stop": ["END"]},
    "temperature": {"temperature": 0.25},
    "max_tokens": {"max_tokens": 77},
}


def _parts(body: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for m in body.get("messages", []):
        content = m.get("content")
        if isinstance(content, list):
            out += [p for p in content if isinstance(p, dict)]
    if isinstance(body.get("system"), list):
        out += [p for p in body["system"] if isinstance(p, dict)]
    return out


def _types(body: dict[str, Any]) -> list[str]:
    return [str(p.get("type")) for p in _parts(body)]


def _chat(feature: str, body: dict[str, Any], provider: Provider) -> bool:
    """Whether a Chat Completions body carries ``feature``."""
    if feature == "tools":
        return body["tools"][0]["function"]["name"] == "get_weather"
    if feature == "tool_choice":
        return body.get("tool_choice") == "required"
    if feature == "parallel_tool_calls":
        return body.get("parallel_tool_calls") is False
    if feature == "images":
        return "image_url" in _types(body)
    if feature in ("documents_data", "documents_url"):
        return "file" in _types(body)
    if feature == "documents_text":
        return DOC_TEXT in json.dumps(body["messages"])
    if feature == "audio":
        return "input_audio" in _types(body)
    if feature == "structured_output":
        return _output_carried(body, provider, chat=True)
    if feature == "json_mode":
        return body.get("response_format") == {"type": "json_object"}
    if feature == "reasoning":
        return body.get("reasoning_effort") == "medium"
    if feature == "reasoning_effort":
        return body.get("reasoning_effort") == "high"
    if feature in ("cache_points", "tool_cache_point"):
        if provider.capabilities().cache_points == "explicit":
            return "cache_control" in json.dumps(body)
        if provider.name in ("openai", "azure"):
            return "prompt_cache_key" in body  # OpenAI's automatic caching: its routing key
        # a server that caches by itself (declared "automatic"): the mark is accepted and
        # needs no field; it must not leak onto the wire as a part
        return "cache_point" not in json.dumps(body["messages"]) + json.dumps(body.get("tools"))
    if feature == "stop":
        return body.get("stop") == ["END"]
    if feature == "temperature":
        return body.get("temperature") == 0.25
    if feature == "max_tokens":
        return 77 in (body.get("max_tokens"), body.get("max_completion_tokens"))
    raise AssertionError(feature)


def _anthropic(feature: str, body: dict[str, Any], provider: Provider) -> bool:
    """Whether a Messages body carries ``feature``."""
    if feature == "tools":
        return body["tools"][0]["name"] == "get_weather"
    if feature == "tool_choice":
        return body.get("tool_choice") == {"type": "any"}
    if feature == "parallel_tool_calls":
        return (body.get("tool_choice") or {}).get("disable_parallel_tool_use") is True
    if feature == "images":
        return "image" in _types(body)
    if feature in ("documents_data", "documents_url"):
        return "document" in _types(body)
    if feature == "documents_text":
        return "document" in _types(body) and DOC_TEXT in json.dumps(body["messages"])
    if feature == "audio":
        return False  # Messages has no audio input: must be refused
    if feature == "structured_output":
        return _output_carried(body, provider, chat=False)
    if feature == "json_mode":
        return "JSON" in json.dumps(body.get("system"))
    if feature in ("reasoning", "reasoning_effort"):
        return "thinking" in body
    if feature == "cache_points":
        return "cache_control" in json.dumps(body.get("system"))
    if feature == "tool_cache_point":
        return "cache_control" in body["tools"][0]
    if feature == "stop":
        return body.get("stop_sequences") == ["END"]
    if feature == "temperature":
        return body.get("temperature") == 0.25
    if feature == "max_tokens":
        return body.get("max_tokens") == 77
    raise AssertionError(feature)


def _proxy(feature: str, body: dict[str, Any], provider: Provider) -> bool:
    """Whether a proxy protocol (version 2) body carries ``feature``."""
    options = body.get("options") or {}
    if feature == "tools":
        return body["tools"][0]["name"] == "get_weather"
    if feature == "tool_choice":
        return body.get("tool_choice") == "required"
    if feature == "parallel_tool_calls":
        return False  # not a proxy keyword: must be refused
    if feature == "images":
        return "image" in _types(body)
    if feature in ("documents_data", "documents_url", "documents_text"):
        return "document" in _types(body)
    if feature == "audio":
        return "audio" in _types(body)
    if feature == "structured_output":
        return (body.get("output") or {}).get("schema") == SCHEMA
    if feature == "json_mode":
        return body.get("json_mode") is True
    if feature == "reasoning":
        return options.get("reasoning") is True
    if feature == "reasoning_effort":
        return options.get("reasoning") == "high"
    if feature == "cache_points":
        return "cache_point" in _types(body)
    if feature == "tool_cache_point":
        return body["tools"][0].get("cache_point") is not None
    if feature == "stop":
        return body.get("stop") == ["END"]
    if feature == "temperature":
        return options.get("temperature") == 0.25
    if feature == "max_tokens":
        return options.get("max_tokens") == 77
    raise AssertionError(feature)


def _output_carried(body: dict[str, Any], provider: Provider, *, chat: bool) -> bool:
    """The schema is on the wire in the mode the provider settled for this call."""
    mode = provider.build_request("x", response_format=SCHEMA).output
    assert mode is not None and mode.mode is not None
    if mode.mode is OutputMode.NATIVE:
        # the wire's own form of the schema (OpenAI's strict form closes every object)
        if chat:
            fmt = body.get("response_format") or {}
            sent = (
                fmt.get("json_schema", {}).get("schema")
                if fmt.get("type") == "json_schema"
                else None
            )
        else:
            sent = (body.get("output_config") or {}).get("format", {}).get("schema")
        return _same_fields(sent)
    if mode.mode is OutputMode.TOOL:
        tools = body.get("tools") or []
        schemas = [
            t.get("input_schema") or (t.get("function") or {}).get("parameters") for t in tools
        ]
        return SCHEMA in schemas and body.get("tool_choice") not in (None, "auto")
    return "rank" in json.dumps(body.get("messages")) + json.dumps(body.get("system"))


def _same_fields(sent: Any) -> bool:
    """``sent`` is :data:`SCHEMA` as a wire writes it: the same properties and required."""
    return (
        isinstance(sent, dict)
        and sent.get("properties") == SCHEMA["properties"]
        and set(sent.get("required", ())) == set(SCHEMA["required"])
    )


def _input_parts(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        p
        for item in body.get("input", [])
        if isinstance(item.get("content"), list)
        for p in item["content"]
        if isinstance(p, dict)
    ]


def _responses(feature: str, body: dict[str, Any], provider: Provider) -> bool:
    """Whether a Responses body carries ``feature``."""
    types = [p.get("type") for p in _input_parts(body)]
    files = [p for p in _input_parts(body) if p.get("type") == "input_file"]
    fmt = (body.get("text") or {}).get("format") or {}
    if feature == "tools":
        return body["tools"][0]["name"] == "get_weather"
    if feature == "tool_choice":
        return body.get("tool_choice") == "required"
    if feature == "parallel_tool_calls":
        return body.get("parallel_tool_calls") is False
    if feature == "images":
        return "input_image" in types
    if feature == "documents_data":
        return any(f.get("file_data", "").endswith(PDF) for f in files)
    if feature == "documents_url":
        return any(f.get("file_url") == "https://example.com/report.pdf" for f in files)
    if feature == "documents_text":
        return DOC_TEXT in json.dumps(body["input"])
    if feature == "audio":
        return False  # the Responses API has no audio input part: must be refused
    if feature == "structured_output":
        mode = provider.build_request("x", response_format=SCHEMA).output
        assert mode is not None
        if mode.mode is OutputMode.NATIVE:
            return fmt.get("type") == "json_schema" and _same_fields(fmt.get("schema"))
        return SCHEMA in [t.get("parameters") for t in body.get("tools") or []]
    if feature == "json_mode":
        return fmt == {"type": "json_object"}
    if feature == "reasoning":
        return body.get("reasoning") == {"effort": "medium", "summary": "auto"}
    if feature == "reasoning_effort":
        return (body.get("reasoning") or {}).get("effort") == "high"
    if feature in ("cache_points", "tool_cache_point"):
        return "prompt_cache_key" in body and "cache_point" not in json.dumps(body["input"])
    if feature == "stop":
        return False  # no stop sequences on this API: must be refused
    if feature == "temperature":
        return body.get("temperature") == 0.25
    if feature == "max_tokens":
        return body.get("max_output_tokens") == 77
    raise AssertionError(feature)


def _gemini_parts(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for c in body.get("contents", []) for p in c.get("parts", [])]


def _gemini(feature: str, body: dict[str, Any], provider: Provider) -> bool:
    """Whether a Gemini ``generateContent`` body carries ``feature``."""
    config = body.get("generationConfig") or {}
    calling = (body.get("toolConfig") or {}).get("functionCallingConfig") or {}
    inline = [p["inlineData"]["mimeType"] for p in _gemini_parts(body) if "inlineData" in p]
    if feature == "tools":
        return body["tools"][0]["functionDeclarations"][0]["name"] == "get_weather"
    if feature == "tool_choice":
        return calling.get("mode") == "ANY"
    if feature == "parallel_tool_calls":
        return False  # Gemini has no switch for it: must be refused
    if feature == "images":
        return "image/png" in inline
    if feature == "documents_data":
        return "application/pdf" in inline
    if feature == "documents_url":
        return any("fileData" in p for p in _gemini_parts(body))
    if feature == "documents_text":
        return DOC_TEXT in json.dumps(body["contents"])
    if feature == "audio":
        return any(m.startswith("audio/") for m in inline)
    if feature == "structured_output":
        return _same_fields(config.get("responseJsonSchema"))
    if feature == "json_mode":
        return config.get("responseMimeType") == "application/json"
    if feature in ("reasoning", "reasoning_effort"):
        return "thinkingConfig" in config
    if feature in ("cache_points", "tool_cache_point"):
        return "cache_point" not in json.dumps(body)  # implicit caching: the mark stays out
    if feature == "stop":
        return config.get("stopSequences") == ["END"]
    if feature == "temperature":
        return config.get("temperature") == 0.25
    if feature == "max_tokens":
        return config.get("maxOutputTokens") == 77
    raise AssertionError(feature)


CARRIES: dict[str, Callable[[str, dict[str, Any], Provider], bool]] = {
    "openai": _chat,
    "azure": _chat,
    "responses": _responses,
    "anthropic": _anthropic,
    "proxy": _proxy,
    "gemini": _gemini,
}


def _specs() -> list[Any]:
    return [
        pytest.param(s, id=s.name, marks=() if s.available() else pytest.mark.skip("n/a"))
        for s in HTTP_PROVIDERS
    ]


@pytest.mark.parametrize("feature", list(FEATURES))
@pytest.mark.parametrize("spec", _specs())
async def test_a_feature_reaches_the_wire_or_is_refused_before_io(spec: Spec, feature: str) -> None:
    async with FakeLLMServer() as server:
        overrides: dict[str, Any] = {"max_retries": 0}
        if spec.name == "azure":
            overrides["deployment"] = MODELS["azure"]
        else:
            overrides["model"] = MODELS[spec.name]
        provider = spec.make(server, **overrides)
        try:
            kwargs = dict(FEATURES[feature])
            messages = kwargs.pop("messages", "What is the weather in Paris?")
            server.enqueue(Reply('{"city": "Paris", "rank": 1}'))
            refused: BadRequestError | None = None
            try:
                await provider.generate(messages, **kwargs)
            except BadRequestError as exc:  # UnsupportedFeatureError is one
                refused = exc
            except ProviderError:
                pass  # after I/O (a reply that does not parse): the body is what counts
            if server.request_count == 0:
                assert refused is not None, f"{spec.name}/{feature}: no request and no error"
                assert refused.attempts in (0, None) or refused.status_code is None
                return
            assert refused is None or refused.status_code is not None, (
                f"{spec.name}/{feature}: refused ({refused}) after the request was sent"
            )
            body = server.last_request.json
            assert CARRIES[server.last_request.endpoint](feature, body, provider), (
                f"{spec.name}/{feature}: the request was sent without it: {json.dumps(body)[:1500]}"
            )
        finally:
            await provider.aclose()
