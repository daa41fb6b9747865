"""Cache keys: canonical, complete, secret-free."""

from __future__ import annotations

import re
from typing import Any

import attrs
import pytest

from jackfield.cache import ResponseCache, cache_key
from jackfield.cache._keys import FORMAT_VERSION, key_material
from jackfield.plugins.mock import MockProvider
from jackfield.types import Message, Request, ToolSpec

KEY = re.compile(rf"^jackfield:v{FORMAT_VERSION}:[0-9a-f]{{64}}$")


def _request(**changes: Any) -> Request:
    base = Request(
        messages=(Message.system("be brief"), Message.user("hello")),
        model="m1",
        temperature=0.5,
        max_tokens=100,
        tools=(ToolSpec("lookup", "find", {"type": "object", "properties": {"q": {}}}),),
        tool_choice="auto",
        json_mode=False,
        stop=("END",),
        reasoning=None,
        extra={"top_p": 0.9, "seed": 7},
    )
    return attrs.evolve(base, **changes)


def _key(request: Request, provider: str = "p", base_url: str | None = "http://x") -> str:
    return cache_key(request, provider=provider, base_url=base_url)


def test_key_shape_namespace_and_version() -> None:
    key = _key(_request())
    assert KEY.match(key), key
    assert _key(_request()) == key  # deterministic


def test_dict_order_does_not_change_the_key() -> None:
    a = _request(extra={"top_p": 0.9, "seed": 7, "opts": {"x": 1, "y": [1, {"b": 2, "a": 1}]}})
    b = _request(extra={"opts": {"y": [1, {"a": 1, "b": 2}], "x": 1}, "seed": 7, "top_p": 0.9})
    assert _key(a) == _key(b)
    t1 = ToolSpec("t", "", {"type": "object", "properties": {"a": {}, "b": {}}})
    t2 = ToolSpec("t", "", {"properties": {"b": {}, "a": {}}, "type": "object"})
    assert _key(_request(tools=(t1,))) == _key(_request(tools=(t2,)))


VARIANTS: dict[str, dict[str, Any]] = {
    "model": {"model": "m2"},
    "messages": {"messages": (Message.system("be brief"), Message.user("hello!"))},
    "role": {"messages": (Message.user("be brief"), Message.user("hello"))},
    "temperature": {"temperature": 0.6},
    "temperature_none": {"temperature": None},
    "max_tokens": {"max_tokens": 101},
    "tools": {"tools": ()},
    "tool_schema": {"tools": (ToolSpec("lookup", "find", {"type": "object"}),)},
    "tool_choice": {"tool_choice": "required"},
    "json_mode": {"json_mode": True},
    "stop": {"stop": ("END", "STOP")},
    "reasoning": {"reasoning": "high"},
    "extra": {"extra": {"top_p": 0.8, "seed": 7}},
    "extra_key": {"extra": {"top_p": 0.9, "seed": 7, "logprobs": True}},
}


def test_every_parameter_changes_the_key() -> None:
    keys = {"base": _key(_request())}
    for name, change in VARIANTS.items():
        keys[name] = _key(_request(**change))
    keys["provider"] = _key(_request(), provider="q")
    keys["base_url"] = _key(_request(), base_url="http://y")
    keys["no_base_url"] = _key(_request(), base_url=None)
    keys["stream"] = cache_key(_request(), provider="p", base_url="http://x", stream=True)
    assert len(set(keys.values())) == len(keys), keys


def test_callables_in_extra_are_skipped() -> None:
    plain = _request()
    with_callback = _request(
        extra={"top_p": 0.9, "seed": 7, "on_token": lambda t: None, "nested": {"cb": print}}
    )
    assert _key(with_callback) == _key(_request(extra={"top_p": 0.9, "seed": 7, "nested": {}}))
    assert _key(plain) != _key(with_callback)  # "nested" is still a parameter


def test_other_non_json_extra_values_have_a_stable_form() -> None:
    a = _request(extra={"tags": {"b", "a"}, "blob": b"\x00\x01", "when": _Opaque()})
    b = _request(extra={"when": _Opaque(), "blob": b"\x00\x01", "tags": {"a", "b"}})
    assert _key(a) == _key(b)
    assert _key(a) != _key(_request(extra={"tags": {"a"}, "blob": b"\x00\x01", "when": _Opaque()}))


class _Opaque:
    def __str__(self) -> str:
        return "opaque"


def test_the_api_key_is_never_part_of_the_key() -> None:
    one = MockProvider(api_key="sk-first-secret-1111")
    two = MockProvider(api_key="sk-second-secret-2222")
    r1 = one.build_request("hello")
    r2 = two.build_request("hello")
    k1 = ResponseCache.key(one, r1)
    k2 = ResponseCache.key(two, r2)
    assert k1 == k2
    for text in (k1, key_material(r1, provider="mock", base_url=one.base_url, stream=False)):
        assert "sk-first-secret-1111" not in text
        assert "sk-second-secret-2222" not in text


def test_model_is_keyed_after_tier_resolution() -> None:
    provider = MockProvider()
    by_tier = provider.build_request("hi", tier="hosted_large")
    by_model = provider.build_request("hi", model="mock-large")
    assert ResponseCache.key(provider, by_tier) == ResponseCache.key(provider, by_model)


def test_config_defaults_are_part_of_the_key() -> None:
    cold = MockProvider(temperature=0.0)
    warm = MockProvider(temperature=1.0)
    assert ResponseCache.key(cold, cold.build_request("hi")) != ResponseCache.key(
        warm, warm.build_request("hi")
    )


@pytest.mark.parametrize("stream", [False, True])
def test_key_does_not_depend_on_the_provider_instance(stream: bool) -> None:
    a, b = MockProvider(), MockProvider()
    assert ResponseCache.key(a, a.build_request("x"), stream=stream) == ResponseCache.key(
        b, b.build_request("x"), stream=stream
    )
