"""Turn an HTTP error response, or an error that arrived inside a stream, into a
:class:`~jackfield.errors.ProviderError`.

Every HTTP-speaking plugin and every SDK plugin goes through this one mapper, so the
same wire error becomes the same exception whatever the transport:

- :func:`error_from_response` -- an HTTP status, its headers and its body;
- :func:`error_from_payload` -- an error object found inside a 200 stream
  (Anthropic's ``error`` event, OpenRouter's ``{"error": {...}}`` chunk, Groq's
  ``event: error``, any OpenAI-compatible server);
- :func:`parse_retry_after` and :func:`request_id_from` -- the two header hints.

Classification looks at the body before the status: an OpenAI 429 whose code is
``insufficient_quota`` is a :class:`~jackfield.errors.QuotaExceededError` (not
retryable), not a rate limit. The order is:

1. a known error ``code``/``type`` in the body (``insufficient_quota``,
   ``context_length_exceeded``, ``content_filter``, ``overloaded_error``,
   ``rate_limit_error``, ``authentication_error`` ...), including Google's
   ``details[]``: a ``google.rpc.QuotaFailure`` on a per-day (or limit 0) quota is a
   :class:`~jackfield.errors.QuotaExceededError` before anything else, and a
   ``google.rpc.ErrorInfo`` ``reason`` (``API_KEY_INVALID`` ...) counts as a code;
2. known phrases in the body's message ("credit balance is too low",
   "maximum context length", "content management policy", "overloaded" or
   "high demand" on a 5xx ...);
3. the HTTP status (or, in a stream, a numeric code in the payload);
4. a generic type in the body (``invalid_request_error``, ``api_error`` ...);
5. :class:`~jackfield.errors.APIError` (or :class:`~jackfield.errors.StreamError` for an
   in-stream error nothing recognised).

An ``x-should-retry: true|false`` header overrides ``retryable``. None of these
functions ever raises, whatever the input; at most the first 64 KiB of a body is read.
This module imports no HTTP client and no SDK.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Mapping, Sequence
from typing import Any

from ..errors import (
    MAX_BODY_CHARS,
    APIError,
    AuthenticationError,
    BadRequestError,
    ContentFilterError,
    ContextWindowExceededError,
    NotFoundError,
    OverloadedError,
    PermissionDeniedError,
    ProviderError,
    ProviderTimeoutError,
    QuotaExceededError,
    RateLimitError,
    ServerError,
    StreamError,
    redact,
)

__all__ = [
    "MAX_PARSE_BYTES",
    "REQUEST_ID_HEADERS",
    "error_from_payload",
    "error_from_response",
    "parse_retry_after",
    "request_id_from",
]

#: At most this much of a body is decoded and parsed.
MAX_PARSE_BYTES = 64 * 1024
#: Longest message kept on an error (the full body is kept, truncated, in ``body``).
MAX_MESSAGE_CHARS = 1000
#: Headers that carry the provider's request id, in the order they are looked up.
REQUEST_ID_HEADERS = ("x-request-id", "request-id", "apim-request-id", "x-amzn-requestid")

# -- classification tables ---------------------------------------------------------------

# Error codes and types that name the failure exactly, in priority order: the first
# group with a match wins, whatever the status says.
_STRONG: tuple[tuple[frozenset[str], type[ProviderError]], ...] = (
    (
        frozenset(
            {
                "insufficient_quota",
                "billing_error",
                "billing_hard_limit_reached",
                "insufficient_credits",
                "insufficient_balance",
                "payment_required",
                "billing_disabled",  # google.rpc.ErrorInfo reason
            }
        ),
        QuotaExceededError,
    ),
    (
        frozenset(
            {
                "context_length_exceeded",
                "context_window_exceeded",
                "model_context_window_exceeded",
            }
        ),
        ContextWindowExceededError,
    ),
    (
        frozenset(
            {
                "content_filter",
                "content_policy_violation",
                "responsibleaipolicyviolation",
                "content_filtered",
            }
        ),
        ContentFilterError,
    ),
    (frozenset({"overloaded_error", "overloaded"}), OverloadedError),
    (
        frozenset(
            {
                "rate_limit_error",
                "rate_limit_exceeded",
                "rate_limited",
                "too_many_requests",
                "resource_exhausted",
            }
        ),
        RateLimitError,
    ),
    (
        frozenset(
            {
                "authentication_error",
                "invalid_api_key",
                "unauthenticated",
                "api_key_invalid",  # google.rpc.ErrorInfo reason (Gemini sends it with a 400)
                "access_token_expired",
            }
        ),
        AuthenticationError,
    ),
    (
        frozenset(
            {
                "permission_error",
                "permission_denied",
                "unsupported_country",
                "unsupported_country_region_territory",
            }
        ),
        PermissionDeniedError,
    ),
    (frozenset({"not_found_error", "model_not_found"}), NotFoundError),
)

# Generic types: used only when neither the body's message nor the status decides
# (an in-stream error, a 2xx carrying an error, an unusual 4xx).
_WEAK: dict[str, type[ProviderError]] = {
    "invalid_request_error": BadRequestError,
    "invalid_request": BadRequestError,
    "bad_request": BadRequestError,
    "badrequesterror": BadRequestError,  # vLLM's "type"
    "request_too_large": BadRequestError,
    "validation_error": BadRequestError,
    "not_found": NotFoundError,
    "notfounderror": NotFoundError,
    "api_error": ServerError,  # Anthropic's 500
    "server_error": ServerError,  # OpenAI's in-stream server error
    "internal_error": ServerError,
    "internal_server_error": ServerError,
    "internalservererror": ServerError,
    "service_unavailable": ServerError,
    "timeout_error": ServerError,  # Anthropic's 504: the server timed out, not the client
    "request_timeout": ProviderTimeoutError,
}

_QUOTA_PHRASES = (
    "credit balance is too low",
    "insufficient credits",
    "insufficient balance",
    "insufficient_quota",
    "exceeded your current quota",
    "billing_hard_limit",
)
_CONTEXT_PHRASES = (
    "prompt is too long",
    "maximum context length",
    "context length",
    "context_length_exceeded",
    "exceed context limit",
    "exceeds the context",
    "context window",
    "context size",
    "too many tokens",
    "input is too long",
    "exceeds the maximum number of tokens",
)
# A message with one of these is about a rate, never about the context window
# ("tokens per min (TPM)").
_RATE_WORDS = ("per min", "per day", "per hour", "per second", "rate limit", "rate-limit", "tpm")
_CONTENT_FILTER_PHRASES = (
    "content management policy",
    "content_filter",
    "content filter",
    "content_policy_violation",
    "content policy",
    "responsibleaipolicyviolation",
    "safety system",
)
_RATE_PHRASES = ("rate limit", "rate-limit", "rate_limit", "too many requests")
# On a 5xx (or in a stream): the provider is out of capacity. "high demand" is Gemini's
# newer wording of "The model is overloaded".
_OVERLOADED_PHRASES = ("overloaded", "high demand")
# A google.rpc.QuotaFailure violation (quotaId, quotaMetric, subject, description) for
# one of these windows does not reset within any sensible retry wait: the quota is spent.
_LONG_QUOTA_WINDOWS = ("perday", "per_day", "per day", "daily", "permonth", "per_month")
# google.protobuf.Duration in JSON: "26s", "1.5s", "0.000000001s" (at most 12 digits of
# seconds: the largest Duration is 315576000000s).
_DURATION = r"(\d{1,12}(?:\.\d{1,9})?)s"

# Patterns as strings: ``re`` compiles (and caches) each on first use. Compiling them all
# at import cost more than a millisecond, paid by every process that discovers a plugin.
_RETRY_HINT = (
    r"(?i)(?:try again|retry) (?:in|after) "
    r"((?:\d+(?:\.\d+)?\s*(?:ms|milliseconds?|minutes?|mins?|m|seconds?|secs?|s|hours?|h)(?![a-z])\s*)+)"
)
_RETRY_UNIT = (
    r"(?i)(\d+(?:\.\d+)?)\s*(ms|milliseconds?|minutes?|mins?|m|seconds?|secs?|s|hours?|h)(?![a-z])"
)
_HTML_TITLE = r"(?is)<title[^>]*>(.*?)</title"
_HTML_H1 = r"(?is)<h1[^>]*>(.*?)</h1"
_TAG = r"<[^>]{0,200}>"
_JSON_STRING_FIELD = {
    name: rf'"{name}"\s*:\s*"((?:[^"\\]|\\.){{0,2000}})' for name in ("message", "type", "code")
}


# -- public API --------------------------------------------------------------------------


def error_from_response(
    status: int | None,
    headers: Mapping[str, str] | None,
    body: bytes | str | Mapping[str, Any] | None,
    *,
    provider: str | None = None,
    model: str | None = None,
    secrets: Sequence[str] = (),
) -> ProviderError:
    """The most specific :class:`ProviderError` for an HTTP error response.

    :param status: the HTTP status, or ``None`` if unknown.
    :param headers: the response headers; any mapping (a plain dict in any case,
        aiohttp's ``CIMultiDictProxy``, ``httpx.Headers``); looked up case-insensitively.
    :param body: the raw body (bytes or text) or an already parsed JSON object (an SDK's
        ``exc.body``, which may be the inner ``error`` object). Only the first 64 KiB
        is read.
    :param provider: the provider's name, kept on the error.
    :param model: the model asked for, kept on the error.
    :param secrets: strings (API keys) scrubbed from the message and the body.
    :returns: the error; never raises. The error carries ``status_code``,
        ``retry_after`` (``retry-after-ms``/``retry-after``, or for a rate limit without
        those headers a "try again in 20s" hint in the message), ``request_id``,
        ``provider``, ``model``, the provider's message and the redacted, truncated body.
        ``x-should-retry: true|false`` overrides ``retryable``.
    """
    try:
        return _from_response(status, headers, body, provider, model, secrets)
    except Exception:  # pragma: no cover - the mapper must never fail
        code = status if isinstance(status, int) and not isinstance(status, bool) else None
        return APIError(
            _status_text(code) if code is not None else "provider returned an error",
            provider=provider,
            model=model,
            status_code=code,
        )


def error_from_payload(
    payload: Mapping[str, Any],
    *,
    provider: str | None = None,
    model: str | None = None,
    secrets: Sequence[str] = (),
) -> ProviderError:
    """The most specific :class:`ProviderError` for an error that arrived in a stream.

    ``payload`` is the decoded JSON of the stream event: Anthropic's
    ``{"type": "error", "error": {"type": "overloaded_error", ...}}``, an OpenRouter
    chunk with a top-level ``"error": {"code": 502, "message": ...}``, Groq's
    ``event: error`` data, or an OpenAI-compatible ``{"error": {...}}``.

    The class comes from the payload's error type/code (``overloaded_error`` ->
    :class:`OverloadedError`, ``rate_limit_error`` -> :class:`RateLimitError` ...), its
    message, then its numeric code read as an HTTP status. An in-stream error that
    none of these recognises becomes a :class:`StreamError`. ``status_code`` is the
    payload's numeric code (``code``, ``status_code`` or ``status``) or ``None``; the
    stream's own HTTP status (200) is never used. Never raises.
    """
    try:
        return _from_payload(payload, provider, model, secrets)
    except Exception:  # pragma: no cover - the mapper must never fail
        return StreamError("error event in stream", provider=provider, model=model)


def parse_retry_after(headers: Mapping[str, str] | None) -> float | None:
    """Seconds the server asks the client to wait, or ``None``.

    ``retry-after-ms`` (milliseconds) is read first, then ``retry-after`` as seconds
    (``"20"``, ``"1.5"``) or as an HTTP date (the time left until then, never
    negative). Missing, negative, infinite or unparseable values give ``None``.
    """
    try:
        return _retry_after(_lower_headers(headers))
    except Exception:  # pragma: no cover
        return None


def request_id_from(
    headers: Mapping[str, str] | None,
    body: bytes | str | Mapping[str, Any] | None = None,
) -> str | None:
    """The provider's request id, or ``None``.

    Looks at the headers ``x-request-id``, ``request-id``, ``apim-request-id`` (Azure)
    and ``x-amzn-requestid`` (AWS), in that order, then at a top-level ``request_id``
    in the body (Anthropic puts it there too). A header mapping that is not a ``dict``
    is taken to look names up case-insensitively, as HTTP libraries' mappings do.
    """
    try:
        # An HTTP library's header mapping (aiohttp's, httpx's) looks names up without
        # regard to case: ask it directly, as every successful call does. A plain dict,
        # or pairs, may spell the names any way: lower-case a copy first.
        if headers is not None and not isinstance(headers, dict) and hasattr(headers, "keys"):
            found = _request_id_from_headers(headers)
        else:
            found = _request_id_from_headers(_lower_headers(headers))
        if found is None:
            parsed, _ = _parse_body(body)
            found = _request_id_from_body(parsed)
        return found
    except Exception:  # pragma: no cover
        return None


# -- the work ------------------------------------------------------------------------------


class _Info:
    """What could be read from an error body."""

    # A plain class, not a dataclass: defining one costs the dataclasses import and an exec.
    __slots__ = (
        "code",
        "filtered",
        "inner_code",
        "message",
        "numeric",
        "quota_spent",
        "reason",
        "request_id",
        "retry_delay",
        "status_text",
        "type",
        "upstream",
        "upstream_provider",
    )

    def __init__(self) -> None:
        self.message: str | None = None
        self.type: str | None = None
        self.code: str | None = None
        self.inner_code: str | None = None
        self.status_text: str | None = None
        self.reason: str | None = None  # google.rpc.ErrorInfo.reason
        self.retry_delay: float | None = None  # google.rpc.RetryInfo.retryDelay, seconds
        self.quota_spent = False  # a google.rpc.QuotaFailure no short wait cures
        self.numeric: int | None = None
        self.request_id: str | None = None
        self.upstream: str | None = None
        self.upstream_provider: str | None = None
        self.filtered: tuple[str, ...] = ()

    def idents(self) -> list[str]:
        return [
            i.lower()
            for i in (self.code, self.inner_code, self.type, self.reason, self.status_text)
            if i is not None
        ]

    def label(self) -> str | None:
        return self.code or self.type or self.inner_code or self.reason or self.status_text


def _from_response(
    status: object,
    headers: object,
    body: object,
    provider: str | None,
    model: str | None,
    secrets: Sequence[str],
) -> ProviderError:
    http_status = int(status) if isinstance(status, int) and not isinstance(status, bool) else None
    hdrs = _lower_headers(headers)
    parsed, text = _parse_body(body)
    info = _info_from(parsed, text)

    # A 2xx (or unknown) status that carries an error body: the body's code decides.
    effective = http_status
    if (effective is None or effective < 400) and info.numeric is not None:
        effective = info.numeric

    cls, retryable = _classify(info, effective, in_stream=False)
    should_retry = hdrs.get("x-should-retry", "").strip().lower()
    if should_retry == "true":
        retryable = True
    elif should_retry == "false":
        retryable = False

    message = _final_message(info, effective, secrets, in_stream=False)
    retry_after = _retry_after(hdrs)
    if retry_after is None:
        retry_after = info.retry_delay
    if retry_after is None and cls is RateLimitError:
        retry_after = _retry_hint(message)
    request_id = _request_id_from_headers(hdrs) or info.request_id
    if request_id is not None:  # a server may echo the key as its request id
        request_id = redact(request_id, secrets)
    return cls(
        message,
        provider=provider,
        model=model,
        status_code=effective,
        retry_after=retry_after,
        request_id=request_id,
        body=_body_for_error(body, text, secrets),
        retryable=retryable,
        secrets=secrets,
    )


def _from_payload(
    payload: object,
    provider: str | None,
    model: str | None,
    secrets: Sequence[str],
) -> ProviderError:
    if isinstance(payload, Mapping):
        info = _info_from(payload, None)
    else:
        parsed, text = _parse_body(payload)
        info = _info_from(parsed, text)
    cls, retryable = _classify(info, info.numeric, in_stream=True)
    message = _final_message(info, info.numeric, secrets, in_stream=True)
    retry_after = info.retry_delay
    if retry_after is None and cls is RateLimitError:
        retry_after = _retry_hint(message)
    return cls(
        message,
        provider=provider,
        model=model,
        status_code=info.numeric,
        retry_after=retry_after,
        request_id=None if info.request_id is None else redact(info.request_id, secrets),
        body=_body_for_error(payload, None, secrets),
        retryable=retryable,
        secrets=secrets,
    )


def _classify(
    info: _Info, status: int | None, *, in_stream: bool
) -> tuple[type[ProviderError], bool | None]:
    """The class for an error and a ``retryable`` override (``None``: class default)."""
    if info.quota_spent:  # body before status, and before RESOURCE_EXHAUSTED
        return QuotaExceededError, None
    idents = info.idents()
    for names, cls in _STRONG:
        if any(i in names for i in idents):
            return cls, None

    text = (info.message or "")[:4000].lower()
    wide = text + " " + (info.upstream or "")[:4000].lower()
    if any(p in text for p in _QUOTA_PHRASES):
        return QuotaExceededError, None
    if not any(w in wide for w in _RATE_WORDS) and any(p in wide for p in _CONTEXT_PHRASES):
        return ContextWindowExceededError, None
    if any(p in wide for p in _CONTENT_FILTER_PHRASES):
        return ContentFilterError, None
    if (status is None or status >= 500) and any(p in text for p in _OVERLOADED_PHRASES):
        return OverloadedError, None
    if status is None and any(p in text for p in _RATE_PHRASES):
        return RateLimitError, None

    by_status = _class_for_status(status)
    if by_status is not None:
        return by_status
    for ident in idents:
        weak = _WEAK.get(ident)
        if weak is not None:
            return weak, None
    return (StreamError if in_stream else APIError), None


def _class_for_status(status: int | None) -> tuple[type[ProviderError], bool | None] | None:
    """The class a status alone implies, or ``None`` when it implies nothing specific."""
    if status is None:
        return None
    if status in (400, 413, 422):
        return BadRequestError, None
    specific: dict[int, tuple[type[ProviderError], bool | None]] = {
        401: (AuthenticationError, None),
        402: (QuotaExceededError, None),
        403: (PermissionDeniedError, None),
        404: (NotFoundError, None),
        408: (ProviderTimeoutError, None),
        409: (APIError, True),  # lock timeouts: the SDKs retry them
        429: (RateLimitError, None),
        529: (OverloadedError, None),
    }
    if status in specific:
        return specific[status]
    if 500 <= status < 600:
        return ServerError, None
    return None


# -- body parsing --------------------------------------------------------------------------


def _parse_body(body: object) -> tuple[object, str | None]:
    """``(parsed JSON or None, text or None)`` for a body, reading at most 64 KiB."""
    if body is None:
        return None, None
    if isinstance(body, bytes | bytearray | memoryview):
        text = bytes(body[:MAX_PARSE_BYTES]).decode("utf-8", "replace")
    elif isinstance(body, str):
        text = body[:MAX_PARSE_BYTES]
    else:
        return body, None  # already parsed: a Mapping, a list, a number...
    stripped = text.strip().lstrip("\ufeff")
    if stripped[:1] in ("{", "[", '"') or stripped in ("null", "true", "false"):
        try:
            return json.loads(stripped), text
        except (ValueError, RecursionError):
            return None, text
    if stripped.startswith(("data:", "event:")):
        return _parse_sse(stripped), text
    return None, text


def _parse_sse(text: str) -> object:
    """The first JSON ``data:`` payload of an SSE body that looks like an error."""
    for line in text.splitlines()[:200]:
        if line.startswith("data:"):
            try:
                value = json.loads(line[5:].strip())
            except (ValueError, RecursionError):
                continue
            if isinstance(value, Mapping) and ("error" in value or value.get("type") == "error"):
                return value
    return None


def _info_from(parsed: object, text: str | None) -> _Info:
    """Read message, type, code, ids from a parsed body (or the raw text)."""
    info = _Info()
    if isinstance(parsed, list) and parsed:
        parsed = parsed[0]
    if isinstance(parsed, Mapping):
        _read_top(info, parsed)
        if info.message is None and text is not None and not _has_error_keys(parsed):
            info.message = _text_message(text)
    elif isinstance(parsed, str):
        info.message = parsed
    elif text is not None:
        if parsed is None and text.lstrip()[:1] in ("{", "["):
            _rescue_truncated_json(info, text)
        if info.message is None:
            info.message = _text_message(text)
    return info


def _has_error_keys(data: Mapping[Any, Any]) -> bool:
    return any(k in data for k in ("error", "message", "detail", "type", "code"))


def _read_top(info: _Info, data: Mapping[Any, Any]) -> None:
    info.request_id = _ident(data.get("request_id"))
    err = data.get("error")
    if isinstance(err, list) and err:
        err = err[0]
    errors = data.get("errors")
    if err is None and isinstance(errors, list) and errors and isinstance(errors[0], Mapping):
        err = errors[0]
    if isinstance(err, Mapping):
        _read_error(info, err)
        if info.numeric is None:
            info.numeric = _as_status(data.get("status_code"))
    elif isinstance(err, str) and err.strip():
        # Ollama, TGI, llama.cpp: {"error": "text"} (+ "error_type" sometimes).
        info.message = err
        info.type = _ident(data.get("error_type")) or _ident_not_error(data.get("type"))
        _read_code(info, data.get("code"))
        info.numeric = info.numeric or _as_status(data.get("status_code"))
    elif "detail" in data:
        _read_detail(info, data["detail"])
    else:
        # vLLM {"object": "error", "message", "type", "code"}, {"message": ...}, or the
        # inner error object handed over by an SDK.
        _read_error(info, data)
    if info.request_id is None and isinstance(err, Mapping):
        info.request_id = _ident(err.get("request_id"))


def _read_error(info: _Info, err: Mapping[Any, Any]) -> None:
    for key in ("message", "msg", "Message", "error_message", "errorMessage", "detail"):
        value = err.get(key)
        if value is not None and value != "":
            info.message = value if isinstance(value, str) else _short_json(value)
            break
    info.type = _ident_not_error(err.get("type"))
    _read_code(info, err.get("code"))
    for key in ("status_code", "status"):
        value = err.get(key)
        numeric = _as_status(value)
        if numeric is not None:
            info.numeric = info.numeric or numeric
        elif isinstance(value, str) and info.status_text is None:
            info.status_text = _ident(value)  # Google: "RESOURCE_EXHAUSTED"
    details = err.get("details")
    if isinstance(details, list):
        _read_google_details(info, details)
    inner = err.get("innererror") or err.get("inner_error")
    if isinstance(inner, Mapping):
        info.inner_code = _ident(inner.get("code"))
        results = inner.get("content_filter_result") or inner.get("content_filter_results")
        if isinstance(results, Mapping):
            info.filtered = tuple(
                str(name)
                for name, verdict in results.items()
                if isinstance(verdict, Mapping) and verdict.get("filtered") is True
            )[:10]
    metadata = err.get("metadata")
    if isinstance(metadata, Mapping):
        info.upstream_provider = _ident(metadata.get("provider_name"))
        raw = metadata.get("raw")
        if raw is not None:
            info.upstream = _upstream_message(raw)
        reasons = metadata.get("reasons")
        if info.upstream is None and isinstance(reasons, list):
            info.upstream = ", ".join(str(r) for r in reasons[:5])


def _read_google_details(info: _Info, details: list[Any]) -> None:
    """Google's ``google.rpc.Status.details``: ErrorInfo, RetryInfo and QuotaFailure."""
    for item in details[:20]:
        if not isinstance(item, Mapping):
            continue
        kind = str(item.get("@type") or "").rsplit("/", 1)[-1]
        if kind == "google.rpc.ErrorInfo":
            info.reason = info.reason or _ident(item.get("reason"))
            metadata = item.get("metadata")
            if isinstance(metadata, Mapping) and _quota_spent(
                metadata.get("quota_limit"), metadata.get("quota_limit_value")
            ):
                info.quota_spent = True
        elif kind == "google.rpc.RetryInfo":
            if info.retry_delay is None:
                info.retry_delay = _duration_seconds(item.get("retryDelay"))
        elif kind == "google.rpc.QuotaFailure":
            violations = item.get("violations")
            if not isinstance(violations, list):
                continue
            for violation in violations[:20]:
                if isinstance(violation, Mapping) and _quota_spent(
                    " ".join(
                        str(violation.get(key) or "")
                        for key in ("quotaId", "quotaMetric", "subject", "description")
                    ),
                    violation.get("quotaValue"),
                ):
                    info.quota_spent = True


