"""Shared fixtures for the core test suite: fresh registries, a fake sleep, mock providers."""

from __future__ import annotations

import ipaddress
import os
import socket
import sys
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import jackfield.registry._registry as registry_module
from jackfield.plugins.mock import MockProvider, MockReply
from jackfield.registry import Registry
from jackfield.retry import RetryPolicy

# -- hermetic: nothing but loopback ---------------------------------------------------------

# Token estimates never try tiktoken's download (subprocesses inherit this); the tests of
# the load path replace the loader and unset it themselves.
os.environ["JACKFIELD_TOKENS_OFFLINE"] = "1"

_LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}
OFF_LOOPBACK: list[str] = []
"""Every attempt of this process to resolve or reach a host other than loopback."""


def _is_loopback(host: object) -> bool:
    if host is None or host in _LOOPBACK_NAMES:
        return True
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    try:
        return ipaddress.ip_address(str(host).split("%")[0]).is_loopback
    except ValueError:
        return False


def _loopback_only(event: str, args: tuple[Any, ...]) -> None:
    # An audit hook sees every connect and name lookup, whatever library makes it.
    host: object
    if event == "socket.getaddrinfo":
        host = args[0]
    elif event == "socket.connect" and args[0].family in (socket.AF_INET, socket.AF_INET6):
        host = args[1][0]
    else:
        return
    if not _is_loopback(host):
        OFF_LOOPBACK.append(f"{event} {host!r}")
        raise OSError(f"tests are hermetic: {host!r} is not loopback")


sys.addaudithook(_loopback_only)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the run if any test tried to leave loopback (the hook refused it)."""
    if OFF_LOOPBACK:
        print("\ntests tried to leave loopback:", *sorted(set(OFF_LOOPBACK)), sep="\n  ")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


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
