"""Test helpers for jackfield users and plugin authors.

* :class:`FakeLLMServer` -- a scripted loopback fake of the OpenAI, Anthropic and
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

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS: dict[str, str] = {
    # the fake server
    "FakeLLMServer": "fake_server",
    "RecordedRequest": "fake_server",
    "Responder": "fake_server",
    # script items
    "Delay": "scripts",
    "ErrorReply": "scripts",
    "InStreamError": "scripts",
    "Malformed": "scripts",
    "Raw": "scripts",
    "Reply": "scripts",
    "Reset": "scripts",
    "ScriptItem": "scripts",
    "Stall": "scripts",
    "Truncate": "scripts",
    # the conformance kit
    "CANARY_KEY": "conformance",
    "FakeSleep": "conformance",
    "ProviderConformance": "conformance",
    "assert_well_formed_stream": "conformance",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'jackfield.testing' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__


if TYPE_CHECKING:
    from .conformance import CANARY_KEY as CANARY_KEY
    from .conformance import FakeSleep as FakeSleep
    from .conformance import ProviderConformance as ProviderConformance
    from .conformance import assert_well_formed_stream as assert_well_formed_stream
    from .fake_server import FakeLLMServer as FakeLLMServer
    from .fake_server import RecordedRequest as RecordedRequest
    from .fake_server import Responder as Responder
    from .scripts import Delay as Delay
    from .scripts import ErrorReply as ErrorReply
    from .scripts import InStreamError as InStreamError
    from .scripts import Malformed as Malformed
    from .scripts import Raw as Raw
    from .scripts import Reply as Reply
    from .scripts import Reset as Reset
    from .scripts import ScriptItem as ScriptItem
    from .scripts import Stall as Stall
    from .scripts import Truncate as Truncate
