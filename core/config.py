"""Provider configuration: one frozen, validated value per provider instance."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from typing import Any, Literal, TypeAlias

import attrs

from .errors import ConfigurationError
from .types import ModelTier

__all__ = ["AuthMethod", "ProviderConfig", "Secret", "check_base_url", "parse_tier"]

AuthMethod: TypeAlias = Literal["bearer", "api-key", "x-api-key", "none"]
AUTH_METHODS: frozenset[str] = frozenset({"bearer", "api-key", "x-api-key", "none"})

# A per-process salt, so a key's fingerprint cannot be looked up or compared across runs
# (what secrets.token_bytes gives, without importing secrets and hashlib at import time).
_FINGERPRINT_SALT = os.urandom(16)


class Secret:
    """A string that never shows itself in ``repr``, ``str`` or formatted output."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if not isinstance(value, str):
            raise ConfigurationError("api_key must be a string", field="api_key")
        self._value = value

    def get_secret_value(self) -> str:
        """The secret itself; call only where it must go on the wire."""
        return self._value

    def fingerprint(self) -> str:
        """A salted hash that tells two secrets apart without revealing either."""
        import hashlib

        return hashlib.sha256(_FINGERPRINT_SALT + self._value.encode()).hexdigest()[:16]

    def __repr__(self) -> str:
        return "Secret('**********')"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return repr(self)

    def __eq__(self, other: object) -> bool:
        from hmac import compare_digest

        return isinstance(other, Secret) and compare_digest(self._value, other._value)

    def __hash__(self) -> int:
        return hash(self.fingerprint())

    def __bool__(self) -> bool:
        return bool(self._value)

    def __reduce__(self) -> tuple[Any, ...]:
        raise TypeError("a Secret cannot be pickled")


def _to_secret(value: str | Secret | None) -> Secret | None:
    if value is None or isinstance(value, Secret):
        return value
    return Secret(value)


def parse_tier(value: str | ModelTier) -> ModelTier:
    """Turn ``"hosted_large"`` (or ``hosted-large``) into a :class:`ModelTier`."""
    if isinstance(value, ModelTier):
        return value
    try:
        return ModelTier(str(value).strip().lower().replace("-", "_"))
    except ValueError:
        known = ", ".join(t.value for t in ModelTier)
        raise ConfigurationError(
            f"unknown tier {value!r}; known tiers: {known}", field="tier"
        ) from None


def _to_tier_map(value: Mapping[Any, str] | None) -> dict[ModelTier, str]:
    if not value:
        return {}
    if not isinstance(value, Mapping):
        raise ConfigurationError(
            "tier_models must be a mapping of tier to model", field="tier_models"
        )
    out: dict[ModelTier, str] = {}
    for k, v in value.items():
        if not isinstance(v, str) or not v:
            raise ConfigurationError(
                f"tier_models[{k!r}] must be a non-empty model name", field="tier_models"
            )
        try:
            tier = parse_tier(k)
        except ConfigurationError as exc:
            raise ConfigurationError(f"tier_models: {exc.message}", field="tier_models") from None
        out[tier] = v
    return out


def _mapping(field: str, value: Mapping[str, Any] | None) -> dict[str, Any]:
    if not value:
        return {}
    if not isinstance(value, Mapping):
        raise _fail(field, "must be a mapping", value)
    return dict(value)


def _headers(value: Mapping[str, str] | None) -> dict[str, str]:
    return _mapping("extra_headers", value)


def _extra(value: Mapping[str, Any] | None) -> dict[str, Any]:
    return _mapping("extra", value)


def _capability_map(value: Mapping[str, Any] | None) -> dict[str, Any]:
    return _mapping("capabilities", value)


def _names_only(headers: dict[str, str]) -> str:
    """Header names without values: a custom header may carry a credential."""
    return repr({name: "..." for name in headers})


def _fail(field: str, why: str, value: Any) -> ConfigurationError:
    if field == "api_key":
        shown = "<secret>"
    else:
        try:
            shown = repr(value)
        except ValueError:  # an int of more than 4300 digits cannot be shown
            shown = f"<{type(value).__name__}>"
        if len(shown) > 200:
            shown = shown[:200] + "..."
    return ConfigurationError(f"invalid {field}: {why} (got {shown})", field=field)


def _optional_number(
    field: str, value: Any, *, low: float, high: float = math.inf, low_open: bool = False
) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _fail(field, "must be a number", value)
    # nan, infinity and ints too large for a float (math.isnan(10**400) raised
    # OverflowError) are no setting: timers fail on them (math.ceil(inf) raises).
    try:
        finite = math.isfinite(value)
    except OverflowError:
        finite = False
    if not finite:
        raise _fail(field, "must be a finite number", value)
    if value < low or (low_open and value == low) or value > high:
        lo = f"> {low}" if low_open else f">= {low}"
        hi = "" if high == math.inf else f" and <= {high}"
        raise _fail(field, f"must be {lo}{hi}", value)


