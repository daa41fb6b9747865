"""Conformance checks for documents, audio and cache points (contract v2).

:class:`PartsChecks` is a mixin of :class:`~jackfield.testing.ProviderConformance`:
for each part a provider declares in :meth:`~jackfield.provider.Provider.capabilities`
(``documents``, ``document_urls``, ``audio``, ``cache_points``), a call carrying it must
reach the fake server with the part in the request body; for each it does not declare,
the call must raise :class:`~jackfield.errors.UnsupportedFeatureError` before any
request. On the ``openai`` and ``anthropic`` wires the body is checked part by part
against the vendors' documented shapes; on another wire the part's data must appear in
the body. A provider with more cache points than it takes refuses them, naming the limit.
"""

from __future__ import annotations

import json
from contextlib import AbstractAsyncContextManager
from typing import Any, ClassVar

import pytest

from ..errors import UnsupportedFeatureError
from ..types import (
    AudioPart,
    CachePoint,
    ContentPart,
    DocumentPart,
    Message,
    TextPart,
    ToolSpec,
)
from ._scripts import Reply


class _Battery:
    """What the checks use of :class:`ProviderConformance` (not imported: it mixes
    these checks in, and the testing package stays acyclic). Not a ``Protocol``: that
    would give every battery class an ``__init__``, and pytest collects none of them."""

    wire: ClassVar[Any]

    def session(self, **config: Any) -> AbstractAsyncContextManager[Any]:
        """A server and a provider for one check."""
        raise NotImplementedError

__all__ = ["PDF_DATA", "WAV_DATA", "PartsChecks"]

PDF_DATA = "JVBERi0xLjQKJcfsj6IKMSAwIG9iago8PC9UeXBlL0NhdGFsb2c+PgplbmRvYmoKJSVFT0YK"
"""A tiny base64 PDF the checks send."""
WAV_DATA = "UklGRiQAAABXQVZFZm10IBAAAAABAAEAQB8AAIA+AAACABAAZGF0YQAAAAA="
"""A tiny base64 WAV file (no samples) the checks send."""
PDF_URL = "https://example.com/conformance.pdf"  # never fetched: the fake server answers
DOC_TEXT = "The conformance document says the sky is green."
CACHED_TOOL = ToolSpec("lookup", "Look a word up.", {"type": "object", "properties": {}})


