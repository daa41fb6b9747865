"""The caching factory's memo: which ``create_provider`` call gives which instance.

A repeated call (same name, config and overrides) skips resolving the provider and its
config; the memo never holds an API key, only a per-process salted hash of it, and a hit
is checked against the key the instance holds.
"""

from __future__ import annotations

import os
from collections.abc import Hashable, Mapping
from typing import TYPE_CHECKING, Any

from ..config import ProviderConfig, Secret

if TYPE_CHECKING:
    from ..provider import Provider

__all__ = ["MEMO_MAX", "env_unchanged", "holds_given_key", "key_env", "memo_key"]

MEMO_MAX = 1024
"""Entries of a registry's create_provider memo before it starts over."""


def memo_key(name: Any, config: Any, overrides: Mapping[str, Any]) -> Hashable | None:
    """What identifies a ``create_provider`` call, or ``None`` if it cannot be memoised.

    A mapping config counts by its items, a (frozen) :class:`ProviderConfig` by identity
    (the memo entry keeps the object, so its id cannot be reused meanwhile). Unhashable
    values (a dict of headers, say) are not memoised: such calls resolve every time. An
    API key counts by its (per-process salted) ``hash``, so the memo never holds the key
    itself; a hit is checked against the key the instance holds, so even two keys with
    one hash never share an instance.
    """
    if config is None:
        part: Hashable = None
    elif isinstance(config, Mapping):
        part = ("items", _without_key(config))
    elif isinstance(config, ProviderConfig):
        part = ("id", id(config))
    else:
        return None
    # Whether the key is hashable is found out by the memo lookup (a TypeError).
    return (name, part, _without_key(overrides))


def _without_key(fields: Mapping[str, Any]) -> Hashable:
    """``fields`` as a tuple of items, an ``api_key`` value replaced by its salted hash."""
    given = fields.get("api_key")
    if given is None:
        return tuple(fields.items())
    if type(given) is not str:
        # A Secret counts by its value; anything else becomes an unhashable marker, so
        # the call resolves, and fails, every time.
        given = given.get_secret_value() if isinstance(given, Secret) else None
    rest = dict(fields)
    del rest["api_key"]  # the memo must never hold the key itself
    return (tuple(rest.items()), "api_key hash", hash(given) if given is not None else [None])


def holds_given_key(provider: Provider, config: Any, overrides: Mapping[str, Any]) -> bool:
    """Whether ``provider`` holds the API key this call gives (true if it gives none)."""
    given = overrides.get("api_key")
    if given is None and isinstance(config, Mapping):
        given = config.get("api_key")
    if given is None:
        return True
    if isinstance(given, Secret):
        given = given.get_secret_value()
    held = provider.api_key
    return held is not None and held.get_secret_value() == given


def key_env(cls: type[Provider], cfg: ProviderConfig) -> tuple[tuple[str, int], ...]:
    """The environment variables a default instance key depends on, with a salted hash
    of each value (the value may be a key: it is never kept)."""
    if cfg.api_key is not None:
        return ()
    names = dict.fromkeys(v for v in (cfg.api_key_env, cls.api_key_env) if v)
    return tuple((var, hash(os.environ.get(var))) for var in names)


def env_unchanged(env: tuple[tuple[str, int], ...]) -> bool:
    """Whether the variables still hold the values the memo entry was made with."""
    return all(hash(os.environ.get(var)) == digest for var, digest in env)
