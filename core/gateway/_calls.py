"""What every protocol translation gives the gateway, and what it asks of one.

A protocol parses its request body into a :class:`Call` (the model name asked for and
the keyword arguments of ``Provider.stream``), and answers through an :class:`Encoder`
(stream events as bytes) or a whole response (:meth:`WireProtocol.complete`), and
failures in its own error shape.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Final, Protocol

import attrs

from ..errors import ProviderError
from ..events import StreamEvent
from ..types import Response

__all__ = ["SSE_HEADERS", "Call", "Encoder", "WireProtocol"]


@attrs.frozen(slots=True)
class Call:
    """One parsed request."""

    model: str | None
    """The model (or tier) name the client asked for; ``None``: the default."""
    kwargs: Mapping[str, Any]
    """``messages``, ``tools``, ``temperature`` ...: keywords of ``Provider.stream``."""
    stream: bool = True
    options: Mapping[str, Any] = attrs.field(factory=dict)
    """Protocol-specific answer options (``include_usage``, ``protocol_version``)."""


class Encoder(Protocol):
    """Turns one call's stream events into the protocol's bytes."""

    def event(self, event: StreamEvent) -> bytes:
        """The bytes for one event (may be ``b""``)."""

    def error(self, error: ProviderError) -> bytes:
        """The bytes of a failure after the stream began."""

    def done(self) -> bytes:
        """The bytes after the last event."""


SSE_HEADERS: Final[Mapping[str, str]] = MappingProxyType(
    {"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
)
"""The headers every protocol's streamed answer starts with."""


class WireProtocol(Protocol):
    """One protocol the gateway serves."""

    @property
    def name(self) -> str:
        """Its label in metrics and the audit log."""

    @property
    def stream_headers(self) -> Mapping[str, str]:
        """The headers of a streamed answer."""

    def parse(self, data: Any) -> Call:
        """The call in a request body; raises ``BadRequestError`` naming the field."""

    def encoder(self, call: Call, model: str) -> Encoder:
        """A fresh encoder for one streamed answer."""

    def complete(self, call: Call, model: str, response: Response) -> Any:
        """The JSON of a whole (non-streamed) answer."""

    def error_body(self, error: ProviderError) -> Any:
        """The JSON body of a failure before any answer."""
