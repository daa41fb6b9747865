"""The conformance checks of documents, audio and cache points (``PartsChecks``, part of
the battery every built-in runs in ``test_conformance_builtin.py``): on a compatible
server declared to read documents and audio, and against providers that drop a part or
a mark, which they must catch."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest
import test_conformance_builtin as builtin

from jackfield.plugins.openai_compat import OpenAICompatProvider
from jackfield.provider import Provider
from jackfield.testing import ProviderConformance
from jackfield.testing._fake_server import FakeLLMServer
from jackfield.types import Capabilities, Request


def _parts_only(cls: type[Any]) -> type[Any]:
    """``cls`` with every inherited battery test switched off but the parts checks."""
    for name in dir(cls):
        if name.startswith("test_") and not name.startswith("test_parts_"):
            setattr(cls, name, None)  # pytest collects no non-callable
    return cls


@_parts_only
class TestOpenAICompatWithDocumentsParts(builtin.TestOpenAICompatConformance):
    """A compatible server declared (by config) to read documents and audio."""

    def make_provider(self, server: FakeLLMServer, **config: Any) -> Provider:
        caps = {"documents": True, "audio": True}
        return super().make_provider(server, capabilities=caps, **config)


# -- the checks catch broken providers ------------------------------------------------------


class _DropsDocuments(OpenAICompatProvider):
    """Declares documents and audio, then sends only the first part of each turn."""

    default_capabilities = Capabilities(documents=True, audio=True)

    def payload(self, request: Request, *, stream: bool) -> dict[str, Any]:
        body = super().payload(request, stream=stream)
        for message in body["messages"]:
            if isinstance(message["content"], list):
                message["content"] = message["content"][:1]
        return body


class _SendsMarksAsParts(OpenAICompatProvider):
    """Puts cache points on the wire as parts of their own."""

    def payload(self, request: Request, *, stream: bool) -> dict[str, Any]:
        body = super().payload(request, stream=stream)
        for message in body["messages"]:
            if isinstance(message["content"], list):
                message["content"].append({"type": "cache_point"})
        return body


class _ClaimsAudio(OpenAICompatProvider):
    """Declares audio but has no wire for it: sends the call anyway, without the part."""

    default_capabilities = Capabilities(audio=True)

    def payload(self, request: Request, *, stream: bool) -> dict[str, Any]:
        body = super().payload(request, stream=stream)
        body["messages"] = [{"role": "user", "content": "What is said?"}]
        return body


class _Case(ProviderConformance):
    wire = "openai"
    requires_api_key = False
    provider_class: ClassVar[type[OpenAICompatProvider]] = OpenAICompatProvider

    def make_provider(self, server: FakeLLMServer, **config: Any) -> Provider:
        return self.provider_class(base_url=server.openai_base_url, model="m", **config)


def _case(provider_class: type[OpenAICompatProvider]) -> _Case:
    case = _Case()
    case.provider_class = provider_class  # type: ignore[misc]
    return case


@pytest.mark.parametrize(
    ("provider_class", "test", "message"),
    [
        (_DropsDocuments, "test_parts_pdf_document", "no file part"),
        (_DropsDocuments, "test_parts_text_document", "document text and title are not"),
        (_SendsMarksAsParts, "test_parts_cache_points", "sent as a part"),
        (_ClaimsAudio, "test_parts_audio", "no input_audio part"),
    ],
    ids=lambda v: getattr(v, "__name__", None) or str(v)[:20],
)
async def test_the_checks_catch_a_broken_provider(
    provider_class: type[OpenAICompatProvider], test: str, message: str
) -> None:
    with pytest.raises(AssertionError, match=message):
        await getattr(_case(provider_class), test)()


async def test_the_checks_pass_the_unbroken_base() -> None:
    """The control: the same checks pass on the provider the broken ones derive from."""
    case = _case(OpenAICompatProvider)
    await case.test_parts_pdf_document()  # refused before I/O: not declared
    await case.test_parts_cache_points()
    await case.test_parts_audio()
