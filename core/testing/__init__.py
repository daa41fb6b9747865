"""Test helpers for jackfield users and plugin authors.

* :class:`FakeLLMServer` -- a scripted loopback fake of the OpenAI, Anthropic, Gemini and
  jackfield-proxy wires, with the script items :class:`Reply`, :class:`ErrorReply`,
  :class:`Reset`, :class:`Delay`, :class:`Stall`, :class:`Truncate`,
  :class:`Malformed`, :class:`InStreamError` and :class:`Raw`.
* :class:`ProviderConformance` -- the conformance battery a provider plugin's tests
  subclass; :func:`assert_well_formed_stream` checks one stream's events.
* :class:`FakeSleep` -- an injectable ``sleep`` for :class:`jackfield.RetryPolicy`.
* The pytest plugin :mod:`jackfield.testing.pytest_plugin` (fixtures
  ``fake_llm_server`` and ``jackfield_registry``), registered automatically.

Every name is imported lazily: ``import jackfield.testing`` imports neither aiohttp nor
pytest; ``FakeLLMServer`` imports aiohttp, ``ProviderConformance`` imports pytest.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_exports

_EXPORTS: dict[str, str] = {
    # the fake server
    "FakeLLMServer": "_fake_server",
    "RecordedRequest": "_fake_server",
    "Responder": "_fake_server",
    # script items
    "Delay": "_scripts",
    "ErrorReply": "_scripts",
    "InStreamError": "_scripts",
    "Malformed": "_scripts",
    "Raw": "_scripts",
    "Reply": "_scripts",
    "Reset": "_scripts",
    "ScriptItem": "_scripts",
    "Stall": "_scripts",
    "Truncate": "_scripts",
    # the conformance kit
    "CANARY_KEY": "_conformance",
    "FakeSleep": "_conformance",
    "ProviderConformance": "_conformance",
    "assert_well_formed_stream": "_conformance",
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())


if TYPE_CHECKING:
    from ._conformance import (
        CANARY_KEY as CANARY_KEY,
        FakeSleep as FakeSleep,
        ProviderConformance as ProviderConformance,
        assert_well_formed_stream as assert_well_formed_stream,
    )
    from ._fake_server import (
        FakeLLMServer as FakeLLMServer,
        RecordedRequest as RecordedRequest,
        Responder as Responder,
    )
    from ._scripts import (
        Delay as Delay,
        ErrorReply as ErrorReply,
        InStreamError as InStreamError,
        Malformed as Malformed,
        Raw as Raw,
        Reply as Reply,
        Reset as Reset,
        ScriptItem as ScriptItem,
        Stall as Stall,
        Truncate as Truncate,
    )
