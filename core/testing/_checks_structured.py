"""Conformance checks of structured output (``response_format``), a mixin of the battery.

A provider answers in the strongest mode its :class:`~jackfield.types.Capabilities`
declare, and the fake server's wire must carry that mode: OpenAI's ``response_format``
``json_schema`` or Anthropic's ``output_config.format`` (native), a forced tool whose
parameters are the schema (tool), the schema in a system instruction (prompt). The
answer comes back validated in ``Response.parsed`` with ``output_mode`` saying the
mode; a reply that does not fit raises :class:`~jackfield.errors.OutputValidationError`
(and ``output_retries`` sends it back with its errors); a stream's partial object
grows. A mode stronger than the declared one is refused before any I/O.

The checks use the battery's ``session()`` and ``script()``: mix
:class:`StructuredOutputChecks` into a :class:`~jackfield.testing.ProviderConformance`.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from ..errors import OutputValidationError, UnsupportedFeatureError
from ..events import StreamEnd, TextDelta
from ..schema import output_schema
from ..types import OutputMode, ToolCall
from ._scripts import Reply

__all__ = ["ANSWER_OBJECT", "ORDER_SCHEMA", "StructuredOutputChecks"]

ORDER_SCHEMA: dict[str, Any] = {
    "title": "Order",
    "type": "object",
    "properties": {
        "id": {"type": "integer", "minimum": 1},
        "status": {"type": "string", "enum": ["open", "shipped"]},
        "customer": {"$ref": "#/$defs/Customer"},
        "items": {"type": "array", "items": {"$ref": "#/$defs/Item"}},
        "note": {"anyOf": [{"type": "string"}, {"type": "null"}]},
    },
    "required": ["id", "status", "customer", "items"],
    "additionalProperties": False,
    "$defs": {
        "Customer": {
            "type": "object",
            "properties": {"name": {"type": "string"}, "email": {"type": "string"}},
            "required": ["name"],
            "additionalProperties": False,
        },
        "Item": {
            "type": "object",
            "properties": {"sku": {"type": "string"}, "qty": {"type": "integer"}},
            "required": ["sku", "qty"],
            "additionalProperties": False,
        },
    },
}
"""A schema with ``$defs``, nested objects, an enum, an optional and an array."""

ANSWER_OBJECT: dict[str, Any] = {
    "id": 7,
    "status": "shipped",
    "customer": {"name": "Ada"},
    "items": [{"sku": "A-1", "qty": 2}, {"sku": "B-2", "qty": 1}],
    "note": None,
}
"""An answer that fits :data:`ORDER_SCHEMA`."""

_TIMEOUT = 20.0


class StructuredOutputChecks:
    """The structured-output checks; mix into :class:`ProviderConformance`."""

    def structured_reply(self, mode: OutputMode, value: Any, **options: Any) -> Reply:
        """The scripted answer carrying ``value`` as ``mode`` asks for it."""
        text = value if isinstance(value, str) else json.dumps(value)
        if mode is OutputMode.TOOL:
            arguments = value if isinstance(value, dict) else {}
            call = ToolCall("call_answer", "Order", arguments, None)
            return Reply(tool_calls=(call,), **options)
        return Reply(text, **options)

    def assert_wire_carries(self, session: Any, mode: OutputMode) -> None:
        """The body the fake server received carries ``mode``'s fields."""
        server = session.server
        wire = getattr(self, "wire", None)
        if server is None or wire not in ("openai", "responses", "anthropic"):
            return  # the proxy protocol's fields are checked by its own tests
        body = server.last_request.json
        system = json.dumps(body.get("system", "")) + json.dumps(body.get("messages", []))
        system += json.dumps(body.get("instructions", "")) + json.dumps(body.get("input", []))
        if mode is OutputMode.NATIVE and wire == "responses":
            fmt = body["text"]["format"]
            assert fmt["type"] == "json_schema", fmt
            assert fmt["name"] == "Order"
            assert "$defs" in fmt["schema"]
        elif mode is OutputMode.NATIVE and wire == "openai":
            fmt = body["response_format"]
            assert fmt["type"] == "json_schema", fmt
            assert fmt["json_schema"]["name"] == "Order"
            assert "$defs" in fmt["json_schema"]["schema"]
        elif mode is OutputMode.NATIVE:
            fmt = body["output_config"]["format"]
            assert fmt["type"] == "json_schema" and "$defs" in fmt["schema"], fmt
        elif mode is OutputMode.TOOL:
            names = [t.get("name") or t.get("function", {}).get("name") for t in body["tools"]]
            assert "Order" in names, names
            choice = body.get("tool_choice")
            assert choice is not None and "Order" in json.dumps(choice), choice
        else:
            assert "JSON Schema" in system and "Customer" in system

    def _mode(self, provider: Any) -> OutputMode:
        mode: OutputMode = provider.capabilities().structured_output
        return mode

    async def test_structured_output_generate(self) -> None:
        """generate(response_format=...): the mode's wire, a validated ``parsed``."""
        async with self.session() as s:  # type: ignore[attr-defined]
            mode = self._mode(s.provider)
            s.script(self.structured_reply(mode, ANSWER_OBJECT))
            response = await asyncio.wait_for(
                s.provider.generate("Order 7?", response_format=ORDER_SCHEMA), _TIMEOUT
            )
            assert response.output_mode is mode
            assert response.parsed == ANSWER_OBJECT
            assert json.loads(response.content) == ANSWER_OBJECT
            assert not response.tool_calls
            self.assert_wire_carries(s, mode)

    async def test_structured_output_stream(self) -> None:
        """stream(response_format=...): the partial object grows; the end is validated."""
        async with self.session() as s:  # type: ignore[attr-defined]
            mode = self._mode(s.provider)
            s.script(
                self.structured_reply(mode, ANSWER_OBJECT, chunk_size=6, arguments_chunk_size=6)
            )
            stream = s.provider.stream("Order 7?", response_format=ORDER_SCHEMA)
            partials: list[dict[str, Any]] = []
            text: list[str] = []
            async with asyncio.timeout(_TIMEOUT):
                async for event in stream:
                    if isinstance(event, TextDelta):
                        text.append(event.text)
                        if stream.partial is not None:
                            partials.append(stream.partial)
                    elif isinstance(event, StreamEnd):
                        assert event.response.parsed == ANSWER_OBJECT
            assert json.loads("".join(text)) == ANSWER_OBJECT
            assert len(partials) >= 2 and partials[-1] == ANSWER_OBJECT
            sizes = [len(json.dumps(p)) for p in partials]
            assert sizes == sorted(sizes), "the partial object shrank"
            assert stream.response is not None and stream.response.output_mode is mode

    async def test_structured_output_invalid_reply_raises(self) -> None:
        """A reply that does not fit raises OutputValidationError with text and errors."""
        async with self.session() as s:  # type: ignore[attr-defined]
            mode = self._mode(s.provider)
            wrong = {**ANSWER_OBJECT, "status": "lost", "id": 0}
            s.script(self.structured_reply(mode, wrong))
            with pytest.raises(OutputValidationError) as info:
                await asyncio.wait_for(
                    s.provider.generate("Order 7?", response_format=ORDER_SCHEMA), _TIMEOUT
                )
            err = info.value
            assert json.loads(err.text) == wrong
            assert any("$.status" in line and "lost" in line for line in err.errors), err.errors
            assert any("$.id" in line for line in err.errors), err.errors
            assert err.provider == s.provider.name

    async def test_structured_output_reask(self) -> None:
        """With output_retries the errors go back to the model and the next reply counts."""
        async with self.session() as s:  # type: ignore[attr-defined]
            mode = self._mode(s.provider)
            s.script(
                self.structured_reply(mode, {**ANSWER_OBJECT, "status": "lost"}),
                self.structured_reply(mode, ANSWER_OBJECT),
            )
            response = await asyncio.wait_for(
                s.provider.generate("Order 7?", response_format=ORDER_SCHEMA, output_retries=1),
                _TIMEOUT,
            )
            assert response.parsed == ANSWER_OBJECT
            if s.server is not None:
                assert s.server.request_count == 2
                wire = getattr(self, "wire", None)
                if wire in ("openai", "responses", "anthropic"):
                    field = "input" if wire == "responses" else "messages"
                    sent = json.dumps(s.server.last_request.json[field])
                    assert "lost" in sent and "does not fit" in sent

    async def test_structured_output_weaker_mode_on_request(self) -> None:
        """The caller may force prompt mode; the response says so."""
        async with self.session() as s:  # type: ignore[attr-defined]
            s.script(self.structured_reply(OutputMode.PROMPT, ANSWER_OBJECT))
            fmt = output_schema(ORDER_SCHEMA, mode="prompt")
            response = await asyncio.wait_for(
                s.provider.generate("Order 7?", response_format=fmt), _TIMEOUT
            )
            assert response.output_mode is OutputMode.PROMPT
            assert response.parsed == ANSWER_OBJECT
            self.assert_wire_carries(s, OutputMode.PROMPT)

    async def test_structured_output_stronger_mode_refused_before_io(self) -> None:
        """A mode stronger than the declared one is refused before any request."""
        async with self.session() as s:  # type: ignore[attr-defined]
            if self._mode(s.provider) is OutputMode.NATIVE:
                pytest.skip("the provider declares native mode, the strongest")
            with pytest.raises(UnsupportedFeatureError) as info:
                s.provider.build_request(
                    "x", response_format=output_schema(ORDER_SCHEMA, mode="native")
                )
            assert info.value.feature == "structured_output"
            assert s.requests == 0
