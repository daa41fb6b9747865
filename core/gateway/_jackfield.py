"""The jackfield proxy protocol, versions 1 and 2 (``docs/proxy-protocol.md``), served.

The request is the JSON of :func:`jackfield.provider.proxy_protocol.build_payload`; the
answer streams each event as ``event: <type>`` / ``data: <event_to_dict>``, then
``data: [DONE]``. A version-1 client (no ``protocol_version``) gets exactly the
version-1 frame: no ``output_mode`` in the ``end`` response.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final

import attrs

from ..errors import BadRequestError, ProviderError
from ..events import StreamEnd, StreamEvent, event_to_dict
from ..types import OutputMode, OutputSchema, Response
from ..wire._proxy import PROTOCOL_HEADER, PROTOCOL_VERSION
from ._calls import SSE_HEADERS, Call, Encoder

__all__ = ["JACKFIELD"]

_DONE: Final = b"data: [DONE]\n\n"


def _fail(message: str) -> BadRequestError:
    return BadRequestError(f"invalid request: {message}")


def _output(value: Any) -> OutputSchema | None:
    if value is None:
        return None
    if not isinstance(value, Mapping) or not isinstance(value.get("schema"), Mapping):
        raise _fail("output must be an object with a 'schema' object")
    mode = value.get("mode")
    # "native" is what jackfield's client asks whenever its declaration allows it: the
    # strongest mode; the upstream provider settles it from its own capabilities (and
    # the end response names the mode used). A weaker mode was the caller's choice.
    mode = None if mode == "native" else mode
    try:
        return OutputSchema(
            dict(value["schema"]),
            name=str(value.get("name") or "output"),
            description=str(value.get("description") or ""),
            strict=bool(value.get("strict", True)),
            mode=OutputMode(mode) if mode else None,
        )
    except (ValueError, TypeError) as exc:
        raise _fail(f"output: {exc}") from None


class _Encoder:
    __slots__ = ("version",)

    def __init__(self, version: int) -> None:
        self.version = version

    def event(self, event: StreamEvent) -> bytes:
        data = event_to_dict(event)
        if self.version < 2 and isinstance(event, StreamEnd):
            data["response"].pop("output_mode", None)
        return b"event: %s\ndata: %s\n\n" % (
            event.type.encode(),
            json.dumps(data, separators=(",", ":")).encode(),
        )

    def error(self, error: ProviderError) -> bytes:
        body = json.dumps({"error": error.to_dict()}, separators=(",", ":"))
        return f"event: error\ndata: {body}\n\n".encode()

    def done(self) -> bytes:
        return _DONE


@attrs.frozen(slots=True)
class JackfieldProtocol:
    """``POST /api/stream`` with a jackfield-protocol body."""

    name: str = "jackfield"
    stream_headers: Mapping[str, str] = attrs.field(
        factory=lambda: {**SSE_HEADERS, PROTOCOL_HEADER: str(PROTOCOL_VERSION)}
    )

    def parse(self, data: Any) -> Call:
        """See :class:`~jackfield.gateway._calls.WireProtocol`."""
        if not isinstance(data, Mapping):
            raise _fail("the body must be a JSON object")
        messages = data.get("messages")
        if not isinstance(messages, list) or not messages:
            raise _fail("messages must be a non-empty list")
        model = data.get("model")
        if model is not None and not isinstance(model, str):
            raise _fail("model must be a string or null")
        options = data.get("options") or {}
        if not isinstance(options, Mapping):
            raise _fail("options must be an object")
        if data.get("extra"):
            raise _fail("extra arguments are not forwarded by this gateway")
        version = data.get("protocol_version", 1)
        if not isinstance(version, int) or isinstance(version, bool):
            raise _fail("protocol_version must be an integer")
        stop = data.get("stop") or None
        return Call(
            model=model or None,
            kwargs={
                "messages": messages,
                "tools": data.get("tools") or None,
                "tool_choice": data.get("tool_choice"),
                "json_mode": bool(data.get("json_mode")),
                "stop": stop,
                "temperature": options.get("temperature"),
                "max_tokens": options.get("max_tokens"),
                "reasoning": options.get("reasoning"),
                "response_format": _output(data.get("output")),
            },
            options={"protocol_version": version},
        )

    def encoder(self, call: Call, model: str) -> Encoder:
        """See :class:`~jackfield.gateway._calls.WireProtocol`."""
        return _Encoder(int(call.options.get("protocol_version", 1)))

    def complete(self, call: Call, model: str, response: Response) -> Any:
        """Never used: the protocol only streams."""
        raise NotImplementedError

    def error_body(self, error: ProviderError) -> Any:
        """``{"error": ProviderError.to_dict()}``."""
        return {"error": error.to_dict()}


JACKFIELD: Final = JackfieldProtocol()
