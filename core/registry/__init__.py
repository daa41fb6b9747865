"""The registry: discovery of provider plugins, lookup by name, the caching factory.

The module-level functions act on one process-wide :class:`Registry`
(:func:`get_registry`); an application that wants its own plugins, profiles or
instances creates a :class:`Registry` of its own.
"""

from __future__ import annotations

from ._hookspecs import hookimpl, hookspec
from ._registry import (
    ENTRY_POINT_GROUP,
    PluginFailure,
    ProviderInfo,
    Registry,
    clear_cache,
    create_provider,
    get_provider_class,
    get_registry,
    is_registered,
    list_providers,
    normalize_name,
    register_provider,
    unregister_provider,
)

__all__ = [
    "ENTRY_POINT_GROUP",
    "PluginFailure",
    "ProviderInfo",
    "Registry",
    "clear_cache",
    "create_provider",
    "get_provider_class",
    "get_registry",
    "hookimpl",
    "hookspec",
    "is_registered",
    "list_providers",
    "normalize_name",
    "register_provider",
    "unregister_provider",
]
