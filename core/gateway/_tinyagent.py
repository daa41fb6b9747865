"""The tinyagent proxy protocol, served (the translation itself is shared with the
client: :mod:`jackfield.wire._tinyagent`). Each event is one ``data: <json>`` block; a
failure before the stream is ``{"error": "<message>"}``, one inside it an ``error``
event, after which the response ends.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final

import attrs

from ..errors import ProviderError
from ..events import StreamEvent
from ..types import Response
from ..wire import _tinyagent as wire
from ._calls import SSE_HEADERS, Call, Encoder

__all__ = ["TINYAGENT"]


def _data(obj: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(obj, separators=(",", ":")).encode() + b"\n\n"


class _Encoder:
    __slots__ = ()

    def event(self, event: StreamEvent) -> bytes:
        return _data(wire.event_to_wire(event))

    def error(self, error: ProviderError) -> bytes:
        return _data(wire.error_event(error))

    def done(self) -> bytes:
        return b""


_ENCODER: Final = _Encoder()


@attrs.frozen(slots=True)
class TinyagentProtocol:
    """``POST /api/stream`` with a tinyagent body (``context`` instead of ``messages``)."""

    name: str = "tinyagent"
    stream_headers: Mapping[str, str] = SSE_HEADERS

    def parse(self, data: Any) -> Call:
        """See :class:`~jackfield.gateway._calls.WireProtocol`."""
        kwargs = wire.parse_payload(data)
        return Call(model=kwargs.pop("model"), kwargs=kwargs)

    def encoder(self, call: Call, model: str) -> Encoder:
        """See :class:`~jackfield.gateway._calls.WireProtocol`."""
        return _ENCODER

    def complete(self, call: Call, model: str, response: Response) -> Any:
        """Never used: the protocol only streams."""
        raise NotImplementedError

    def error_body(self, error: ProviderError) -> Any:
        """``{"error": "<message>", "error_type": ..., "retry_after": ...}``."""
        return wire.error_body(error)


TINYAGENT: Final = TinyagentProtocol()