def _optional_int(field: str, value: Any, *, low: int) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int):
        raise _fail(field, "must be an integer", value)
    if value < low:
        raise _fail(field, f"must be >= {low}", value)


def _shown_url(url: str) -> str:
    """``url`` fit for an error message: no userinfo, query or fragment (they may hold a
    credential), at most 200 characters."""
    text = url.split("#", 1)[0].split("?", 1)[0]
    scheme, sep, rest = text.partition("://")
    if sep:
        authority, slash, path = rest.partition("/")
        if "@" in authority:
            authority = "***@" + authority.rpartition("@")[2]
        text = f"{scheme}://{authority}{slash}{path}"
    shown = repr(text)
    return shown[:200] + "..." if len(shown) > 200 else shown


def check_base_url(url: Any, provider: str | None = None) -> None:
    """Refuse a base URL no request could use (no host, a port out of range or not a
    number, a broken IPv6 literal, spaces): a :class:`ConfigurationError` naming
    ``base_url`` now, instead of a retried ``NetworkError`` on every call."""
    if not isinstance(url, str):
        raise _fail("base_url", "must start with http:// or https://", url)
    why = None
    if not url.startswith(("http://", "https://")):
        why = "must start with http:// or https://"
    elif any(ch.isspace() or not ch.isprintable() for ch in url):
        why = "must not contain spaces or control characters"
    else:
        import re  # here: importing the config must stay cheap
        from urllib.parse import urlsplit

        try:
            parts = urlsplit(url)
            port = parts.port  # raises for a port that is not a number in 0-65535
        except ValueError as exc:
            why = "is not a valid URL" + (" (broken IPv6 literal)" if "IPv6" in str(exc) else "")
            if "Port" in str(exc):
                why = "has a port that is not a number from 1 to 65535"
        else:
            host_port = parts.netloc.rpartition("@")[2]
            if not parts.hostname:
                why = "has no host"
            elif host_port.startswith("[") and not re.fullmatch(r"\[[^][]+\](:\d*)?", host_port):
                why = "is not a valid URL (broken IPv6 literal)"
            elif port == 0:
                why = "has a port that is not a number from 1 to 65535"
    if why is not None:
        raise ConfigurationError(
            f"invalid base_url: {why} (got {_shown_url(url)})", field="base_url", provider=provider
        )


def _optional_str(field: str, value: Any) -> None:
    if value is not None and (not isinstance(value, str) or not value.strip()):
        raise _fail(field, "must be a non-empty string", value)


def _check_capabilities(overrides: Mapping[str, Any]) -> None:
    """Each override names a :class:`Capabilities` field and has its type."""
    from .types import Capabilities, OutputMode

    fields = {f.name: f for f in attrs.fields(Capabilities)}
    for name, value in overrides.items():
        if name not in fields:
            raise _fail("capabilities", f"has unknown key {name!r}; use {sorted(fields)}", name)
        where = f"capabilities.{name}"
        if name == "structured_output":
            if value not in OutputMode.__members__.values():
                raise _fail(where, f"must be one of {[str(m) for m in OutputMode]}", value)
        elif name == "cache_points":
            if value not in ("explicit", "automatic", "none"):
                raise _fail(where, "must be 'explicit', 'automatic' or 'none'", value)
        elif name in ("max_cache_points", "context_window"):
            _optional_int(where, value, low=1)
        elif not isinstance(value, bool):
            raise _fail(where, "must be true or false", value)