def _quota_spent(names: object, limit: object) -> bool:
    """Whether a quota violation is one that waiting a minute will not cure: a per-day
    (or longer) window, or a limit of 0 (the model has no quota on this tier)."""
    if isinstance(names, str):
        lowered = names[:1000].lower()
        if any(window in lowered for window in _LONG_QUOTA_WINDOWS):
            return True
    if isinstance(limit, bool):
        return False
    return limit == 0 or (isinstance(limit, str) and limit.strip() == "0")


def _duration_seconds(value: object) -> float | None:
    """Seconds in a ``google.protobuf.Duration`` JSON string ("26s", "1.5s"), or ``None``
    for anything else (a negative or malformed value, a number without its ``s``)."""
    if not isinstance(value, str):
        return None
    match = re.fullmatch(_DURATION, value.strip()[:40])
    return float(match.group(1)) if match else None


def _read_code(info: _Info, code: object) -> None:
    numeric = _as_status(code)
    if numeric is not None:
        info.numeric = numeric
    elif isinstance(code, str):
        info.code = _ident(code)
    elif isinstance(code, int) and not isinstance(code, bool):
        info.code = str(code)


def _read_detail(info: _Info, detail: object) -> None:
    """FastAPI: ``{"detail": "Not Found"}`` or a list of validation errors."""
    if isinstance(detail, str):
        info.message = detail
    elif isinstance(detail, Mapping):
        _read_error(info, detail)
    elif isinstance(detail, list):
        parts: list[str] = []
        for item in detail[:3]:
            if isinstance(item, Mapping):
                loc = item.get("loc")
                where = ".".join(str(p) for p in loc) if isinstance(loc, list) else ""
                msg = str(item.get("msg") or item.get("message") or "")
                parts.append(f"{where}: {msg}" if where else msg)
            else:
                parts.append(str(item)[:200])
        info.message = "; ".join(p for p in parts if p) or None
    elif detail is not None:
        info.message = _short_json(detail)


