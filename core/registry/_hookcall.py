"""Calling plugins' hooks: one place that isolates a plugin whose hook raises.

:func:`call_each` calls hook implementations one at a time and hands each failure to
the caller's handler, so one broken plugin neither breaks the call nor keeps the other
plugins from being called. The registration hooks (providers, cache backends) and the
observer hooks all go through it. :class:`HookRelay` is what providers hold: hot paths
ask :meth:`HookRelay.has` first, so a hook with no implementation costs one dict lookup.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    import logging

    from pluggy import HookImpl

__all__ = ["OBSERVERS", "HookRelay", "call_each"]

OBSERVERS = frozenset(
    {
        "jackfield_request_started",
        "jackfield_response_received",
        "jackfield_request_failed",
        "jackfield_retrying",
        "jackfield_router_event",
    }
)
"""Hooks that only watch: an implementation that raises is logged and ignored."""


def call_each(
    impls: Iterable[HookImpl],
    kwargs: Mapping[str, Any],
    on_error: Callable[[HookImpl, Exception], None],
) -> None:
    """Call each of ``impls`` with the ``kwargs`` it asks for, isolating failures.

    An implementation that raises an ``Exception`` is passed to ``on_error`` (which may
    record it, log it, or raise to stop). Wrappers are skipped: they only make sense
    around pluggy's own call loop.
    """
    for impl in impls:
        if impl.hookwrapper or impl.wrapper:
            continue
        try:
            impl.function(*[kwargs[arg] for arg in impl.argnames])
        except Exception as exc:
            on_error(impl, exc)


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

        def log(impl: HookImpl, exc: Exception) -> None:
            _log().error(
                "observer hook %s of %s raised; ignored", name, impl.plugin_name, exc_info=exc
            )

        # In pluggy's order (last registered first), each observer on its own.
        call_each(reversed(impls), kwargs, log)
        return None


def _log() -> logging.Logger:
    """The hooks' logger (``logging`` is imported only when an observer fails)."""
    import logging

    return logging.getLogger("jackfield.hooks")
