"""Cache keys: a SHA-256 of the canonical request, namespaced and versioned.

The key covers everything that changes the answer: the provider name and base URL, the
model after tier resolution, the messages, tools, tool choice, JSON mode, sampling
parameters, stop sequences, reasoning and the provider-specific ``extra`` arguments
(:meth:`jackfield.types.Request.to_dict`), and whether the call streams. It never covers
the API key (it is not part of the request), and dict order never matters (keys are
sorted). Values in ``extra`` that are callables (a progress callback, say) are skipped:
they cannot change what the model answers and have no stable text form. Other values
that are not JSON are given a stable text form (sets sorted, bytes as hex, objects as
``module.Class:str(value)``).

The key text is ``"jackfield:v<FORMAT_VERSION>:<64 hex digits>"``.
"""

from __future__ import annotations

import enum
import hashlib
import json
from collections.abc import Mapping
from typing import Any

import attrs

from ..types import Request

__all__ = ["FORMAT_VERSION", "NAMESPACE", "cache_key", "key_material"]

NAMESPACE = "jackfield"
FORMAT_VERSION = 1
"""Bumped whenever the key material or the stored entry format changes."""

_PREFIX = f"{NAMESPACE}:v{FORMAT_VERSION}:"


def _clean(value: Any) -> Any:
    """``value`` with callables dropped from dicts and lists (recursively)."""
    if isinstance(value, Mapping):
        return {str(k): _clean(v) for k, v in value.items() if not callable(v)}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value if not callable(v)]
    return value


def _default(value: Any) -> Any:
    """A stable JSON form for values ``json`` cannot encode."""
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, set | frozenset):
        return sorted(_text(v) for v in value)
    if isinstance(value, bytes | bytearray | memoryview):
        return {"$bytes": bytes(value).hex()}
    if attrs.has(type(value)):
        return {"$attrs": _text(type(value)), "fields": _clean(attrs.asdict(value))}
    return f"{_text(type(value))}:{value}"


def _text(value: Any) -> str:
    if isinstance(value, type):
        return f"{value.__module__}.{value.__qualname__}"
    return json.dumps(value, sort_keys=True, default=_default, ensure_ascii=False)


def key_material(request: Request, *, provider: str, base_url: str | None, stream: bool) -> str:
    """The canonical JSON text that :func:`cache_key` hashes (for debugging)."""
    data = request.to_dict()
    if request.extra:
        data["extra"] = _clean(request.extra)
    payload = {
        "v": FORMAT_VERSION,
        "provider": provider,
        "base_url": base_url,
        "stream": stream,
        "request": data,
    }
    return json.dumps(
        payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_default
    )


def cache_key(
    request: Request, *, provider: str, base_url: str | None = None, stream: bool = False
) -> str:
    """The cache key of ``request`` sent to ``provider`` at ``base_url``.

    ``stream`` separates streamed from non-streamed answers: a streamed entry keeps the
    exact event sequence, so the two are stored apart.
    """
    material = key_material(request, provider=provider, base_url=base_url, stream=stream)
    return _PREFIX + hashlib.sha256(material.encode("utf-8", "surrogatepass")).hexdigest()
