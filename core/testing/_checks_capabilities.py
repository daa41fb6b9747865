"""The capability checks of the conformance battery: no silent drops.

For every feature the provider's :class:`~jackfield.types.Capabilities` (for its default
model) does **not** declare, a call asking for it must be refused before any I/O with
:class:`~jackfield.errors.UnsupportedFeatureError` naming the feature; for every feature
it declares, the call must reach the server. Mixed into
:class:`~jackfield.testing.ProviderConformance`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import pytest

from ..errors import UnsupportedFeatureError
from ..types import (
    AudioPart,
    CachePoint,
    Capabilities,
    DocumentPart,
    ImagePart,
    Message,
    OutputMode,
    OutputSchema,
    TextPart,
    ToolSpec,
)
from ._scripts import Reply

__all__ = ["FEATURE_PROBES", "CapabilityChecks", "Probe"]

Probe = Callable[[Capabilities], "tuple[str, dict[str, Any]] | None"]
"""Given the declared capabilities: ``None`` when the probe does not apply, else the
feature a refusal must name (when the capability is missing) and the call's keywords."""

_PNG = (
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5Er"
    "kJggg=="
)
_PDF = (
    "JVBERi0xLjQKJcfsj6IKMSAwIG9iago8PC9UeXBlL0NhdGFsb2c+PgplbmRvYmoKdHJhaWxlcgo8PD4+CiUlRU9GCg=="
)
_WAV = "UklGRiQAAABXQVZFZm10IBAAAAABAAEAQB8AAIA+AAACABAAZGF0YQAAAAA="
_TOOL = ToolSpec(
    "get_weather",
    "Current weather in a city.",
    {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)
_SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
_STRENGTH = {OutputMode.PROMPT: 0, OutputMode.TOOL: 1, OutputMode.NATIVE: 2}


def _parts(*parts: Any) -> dict[str, Any]:
    return {"messages": [Message.user([TextPart("Look at this."), *parts])]}


def _stronger_output(caps: Capabilities) -> tuple[str, dict[str, Any]] | None:
    stronger = [m for m in OutputMode if _STRENGTH[m] > _STRENGTH[caps.structured_output]]
    if not stronger:
        return None  # native is declared: nothing stronger to refuse
    output = OutputSchema(_SCHEMA, name="city", mode=stronger[0])
    return "structured_output", {"response_format": output}


FEATURE_PROBES: dict[str, Probe] = {
    "tools": lambda c: ("tools", {"tools": [_TOOL]}),
    "images": lambda c: ("images", _parts(ImagePart(data=_PNG, media_type="image/png"))),
    "documents": lambda c: ("documents", _parts(DocumentPart(data=_PDF, title="doc"))),
    "document_urls": lambda c: (
        "document_urls" if c.documents else "documents",
        _parts(DocumentPart(url="https://example.com/doc.pdf")),
    ),
    "audio": lambda c: ("audio", _parts(AudioPart(data=_WAV, format="wav"))),
    "json_mode": lambda c: ("json_mode", {"json_mode": True}),
    "thinking": lambda c: ("thinking", {"reasoning": True}),
    "temperature": lambda c: ("temperature", {"temperature": 0.5}),
    "cache_points": lambda c: ("cache_points", _parts(CachePoint())),
    "structured_output": _stronger_output,
}
"""One probe per capability; a plugin's battery may add its own."""


def _declared(caps: Capabilities, name: str) -> bool:
    if name == "cache_points":
        return caps.cache_points != "none"
    if name == "structured_output":
        return caps.structured_output is OutputMode.NATIVE
    if name == "document_urls":
        return caps.documents and caps.document_urls
    return bool(getattr(caps, name))


class CapabilityChecks:
    """Each capability, declared or not, against the provider's behaviour."""

    feature_probes: dict[str, Probe] = FEATURE_PROBES
    """The probes run (override to add a provider's own, or to drop one)."""

    async def test_undeclared_features_are_refused_before_io(self) -> None:
        """A feature the provider does not declare raises UnsupportedFeatureError naming
        it, from generate and stream alike, and no request is sent."""
        battery = cast(Any, self)
        async with battery.session() as s:
            caps = s.provider.capabilities()
            refused = []
            for name, probe in self.feature_probes.items():
                case = probe(caps)
                if case is None or _declared(caps, name):
                    continue
                feature, kwargs = case
                for call in (s.provider.generate, s.provider.stream):
                    with pytest.raises(UnsupportedFeatureError) as info:
                        await _call(call, kwargs)
                    assert info.value.feature == feature, (
                        f"{name}: the refusal names {info.value.feature!r}, not {feature!r}"
                    )
                    assert info.value.provider == s.provider.name
                refused.append(name)
            assert s.requests == 0, f"refused calls reached the server ({refused})"
            if not refused:
                pytest.skip(f"{type(self).__name__}'s provider declares every capability")

    async def test_declared_features_reach_the_server(self) -> None:
        """A feature the provider declares is sent: the call reaches the server and
        answers (what the wire carries is checked by the wire's own checks)."""
        battery = cast(Any, self)
        async with battery.session() as s:
            caps = s.provider.capabilities()
            sent = 0
            for name, probe in self.feature_probes.items():
                case = probe(caps)
                if case is None or name == "structured_output" or not _declared(caps, name):
                    continue  # structured output has checks of its own (parsing, modes)
                _, kwargs = case
                s.script(Reply("Sunny."))
                response = await _call(s.provider.generate, kwargs)
                assert response.content == "Sunny.", f"{name}: {response.content!r}"
                sent += 1
                if s.server is not None:
                    assert s.requests == sent, f"{name}: the call did not reach the server"


async def _call(call: Any, kwargs: dict[str, Any]) -> Any:
    """``call`` (generate or stream) with ``kwargs``: the response, the stream collected."""
    options = dict(kwargs)
    messages = options.pop("messages", "What is the weather in Paris?")
    result = call(messages, **options)
    if hasattr(result, "collect"):
        return await result.collect()
    return await result
