"""The exceptions jackfield raises.

Every failure of a provider call is a :class:`ProviderError`; the subclass says what
went wrong, ``error_type`` says it as a stable string, ``retryable`` says whether the
retry policy may try again::

    JackfieldError
    ├── ProviderError
    │   ├── ConfigurationError          configuration
    │   ├── AuthenticationError         authentication
    │   ├── PermissionDeniedError       permission
    │   ├── NotFoundError               not_found
    │   ├── BadRequestError             invalid_request
    │   │   ├── ContextWindowExceededError   context_window
    │   │   ├── ContentFilterError           content_filter
    │   │   └── UnsupportedFeatureError      unsupported_feature
    │   ├── OutputValidationError       output_validation
    │   ├── RateLimitError              rate_limit       (retryable)
    │   ├── QuotaExceededError          quota
    │   ├── ProviderTimeoutError        timeout          (retryable)
    │   ├── NetworkError                network          (retryable)
    │   ├── ServerError                 server           (retryable)
    │   │   └── OverloadedError         overloaded       (retryable)
    │   ├── StreamError                 stream
    │   ├── APIError                    api_error
    │   └── UnknownError                unknown
    └── RegistryError
        ├── ProviderNotFoundError
        ├── PluginLoadError
        └── MissingDependencyError

``ConfigurationError`` is also raised for bad input found before any request is sent.
Error messages and bodies never contain an API key: :func:`redact` scrubs them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any, ClassVar

__all__ = [
    "APIError",
    "AuthenticationError",
    "BadRequestError",
    "ConfigurationError",
    "ContentFilterError",
    "ContextWindowExceededError",
    "JackfieldError",
    "MissingDependencyError",
    "NetworkError",
    "NotFoundError",
    "OutputValidationError",
    "OverloadedError",
    "PermissionDeniedError",
    "PluginLoadError",
    "ProviderError",
    "ProviderNotFoundError",
    "ProviderTimeoutError",
    "QuotaExceededError",
    "RateLimitError",
    "RegistryError",
    "ServerError",
    "StreamError",
    "UnknownError",
    "UnsupportedFeatureError",
    "redact",
]

MAX_BODY_CHARS = 2000
REDACTED = "[REDACTED]"

# Patterns as strings: ``re`` compiles (and caches) them on first use, not at import.
_SECRET_PATTERNS = (
    # OpenAI/Anthropic/OpenRouter-style keys: sk-..., sk-ant-..., sk-or-v1-...
    r"\bsk-[A-Za-z0-9_\-]{8,}",
    r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=\-]{8,}",
    r"(?i)(\"?(?:api[_-]?key|x-api-key|authorization)\"?\s*[:=]\s*\"?)[^\"\s,}]{6,}",
)


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """Return ``text`` with the given secrets and anything shaped like a key replaced."""
    for secret in secrets:
        if secret and len(secret) >= 4 and secret in text:
            text = text.replace(secret, REDACTED)
    lowered = text.lower()  # the patterns ignore case, so must this quick pre-check
    if any(marker in lowered for marker in ("sk-", "bearer", "basic", "api", "authorization")):
        text = re.sub(_SECRET_PATTERNS[0], REDACTED, text)
        text = re.sub(_SECRET_PATTERNS[1], lambda m: f"{m.group(1)} {REDACTED}", text)
        text = re.sub(_SECRET_PATTERNS[2], lambda m: f"{m.group(1)}{REDACTED}", text)
    return text


class JackfieldError(Exception):
    """Base class of every exception jackfield raises."""


class ProviderError(JackfieldError):
    """A provider call failed.

    Carries the provider and model names, the HTTP status, the server's ``retry_after``
    hint in seconds, its request id, a redacted and truncated ``body``, and ``attempts``
    (set by the retry policy to the number of attempts made).
    """

    error_type: ClassVar[str] = "unknown"
    default_retryable: ClassVar[bool] = False

    def __init__(
        self,
        message: str,
        *,
        provider: str | None = None,
        model: str | None = None,
        status_code: int | None = None,
        retry_after: float | None = None,
        request_id: str | None = None,
        body: Any = None,
        retryable: bool | None = None,
        attempts: int | None = None,
        secrets: Sequence[str] = (),
    ) -> None:
        message = redact(str(message), secrets)
        super().__init__(message)
        self.message = message
        self.provider = provider
        self.model = model
        self.status_code = status_code
        self.retry_after = retry_after
        self.request_id = request_id
        self.body = _clean_body(body, secrets)
        self.retryable = self.default_retryable if retryable is None else retryable
        self.attempts = attempts

    def __str__(self) -> str:
        parts = []
        if self.provider:
            parts.append(self.provider)
        if self.status_code is not None:
            parts.append(str(self.status_code))
        prefix = f"[{' '.join(parts)}] " if parts else ""
        suffix = f" (request id {self.request_id})" if self.request_id else ""
        return f"{prefix}{self.message}{suffix}"

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.message!r}, provider={self.provider!r}, "
            f"model={self.model!r}, status_code={self.status_code!r}, "
            f"retryable={self.retryable!r}, attempts={self.attempts!r})"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), self.message, self.__dict__.copy()))

    def to_dict(self) -> dict[str, Any]:
        """The error as a JSON-ready dict (as the proxy wire sends it)."""
        return {
            "error_type": self.error_type,
            "message": self.message,
            "provider": self.provider,
            "model": self.model,
            "status_code": self.status_code,
            "retry_after": self.retry_after,
            "request_id": self.request_id,
            "retryable": self.retryable,
        }


def _rebuild(cls: type[ProviderError], message: str, state: dict[str, Any]) -> ProviderError:
    err = cls.__new__(cls)
    Exception.__init__(err, message)
    err.__dict__.update(state)
    return err


def _clean_body(body: Any, secrets: Sequence[str]) -> str | None:
    if body is None:
        return None
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    elif not isinstance(body, str):
        import json

        try:
            body = json.dumps(body, default=str)
        except (TypeError, ValueError):
            body = repr(body)
    # Redact before truncating: a cut through a secret would leave its prefix unredacted.
    text = redact(body, secrets)
    if len(text) > MAX_BODY_CHARS:
        text = text[:MAX_BODY_CHARS] + "...[truncated]"
    return text


class ConfigurationError(ProviderError):
    """The configuration or the call's input is invalid; found before any request."""

    error_type = "configuration"

    def __init__(self, message: str, *, field: str | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.field = field


class AuthenticationError(ProviderError):
    """The API key is missing, wrong or revoked (HTTP 401)."""

    error_type = "authentication"


class PermissionDeniedError(ProviderError):
    """The key is valid but may not do this (HTTP 403)."""

    error_type = "permission"


class NotFoundError(ProviderError):
    """The model or endpoint does not exist (HTTP 404)."""

    error_type = "not_found"


class BadRequestError(ProviderError):
    """The provider rejected the request as invalid (HTTP 400, 413, 422)."""

    error_type = "invalid_request"


class ContextWindowExceededError(BadRequestError):
    """The prompt is longer than the model's context window."""

    error_type = "context_window"


class ContentFilterError(BadRequestError):
    """A content policy blocked the prompt or the answer."""

    error_type = "content_filter"


class UnsupportedFeatureError(BadRequestError):
    """The call asks for a feature (``feature``: ``"documents"``, ``"audio"``, ...) the
    provider or model cannot express; raised before any I/O, never a dropped parameter."""

    error_type = "unsupported_feature"

    def __init__(self, message: str, *, feature: str | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.feature = feature


class OutputValidationError(ProviderError):
    """The model's structured output does not fit the requested schema.

    ``text`` is the raw reply and ``errors`` the validation errors, one line each (the
    raw text is kept whole here; ``body`` holds a truncated copy).
    """

    error_type = "output_validation"

    def __init__(
        self,
        message: str,
        *,
        text: str = "",
        errors: Sequence[str] = (),
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("body", text)
        super().__init__(message, **kwargs)
        self.text = redact(text, kwargs.get("secrets", ()))
        self.errors = tuple(errors)


class RateLimitError(ProviderError):
    """Too many requests; ``retry_after`` says how long the server asks to wait."""

    error_type = "rate_limit"
    default_retryable = True


class QuotaExceededError(ProviderError):
    """The account's balance or quota is exhausted; waiting will not help."""

    error_type = "quota"


class ProviderTimeoutError(ProviderError):
    """The request timed out (client side, or HTTP 408)."""

    error_type = "timeout"
    default_retryable = True


class NetworkError(ProviderError):
    """The connection failed or was reset."""

    error_type = "network"
    default_retryable = True


class ServerError(ProviderError):
    """The provider failed (HTTP 5xx)."""

    error_type = "server"
    default_retryable = True


class OverloadedError(ServerError):
    """The provider is overloaded (Anthropic 529, ``overloaded_error``)."""

    error_type = "overloaded"


class StreamError(ProviderError):
    """The stream broke: truncated, malformed, or an error arrived inside it."""

    error_type = "stream"


class APIError(ProviderError):
    """The provider answered with an error that fits no other class."""

    error_type = "api_error"


class UnknownError(ProviderError):
    """An exception no mapper recognised; the original is the ``__cause__``."""

    error_type = "unknown"


class RegistryError(JackfieldError):
    """Base class of registry and plugin problems."""


class ProviderNotFoundError(RegistryError, LookupError):
    """No provider is registered under that name; ``suggestions`` lists close names.

    ``profile`` is the profile that named the provider, if one did; ``note`` says more
    (a plugin named like it that failed to load, and why).
    """

    def __init__(
        self,
        name: str,
        suggestions: Sequence[str] = (),
        profile: str | None = None,
        note: str | None = None,
    ) -> None:
        self.name = name
        self.suggestions = tuple(suggestions)
        self.profile = profile
        self.note = note
        if profile is not None:
            text = f"profile {profile!r} names provider {name!r}, which is not registered"
        else:
            text = f"no provider named {name!r}"
        if suggestions:
            text += f"; did you mean {', '.join(map(repr, self.suggestions))}?"
        if note:
            text += f"; {note}"
        super().__init__(text)

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.name, self.suggestions, self.profile, self.note))


class PluginLoadError(RegistryError):
    """A plugin failed to load (raised only in strict mode; otherwise recorded)."""

    def __init__(self, plugin: str, reason: str) -> None:
        self.plugin = plugin
        self.reason = reason
        super().__init__(f"plugin {plugin!r} failed to load: {reason}")

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.plugin, self.reason))


class MissingDependencyError(RegistryError, ImportError):
    """A provider needs a package that is not installed; the message has the install line."""

    def __init__(self, provider: str, package: str, extra: str | None) -> None:
        self.provider = provider
        self.package = package
        self.extra = extra
        line = f"pip install 'jackfield[{extra}]'" if extra else f"pip install {package}"
        self.install_command = line
        super().__init__(f"provider {provider!r} needs the {package!r} package: {line}")

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.provider, self.package, self.extra))


ALL_PROVIDER_ERRORS: tuple[type[ProviderError], ...] = (
    ProviderError,
    ConfigurationError,
    AuthenticationError,
    PermissionDeniedError,
    NotFoundError,
    BadRequestError,
    ContextWindowExceededError,
    ContentFilterError,
    UnsupportedFeatureError,
    OutputValidationError,
    RateLimitError,
    QuotaExceededError,
    ProviderTimeoutError,
    NetworkError,
    ServerError,
    OverloadedError,
    StreamError,
    APIError,
    UnknownError,
)

ERROR_CLASSES_BY_TYPE: dict[str, type[ProviderError]] = {
    cls.error_type: cls for cls in ALL_PROVIDER_ERRORS if cls is not ProviderError
}
