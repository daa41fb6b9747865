"""Documents, audio and cache points on every wire, with the real SDKs, over loopback.

Each test sends the neutral parts through ``generate`` to a :class:`FakeLLMServer` and
asserts on the body the server received: the Chat Completions family (``openai`` through
its SDK, ``azure``, ``openrouter``, ``ollama``, ``vllm``, ``openai-compat``) and
Anthropic Messages (through its SDK). What a provider does not declare is refused
before any I/O: the server sees no request. The shapes follow the vendors' documented
request bodies, kept in ``tests/fixtures/wire_requests`` (sources in its README).
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import attrs
import pytest
from test_reliability_providers import Spec, provider_params

from jackfield.errors import BadRequestError, UnsupportedFeatureError
from jackfield.testing._fake_server import FakeLLMServer
from jackfield.types import AudioPart, CachePoint, DocumentPart, Message, TextPart, ToolSpec
from jackfield.wire import _anthropic, _openai_chat

TIMEOUT = 20  # seconds: a regression fails, never hangs the suite
FIXTURES = Path(__file__).parent / "fixtures" / "wire_requests"

PDF = "JVBERi0xLjQKJcfsj6IKMSAwIG9iago8PC9UeXBlL0NhdGFsb2c+PgplbmRvYmoKJSVFT0YK"
WAV = "UklGRiQAAABXQVZFZm10IBAAAAABAAEAQB8AAIA+AAACABAAZGF0YQAAAAA="
PDF_URL = "https://example.com/report.pdf"

OPENAI_WIRE = [p for p in provider_params() if p.values[0].wire == "openai"]
ANTHROPIC_WIRE = [p for p in provider_params() if p.values[0].wire == "anthropic"]
# The Chat Completions providers that do not declare documents/audio get them by config
# (a server that knows more): the wire is the same for all of them.
MORE = {"capabilities": {"documents": True, "audio": True}}


def _fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


async def _send(spec: Spec, messages: Any, **kwargs: Any) -> tuple[dict[str, Any], int]:
    """The body the server received for one ``generate``, and the request count."""
    config = kwargs.pop("config", {})
    async with FakeLLMServer() as server:
        provider = spec.make(server, max_retries=0, **config)
        try:
            await asyncio.wait_for(provider.generate(messages, **kwargs), TIMEOUT)
        finally:
            await provider.aclose()
        return server.last_request.json, server.request_count


async def _refused(spec: Spec, messages: Any, **kwargs: Any) -> UnsupportedFeatureError:
    """The error of a call that must fail before any I/O (the server sees nothing)."""
    config = kwargs.pop("config", {})
    async with FakeLLMServer() as server:
        provider = spec.make(server, max_retries=0, **config)
        try:
            with pytest.raises(UnsupportedFeatureError) as info:
                await asyncio.wait_for(provider.generate(messages, **kwargs), TIMEOUT)
        finally:
            await provider.aclose()
        assert server.request_count == 0, "the call reached the server"
    return info.value


def _shape(value: Any) -> Any:
    """A body's structure with every string replaced by its kind: compares our body
    with a documented example whose data and text differ."""
    if isinstance(value, dict):
        return {k: _shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_shape(v) for v in value]
    if isinstance(value, str):
        return "data-url" if value.startswith("data:") else "str"
    return value


# -- Chat Completions ------------------------------------------------------------------------


@pytest.mark.parametrize("spec", OPENAI_WIRE)
async def test_chat_completions_carries_pdf_text_documents_and_audio(spec: Spec) -> None:
    user = Message.user(
        [
            TextPart("Summarise these."),
            DocumentPart(data=PDF, title="Q3 report"),
            DocumentPart(text="plain words", title="notes"),
            DocumentPart(text="untitled words"),
            AudioPart(data=WAV, format="wav"),
        ]
    )
    body, _ = await _send(spec, [user], config=MORE)
    assert body["messages"][0]["content"] == [
        {"type": "text", "text": "Summarise these."},
        {
            "type": "file",
            "file": {
                "filename": "Q3 report.pdf",
                "file_data": f"data:application/pdf;base64,{PDF}",
            },
        },
        {"type": "text", "text": "notes\n\nplain words"},
        {"type": "text", "text": "untitled words"},
        {"type": "input_audio", "input_audio": {"data": WAV, "format": "wav"}},
    ]


def test_chat_completions_parts_have_the_documented_shape() -> None:
    documented = _fixture("openai-chat-file-and-input-audio.json")
    ours = _openai_chat.build_payload(
        _request(
            [
                Message.user(
                    [
                        DocumentPart(data=PDF, title="draconomicon.pdf"),
                        TextPart("What is the first dragon in the book?"),
                    ]
                ),
                Message.user([TextPart("What is in this recording?"), AudioPart(WAV, None, "wav")]),
            ]
        ),
        stream=False,
    )
    for mine, theirs in zip(ours["messages"], documented["body"]["messages"], strict=True):
        assert _shape(mine) == _shape(theirs)


@pytest.mark.parametrize("spec", OPENAI_WIRE)
async def test_chat_completions_refuses_a_document_url_before_io(spec: Spec) -> None:
    err = await _refused(spec, [Message.user([TextPart("read"), DocumentPart(url=PDF_URL)])])
    assert err.feature in ("document_urls", "documents")


def test_chat_completions_takes_a_url_document_as_file_data_where_declared() -> None:
    # A server that takes URLs (OpenRouter documents `file_data` as a URL) is declared so by
    # configuration; the wire then carries the URL, it never drops it.
    body = _openai_chat.build_payload(
        _request([Message.user([TextPart("read"), DocumentPart(url=PDF_URL, title="r.pdf")])]),
        stream=False,
    )
    assert body["messages"][0]["content"][1] == {
        "type": "file",
        "file": {"filename": "r.pdf", "file_data": PDF_URL},
    }


def test_chat_completions_audio_needs_base64_data_and_a_format() -> None:
    data_url = f"data:audio/mpeg;base64,{WAV}"
    body = _openai_chat.build_payload(
        _request([Message.user([TextPart("hear"), AudioPart(url=data_url)])]), stream=False
    )
    assert body["messages"][0]["content"][1] == {
        "type": "input_audio",
        "input_audio": {"data": WAV, "format": "mp3"},
    }
    with pytest.raises(UnsupportedFeatureError, match="audio by URL") as info:
        _openai_chat.build_payload(
            _request([Message.user([AudioPart(url="https://x/a.wav", format="wav")])]),
            stream=False,
        )
    assert info.value.feature == "audio"
    with pytest.raises(BadRequestError, match="needs a format"):
        _openai_chat.build_payload(_request([Message.user([AudioPart(data=WAV)])]), stream=False)


def test_a_document_of_another_media_type_is_refused_by_both_wires() -> None:
    request = _request([Message.user([DocumentPart(data=PDF, media_type="application/msword")])])
    for build in (_openai_chat.build_payload, _anthropic.build_payload):
        with pytest.raises(UnsupportedFeatureError, match="application/msword") as info:
            build(request, stream=False)
        assert info.value.feature == "documents"


def _cached(question: str, rules: str = "Answer from the handbook.") -> list[Message]:
    return [
        Message.system([TextPart(rules), CachePoint()]),
        Message.user([TextPart("handbook text"), CachePoint(ttl="1h"), TextPart(question)]),
    ]


@pytest.mark.parametrize("spec", OPENAI_WIRE)
async def test_chat_completions_maps_cache_points_to_a_prompt_cache_key(spec: Spec) -> None:
    tools = [ToolSpec("lookup", "Look up", {"type": "object", "properties": {}}), CachePoint()]
    first, _ = await _send(spec, _cached("first question?"), tools=tools)
    again, _ = await _send(spec, _cached("another question?"), tools=tools)
    other, _ = await _send(spec, _cached("first question?", rules="Other rules."), tools=tools)
    key = first["prompt_cache_key"]
    assert key.startswith("jackfield-") and len(key) <= 64
    assert again["prompt_cache_key"] == key  # the same prefix: the same key
    assert other["prompt_cache_key"] != key  # another prefix: another key
    assert "cache_point" not in json.dumps(first)  # never a part on the wire
    assert first["messages"][1]["content"] == [
        {"type": "text", "text": "handbook text"},
        {"type": "text", "text": "first question?"},
    ]
    assert "cache_control" not in json.dumps(first)
    plain, _ = await _send(spec, "no marks")
    assert "prompt_cache_key" not in plain  # unmarked calls are sent as before


@pytest.mark.parametrize("spec", OPENAI_WIRE)
async def test_a_callers_prompt_cache_key_is_never_overridden(spec: Spec) -> None:
    body, _ = await _send(spec, _cached("q?"), extra={"prompt_cache_key": "tenant-7"})
    assert body["prompt_cache_key"] == "tenant-7"


def test_the_prompt_cache_key_covers_the_prefix_up_to_the_last_mark() -> None:
    def key(messages: list[Message], tools: list[Any] | None = None) -> str:
        request = _request(messages, tools=tools)
        return str(_openai_chat.build_payload(request, stream=False)["prompt_cache_key"])

    tool = ToolSpec("a", "A", {"type": "object", "properties": {}})
    other = ToolSpec("b", "B", {"type": "object", "properties": {}})
    base = key(_cached("q1"))
    assert key(_cached("q2")) == base
    assert key(_cached("q1"), tools=[tool]) != base  # tools come before the messages
    # only a tool is marked: the key covers the tools up to the mark, not the messages
    marked = key([Message.user("one")], tools=[tool, CachePoint(), other])
    assert key([Message.user("two")], tools=[tool, CachePoint(), other]) == marked
    assert key([Message.user("two")], tools=[tool, CachePoint()]) == marked


# -- Anthropic Messages -----------------------------------------------------------------------


@pytest.mark.parametrize("spec", ANTHROPIC_WIRE)
async def test_anthropic_carries_pdf_url_and_text_documents(spec: Spec) -> None:
    user = Message.user(
        [
            TextPart("Compare these."),
            DocumentPart(data=PDF, title="report.pdf"),
            DocumentPart(url=PDF_URL),
            DocumentPart(text="plain words", title="notes"),
        ]
    )
    body, _ = await _send(spec, [user])
    assert body["messages"][0]["content"] == [
        {"type": "text", "text": "Compare these."},
        {
            "type": "document",
            "source": {"type": "base64", "media_type": "application/pdf", "data": PDF},
            "title": "report.pdf",
        },
        {"type": "document", "source": {"type": "url", "url": PDF_URL}},
        {
            "type": "document",
            "source": {"type": "text", "media_type": "text/plain", "data": "plain words"},
            "title": "notes",
        },
    ]


def test_anthropic_parts_have_the_documented_shape() -> None:
    documented = _fixture("anthropic-documents.json")
    ours = _anthropic.build_payload(
        _request(
            [
                Message.user(
                    [
                        DocumentPart(url=PDF_URL),
                        DocumentPart(data=PDF),
                        DocumentPart(text="The grass is green.", title="My Document"),
                        TextPart("What are the key findings in these documents?"),
                    ]
                )
            ]
        ),
        stream=False,
    )
    assert _shape(ours["messages"]) == _shape(documented["body"]["messages"])


@pytest.mark.parametrize("spec", ANTHROPIC_WIRE)
async def test_anthropic_refuses_audio_before_io(spec: Spec) -> None:
    err = await _refused(spec, [Message.user([TextPart("hear"), AudioPart(WAV, None, "wav")])])
    assert err.feature == "audio" and err.provider == "anthropic"


@pytest.mark.parametrize("spec", ANTHROPIC_WIRE)
async def test_anthropic_puts_cache_control_on_system_tools_and_parts(spec: Spec) -> None:
    tools = [
        ToolSpec("lookup", "Look up", {"type": "object", "properties": {}}),
        CachePoint(ttl="1h"),
        ToolSpec("fetch", "Fetch", {"type": "object", "properties": {}}),
    ]
    messages = [
        Message.system([TextPart("Long rules."), CachePoint(ttl="1h"), TextPart("Today: Monday.")]),
        Message.user([DocumentPart(data=PDF), CachePoint(), TextPart("What does it say?")]),
        Message.assistant("It says hello."),
        Message.user([TextPart("And then?"), CachePoint(ttl="5m")]),
    ]
    body, _ = await _send(spec, messages, tools=tools)
    assert body["tools"][0]["cache_control"] == {"type": "ephemeral", "ttl": "1h"}
    assert "cache_control" not in body["tools"][1]
    assert body["system"] == [
        {
            "type": "text",
            "text": "Long rules.",
            "cache_control": {"type": "ephemeral", "ttl": "1h"},
        },
        {"type": "text", "text": "Today: Monday."},
    ]
    assert body["messages"][0]["content"] == [
        {
            "type": "document",
            "source": {"type": "base64", "media_type": "application/pdf", "data": PDF},
            "cache_control": {"type": "ephemeral"},
        },
        {"type": "text", "text": "What does it say?"},
    ]
    # a single marked text block stays a block: a plain string has no cache_control slot
    assert body["messages"][2]["content"] == [
        {"type": "text", "text": "And then?", "cache_control": {"type": "ephemeral", "ttl": "5m"}}
    ]
    assert "cache_point" not in json.dumps(body)


def test_anthropic_cache_control_has_the_documented_shape() -> None:
    documented = _fixture("anthropic-prompt-caching.json")["body"]
    documented_tool = documented["tools"][0]
    tool = ToolSpec("get_weather", documented_tool["description"], documented_tool["input_schema"])
    ours = _anthropic.build_payload(
        _request(
            [
                Message.system(
                    [TextPart("You are an AI assistant tasked with analyzing literary works.")]
                ),
                Message.system(
                    [TextPart("<the entire contents of Pride and Prejudice>"), CachePoint()]
                ),
                Message.user("Analyze the major themes in Pride and Prejudice."),
            ],
            tools=[tool, CachePoint()],
        ),
        stream=False,
    )
    assert _shape(ours["system"]) == _shape(documented["system"])
    assert _shape(ours["tools"]) == _shape(documented["tools"])


def test_anthropic_unmarked_system_stays_one_string() -> None:
    body = _anthropic.build_payload(
        _request([Message.system("a"), Message.system([TextPart("b")]), Message.user("q")]),
        stream=False,
    )
    assert body["system"] == "a\n\nb"


def test_anthropic_json_mode_instruction_follows_a_marked_system_prompt() -> None:
    request = _request([Message.system([TextPart("rules"), CachePoint()]), Message.user("q")])
    body = _anthropic.build_payload(attrs.evolve(request, json_mode=True), stream=False)
    assert body["system"] == [
        {"type": "text", "text": "rules", "cache_control": {"type": "ephemeral"}},
        {"type": "text", "text": _anthropic.JSON_MODE_INSTRUCTION},
    ]


def test_anthropic_marks_a_tool_result() -> None:
    from jackfield.types import ToolCall

    call = ToolCall("toolu_1", "lookup", {})
    messages = [
        Message.user("look it up"),
        Message.assistant("", tool_calls=[call]),
        Message("tool", [TextPart("found it"), CachePoint()], tool_call_id="toolu_1"),
    ]
    body = _anthropic.build_payload(_request(messages), stream=False)
    assert body["messages"][2]["content"] == [
        {
            "type": "tool_result",
            "tool_use_id": "toolu_1",
            "content": "found it",
            "cache_control": {"type": "ephemeral"},
        }
    ]


@pytest.mark.parametrize("spec", ANTHROPIC_WIRE)
async def test_anthropic_refuses_a_fifth_cache_point_before_io(spec: Spec) -> None:
    tools = [ToolSpec("a", "A", {"type": "object", "properties": {}}), CachePoint()]
    parts: list[Any] = [TextPart("a"), CachePoint(), TextPart("b"), CachePoint()]
    messages = [Message.system([TextPart("rules"), CachePoint()]), Message.user(parts)]
    body, _ = await _send(spec, messages, tools=tools)  # four: sent
    assert json.dumps(body).count("cache_control") == 4
    err = await _refused(
        spec, [*messages, Message.user([TextPart("c"), CachePoint()])], tools=tools
    )
    assert err.feature == "cache_points"
    assert "5 cache points" in str(err) and "at most 4" in str(err)


# -- helpers ------------------------------------------------------------------------------------


def _request(messages: list[Message], tools: list[Any] | None = None) -> Any:
    from jackfield.plugins.mock import MockProvider

    mock = MockProvider()
    # the mock declares every part; its build_request validates as any provider does
    return mock.build_request(messages, tools=tools, model="fake-model")


def test_anthropic_a_mark_opening_a_message_closes_the_turn_before() -> None:
    messages = [
        Message.user("first question"),
        Message.assistant("first answer"),
        Message.user([CachePoint(), TextPart("second question")]),
    ]
    body = _anthropic.build_payload(_request(messages), stream=False)
    assert body["messages"][1]["content"] == [
        {"type": "text", "text": "first answer", "cache_control": {"type": "ephemeral"}}
    ]
    assert body["messages"][2]["content"] == "second question"
    opening = [Message.system([CachePoint(), TextPart("rules")]), Message.user("q")]
    with pytest.raises(BadRequestError, match=r"messages\[0\]: a cache point must follow"):
        _anthropic.build_payload(_request(opening), stream=False)
