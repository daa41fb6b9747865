"""Third-party cache backends through ``jackfield_register_cache_backends``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

import jackfield
from jackfield import hookimpl
from jackfield.cache import (
    CacheBackend,
    CacheStats,
    close_caches,
    open_cache,
)
from jackfield.plugins.mock import MockProvider


class DictBackend:
    """A minimal third-party backend: a dict, no expiry."""

    name = "dict"

    def __init__(self, location: str = "default", **options: str) -> None:
        self.location = location
        self.options = options
        self.stats = CacheStats()
        self.data: dict[str, bytes] = {}

    async def get(self, key: str) -> bytes | None:
        return self.data.get(key)

    async def set(self, key: str, value: bytes, ttl: float | None) -> None:
        self.data[key] = value

    async def delete(self, key: str) -> None:
        self.data.pop(key, None)

    async def clear(self) -> None:
        self.data.clear()

    async def close(self) -> None:
        return None

    async def info(self) -> dict[str, Any]:
        return {"backend": self.name, **self.stats.snapshot(), "entries": len(self.data)}


class DictPlugin:
    calls = 0

    @hookimpl
    def jackfield_register_cache_backends(self, register: Any) -> None:
        DictPlugin.calls += 1
        register("dict", DictBackend)


def _registry(*plugins: object) -> jackfield.Registry:
    registry = jackfield.Registry(entry_points=False)
    registry.register_provider(MockProvider)
    for i, plugin in enumerate(plugins):
        registry.register_plugin(plugin, name=f"plugin{i}")
    return registry


@pytest.fixture(autouse=True)
async def _fresh_shared_caches() -> AsyncIterator[None]:
    await close_caches()
    yield
    await close_caches()


def test_hook_jackfield_register_cache_backends() -> None:
    DictPlugin.calls = 0
    registry = _registry(DictPlugin())
    backend = registry.cache_opener.open_backend("dict:shelf?size=3&mode=fast")
    assert isinstance(backend, DictBackend) and isinstance(backend, CacheBackend)
    assert backend.location == "shelf" and backend.options == {"size": "3", "mode": "fast"}
    plain = registry.cache_opener.open_backend("DICT")
    assert isinstance(plain, DictBackend) and plain.location == "default"
    assert set(registry.cache_backend_factories()) == {"dict"}
    assert DictPlugin.calls == 1  # once per registry, however many lookups

    other = _registry(DictPlugin())
    other.cache_opener.open_backend("dict")
    assert DictPlugin.calls == 2


def test_a_plugin_added_later_is_asked_on_the_next_lookup() -> None:
    registry = _registry()
    assert dict(registry.cache_backend_factories()) == {}
    registry.register_plugin(DictPlugin(), name="late")
    assert set(registry.cache_backend_factories()) == {"dict"}


@pytest.mark.usefixtures("global_registry")
async def test_providers_use_a_registered_backend_through_the_global_registry() -> None:
    jackfield.get_registry().register_plugin(DictPlugin(), name="dict-plugin")
    provider = jackfield.create_provider("mock", config={"cache": "dict:main"})
    first = await provider.generate("q")
    second = await provider.generate("q")
    assert first.cached is False and second.cached is True
    cache = open_cache("dict:main")
    assert isinstance(cache.backend, DictBackend) and len(cache.backend.data) == 1
    assert cache.stats.hits == 1


def test_bad_registrations_are_recorded_not_raised() -> None:
    class Bad:
        @hookimpl
        def jackfield_register_cache_backends(self, register: Any) -> None:
            register("memory", DictBackend)  # built in
            register("with:colon", DictBackend)
            register("notcallable", 42)
            register("good", DictBackend)

    class Clash:
        @hookimpl
        def jackfield_register_cache_backends(self, register: Any) -> None:
            register("good", lambda **o: DictBackend())

    class Raises:
        @hookimpl
        def jackfield_register_cache_backends(self, register: Any) -> None:
            raise RuntimeError("plugin bug")

    registry = _registry(Bad(), Clash(), Raises())
    factories = registry.cache_backend_factories()
    assert set(factories) == {"good"}
    stages = [f for f in registry.failures if f.stage == "register_cache_backends"]
    errors = " | ".join(f.error for f in stages)
    assert "built in" in errors and "plain name" in errors and "not callable" in errors
    assert "taken by plugin" in errors and "plugin bug" in errors
    assert len(stages) == 5


def test_strict_registries_raise() -> None:
    class Raises:
        @hookimpl
        def jackfield_register_cache_backends(self, register: Any) -> None:
            raise RuntimeError("plugin bug")

    registry = jackfield.Registry(entry_points=False, strict=True)
    registry.register_plugin(Raises(), name="raises")
    with pytest.raises(jackfield.PluginLoadError, match="plugin bug"):
        registry.cache_backend_factories()


def test_unknown_and_broken_factories_are_configuration_errors() -> None:
    class Odd:
        @hookimpl
        def jackfield_register_cache_backends(self, register: Any) -> None:
            register("notabackend", lambda **o: object())
            register("picky", lambda: DictBackend())

    registry = _registry(Odd(), DictPlugin())
    with pytest.raises(jackfield.ConfigurationError, match=r"known: dict, memory, .*redis"):
        registry.cache_opener.open_backend("nosuch")
    with pytest.raises(jackfield.ConfigurationError, match="does not implement"):
        registry.cache_opener.open_backend("notabackend")
    with pytest.raises(jackfield.ConfigurationError, match="picky"):
        registry.cache_opener.open_backend("picky:somewhere")


async def test_a_backend_registered_on_a_registry_serves_its_providers() -> None:
    registry = jackfield.Registry(entry_points=False)
    registry.register_provider(MockProvider)
    registry.register_plugin(DictPlugin(), name="dict-plugin")
    provider = registry.create_provider("mock", cache="dict")
    first = await provider.generate("q")
    second = await provider.generate("q")
    assert first.cached is False and second.cached is True
    assert isinstance(provider.response_cache.backend, DictBackend)  # type: ignore[union-attr]


async def test_registries_do_not_share_their_open_caches() -> None:
    one = jackfield.Registry(entry_points=False)
    two = jackfield.Registry(entry_points=False)
    for registry in (one, two):
        registry.register_provider(MockProvider)
    a = one.create_provider("mock", cache="memory")
    b = two.create_provider("mock", cache="memory")
    await a.generate("q")
    assert (await b.generate("q")).cached is False
    assert a.response_cache is not b.response_cache
    again = one.create_provider("mock", cache="memory", fresh=True)
    assert (await again.generate("q")).cached is True  # one registry: one shared cache
