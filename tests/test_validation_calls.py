"""A call's keyword arguments and its content, checked before any I/O.

* A keyword the contract does not know, and the provider does not declare in
  ``call_options``, raises ``BadRequestError`` with a did-you-mean; provider-specific
  body fields go through ``extra={...}``, merged into the body last.
* An empty prompt (a user or system turn with no content) raises ``BadRequestError``
  naming the message, as ``generate([])`` always did.
"""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

import pytest
from test_reliability_providers import Spec, provider_params

from jackfield.errors import BadRequestError
from jackfield.plugins.mock import MockProvider
from jackfield.testing._fake_server import FakeLLMServer
from jackfield.types import Message, TextPart

TIMEOUT = 10.0


def _body(server: FakeLLMServer) -> dict[str, Any]:
    """The wire fields of the last request (the proxy nests them in ``extra``)."""
    data = server.last_request.json
    assert isinstance(data, dict)
    return dict(data.get("extra", {})) if server.last_request.endpoint == "proxy" else data


async def _refused(provider: Any, messages: Any, **kwargs: Any) -> BadRequestError:
    """The ``BadRequestError`` both ``generate`` and ``stream`` raise for this call."""
    with pytest.raises(BadRequestError) as info:
        await asyncio.wait_for(provider.generate(messages, **kwargs), TIMEOUT)
    with pytest.raises(BadRequestError) as streamed:
        provider.stream(messages, **kwargs)
    assert str(streamed.value) == str(info.value)
    assert info.value.provider == provider.name
    return info.value


# -- unknown keywords ----------------------------------------------------------------------


@pytest.mark.parametrize("spec", provider_params())
async def test_misspelled_keywords_are_refused_with_a_suggestion(spec: Spec) -> None:
    async with FakeLLMServer() as server:
        provider = spec.make(server)
        try:
            err = await _refused(provider, "hi", modle="x", temprature=0.1)
            assert "modle" in err.message and "did you mean 'model'?" in err.message
            assert "temprature" in err.message and "did you mean 'temperature'?" in err.message
            err = await _refused(provider, "hi", max_token=5)
            assert "did you mean 'max_tokens'?" in err.message
            err = await _refused(provider, "hi", zzzzzz=1)
            assert "zzzzzz" in err.message and "extra=" in err.message
            assert server.request_count == 0
        finally:
            await provider.aclose()


@pytest.mark.parametrize("spec", provider_params())
async def test_extra_goes_into_the_body(spec: Spec) -> None:
    async with FakeLLMServer() as server:
        provider = spec.make(server)
        try:
            extra = {"custom_field": {"a": [1, 2]}, "top_k": 3}
            await asyncio.wait_for(provider.generate("hi", extra=extra), TIMEOUT)
            body = _body(server)
            assert body["custom_field"] == {"a": [1, 2]} and body["top_k"] == 3
            await asyncio.wait_for(provider.stream("hi", extra=extra).collect(), TIMEOUT)
            assert _body(server)["custom_field"] == {"a": [1, 2]}
        finally:
            await provider.aclose()


@pytest.mark.parametrize("spec", provider_params())
async def test_declared_call_options_are_keywords(spec: Spec) -> None:
    """Each built-in provider declares its API's common fields, which go into the body."""
    cls = spec.provider_class()
    options = {"openai": {"top_p": 0.5, "seed": 7}, "anthropic": {"top_p": 0.5, "top_k": 40}}
    wanted = options.get(spec.wire, {})
    assert set(wanted) <= set(cls.call_options)
    async with FakeLLMServer() as server:
        provider = spec.make(server)
        try:
            await asyncio.wait_for(provider.generate("hi", **wanted), TIMEOUT)
            body = _body(server)
            assert {k: body[k] for k in wanted} == wanted
        finally:
            await provider.aclose()


async def test_a_keyword_given_twice_or_a_bad_extra_is_refused() -> None:
    class Seeded(MockProvider):
        call_options: ClassVar[frozenset[str]] = frozenset({"seed"})

    provider = Seeded()
    err = await _refused(provider, "hi", seed=1, extra={"seed": 2})
    assert "seed" in err.message and "extra" in err.message
    assert "extra must be a dict" in (await _refused(provider, "hi", extra=[1])).message
    assert "extra" in (await _refused(provider, "hi", extra={1: "x"})).message
    assert "extra['when']" in (await _refused(provider, "hi", extra={"when": object()})).message
    assert provider.requests == []


async def test_a_plugin_declares_its_own_keywords() -> None:
    class WithOptions(MockProvider):
        call_options: ClassVar[frozenset[str]] = frozenset({"flavour", "depth"})

    provider = WithOptions()
    await provider.generate("hi", flavour="mint", extra={"raw": True})
    assert provider.requests[-1].extra == {"flavour": "mint", "raw": True}
    err = await _refused(provider, "hi", flavor="mint")
    assert "did you mean 'flavour'?" in err.message
    # a plain mock declares nothing: the same keyword is refused there
    plain = MockProvider()
    await _refused(plain, "hi", flavour="mint")
    assert plain.requests == []


# -- empty content -------------------------------------------------------------------------

EMPTY: dict[str, Any] = {
    "empty string": "",
    "empty user dict": [{"role": "user", "content": ""}],
    "content None": [{"role": "user", "content": None}],
    "no content key": [{"role": "user"}],
    "empty parts": [{"role": "user", "content": []}],
    "empty text part": [Message.user([TextPart("")])],
    "empty Message": [Message.user("")],
    "empty system": [Message.system(""), Message.user("hi")],
    "empty later turn": [Message.user("hi"), Message.assistant("ok"), Message.user("")],
}


@pytest.mark.parametrize("spec", provider_params())
async def test_empty_prompts_are_refused_before_any_io(spec: Spec) -> None:
    async with FakeLLMServer() as server:
        provider = spec.make(server)
        try:
            for what, messages in EMPTY.items():
                err = await _refused(provider, messages)
                assert "content is empty" in err.message, what
                assert "messages[" in err.message, what
            assert server.request_count == 0
            # an assistant turn may be empty when it carries tool calls, as always
            await asyncio.wait_for(provider.generate("hi"), TIMEOUT)
        finally:
            await provider.aclose()


async def test_empty_prompt_names_the_message() -> None:
    provider = MockProvider()
    err = await _refused(provider, [Message.user("hi"), Message.assistant("ok"), Message.user("")])
    assert "messages[2].content is empty" in err.message
    assert provider.requests == []