class PartsChecks(_Battery):
    """Documents, audio and cache points: carried where declared, refused where not."""

    async def _parts_call(
        self,
        s: Any,
        parts: list[ContentPart],
        declared: bool,
        *,
        system: list[ContentPart] | None = None,
        tools: list[Any] | None = None,
    ) -> Any:
        """Send ``parts`` in one user turn: the body the server received (``None``
        without a server, or when ``declared`` is false and the call was refused before
        any I/O, as it must be)."""
        messages = [Message.user(parts)]
        if system is not None:
            messages.insert(0, Message.system(system))
        if not declared:
            with pytest.raises(UnsupportedFeatureError):
                await s.provider.generate(messages, tools=tools)
            assert s.requests == 0, "a refused call reached the server"
            return None
        s.script(Reply("Read."))
        response = await s.provider.generate(messages, tools=tools)
        assert response.content == "Read."
        last = getattr(s.server, "last_request", None) if s.server is not None else None
        return None if last is None else last.json

    def _parts_blocks(self, body: Any) -> list[Any]:
        """The content blocks of the last user turn of ``body`` (openai, responses and
        anthropic wires)."""
        turns = body["input"] if self.wire == "responses" else body["messages"]
        content = turns[-1]["content"]
        return content if isinstance(content, list) else [{"type": "text", "text": content}]

    async def test_parts_pdf_document(self) -> None:
        """A PDF by base64 data is carried as the wire's document part, or refused."""
        async with self.session() as s:
            body = await self._parts_call(
                s,
                [TextPart("Summarise it."), DocumentPart(data=PDF_DATA, title="conformance.pdf")],
                s.provider.capabilities().documents,
            )
        if body is None:
            return
        if self.wire == "openai":
            files = [b for b in self._parts_blocks(body) if b.get("type") == "file"]
            assert files, f"no file part in {self._parts_blocks(body)!r}"
            assert files[0]["file"]["file_data"] == f"data:application/pdf;base64,{PDF_DATA}"
            assert files[0]["file"]["filename"]
        elif self.wire == "responses":
            files = [b for b in self._parts_blocks(body) if b.get("type") == "input_file"]
            assert files, f"no input_file part in {self._parts_blocks(body)!r}"
            assert files[0]["file_data"] == f"data:application/pdf;base64,{PDF_DATA}"
            assert files[0]["filename"]
        elif self.wire == "anthropic":
            docs = [b for b in self._parts_blocks(body) if b.get("type") == "document"]
            assert docs, f"no document block in {self._parts_blocks(body)!r}"
            assert docs[0]["source"] == {
                "type": "base64",
                "media_type": "application/pdf",
                "data": PDF_DATA,
            }
        else:
            assert PDF_DATA in json.dumps(body), "the PDF is not in the request"

    async def test_parts_document_url(self) -> None:
        """A PDF by URL is carried where ``document_urls`` is declared, else refused."""
        async with self.session() as s:
            caps = s.provider.capabilities()
            body = await self._parts_call(
                s,
                [TextPart("Summarise it."), DocumentPart(url=PDF_URL)],
                caps.documents and caps.document_urls,
            )
        if body is None:
            return
        if self.wire == "anthropic":
            docs = [b for b in self._parts_blocks(body) if b.get("type") == "document"]
            assert docs and docs[0]["source"] == {"type": "url", "url": PDF_URL}, body
        elif self.wire == "responses":
            files = [b for b in self._parts_blocks(body) if b.get("type") == "input_file"]
            assert files and files[0].get("file_url") == PDF_URL, body
        else:
            assert PDF_URL in json.dumps(body), "the document URL is not in the request"

    async def test_parts_text_document(self) -> None:
        """A plain-text document reaches the model with its text, or is refused."""
        async with self.session() as s:
            body = await self._parts_call(
                s,
                [TextPart("What does it say?"), DocumentPart(text=DOC_TEXT, title="notes")],
                s.provider.capabilities().documents,
            )
        if body is None:
            return
        if self.wire == "anthropic":
            docs = [b for b in self._parts_blocks(body) if b.get("type") == "document"]
            assert docs, f"no document block in {self._parts_blocks(body)!r}"
            assert docs[0]["source"]["data"] == DOC_TEXT and docs[0].get("title") == "notes"
        elif self.wire in ("openai", "responses"):
            kind = "input_text" if self.wire == "responses" else "text"
            texts = [b["text"] for b in self._parts_blocks(body) if b.get("type") == kind]
            found = any(DOC_TEXT in t and "notes" in t for t in texts)
            assert found, f"the document text and title are not in the request: {texts!r}"
        else:
            assert DOC_TEXT in json.dumps(body), "the document text is not in the request"

    async def test_parts_audio(self) -> None:
        """Audio by base64 data is carried as the wire's audio part, or refused."""
        async with self.session() as s:
            body = await self._parts_call(
                s,
                [TextPart("What is said?"), AudioPart(data=WAV_DATA, format="wav")],
                s.provider.capabilities().audio,
            )
        if body is None:
            return
        if self.wire == "openai":
            audio = [b for b in self._parts_blocks(body) if b.get("type") == "input_audio"]
            assert audio, f"no input_audio part in {self._parts_blocks(body)!r}"
            assert audio[0]["input_audio"] == {"data": WAV_DATA, "format": "wav"}
        else:
            assert WAV_DATA in json.dumps(body), "the audio is not in the request"

    async def test_parts_cache_points(self) -> None:
        """Marks after the system prompt, a tool and a part: explicit ones become the
        wire's breakpoints, automatic ones are accepted and never sent as parts."""
        async with self.session() as s:
            caps = s.provider.capabilities()
            limit = caps.max_cache_points
            if limit is not None and limit < 3:
                pytest.skip(f"{type(self).__name__} takes {limit} cache point(s) per call")
            body = await self._parts_call(
                s,
                [TextPart("A long, stable document."), CachePoint(ttl="1h"), TextPart("Q?")],
                caps.cache_points != "none",
                system=[TextPart("Stable rules."), CachePoint()],
                tools=[CACHED_TOOL, CachePoint()],
            )
        if body is None:
            return
        wire = json.dumps(body)
        if self.wire == "anthropic":
            assert wire.count('"cache_control"') == 3, body
            assert body["tools"][0]["cache_control"] == {"type": "ephemeral"}
            assert body["system"][-1]["cache_control"] == {"type": "ephemeral"}
            marked = [b for b in self._parts_blocks(body) if "cache_control" in b]
            assert marked == [
                {
                    "type": "text",
                    "text": "A long, stable document.",
                    "cache_control": {"type": "ephemeral", "ttl": "1h"},
                }
            ]
        elif self.wire in ("openai", "responses"):
            assert '"cache_point"' not in wire, "a cache point was sent as a part"
            texts = [b.get("text") for b in self._parts_blocks(body)]
            # as parts, or joined into one text (a plugin may send a turn's text whole)
            assert "".join(str(t) for t in texts) == "A long, stable document.Q?", texts
            if self.wire == "responses":  # the marks route by a key, as on Chat
                assert str(body.get("prompt_cache_key", "")).startswith("jackfield-"), body

    async def test_parts_cache_point_limit(self) -> None:
        """One mark more than ``max_cache_points`` is refused before any I/O."""
        async with self.session() as s:
            caps = s.provider.capabilities()
            limit = caps.max_cache_points
            if caps.cache_points == "none" or limit is None:
                pytest.skip(f"{type(self).__name__} declares no cache-point limit")
            parts: list[ContentPart] = []
            for i in range(limit + 1):
                parts += [TextPart(f"part {i}"), CachePoint()]
            with pytest.raises(UnsupportedFeatureError, match=f"at most {limit}"):
                await s.provider.generate([Message.user(parts)])
            assert s.requests == 0, "a refused call reached the server"