def _upstream_message(raw: object) -> str | None:
    """OpenRouter's ``metadata.raw``: the upstream's body, often JSON in a string."""
    if isinstance(raw, str):
        stripped = raw.strip()
        if stripped[:1] == "{":
            try:
                parsed = json.loads(stripped[:MAX_PARSE_BYTES])
            except (ValueError, RecursionError):
                parsed = None
            if isinstance(parsed, Mapping):
                inner = _Info()
                _read_top(inner, parsed)
                if inner.message:
                    return inner.message[:500]
        return stripped[:500] or None
    if isinstance(raw, Mapping):
        inner = _Info()
        _read_top(inner, raw)
        return (inner.message or _short_json(raw))[:500]
    return _short_json(raw)[:500]


def _rescue_truncated_json(info: _Info, text: str) -> None:
    """A JSON body cut at 64 KiB does not parse: pick the usual fields out of it."""
    head = text[:MAX_PARSE_BYTES]
    found: dict[str, str] = {}
    for name, pattern in _JSON_STRING_FIELD.items():
        for match in re.finditer(pattern, head):
            try:
                value = json.loads(f'"{match.group(1)}"')
            except ValueError:
                value = match.group(1)
            if isinstance(value, str) and value.lower() != "error":
                found[name] = value
                break
    if "message" in found:
        info.message = found["message"]
    info.type = _ident_not_error(found.get("type"))
    info.code = _ident(found.get("code"))


