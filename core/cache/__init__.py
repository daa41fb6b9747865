"""Response caching: opt-in per provider (``cache=...`` in its config) or per call.

``open_cache(spec, ttl=None)`` returns the process's one shared
:class:`ResponseCache` for a backend spec, so providers configured with the same spec
share its entries, counters and in-flight calls:

==============================  =====================================================
spec                            backend
==============================  =====================================================
``"memory"``                    :class:`MemoryBackend` (``?max_entries=N``)
``"sqlite:"``, ``"sqlite:PATH"``  :class:`SQLiteBackend` (``?max_entries=N&max_bytes=N
                                &timeout=S``); no path: :func:`default_sqlite_path`
``"redis://host:port/db"``      :class:`RedisBackend` (also ``rediss://``,
                                ``unix://``; ``?prefix=P`` plus redis-py's options)
``"NAME"``, ``"NAME:LOCATION"``   a backend a plugin registered through the
                                ``jackfield_register_cache_backends`` hook; its
                                factory gets ``location=LOCATION`` (if given) and the
                                query options as keyword arguments (strings)
==============================  =====================================================

See ``docs/caching.md``.
"""

from __future__ import annotations

import threading
import traceback
import weakref
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from ..errors import ConfigurationError, PluginLoadError, RegistryError
from ._base import COUNTERS, CacheBackend, CacheStats
from ._keys import FORMAT_VERSION, NAMESPACE, cache_key
from ._memory import MemoryBackend
from ._redis import RedisBackend
from ._response_cache import ResponseCache
from ._sqlite import SQLiteBackend, default_path as default_sqlite_path

if TYPE_CHECKING:
    from ..registry._registry import Registry

__all__ = [
    "COUNTERS",
    "FORMAT_VERSION",
    "NAMESPACE",
    "BackendFactory",
    "CacheBackend",
    "CacheStats",
    "MemoryBackend",
    "RedisBackend",
    "ResponseCache",
    "SQLiteBackend",
    "backend_factories",
    "cache_key",
    "close_caches",
    "default_sqlite_path",
    "normalize_spec",
    "open_backend",
    "open_cache",
]

BackendFactory = Callable[..., CacheBackend]
"""``factory(**options) -> CacheBackend``, as registered through the hook."""

BUILTIN_BACKENDS = ("memory", "sqlite", "redis", "rediss", "unix")
_REDIS_SCHEMES = ("redis", "rediss", "unix")

_lock = threading.RLock()
_by_spec: dict[str, ResponseCache] = {}
_by_spec_ttl: dict[tuple[str, float | None], ResponseCache] = {}


# --------------------------------------------------------------------------- specs


def _split(spec: str) -> tuple[str, str, dict[str, str]]:
    """``"name:location?k=v"`` -> ``("name", "location", {"k": "v"})``."""
    head, _, query = spec.partition("?")
    name, _, location = head.partition(":")
    options = dict(parse_qsl(query, keep_blank_values=True))
    return name.strip().lower(), location, options


def normalize_spec(spec: str | bool | None) -> str:
    """The canonical form of a backend spec (``True`` is ``"memory"``).

    ``"sqlite"`` and ``"sqlite:"`` name the default file; a relative SQLite path is made
    absolute, so every spelling of one file shares one cache.
    """
    if spec is True or spec is None:
        return "memory"
    if not isinstance(spec, str) or not spec.strip():
        raise ConfigurationError(
            f"cache: expected a backend spec such as 'memory' or 'sqlite:PATH', got {spec!r}",
            field="cache",
        )
    spec = spec.strip()
    name, location, options = _split(spec)
    if name in _REDIS_SCHEMES:
        return spec
    query = f"?{urlencode(sorted(options.items()))}" if options else ""
    if name == "memory":
        return f"memory{query}"
    if name == "sqlite":
        path = Path(location).expanduser() if location else default_sqlite_path()
        return f"sqlite:{path.absolute()}{query}"
    return f"{name}:{location}{query}" if location else f"{name}{query}"


