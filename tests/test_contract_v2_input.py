"""Contract v2 input: the new content parts, cache points, ``response_format`` and the
capability check, all settled when the request is built (before any I/O)."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from jackfield import (
    AudioPart,
    BadRequestError,
    CachePoint,
    ConfigurationError,
    DocumentPart,
    ImagePart,
    Message,
    OutputMode,
    TextPart,
    ToolSpec,
    UnsupportedFeatureError,
    create_provider,
)

# Nothing listens here: a request that got past the check would fail with NetworkError.
NOWHERE = "http://127.0.0.1:9"


def _compat(**config: Any) -> Any:
    return create_provider("openai-compat", base_url=NOWHERE, model="m", **config)


def test_a_document_must_say_exactly_what_it_carries() -> None:
    p = create_provider("mock")
    with pytest.raises(BadRequestError, match=r"messages\[0\]\.content\[0\] document"):
        p.build_request([Message.user([DocumentPart()])])
    with pytest.raises(BadRequestError, match="exactly one of data, url or text"):
        p.build_request([Message.user([DocumentPart(data="JVBER", url="https://x/y.pdf")])])
    with pytest.raises(BadRequestError, match=r"content\[0\] audio needs data or url"):
        p.build_request([Message.user([AudioPart(format="wav")])])


def test_parts_given_as_dicts_become_the_typed_parts() -> None:
    request = create_provider("mock").build_request(
        [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "read this"},
                    {"type": "document", "text": "plain words", "title": "notes"},
                    {"type": "audio", "data": "UklGR", "format": "wav"},
                    {"type": "cache_point", "ttl": "1h"},
                ],
            }
        ]
    )
    assert request.messages[0].content == (
        TextPart("read this"),
        DocumentPart(text="plain words", title="notes"),
        AudioPart(data="UklGR", format="wav"),
        CachePoint(ttl="1h"),
    )
    with pytest.raises(BadRequestError, match="is not a content part"):
        create_provider("mock").build_request([{"role": "user", "content": [{"type": "video"}]}])


def test_a_system_message_holds_text_and_cache_points_only() -> None:
    p = create_provider("mock")
    request = p.build_request(
        [Message.system([TextPart("be brief"), CachePoint()]), Message.user("hi")]
    )
    assert request.messages[0].content == (TextPart("be brief"), CachePoint())
    with pytest.raises(BadRequestError, match="system message holds only text"):
        p.build_request([Message.system([ImagePart(url="https://x/a.png")]), Message.user("hi")])


def test_cache_points_in_the_tools_list_mark_the_tool_before_them() -> None:
    p = create_provider("mock")
    tool = ToolSpec("lookup", "Look up", {"type": "object", "properties": {}})
    request = p.build_request("hi", tools=[tool, CachePoint(ttl="5m")])
    assert request.tools == (ToolSpec("lookup", "Look up", tool.parameters, CachePoint("5m")),)
    assert request.to_dict()["tools"][0]["cache_point"] == {"ttl": "5m", "type": "cache_point"}
    with pytest.raises(BadRequestError, match=r"tools\[0\]: a cache point must follow a tool"):
        p.build_request("hi", tools=[CachePoint(), tool])
    with pytest.raises(BadRequestError, match=r"ttl '2h' is not one of"):
        p.build_request([Message.user([TextPart("x"), CachePoint(ttl="2h")])])


def test_a_feature_the_provider_cannot_express_is_refused_before_io() -> None:
    p = _compat()
    with pytest.raises(UnsupportedFeatureError) as info:
        p.stream([Message.user([TextPart("what is this?"), ImagePart(url="https://x/a.png")])])
    err = info.value
    assert isinstance(err, BadRequestError)
    assert err.feature == "images" and err.provider == "openai-compat"
    assert "capabilities=" in str(err)
    with pytest.raises(UnsupportedFeatureError, match="documents"):
        p.build_request([Message.user([DocumentPart(text="words")])])
    with pytest.raises(UnsupportedFeatureError, match="audio"):
        p.build_request([Message.user([AudioPart(data="UklGR", format="wav")])])


def test_configuration_overrides_a_declaration() -> None:
    p = _compat(capabilities={"images": True})
    assert p.capabilities().images is True
    p.build_request([Message.user([TextPart("what?"), ImagePart(url="https://x/a.png")])])
    assert _compat(context_window=8192).capabilities().context_window == 8192
    with pytest.raises(ConfigurationError, match="unknown key 'vision'") as info:
        _compat(capabilities={"vision": True})
    assert info.value.field == "capabilities"
    with pytest.raises(ConfigurationError, match=r"capabilities\.images: must be true or false"):
        _compat(capabilities={"images": "yes"})


def test_more_cache_points_than_the_provider_takes_are_refused_naming_the_limit() -> None:
    p = create_provider("anthropic", api_key="sk-ant-test-0000000000")
    parts = [TextPart("a"), CachePoint()] * 5
    limit = "5 cache points, but anthropic takes at most 4"
    with pytest.raises(UnsupportedFeatureError, match=limit):
        p.build_request([Message.user(parts)])
    p.build_request([Message.user(parts[:8])])  # four: accepted


@dataclasses.dataclass
class City:
    name: str
    population: int | None = None


def test_response_format_accepts_a_schema_a_dataclass_and_openais_spelling() -> None:
    p = create_provider("mock")
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}
    request = p.build_request("x", response_format=schema)
    assert request.output is not None and request.output.schema == schema
    assert request.output.mode is OutputMode.NATIVE  # the mock's strongest mode
    request = p.build_request("x", response_format=City)
    assert request.output is not None and request.output.target is City
    assert request.output.schema["required"] == ["name"]
    request = p.build_request(
        "x",
        response_format={"type": "json_schema", "json_schema": {"name": "n", "schema": schema}},
    )
    assert request.output is not None and request.output.name == "n"
    assert p.build_request("x", response_format={"type": "json_object"}).json_mode is True
    with pytest.raises(BadRequestError, match="response_format: must be a JSON schema dict"):
        p.build_request("x", response_format=42)
    assert "output" in request.to_dict()
    assert "output" not in p.build_request("x").to_dict()  # old cache keys stay valid


def test_estimates_count_documents_audio_and_no_cache_points() -> None:
    p = create_provider("mock")
    base = p.estimate_tokens([Message.user([TextPart("hi")])])
    assert p.estimate_tokens([Message.user([TextPart("hi"), CachePoint()])]) == base
    words = p.estimate_tokens([Message.user([TextPart("hi"), DocumentPart(text="word " * 400)])])
    assert base + 400 <= words <= base + 600
    pdf = "A" * (50_000 * 4 // 3 * 3)  # three pages' worth of base64
    assert p.estimate_tokens([Message.user([TextPart("hi"), DocumentPart(data=pdf)])]) == (
        base + 3 * 2000
    )
    five_seconds = "A" * (32_000 * 4 // 3 * 5)
    audio = AudioPart(data=five_seconds, format="wav")
    assert p.estimate_tokens([Message.user([TextPart("hi"), audio])]) == base + 5 * 32