def _text_message(text: str) -> str | None:
    """A short message for a non-JSON body: an HTML page's title, or the text itself."""
    stripped = text.strip()
    if not stripped:
        return None
    head = stripped[:2048].lower()
    if head.startswith("<") and ("<html" in head or "<!doctype" in head or "<head" in head):
        for pattern in (_HTML_TITLE, _HTML_H1):
            match = re.search(pattern, stripped[:MAX_PARSE_BYTES])
            if match:
                import html

                title = " ".join(html.unescape(re.sub(_TAG, " ", match.group(1))).split())
                if title:
                    return f"{title[:200]} (HTML error page)"
        return "HTML error page"
    sample = stripped[:500]
    bad = sum(1 for c in sample if c == "\ufffd" or not (c.isprintable() or c in "\t\r\n"))
    if bad * 10 > len(sample):
        return None  # binary garbage: the status text says more
    return stripped[: MAX_MESSAGE_CHARS + 4096]


# -- small helpers -------------------------------------------------------------------------


def _final_message(
    info: _Info, status: int | None, secrets: Sequence[str], *, in_stream: bool
) -> str:
    message = info.message
    if message is not None:
        # Redact before cutting, so no fragment of a secret survives at the cut.
        message = redact(message[: MAX_MESSAGE_CHARS + 4096], secrets)
        message = "".join(c if c.isprintable() else " " for c in message)
        message = " ".join(message.split()) or None
    if message and info.upstream and info.upstream.lower() not in message.lower():
        who = f" ({info.upstream_provider})" if info.upstream_provider else ""
        upstream = " ".join(redact(info.upstream, secrets).split())
        message = f"{message}{who}: {upstream}"
    if message and info.filtered:
        message = f"{message} (filtered: {', '.join(info.filtered)})"
    if not message:
        message = (
            _status_text(status)
            if status is not None
            else ("error event in stream" if in_stream else "provider returned an error")
        )
    label = info.label()
    if label and not message.startswith(f"[{label}]"):
        message = f"[{label}] {message}"
    if len(message) > MAX_MESSAGE_CHARS:
        message = message[:MAX_MESSAGE_CHARS] + "..."
    return message


