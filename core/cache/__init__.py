"""Response caching: opt-in per provider (``cache=...`` in its config) or per call.

A :class:`CacheOpener` holds the open caches of one registry: the same backend spec
always gives the same :class:`ResponseCache`, so providers configured with one spec
share its entries, counters and in-flight calls. Each registry owns an opener and hands
it to the providers it creates; :func:`open_cache` and :func:`close_caches` act on the
process-wide opener, which the global registry uses:

==============================  =====================================================
spec                            backend
==============================  =====================================================
``"memory"``                    :class:`MemoryBackend` (``?max_entries=N``)
``"sqlite:"``, ``"sqlite:PATH"``  :class:`SQLiteBackend` (``?max_entries=N&max_bytes=N
                                &timeout=S``); no path: :func:`default_sqlite_path`
``"redis://host:port/db"``      :class:`RedisBackend` (also ``rediss://``,
                                ``unix://``; ``?prefix=P`` plus redis-py's options)
``"NAME"``, ``"NAME:LOCATION"``   a backend a plugin registered through the
                                ``jackfield_register_cache_backends`` hook of the
                                opener's registry; its
                                factory gets ``location=LOCATION`` (if given) and the
                                query options as keyword arguments (strings)
==============================  =====================================================

See ``docs/caching.md``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_exports

_EXPORTS: dict[str, str] = {
    "BUILTIN_BACKENDS": "_opener",
    "BackendFactory": "_opener",
    "CacheOpener": "_opener",
    "close_caches": "_opener",
    "default_opener": "_opener",
    "normalize_spec": "_opener",
    "open_backend": "_opener",
    "open_cache": "_opener",
    "COUNTERS": "_base",
    "CacheBackend": "_base",
    "CacheStats": "_base",
    "FORMAT_VERSION": "_keys",
    "NAMESPACE": "_keys",
    "cache_key": "_keys",
    "MemoryBackend": "_memory",
    "RedisBackend": "_redis",
    "ResponseCache": "_response_cache",
    "SQLiteBackend": "_sqlite",
    "default_sqlite_path": "_sqlite",
}
"""Every public name, by the private module that defines it (imported on first use)."""

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())


if TYPE_CHECKING:
    from ._base import (
        COUNTERS as COUNTERS,
        CacheBackend as CacheBackend,
        CacheStats as CacheStats,
    )
    from ._keys import (
        FORMAT_VERSION as FORMAT_VERSION,
        NAMESPACE as NAMESPACE,
        cache_key as cache_key,
    )
    from ._memory import (
        MemoryBackend as MemoryBackend,
    )
    from ._opener import (
        BUILTIN_BACKENDS as BUILTIN_BACKENDS,
        BackendFactory as BackendFactory,
        CacheOpener as CacheOpener,
        close_caches as close_caches,
        default_opener as default_opener,
        normalize_spec as normalize_spec,
        open_backend as open_backend,
        open_cache as open_cache,
    )
    from ._redis import (
        RedisBackend as RedisBackend,
    )
    from ._response_cache import (
        ResponseCache as ResponseCache,
    )
    from ._sqlite import (
        SQLiteBackend as SQLiteBackend,
        default_sqlite_path as default_sqlite_path,
    )
