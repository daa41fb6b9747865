"""A thin, fast relay from providers to a registry's pluggy hooks.

Hot paths ask :meth:`HookRelay.has` first, so a hook with no implementation costs one
dict lookup. Observer hooks that raise are logged and isolated: an observer never breaks
a call.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    import logging

__all__ = ["HookRelay"]

OBSERVERS = frozenset(
    {
        "jackfield_request_started",
        "jackfield_response_received",
        "jackfield_request_failed",
        "jackfield_retrying",
    }
)


class HookRelay:
    """Calls a plugin manager's hooks, skipping those nobody implements."""

    __slots__ = ("_active", "_pm")

    def __init__(self, pm: pluggy.PluginManager) -> None:
        self._pm = pm
        self._active: dict[str, bool] = {}

    def invalidate(self) -> None:
        """Forget which hooks are implemented (call after registering a plugin)."""
        self._active.clear()

    def has(self, name: str) -> bool:
        """Whether any plugin implements hook ``name``."""
        active = self._active.get(name)
        if active is None:
            caller = getattr(self._pm.hook, name, None)
            active = bool(caller is not None and caller.get_hookimpls())
            self._active[name] = active
        return active

    def call(self, name: str, **kwargs: Any) -> Any:
        """Call hook ``name``; observer hooks that raise are logged, not propagated."""
        caller = getattr(self._pm.hook, name)
        if name not in OBSERVERS:
            return caller(**kwargs)
        impls = caller.get_hookimpls()
        if any(impl.hookwrapper or impl.wrapper for impl in impls):
            try:
                return caller(**kwargs)
            except Exception:
                _log().exception("observer hook %s raised; ignored", name)
                return None
        # Call each observer on its own (in pluggy's order, last registered first), so one
        # that raises neither breaks the call nor keeps the other observers from seeing it.
        for impl in reversed(impls):
            try:
                impl.function(*[kwargs[arg] for arg in impl.argnames])
            except Exception:
                _log().exception("observer hook %s of %s raised; ignored", name, impl.plugin_name)
        return None


def _log() -> logging.Logger:
    """The hooks' logger (``logging`` is imported only when an observer fails)."""
    import logging

    return logging.getLogger("jackfield.registry._hookcall")
