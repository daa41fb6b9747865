"""Opening response caches: backend specs, and one :class:`CacheOpener` per registry.

The backends are imported when a cache is first opened, never at discovery (the
registry imports this module to give each registry its opener).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from ..errors import ConfigurationError

if TYPE_CHECKING:
    from ._base import CacheBackend
    from ._response_cache import ResponseCache

__all__ = [
    "BUILTIN_BACKENDS",
    "BackendFactory",
    "CacheOpener",
    "PluginBackends",
    "close_caches",
    "default_opener",
    "normalize_spec",
    "open_backend",
    "open_cache",
]

BackendFactory = Callable[..., "CacheBackend"]
"""``factory(**options) -> CacheBackend``, as registered through the hook."""

BUILTIN_BACKENDS = ("memory", "sqlite", "redis", "rediss", "unix")
"""Backend names that are built in (a plugin cannot take them)."""
_REDIS_SCHEMES = ("redis", "rediss", "unix")

PluginBackends = Callable[[], Mapping[str, BackendFactory]]
"""Returns the backends plugins registered, by name (asked when a spec is not built in)."""


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
        from ._sqlite import default_sqlite_path

        path = Path(location).expanduser() if location else default_sqlite_path()
        return f"sqlite:{path.absolute()}{query}"
    return f"{name}:{location}{query}" if location else f"{name}{query}"


def open_backend(spec: str, *, plugin_backends: PluginBackends | None = None) -> CacheBackend:
    """A new backend for ``spec`` (see the module doc); prefer :meth:`CacheOpener.open`.

    A name that is not built in is looked up in ``plugin_backends()``.
    """
    spec = normalize_spec(spec)
    name, location, options = _split(spec)
    # The backends are imported here: the registry imports this module at discovery.
    from ._base import CacheBackend

    try:
        if name == "memory":
            from ._memory import MemoryBackend

            return MemoryBackend(**options)  # type: ignore[arg-type]
        if name == "sqlite":
            from ._sqlite import SQLiteBackend

            return SQLiteBackend(location or None, **options)  # type: ignore[arg-type]
        if name in _REDIS_SCHEMES:
            from ._redis import RedisBackend

            parts = urlsplit(spec)
            pairs = parse_qsl(parts.query, keep_blank_values=True)
            prefix = "".join(v for k, v in pairs if k == "prefix")
            rest = urlencode([p for p in pairs if p[0] != "prefix"])
            url = urlunsplit(parts._replace(query=rest))
            return RedisBackend(url, prefix=prefix)
    except (TypeError, ValueError) as exc:
        raise ConfigurationError(f"cache {spec!r}: {exc}", field="cache") from exc
    factories = plugin_backends() if plugin_backends is not None else {}
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


class CacheOpener:
    """The open response caches of one registry, one :class:`ResponseCache` per spec.

    :param plugin_backends: the registry's plugin backends (default: built-ins only).
        It may be set later, as the global registry does for the process-wide opener.
    """

    def __init__(self, plugin_backends: PluginBackends | None = None) -> None:
        self.plugin_backends = plugin_backends
        self._lock = threading.RLock()
        self._by_spec: dict[str, ResponseCache] = {}
        self._by_spec_ttl: dict[tuple[str, float | None], ResponseCache] = {}

    def open_backend(self, spec: str) -> CacheBackend:
        """A new backend for ``spec``, plugin backends of this opener's registry included."""
        return open_backend(spec, plugin_backends=self.plugin_backends)

    def open(self, spec: str | bool | None = "memory", ttl: float | None = None) -> ResponseCache:
        """This opener's shared :class:`ResponseCache` for ``spec``, entries living ``ttl``.

        The same spec always gives the same backend (entries, counters, connections and
        in-flight calls shared); each distinct ``ttl`` is a view of it.
        """
        norm = normalize_spec(spec)
        found = self._by_spec_ttl.get((norm, ttl))
        if found is not None:
            return found
        with self._lock:
            found = self._by_spec_ttl.get((norm, ttl))
            if found is None:
                base = self._by_spec.get(norm)
                if base is None:
                    from ._response_cache import ResponseCache

                    base = ResponseCache(self.open_backend(norm), ttl=ttl)
                    self._by_spec[norm] = base
                found = base.with_ttl(ttl)
                self._by_spec_ttl[(norm, ttl)] = found
            return found

    async def aclose(self) -> None:
        """Close every open cache's backend and forget them (later opens start afresh).

        Providers that already hold a cache keep it; its backend reopens on use.
        """
        with self._lock:
            caches = list(self._by_spec.values())
            self._by_spec.clear()
            self._by_spec_ttl.clear()
        for cache in caches:
            await cache.close()


_default = CacheOpener()


def default_opener() -> CacheOpener:
    """The process-wide opener: the global registry's, and that of providers built directly."""
    return _default


def open_cache(spec: str | bool | None = "memory", ttl: float | None = None) -> ResponseCache:
    """The process-wide opener's :class:`ResponseCache` for ``spec`` (see :class:`CacheOpener`)."""
    return _default.open(spec, ttl)


async def close_caches() -> None:
    """Close the process-wide opener's caches (see :meth:`CacheOpener.aclose`)."""
    await _default.aclose()
