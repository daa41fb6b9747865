"""Shared fixtures for the core test suite: fresh registries, a fake sleep, mock providers."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

import jackfield.registry._registry as registry_module
from jackfield.plugins.mock import MockProvider, MockReply
from jackfield.registry import Registry
from jackfield.retry import RetryPolicy


class FakeSleep:
    """An injectable ``sleep`` for :class:`RetryPolicy`: records waits, never waits."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.fixture
def fake_sleep() -> FakeSleep:
    """A fake sleep whose ``waits`` list records every requested wait."""
    return FakeSleep()


@pytest.fixture
def registry() -> Registry:
    """A fresh registry with no entry points and only the mock provider."""
    reg = Registry(entry_points=False, plugins=(), strict=False)
    reg.register_provider(MockProvider)
    return reg


@pytest.fixture
def mock_provider(fake_sleep: FakeSleep) -> Callable[..., MockProvider]:
    """Factory: ``mock_provider(*replies, max_retries=2, **config)`` with the fake sleep."""

    def make(
        *replies: MockReply | str | dict[str, Any], max_retries: int = 2, **config: Any
    ) -> MockProvider:
        return MockProvider(
            retry_policy=RetryPolicy(max_retries=max_retries, sleep=fake_sleep),
            replies=replies,
            **config,
        )

    return make


@pytest.fixture
def global_registry(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> Iterator[None]:
    """Reset the process-wide registry before and after the test, in a clean environment.

    No user config file, no plugin filter, no strict mode, no default provider.
    """
    for var in (
        "JACKFIELD_CONFIG",
        "JACKFIELD_PLUGINS",
        "JACKFIELD_STRICT_PLUGINS",
        "JACKFIELD_PROVIDER",
    ):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    saved = registry_module._global
    registry_module._global = None
    try:
        yield
    finally:
        registry_module._global = saved
