"""The cache backends plugins register through ``jackfield_register_cache_backends``.

Each registry keeps its own table, so a backend registered on one registry serves that
registry's providers (through its :class:`~jackfield.cache.CacheOpener`) and no other.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from ..cache import BUILTIN_BACKENDS, BackendFactory
from ..errors import RegistryError
from ._hookcall import call_each

if TYPE_CHECKING:
    import pluggy
    from pluggy import HookImpl

__all__ = ["CacheBackendTable"]

Record = Callable[[str, str, BaseException], None]
"""``record(plugin, stage, error)``: the registry's way of noting a plugin's failure."""

STAGE = "register_cache_backends"


class CacheBackendTable:
    """Backend factories by name, with the plugin that registered each."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._factories: dict[str, tuple[BackendFactory, str]] = {}
        self._asked: set[str] = set()

    def collect(self, pm: pluggy.PluginManager, record: Record) -> Mapping[str, BackendFactory]:
        """Ask each plugin not asked yet, then return every registered factory by name.

        A hook that raises, or registers a bad or taken name, is passed to ``record``.
        """
        with self._lock:
            impls = [
                impl
                for impl in pm.hook.jackfield_register_cache_backends.get_hookimpls()
                if impl.plugin_name not in self._asked
            ]

            def failed(impl: HookImpl, exc: Exception) -> None:
                record(impl.plugin_name, STAGE, exc)

            for impl in impls:
                self._asked.add(impl.plugin_name)
                register = self._registrar(impl.plugin_name, record)
                call_each([impl], {"register": register}, failed)
            return {name: factory for name, (factory, _) in self._factories.items()}

    def _registrar(self, plugin: str, record: Record) -> Callable[..., None]:
        def register(name: Any, factory: Any) -> None:
            key = name.strip().lower() if isinstance(name, str) else ""
            taken = self._factories.get(key)
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
                record(plugin, STAGE, RegistryError(problem))
                return
            self._factories[key] = (factory, plugin)

        return register