def _status_text(status: int) -> str:
    from http import HTTPStatus

    try:
        return f"HTTP {status} {HTTPStatus(status).phrase}"
    except ValueError:
        return f"HTTP {status}"


def _body_for_error(body: object, text: str | None, secrets: Sequence[str]) -> str | None:
    """The body as redacted text, cut well past what the error keeps.

    Redacting here, before :class:`ProviderError` truncates the body, means no part of a
    secret that straddles the truncation point can survive.
    """
    if body is None:
        return None
    if text is None:
        if isinstance(body, bytes | bytearray | memoryview):
            text = bytes(body[:MAX_PARSE_BYTES]).decode("utf-8", "replace")
        elif isinstance(body, str):
            text = body
        else:
            try:
                text = json.dumps(body, default=str)
            except (TypeError, ValueError, RecursionError):
                text = repr(body)
    return redact(text[: MAX_BODY_CHARS + 4096], secrets)


def _lower_headers(headers: object) -> dict[str, str]:
    """The headers as a ``{lower-case name: value}`` dict (first value wins)."""
    out: dict[str, str] = {}
    if not headers:
        return out
    try:
        items_fn = getattr(headers, "items", None)
        pairs: Any = items_fn() if callable(items_fn) else headers
        for pair in pairs:
            try:
                name, value = pair
            except (TypeError, ValueError):
                continue
            if isinstance(name, bytes):
                name = name.decode("latin-1")
            if isinstance(value, bytes):
                value = value.decode("latin-1")
            key = str(name).strip().lower()
            if key not in out:
                out[key] = str(value).strip()
    except Exception:
        pass
    return out


