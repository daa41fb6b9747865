"""jackfield-acme's tests: jackfield's conformance battery, and discovery by entry point.

The battery runs AcmeProvider against jackfield's fake server (loopback only, no key,
no network). The discovery test needs the package installed
(``pip install ./examples/jackfield-acme``); without it, it skips -- or fails when the
``CI`` environment variable is set, so CI cannot pass without testing discovery.
"""

from __future__ import annotations

import importlib.metadata
import os
import sys
from pathlib import Path
from typing import Any

import pytest

import jackfield
from jackfield.testing import FakeLLMServer, ProviderConformance, Reply

try:
    from jackfield_acme import AcmeProvider
except ImportError:  # not installed: test the source next to these tests
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    from jackfield_acme import AcmeProvider


class TestAcmeConformance(ProviderConformance):
    """The whole battery: answers, streams, tools, errors, retries, secrets."""

    wire = "openai"  # Acme speaks OpenAI Chat Completions

    def make_provider(self, server: FakeLLMServer, **config: Any) -> AcmeProvider:
        return AcmeProvider(base_url=server.openai_base_url, **config)

    async def test_sends_acme_headers(self) -> None:
        """Acme's own behaviour: its client header and the bearer key on every request."""
        async with self.session() as s:
            s.script(Reply("hi"))
            await s.provider.generate("hello", tier="hosted_large")
            request = s.server.last_request
            assert request.headers["acme-client"] == "jackfield-acme/0.1.0"
            assert request.headers["authorization"] == f"Bearer {self.api_key}"
            assert request.model == "acme-large"


def test_acme_declares_its_capabilities() -> None:
    """Images and native schemas everywhere, thinking on acme-large only; audio nowhere
    (the battery's capability checks hold the provider to this)."""
    import jackfield_acme

    source = Path(__file__).resolve().parents[1] / "src"
    if "default_capabilities" not in vars(AcmeProvider) and not Path(
        jackfield_acme.__file__
    ).resolve().is_relative_to(source):
        pytest.skip(
            "the installed jackfield-acme is older than this checkout: "
            "pip install ./examples/jackfield-acme"
        )
    acme = AcmeProvider(api_key="k")
    assert acme.capabilities().images and not acme.capabilities().thinking
    assert acme.capabilities("acme-large").thinking
    assert acme.capabilities("acme-large").context_window == 256_000
    with pytest.raises(jackfield.UnsupportedFeatureError, match="thinking"):
        acme.build_request("hi", reasoning=True)


def _entry_point_installed() -> bool:
    return any(ep.name == "acme" for ep in importlib.metadata.entry_points(group="jackfield"))


def test_registry_discovers_acme_by_entry_point(monkeypatch: pytest.MonkeyPatch) -> None:
    """A plain ``jackfield.Registry()`` finds acme and its alias through the entry point."""
    if not _entry_point_installed():
        reason = (
            "jackfield-acme is not installed, so its entry point cannot be discovered: "
            "pip install ./examples/jackfield-acme"
        )
        if os.environ.get("CI"):
            pytest.fail(f"CI is set: {reason}", pytrace=False)
        pytest.skip(reason)
    monkeypatch.delenv("JACKFIELD_PLUGINS", raising=False)
    registry = jackfield.Registry()
    assert registry.get_provider_class("acme").__name__ == "AcmeProvider"
    assert registry.get_provider_class("acme-llm") is registry.get_provider_class("acme")
    assert registry.get_provider_class("ACME_LLM") is registry.get_provider_class("acme")
    info = next(p for p in registry.list_providers() if p.name == "acme")
    assert info.aliases == ("acme-llm",)
    assert info.plugin == "jackfield-acme"
    assert info.plugin_version == importlib.metadata.version("jackfield-acme")
    assert not [f for f in registry.failures if f.plugin == "acme"]
