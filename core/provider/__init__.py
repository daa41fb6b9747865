"""The plugin-author API: everything a provider plugin imports, and nothing else.

A plugin imports from here and from :mod:`jackfield` (the values: ``Request``,
``Response``, the events and the errors). The built-in providers in ``jackfield.plugins``
import nothing else either; an import-linter contract in ``.ci/run`` keeps it so.

Bases to extend, shortest first:

- :class:`OpenAICompatibleProvider`: a server that speaks OpenAI Chat Completions; a
  preset is a few class attributes.
- :class:`HTTPProvider`: any HTTP API, spoken with ``self.http`` (aiohttp, one session
  per event loop, bounded bodies, error mapping, raw logging).
- :class:`SDKProvider`: a vendor's official SDK client, one per event loop, its raw
  bytes read and bounded by jackfield, its transport errors mapped by one table.
- :class:`Provider`: the contract itself, for a client library of your own.

The wire formats (pure building and parsing, no I/O) are here as namespaces:
:data:`openai_chat`, :data:`openai_responses` (OpenAI's Responses API),
:data:`anthropic_messages`, :data:`gemini` (Gemini's ``generateContent``) and
:data:`proxy_protocol`.
"""

from __future__ import annotations

from .._markers import hookimpl
from ..transport._limits import json_body, limit_stream, read_limited
from ..transport._loop_local import LoopLocal
from ..wire import (
    _anthropic as anthropic_messages,
    _gemini as gemini,
    _openai_chat as openai_chat,
    _proxy as proxy_protocol,
    _responses as openai_responses,
    _tinyagent as tinyagent_protocol,
)
from ..wire._assembler import StreamAssembler
from ..wire._errors import (
    error_from_payload,
    error_from_response,
    parse_retry_after,
    request_id_from,
)
from ..wire._partial_json import parse_streaming_json
from ..wire._sse import SSEEvent, iter_sse
from ._base import Provider, ProviderStream
from ._families import family_capabilities, openai_model_capabilities, self_hosted_capabilities
from ._http import HTTPProvider
from ._openai_compatible import OpenAICompatibleProvider
from ._register import RegisterProvider
from ._sdk import SDKProvider

__all__ = [
    "HTTPProvider",
    "LoopLocal",
    "OpenAICompatibleProvider",
    "Provider",
    "ProviderStream",
    "RegisterProvider",
    "SDKProvider",
    "SSEEvent",
    "StreamAssembler",
    "anthropic_messages",
    "error_from_payload",
    "error_from_response",
    "family_capabilities",
    "gemini",
    "hookimpl",
    "iter_sse",
    "json_body",
    "limit_stream",
    "openai_chat",
    "openai_model_capabilities",
    "openai_responses",
    "parse_retry_after",
    "parse_streaming_json",
    "proxy_protocol",
    "read_limited",
    "request_id_from",
    "self_hosted_capabilities",
    "tinyagent_protocol",
]
