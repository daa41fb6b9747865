"""The shape of a client library's exception table, and how a row becomes an error.

Each client library jackfield reads through (aiohttp, httpx2/httpx) has one table of
:class:`ErrorRule` rows, most specific first, naming its exception classes; the first
row whose class an exception is an instance of decides the jackfield error. Both tables
use one wording per failure, so the same failure reads the same whatever the client.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, NamedTuple

from ..errors import APIError, ConfigurationError, ProviderError

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from types import ModuleType

__all__ = ["ErrorRule", "build_error", "resolve_rules"]


class ErrorRule(NamedTuple):
    """One row of an exception table."""

    name: str
    """The exception class's name in the library (it matches its subclasses too)."""
    error: type[ProviderError] | None
    """The jackfield error raised; ``None``: the one :func:`error_from_response` picks
    from the HTTP status the exception carries."""
    wording: str
    """The message, followed by ``(ExceptionName: its text)``."""
    retryable: bool | None = None
    """Overrides the error class's ``default_retryable`` when not ``None``."""
    field: str | None = None
    """For a :class:`ConfigurationError`: the config field at fault."""


@functools.lru_cache(maxsize=8)
def resolve_rules(
    module: ModuleType, rules: tuple[ErrorRule, ...]
) -> tuple[tuple[type[BaseException], ErrorRule], ...]:
    """The rows of ``rules`` whose class ``module`` defines, with that class."""
    resolved: list[tuple[type[BaseException], ErrorRule]] = []
    for rule in rules:
        cls = getattr(module, rule.name, None)
        if isinstance(cls, type) and issubclass(cls, BaseException):
            resolved.append((cls, rule))
    return tuple(resolved)


def build_error(
    rule: ErrorRule,
    exc: BaseException,
    secrets: Sequence[str] = (),
    *,
    status: int | None = None,
    headers: Mapping[str, str] | None = None,
) -> ProviderError:
    """The error ``rule`` gives for ``exc``; ``status``/``headers`` for a status rule."""
    if rule.error is None:  # an HTTP status: classify it as for every client
        if status is not None:
            from ..wire._errors import error_from_response

            return error_from_response(status, headers, None, secrets=secrets)
        return APIError(_message(rule.wording, exc), secrets=secrets)
    message = _message(rule.wording, exc)
    if rule.field is not None:
        return ConfigurationError(message, field=rule.field, secrets=secrets)
    return rule.error(message, retryable=rule.retryable, secrets=secrets)


def _message(wording: str, exc: BaseException) -> str:
    text = str(exc)
    name = type(exc).__name__
    return f"{wording} ({name}: {text})" if text else f"{wording} ({name})"