def open_backend(spec: str, *, registry: Registry | None = None) -> CacheBackend:
    """A new backend for ``spec`` (see the module doc); prefer :func:`open_cache`."""
    spec = normalize_spec(spec)
    name, location, options = _split(spec)
    try:
        if name == "memory":
            return MemoryBackend(**options)  # type: ignore[arg-type]
        if name == "sqlite":
            return SQLiteBackend(location or None, **options)  # type: ignore[arg-type]
        if name in _REDIS_SCHEMES:
            parts = urlsplit(spec)
            pairs = parse_qsl(parts.query, keep_blank_values=True)
            prefix = "".join(v for k, v in pairs if k == "prefix")
            rest = urlencode([p for p in pairs if p[0] != "prefix"])
            url = urlunsplit(parts._replace(query=rest))
            return RedisBackend(url, prefix=prefix)
    except (TypeError, ValueError) as exc:
        raise ConfigurationError(f"cache {spec!r}: {exc}", field="cache") from exc
    factories = backend_factories(registry)
    factory = factories.get(name)
    if factory is None:
        known = ", ".join(sorted({"memory", "sqlite", "redis", *factories}))
        raise ConfigurationError(
            f"cache: unknown backend {name!r} in {spec!r} (known: {known})", field="cache"
        )
    kwargs: dict[str, Any] = dict(options)
    if location:
        kwargs["location"] = location
    try:
        backend = factory(**kwargs)
    except (TypeError, ValueError) as exc:
        raise ConfigurationError(f"cache {spec!r}: {exc}", field="cache") from exc
    if not isinstance(backend, CacheBackend):
        raise ConfigurationError(
            f"cache {spec!r}: the factory returned {type(backend).__name__}, "
            "which does not implement jackfield.cache.CacheBackend",
            field="cache",
        )
    return backend


def open_cache(spec: str | bool | None = "memory", ttl: float | None = None) -> ResponseCache:
    """The process's shared :class:`ResponseCache` for ``spec``, with entries living ``ttl``.

    The same spec always gives the same backend (entries, counters, connections and
    in-flight calls shared); each distinct ``ttl`` is a view of it.
    """
    norm = normalize_spec(spec)
    found = _by_spec_ttl.get((norm, ttl))
    if found is not None:
        return found
    with _lock:
        found = _by_spec_ttl.get((norm, ttl))
        if found is None:
            base = _by_spec.get(norm)
            if base is None:
                base = ResponseCache(open_backend(norm), ttl=ttl)
                _by_spec[norm] = base
            found = base.with_ttl(ttl)
            _by_spec_ttl[(norm, ttl)] = found
        return found


async def close_caches() -> None:
    """Close every shared cache's backend and forget them (later opens start afresh).

    Providers that already hold a cache keep it; its backend reopens on use.
    """
    with _lock:
        caches = list(_by_spec.values())
        _by_spec.clear()
        _by_spec_ttl.clear()
    for cache in caches:
        await cache.close()


# ---------------------------------------------------------------------- the hook


class _HookState:
    def __init__(self) -> None:
        self.factories: dict[str, tuple[BackendFactory, str]] = {}
        self.asked: set[str] = set()


_hook_states: weakref.WeakKeyDictionary[Registry, _HookState] = weakref.WeakKeyDictionary()


def _record(registry: Registry, plugin: str, exc: BaseException) -> None:
    from ..registry._registry import PluginFailure

    failure = PluginFailure(
        plugin=plugin,
        stage="register_cache_backends",
        error=f"{type(exc).__name__}: {exc}",
        traceback="".join(traceback.format_exception(exc)),
    )
    registry.failures.append(failure)
    if registry.strict:
        raise PluginLoadError(plugin, f"register_cache_backends: {failure.error}") from exc


def backend_factories(registry: Registry | None = None) -> Mapping[str, BackendFactory]:
    """The backends plugins registered, by name (default: the global registry).

    Each plugin's ``jackfield_register_cache_backends`` runs once per registry (a
    plugin added later is asked on the next lookup). A hook that raises, or registers a
    bad or taken name, is recorded in ``registry.failures`` like any plugin failure.
    """
    if registry is None:
        from ..registry._registry import get_registry

        registry = get_registry()
    registry.load()
    with _lock:
        state = _hook_states.get(registry)
        if state is None:
            state = _hook_states[registry] = _HookState()
        caller = registry.pm.hook.jackfield_register_cache_backends
        for impl in caller.get_hookimpls():
            plugin = impl.plugin_name
            if plugin in state.asked or impl.hookwrapper or impl.wrapper:
                continue
            state.asked.add(plugin)

            def register(name: Any, factory: Any, *, _plugin: str = plugin) -> None:
                assert state is not None and registry is not None
                key = name.strip().lower() if isinstance(name, str) else ""
                taken = state.factories.get(key)
                problem = None
                if not key or ":" in key or "?" in key:
                    problem = f"cache backend name {name!r} is not a plain name"
                elif key in BUILTIN_BACKENDS:
                    problem = f"cache backend name {key!r} is built in"
                elif not callable(factory):
                    problem = f"cache backend {key!r}: the factory is not callable"
                elif taken is not None and taken[0] is not factory:
                    problem = f"cache backend name {key!r} is taken by plugin {taken[1]!r}"
                if problem is not None:
                    _record(registry, _plugin, RegistryError(problem))
                    return
                state.factories[key] = (factory, _plugin)

            try:
                impl.function(**{arg: register for arg in impl.argnames if arg == "register"})
            except Exception as exc:
                _record(registry, plugin, exc)
        return {name: factory for name, (factory, _) in state.factories.items()}