def _retry_after(headers: Mapping[str, str]) -> float | None:
    ms = headers.get("retry-after-ms")
    if ms:
        seconds = _finite_non_negative(ms)
        if seconds is not None:
            return seconds / 1000.0
    value = headers.get("retry-after")
    if not value:
        return None
    seconds = _finite_non_negative(value)
    if seconds is not None:
        return seconds
    import datetime
    import email.utils

    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.UTC)
    try:
        delta = when.timestamp() - time.time()
    except (OverflowError, OSError, ValueError):
        return None
    return max(0.0, delta)


def _finite_non_negative(value: str) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    if math.isfinite(number) and number >= 0:
        return number
    return None


def _retry_hint(message: str) -> float | None:
    """Seconds from a "Please try again in 1m12.5s" / "retry after 6 seconds" message."""
    match = re.search(_RETRY_HINT, message[: MAX_MESSAGE_CHARS + 100])
    if not match:
        return None
    total = 0.0
    for number, unit in re.findall(_RETRY_UNIT, match.group(1)):
        unit = unit.lower()
        value = float(number)
        if unit == "ms" or unit.startswith("milli"):
            total += value / 1000.0
        elif unit.startswith("h"):
            total += value * 3600.0
        elif unit.startswith("m"):
            total += value * 60.0
        else:
            total += value
    return total if math.isfinite(total) else None