@attrs.frozen(slots=True, kw_only=True)
class ProviderConfig:
    """Everything that configures one provider instance.

    ``api_key`` is held as a :class:`Secret`: it never appears in ``repr``, logs, errors
    or cache keys. ``None`` fields fall back to the provider's defaults. Invalid values
    raise :class:`ConfigurationError` naming the field.
    """

    api_key: Secret | None = attrs.field(default=None, converter=_to_secret, repr=False)
    api_key_env: str | None = None
    base_url: str | None = None
    model: str | None = None
    temperature: float | None = None
    max_tokens: int | None = None
    timeout: float = 60.0
    connect_timeout: float | None = 10.0
    max_retries: int = 2
    retry_deadline: float | None = None
    auth_method: AuthMethod | None = None
    extra_headers: dict[str, str] = attrs.field(
        factory=dict, converter=_headers, hash=False, repr=_names_only
    )
    api_version: str | None = None
    deployment: str | None = None
    organization: str | None = None
    project: str | None = None
    context_window: int | None = None
    reasoning: bool | str | None = None
    tier_models: dict[ModelTier, str] = attrs.field(
        factory=dict, converter=_to_tier_map, hash=False
    )
    cache: bool | str | None = None
    cache_ttl: float | None = None
    max_connections: int = 100
    max_response_bytes: int = 64 * 1024 * 1024
    capabilities: dict[str, Any] = attrs.field(factory=dict, converter=_capability_map, hash=False)
    """Overrides of the provider's declared :class:`~jackfield.types.Capabilities`, for a
    server that knows more (``{"images": True}`` for an OpenAI-compatible server with
    vision) or less."""
    extra: dict[str, Any] = attrs.field(factory=dict, converter=_extra, hash=False)
    _fingerprint: str | None = attrs.field(
        default=None, init=False, eq=False, repr=False, hash=False
    )

    def __attrs_post_init__(self) -> None:
        _optional_str("api_key_env", self.api_key_env)
        _optional_str("model", self.model)
        _optional_str("api_version", self.api_version)
        _optional_str("deployment", self.deployment)
        _optional_str("organization", self.organization)
        _optional_str("project", self.project)
        if self.base_url is not None:
            check_base_url(self.base_url)
        _optional_number("temperature", self.temperature, low=0.0, high=2.0)
        _optional_int("max_tokens", self.max_tokens, low=1)
        _optional_number("timeout", self.timeout, low=0.0, low_open=True)
        _optional_number("connect_timeout", self.connect_timeout, low=0.0, low_open=True)
        _optional_int("max_retries", self.max_retries, low=0)
        if self.max_retries is None:
            raise _fail("max_retries", "must be an integer", None)
        _optional_number("retry_deadline", self.retry_deadline, low=0.0, low_open=True)
        if self.auth_method is not None and (
            not isinstance(self.auth_method, str) or self.auth_method not in AUTH_METHODS
        ):  # checked as a str first: an unhashable value would make `in` raise TypeError
            raise _fail("auth_method", f"must be one of {sorted(AUTH_METHODS)}", self.auth_method)
        for k, v in self.extra_headers.items():
            if not isinstance(k, str) or not isinstance(v, str):
                raise _fail("extra_headers", "names and values must be strings", {k: "..."})
            if "\n" in k or "\r" in k or "\n" in v or "\r" in v:
                raise _fail("extra_headers", "must not contain line breaks", k)
        _optional_int("context_window", self.context_window, low=1)
        if self.reasoning is not None and not isinstance(self.reasoning, bool | str):
            raise _fail("reasoning", "must be a bool or an effort name", self.reasoning)
        if self.cache is not None and not isinstance(self.cache, bool | str):
            raise _fail(
                "cache", "must be a bool or a backend spec such as 'sqlite:path'", self.cache
            )
        _optional_number("cache_ttl", self.cache_ttl, low=0.0, low_open=True)
        _optional_int("max_connections", self.max_connections, low=1)
        _optional_int("max_response_bytes", self.max_response_bytes, low=1)
        if self.capabilities:
            _check_capabilities(self.capabilities)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> ProviderConfig:
        """Build a config from a dict (a TOML profile, say); unknown keys are an error."""
        names = {f.name for f in attrs.fields(cls) if f.init}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ConfigurationError(
                f"unknown config field(s): {', '.join(unknown)}", field=unknown[0]
            )
        try:
            return cls(**data)
        except TypeError as exc:  # pragma: no cover - attrs reports bad arguments as TypeError
            raise ConfigurationError(str(exc)) from None

    def evolve(self, **changes: Any) -> ProviderConfig:
        """A copy with some fields changed; unknown fields are a ``ConfigurationError``."""
        names = {f.name for f in attrs.fields(type(self)) if f.init}
        unknown = sorted(set(changes) - names)
        if unknown:
            raise ConfigurationError(
                f"unknown config field(s): {', '.join(unknown)}", field=unknown[0]
            )
        return attrs.evolve(self, **changes)

    def resolve_api_key(self, default_env: str | None) -> Secret | None:
        """The key: explicit, else ``$api_key_env``, else the provider's default variable."""
        if self.api_key:
            return self.api_key
        for env in (self.api_key_env, default_env):
            if env:
                value = os.environ.get(env)
                if value:
                    return Secret(value)
        return None

    def fingerprint(self) -> str:
        """A stable hash of the whole config with the key replaced by its salted hash."""
        if self._fingerprint is not None:
            return self._fingerprint
        parts: list[str] = []
        for f in attrs.fields(type(self)):
            if f.name == "_fingerprint":
                continue
            value = getattr(self, f.name)
            if f.name == "api_key":
                value = value.fingerprint() if value else None
            elif isinstance(value, dict):
                value = sorted((str(k), repr(v)) for k, v in value.items())
            parts.append(f"{f.name}={value!r}")
        import hashlib

        fingerprint = hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]
        object.__setattr__(self, "_fingerprint", fingerprint)
        return fingerprint
