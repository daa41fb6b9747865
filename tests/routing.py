"""What the router tests share: a settable clock, an observer of router events, a
registry and a router over mock targets whose retries do not really sleep."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import jackfield
from jackfield import hookimpl
from jackfield.plugins.mock import MockProvider
from jackfield.plugins.openai_compat import OpenAICompatProvider
from jackfield.retry import RetryPolicy
from jackfield.router import Router, RouterEvent

SLEPT: list[float] = []
"""What the targets' retries would have slept, in order (clear it before a test reads it)."""


async def no_sleep(seconds: float) -> None:
    SLEPT.append(seconds)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


class Events:
    """An observer plugin that keeps every router event."""

    def __init__(self) -> None:
        self.seen: list[RouterEvent] = []

    @hookimpl
    def jackfield_router_event(self, provider: Any, event: RouterEvent) -> None:
        self.seen.append(event)

    def kinds(self) -> list[tuple[str, str, str | None]]:
        return [(e.kind, e.target, e.state or e.next_target) for e in self.seen]


def registry_with(
    tmp_path: Path | None = None, profiles: str = "", *plugins: object
) -> jackfield.Registry:
    """A registry of the mock, openai-compat and the router, with ``profiles`` (TOML,
    written under ``tmp_path``) and ``plugins`` registered as observers."""
    path = None
    if profiles:
        assert tmp_path is not None
        path = tmp_path / "config.toml"
        path.write_text(profiles)
    registry = jackfield.Registry(entry_points=False, config_path=path)
    registry.register_provider(MockProvider)
    registry.register_provider(OpenAICompatProvider)
    registry.register_provider(Router)
    for i, plugin in enumerate(plugins):
        registry.register_plugin(plugin, name=f"observer{i}")
    return registry


def router_over(
    targets: list[Any],
    *plugins: object,
    registry: jackfield.Registry | None = None,
    **options: Any,
) -> Router:
    """A router over ``targets`` (in ``registry``, else a new one observed by
    ``plugins``); its targets' own retry policies record their sleeps instead."""
    registry = registry or registry_with(None, "", *plugins)
    router = Router(registry=registry, hooks=registry.hooks, targets=targets, **options)
    for target in router._targets:
        target.policy = RetryPolicy(max_retries=target.policy.max_retries, sleep=no_sleep)
    return router


def mocks_of(router: Router) -> list[MockProvider]:
    """The router's targets, each a :class:`MockProvider`."""
    out = []
    for provider in router.targets:
        assert isinstance(provider, MockProvider)
        out.append(provider)
    return out


def run(coro: Any) -> Any:
    """Run ``coro`` to its end, 10 s at most."""
    return asyncio.run(asyncio.wait_for(coro, 10))
