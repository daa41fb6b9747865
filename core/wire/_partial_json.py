"""Parse the JSON of tool-call arguments while it is still arriving."""

from __future__ import annotations

from typing import Any

__all__ = ["parse_streaming_json"]


def parse_streaming_json(text: str) -> dict[str, Any] | None:
    """Best-effort dict from a JSON object that may be cut off anywhere; never raises.

    ``'{"city": "Par'`` gives ``{"city": "Par"}``; text that is not the start of a JSON
    object gives ``None``. Complete input gives what ``json.loads`` gives. Uses jiter's
    partial mode (a maintained Rust parser) rather than hand-counted braces.
    """
    stripped = text.strip()
    if not stripped.startswith("{"):
        return None
    if stripped.endswith("}"):
        import json

        try:
            complete = json.loads(stripped)
        except (ValueError, RecursionError):  # deep nesting: json raises RecursionError
            pass
        else:
            return complete if isinstance(complete, dict) else None
    import jiter

    try:
        value = jiter.from_json(
            stripped.encode("utf-8", "surrogatepass"), partial_mode="trailing-strings"
        )
    except (ValueError, UnicodeError):
        return None
    return value if isinstance(value, dict) else None
