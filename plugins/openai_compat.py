"""``openai-compat``: any OpenAI-compatible Chat Completions endpoint (set ``base_url``)."""

from __future__ import annotations

from typing import Any

from jackfield import hookimpl
from jackfield.provider import OpenAICompatibleProvider

__all__ = ["OpenAICompatibleProvider"]


@hookimpl
def jackfield_register_providers(register: Any) -> None:
    """Register the generic OpenAI-compatible provider."""
    register(OpenAICompatibleProvider, aliases=["openai-compatible", "compat"])
