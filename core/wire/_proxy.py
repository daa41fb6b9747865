"""The jackfield proxy protocol (``docs/proxy-protocol.md``): pure building and parsing.

One endpoint, ``POST {base_url}/api/stream``, takes the JSON of :func:`build_payload`
and answers with jackfield's own stream events as server-sent events: each event's
``data`` is :func:`~jackfield.events.event_to_dict` of one event, rebuilt by
:func:`decode_event`. Failures carry ``{"error": {"error_type": ..., ...}}`` (the shape
of :meth:`ProviderError.to_dict`), as an HTTP error body or an ``error`` event;
:func:`protocol_error` picks the exact error class from ``error_type``, and
:func:`error_from_response` falls back on the shared mapper for any other body.

No I/O here: the proxy provider sends and receives, this module only translates.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

from ..errors import ERROR_CLASSES_BY_TYPE, ProviderError, StreamError
from ..events import StreamEvent, event_from_dict
from ..types import Request
from ._errors import (
    error_from_payload,
    error_from_response as _generic_error_from_response,
    parse_retry_after,
    request_id_from,
)
from ._shape import check_attrs, items, obj
from ._sse import SSEEvent

__all__ = [
    "PROTOCOL_HEADER",
    "PROTOCOL_VERSION",
    "STREAM_PATH",
    "build_payload",
    "decode_event",
    "error_from_response",
    "protocol_error",
    "server_version",
    "v2_feature",
]

STREAM_PATH = "/api/stream"
"""The protocol's one endpoint, appended to the server's base URL."""

PROTOCOL_VERSION = 2
"""The version this client speaks, sent as the request's ``protocol_version``."""

PROTOCOL_HEADER = "jackfield-protocol"
"""The response header in which a version-2 server names its version (a version-1
server sends none)."""


def build_payload(request: Request) -> dict[str, Any]:
    """The request JSON of the protocol (version 2: ``protocol_version`` and ``output``
    beside the version-1 fields; the new content parts ride in ``messages``)."""
    wire = request.to_dict()
    return {
        "protocol_version": PROTOCOL_VERSION,
        "model": request.model,
        "messages": wire["messages"],
        "tools": wire["tools"],
        "tool_choice": request.tool_choice,
        "json_mode": request.json_mode,
        "stop": wire["stop"],
        "options": {
            "temperature": request.temperature,
            "max_tokens": request.max_tokens,
            "reasoning": request.reasoning,
        },
        "extra": wire["extra"],
        "output": wire.get("output"),
    }


def v2_feature(request: Request) -> str | None:
    """The first feature of ``request`` a version-1 server would ignore (its capability
    name: ``structured_output``, ``documents``, ``audio``, ``cache_points``), or ``None``."""
    if request.output is not None:
        return "structured_output"
    if any(t.cache_point is not None for t in request.tools):
        return "cache_points"
    for m in request.messages:
        if isinstance(m.content, str):
            continue
        for part in m.content:
            kind = part.type
            if kind == "document":
                return "documents"
            if kind == "audio":
                return "audio"
            if kind == "cache_point":
                return "cache_points"
    return None


def server_version(headers: Mapping[str, str]) -> int:
    """The protocol version a server's answer declares (:data:`PROTOCOL_HEADER`; 1 when
    absent or unreadable). ``headers`` has lower-case names."""
    value = headers.get(PROTOCOL_HEADER, "").strip()
    return int(value) if value.isdigit() else 1


def decode_event(
    sse: SSEEvent, *, provider: str | None = None, secrets: Sequence[str] = ()
) -> StreamEvent:
    """One proxy server-sent event as the :class:`StreamEvent` it carries.

    An ``error`` event (or an ``{"error": ...}`` object without a ``type``) raises the
    error it describes; data that is not a JSON object, an ``event:`` name that differs
    from the data's ``type`` or an invalid event raise :class:`StreamError`.
    """
    try:
        data = json.loads(sse.data)
    except (ValueError, RecursionError):
        raise StreamError(
            f"malformed proxy event data: {sse.data[:200]!r}", provider=provider
        ) from None
    if not isinstance(data, dict):
        raise StreamError("a proxy event's data is not a JSON object", provider=provider)
    if sse.event == "error" or ("error" in data and "type" not in data):
        raise protocol_error(data, None, None, provider, secrets) or error_from_payload(
            data, provider=provider, secrets=secrets
        )
    if sse.event is not None and sse.event != data.get("type"):
        raise StreamError(
            f"proxy event {sse.event!r} carries data of type {data.get('type')!r}",
            provider=provider,
        )
    try:
        _check_nested(data)
        event = event_from_dict(data)
        check_attrs(event, str(data.get("type")))  # Malformed is a ValueError
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise StreamError(f"invalid proxy event: {exc}", provider=provider, body=data) from None
    return event


def _check_nested(data: dict[str, Any]) -> None:
    """The objects and arrays inside an ``end`` or ``tool_call_end`` event, named when
    they are of the wrong type (before the event is built from them)."""
    kind = data.get("type")
    if kind == "tool_call_end":
        obj(data.get("tool_call"), "tool_call_end.tool_call")
    elif kind == "end":
        response = obj(data.get("response"), "end.response") or {}
        obj(response.get("usage"), "end.response.usage")
        for name in ("tool_calls", "thinking"):
            for i, entry in enumerate(items(response.get(name), f"end.response.{name}")):
                obj(entry, f"end.response.{name}[{i}]")


def protocol_error(
    data: Any,
    status: int | None,
    headers: Mapping[str, str] | None,
    provider: str | None,
    secrets: Sequence[str],
) -> ProviderError | None:
    """The exact error for a protocol ``{"error": {"error_type": ...}}``, else ``None``.

    The body's ``status_code``, ``retry_after``, ``retryable`` and ``request_id`` win
    over the HTTP status and headers, which fill in what the body leaves out.
    """
    err = data.get("error") if isinstance(data, Mapping) else None
    if not isinstance(err, Mapping):
        return None
    error_type = err.get("error_type")
    cls = ERROR_CLASSES_BY_TYPE.get(error_type) if isinstance(error_type, str) else None
    if cls is None:
        return None
    code = err.get("status_code")
    retry_after: float | None = None
    hint = err.get("retry_after")
    if isinstance(hint, int | float) and not isinstance(hint, bool) and 0 <= hint < math.inf:
        retry_after = float(hint)
    elif headers is not None:
        retry_after = parse_retry_after(headers)
    retryable = err.get("retryable")
    request_id = err.get("request_id")
    message = err.get("message")
    return cls(
        message if isinstance(message, str) and message else f"proxy error: {error_type}",
        provider=provider,
        status_code=code if isinstance(code, int) and not isinstance(code, bool) else status,
        retry_after=retry_after,
        request_id=request_id
        if isinstance(request_id, str) and request_id
        else (request_id_from(headers) if headers is not None else None),
        retryable=retryable if isinstance(retryable, bool) else None,
        body=data,
        secrets=secrets,
    )


def error_from_response(
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    *,
    provider: str | None = None,
    secrets: Sequence[str] = (),
) -> ProviderError:
    """The error for a non-2xx answer: :func:`protocol_error` for a protocol error body,
    else the shared mapper's reading of whatever the body is."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        data = None
    return protocol_error(data, status, headers, provider, secrets) or (
        _generic_error_from_response(status, headers, body, provider=provider, secrets=secrets)
    )