def _request_id_from_headers(headers: Mapping[str, str]) -> str | None:
    for name in REQUEST_ID_HEADERS:
        value = headers.get(name)
        if value:
            return value[:200]
    return None


def _request_id_from_body(parsed: object) -> str | None:
    if isinstance(parsed, Mapping):
        found = _ident(parsed.get("request_id"))
        err = parsed.get("error")
        if found is None and isinstance(err, Mapping):
            found = _ident(err.get("request_id"))
        return found
    return None


def _as_status(value: object) -> int | None:
    """``value`` as an HTTP status (100-599), from an int or a three-digit string."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 100 <= value <= 599 else None
    if isinstance(value, str) and len(value) == 3 and value.isascii() and value.isdigit():
        number = int(value)
        return number if 100 <= number <= 599 else None
    return None


def _ident(value: object) -> str | None:
    """A short identifier (type, code, request id) from a JSON value, or ``None``."""
    if isinstance(value, str):
        value = value.strip()
        return value[:100] if value else None
    return None


def _ident_not_error(value: object) -> str | None:
    ident = _ident(value)
    return None if ident is None or ident.lower() == "error" else ident


def _short_json(value: object) -> str:
    try:
        return json.dumps(value, default=str)[:MAX_MESSAGE_CHARS]
    except (TypeError, ValueError, RecursionError):
        return repr(value)[:MAX_MESSAGE_CHARS]
