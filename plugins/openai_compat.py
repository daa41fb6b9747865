"""``openai-compat``: any OpenAI-compatible Chat Completions endpoint (set ``base_url``)."""

from __future__ import annotations

from jackfield import hookimpl
from jackfield.provider import OpenAICompatibleProvider, RegisterProvider

__all__ = ["OpenAICompatProvider"]


class OpenAICompatProvider(OpenAICompatibleProvider):
    """Any server speaking OpenAI Chat Completions at ``base_url`` (required).

    Most such servers are self-hosted: the key is optional (sent as a bearer token when
    given), and a tier with no model in any table falls back to ``config.model``.
    """

    name = "openai-compat"
    description = "Any OpenAI-compatible Chat Completions endpoint (base_url required)"
    requires_api_key = False
    tiers_default_to_model = True


@hookimpl
def jackfield_register_providers(register: RegisterProvider) -> None:
    """Register the generic OpenAI-compatible provider."""
    register(OpenAICompatProvider, aliases=["openai-compatible", "compat"])
