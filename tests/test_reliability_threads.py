"""The registry under threads: discovery racing lookups, creations and registrations.

A fresh registry (real entry points, discovery not yet run) is hit by many threads at
once, released together by a barrier, each calling ``get_provider_class``,
``create_provider``, ``list_providers``, ``is_registered`` and ``split_spec`` in its own
order. Whichever call triggers discovery, every thread sees the whole registry (never a
half-loaded one), registration hooks run once, and each cache key gets one instance. A
second test adds and removes providers while other threads list and look up.
"""

from __future__ import annotations

import random
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from jackfield.errors import ProviderNotFoundError
from jackfield.plugins.mock import MockProvider
from jackfield.provider import Provider
from jackfield.registry import Registry

THREADS = 32
ROUNDS = 20
EXPECTED = {"azure", "mock", "ollama", "openai-compat", "openrouter", "vllm"}


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for var in ("JACKFIELD_PLUGINS", "JACKFIELD_STRICT_PLUGINS", "JACKFIELD_CONFIG"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "no-config"))


def _hammer(n: int, work: Callable[[int], Any]) -> list[Any]:
    """Run ``work(i)`` in ``n`` threads released at once; re-raise the first error."""
    barrier = threading.Barrier(n)
    results: list[Any] = [None] * n
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            barrier.wait(30)
            results[i] = work(i)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not any(t.is_alive() for t in threads), "a thread hung"
    if errors:
        raise errors[0]
    return results


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_discovery_racing_lookups_and_creations(round_: int) -> None:
    registry = Registry()  # discovery runs on the first call, whichever thread makes it
    installed = {p.name for p in Registry().list_providers()}
    assert installed >= EXPECTED
    rng = random.Random(round_)
    orders = [rng.sample(range(6), 6) for _ in range(THREADS)]

    def work(i: int) -> dict[str, Any]:
        seen: dict[str, Any] = {}
        for step in orders[i]:
            if step == 0:
                seen["class"] = registry.get_provider_class("mock")
            elif step == 1:
                seen["instance"] = registry.create_provider("mock")
            elif step == 2:
                seen["keyed"] = registry.create_provider("ollama", cache_key="shared-ollama")
            elif step == 3:
                seen["names"] = {p.name for p in registry.list_providers()}
            elif step == 4:
                seen["registered"] = registry.is_registered("OpenAI_Compat")
            else:
                seen["split"] = registry.split_spec("ollama:llama3:8b")
        return seen

    results = _hammer(THREADS, work)
    assert registry.failures == []
    for seen in results:
        assert seen["class"] is MockProvider
        assert seen["names"] == installed, "a lookup saw a half-loaded registry"
        assert seen["registered"] is True
        assert seen["split"] == ("ollama", "llama3:8b")
    assert len({id(seen["instance"]) for seen in results}) == 1
    assert len({id(seen["keyed"]) for seen in results}) == 1
    assert sorted(registry.cache_keys())[0] and len(registry.cache_keys()) == 2
    # Each plugin registered once: every provider name appears exactly once.
    names = [p.name for p in registry.list_providers()]
    assert len(names) == len(set(names))


def _subclass(n: int) -> type[Provider]:
    return type(f"Extra{n}", (MockProvider,), {"name": f"extra-{n}"})


@pytest.fixture
def fast_switching() -> Iterator[None]:
    """Switch threads as often as possible, so races show up in a short test."""
    saved = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(saved)


@pytest.mark.usefixtures("fast_switching")
def test_registrations_racing_lookups_and_listings() -> None:
    registry = Registry(plugins=["mock"])
    registry.load()
    writers = 4
    extras = [[_subclass(w * 100 + n) for n in range(10)] for w in range(writers)]

    def work(i: int) -> set[int]:
        if i < writers:  # register a batch, create each, unregister the batch; repeat
            for _ in range(50):
                for cls in extras[i]:
                    registry.register_provider(cls, aliases=[f"{cls.name}-alias"])
                    registry.create_provider(cls.name)
                for cls in extras[i]:
                    registry.unregister_provider(cls.name)
            return set()
        mocks = set()
        for n in range(300):  # readers: list, look up, miss, create
            registry.list_providers()
            assert registry.get_provider_class("mock") is MockProvider
            name = extras[n % writers][n % 10].name
            try:
                assert registry.get_provider_class(f"{name}-alias").name == name
                registry.create_provider(name)
            except ProviderNotFoundError:
                pass  # unregistered meanwhile: the documented error, never a KeyError
            with pytest.raises(ProviderNotFoundError):
                registry.get_provider_class("no-such-provider")
            mocks.add(id(registry.create_provider("mock")))
        return mocks

    instances = set().union(*_hammer(8, work))
    assert len(instances) == 1
    assert [p.name for p in registry.list_providers()] == ["mock"]
