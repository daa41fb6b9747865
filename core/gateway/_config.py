"""The gateway's configuration: the ``[gateway]`` tables of a TOML file, validated at
startup; an error names the field (``gateway.limits.rpm``), never a value that could be a
secret. Profiles (``[profiles.NAME]``) in the same file configure the upstream
providers, as everywhere in jackfield.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import attrs

from ..errors import ConfigurationError
from ..registry._profiles import read_config_file
from ..types import ModelTier

__all__ = ["GatewayConfig", "LimitsConfig", "load_config"]

KiB = 1024


@attrs.frozen(slots=True)
class LimitsConfig:
    """Default per-token limits (a token's own values win) and where they are counted."""

    rpm: int | None = None
    """Requests per minute (a sliding 60 s window)."""
    tpm: int | None = None
    """Tokens (input + output) per minute (fixed one-minute windows)."""
    daily_tokens: int | None = None
    """Tokens per UTC day."""
    redis_url: str | None = None
    """Count in Redis, shared by every gateway process using it; ``None``: in memory."""
    redis_prefix: str = "jackfield:gateway:"
    """Prepended to every Redis key."""
    on_redis_error: Literal["open", "closed"] = "open"
    """When Redis cannot be reached: ``open`` lets calls through uncounted (and logs a
    warning once per outage), ``closed`` refuses them with 503 ``overloaded``."""


@attrs.frozen(slots=True)
class GatewayConfig:
    """Everything ``jackfield serve`` needs (see ``docs/gateway.md``)."""

    models: Mapping[str, str] = attrs.field(factory=dict)
    """Public model name -> target: a provider, ``provider:model`` or a profile."""
    tiers: Mapping[str, str] = attrs.field(factory=dict)
    """Tier name (``hosted_small`` ...) -> a public model name."""
    default_model: str | None = None
    """The model of a jackfield-protocol call that names none."""
    host: str = "127.0.0.1"
    port: int = 8080
    tokens: Path | None = None
    """The token store (hashes only; ``jackfield gateway token create``)."""
    auth: Literal["tokens", "none"] = "tokens"
    """``none`` serves without tokens: only for a gateway no one else can reach."""
    cache: str | None = None
    """A response-cache spec for every model's provider (``memory``, ``redis://...``)."""
    max_body_bytes: int = 4 * KiB * KiB
    max_messages: int = 1000
    drain_seconds: float = 10.0
    """On shutdown, how long running calls may finish before they are cancelled."""
    audit_log: Path | None = None
    """A JSON-lines file: one line per call (token name, model, status, tokens, time)."""
    tinyagent_path: str | None = None
    """Serve the tinyagent protocol on this path too (it is always told apart by its body
    on ``/api/stream``)."""
    limits: LimitsConfig = attrs.field(factory=LimitsConfig)
    config_path: Path | None = None
    """The file the profiles are read from (the gateway config file itself)."""


_TOP = {
    "host": str,
    "port": int,
    "tokens": str,
    "auth": str,
    "cache": str,
    "default_model": str,
    "max_body_bytes": int,
    "max_messages": int,
    "drain_seconds": (int, float),
    "audit_log": str,
    "tinyagent_path": str,
    "models": dict,
    "tiers": dict,
    "limits": dict,
}
_LIMITS = {
    "rpm": int,
    "tpm": int,
    "daily_tokens": int,
    "redis_url": str,
    "redis_prefix": str,
    "on_redis_error": str,
}


def _fail(field: str, message: str) -> ConfigurationError:
    return ConfigurationError(f"gateway config: {field} {message}", field=field)


def _typed(table: Mapping[str, Any], spec: Mapping[str, Any], where: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in table.items():
        field = f"{where}.{key}"
        if key not in spec:
            raise _fail(field, f"is not a known field (known: {', '.join(sorted(spec))})")
        kind = spec[key]
        if isinstance(value, bool) or not isinstance(value, kind):
            names = kind.__name__ if isinstance(kind, type) else "number"
            raise _fail(field, f"must be a {names}")
        out[key] = value
    return out


def _positive(data: Mapping[str, Any], key: str, where: str) -> None:
    value = data.get(key)
    if value is not None and value <= 0:
        raise _fail(f"{where}.{key}", "must be > 0")


def _relative(base: Path | None, value: str | None) -> Path | None:
    if value is None:
        return None
    path = Path(os.path.expanduser(value))
    return path if path.is_absolute() or base is None else base / path


def config_from_mapping(data: Mapping[str, Any], *, path: Path | None = None) -> GatewayConfig:
    """A :class:`GatewayConfig` from a parsed TOML document (its ``gateway`` table)."""
    table = data.get("gateway", {})
    if not isinstance(table, Mapping):
        raise _fail("gateway", "must be a table")
    top = _typed(table, _TOP, "gateway")
    limits = _typed(top.pop("limits", {}), _LIMITS, "gateway.limits")
    for key in ("rpm", "tpm", "daily_tokens"):
        _positive(limits, key, "gateway.limits")
    if limits.get("on_redis_error", "open") not in ("open", "closed"):
        raise _fail("gateway.limits.on_redis_error", 'must be "open" or "closed"')
    url = limits.get("redis_url")
    if url is not None and not url.startswith(("redis://", "rediss://", "unix://")):
        raise _fail("gateway.limits.redis_url", "must start with redis://, rediss:// or unix://")
    for key in ("port", "max_body_bytes", "max_messages", "drain_seconds"):
        _positive(top, key, "gateway")
    if top.get("port", 1) > 65535:
        raise _fail("gateway.port", "must be <= 65535")
    if top.get("auth", "tokens") not in ("tokens", "none"):
        raise _fail("gateway.auth", 'must be "tokens" or "none"')
    models = top.pop("models", {})
    for name, target in models.items():
        if not isinstance(target, str) or not target:
            raise _fail(f"gateway.models.{name}", "must be a provider, provider:model or profile")
    tiers = top.pop("tiers", {})
    known = {t.value for t in ModelTier}
    for tier, model in tiers.items():
        if tier not in known:
            raise _fail(f"gateway.tiers.{tier}", f"is not a tier ({', '.join(sorted(known))})")
        if model not in models:
            raise _fail(f"gateway.tiers.{tier}", f"names {model!r}, which is not in gateway.models")
    default = top.get("default_model")
    if default is not None and default not in models and default not in tiers:
        raise _fail("gateway.default_model", "must name a model of gateway.models or a tier")
    for key in ("tinyagent_path",):
        value = top.get(key)
        if value is not None and (not value.startswith("/") or value == "/api/stream"):
            raise _fail(f"gateway.{key}", 'must be a path such as "/tinyagent/api/stream"')
    base = path.parent if path is not None else None
    tokens = _relative(base, top.pop("tokens", None))
    if tokens is None and top.get("auth", "tokens") == "tokens":
        raise _fail("gateway.tokens", 'is required (a token file), unless auth = "none"')
    if not models:
        raise _fail("gateway.models", "must name at least one model")
    return GatewayConfig(
        models=dict(models),
        tiers=dict(tiers),
        tokens=tokens,
        audit_log=_relative(base, top.pop("audit_log", None)),
        limits=LimitsConfig(**limits),
        config_path=path,
        **top,
    )


def load_config(path: str | os.PathLike[str]) -> GatewayConfig:
    """Read and validate a gateway config file (TOML)."""
    file = Path(path)
    return config_from_mapping(read_config_file(file), path=file)
