"""The JSON of tool-call arguments: partial while it streams, strict once complete.

One rule for every wire format and for ``generate`` and ``stream`` alike:

* :func:`parse_streaming_json` reads the arguments *while they arrive*, for the
  ``ToolCallDelta`` events: a best-effort dict from a cut-off object.
* :func:`final_arguments` reads the *complete* text, for the ``ToolCall`` of a response:
  the strict JSON parse, or ``{}`` with the text kept when it is not one JSON object (a
  call cut by ``max_tokens``, two objects run together), so a broken call never looks
  valid.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["final_arguments", "parse_streaming_json"]

_DECODER = json.JSONDecoder()


def parse_streaming_json(text: str) -> dict[str, Any] | None:
    """Best-effort dict from a JSON object that may be cut off anywhere; never raises.

    ``'{"city": "Par'`` gives ``{"city": "Par"}`` and ``'{"q": "Hello '`` gives
    ``{"q": "Hello "}`` (an open string keeps its trailing spaces, as jiter's and
    pydantic-core's partial modes do). Text that is not the start of one JSON object
    gives ``None``: not an object, or a complete object followed by more
    (``'{"a": 1} {"b": 2}'``). Complete input gives what ``json.loads`` gives. Uses
    jiter's partial mode (a maintained Rust parser) rather than hand-counted braces.
    """
    stripped = text.lstrip()
    if not stripped.startswith("{"):
        return None
    if "}" in stripped:  # the object may be complete, perhaps with something after it
        try:
            complete, end = _DECODER.raw_decode(stripped)
        except (ValueError, RecursionError):  # cut off (or deeply nested): partial below
            pass
        else:
            if stripped[end:].strip():
                return None  # jiter's partial mode would ignore what follows
            return complete if isinstance(complete, dict) else None
    import jiter

    try:
        value = jiter.from_json(
            stripped.encode("utf-8", "surrogatepass"), partial_mode="trailing-strings"
        )
    except (ValueError, UnicodeError):
        return None
    return value if isinstance(value, dict) else None


def final_arguments(text: str | None) -> tuple[dict[str, Any], str | None]:
    """The arguments of a complete tool call and the raw text to keep, if any.

    The strict JSON parse of ``text`` when it is one JSON object: ``(arguments, None)``.
    Empty or blank text: ``({}, None)``. Anything else (cut off, not an object, several
    values, invalid): ``({}, text)``, the text for :attr:`ToolCall.raw_arguments`.
    """
    if not text or not text.strip():
        return {}, None
    from ._json import loads

    try:
        value = loads(text)
    except (ValueError, RecursionError):
        return {}, text
    return (value, None) if isinstance(value, dict) else ({}, text)
