"""jackfield-acme: a provider plugin for the (fictional) Acme LLM API.

Acme speaks OpenAI's Chat Completions wire format, so the provider is a preset of
jackfield's OpenAI-compatible base: a name, a default URL, a key variable, a tier
table and one extra header. Retries, errors, streaming, token estimates and hooks
come from jackfield.
"""

from __future__ import annotations

from jackfield import ModelTier, hookimpl
from jackfield.provider import OpenAICompatibleProvider, RegisterProvider

__all__ = ["AcmeProvider"]


class AcmeProvider(OpenAICompatibleProvider):
    """Acme's chat models at ``https://api.acme.example/v1`` with ``$ACME_API_KEY``."""

    name = "acme"
    description = "Acme LLM API (example plugin)"
    default_base_url = "https://api.acme.example/v1"
    api_key_env = "ACME_API_KEY"
    tier_models = {
        ModelTier.LOCAL_SMALL: "acme-nano",
        ModelTier.HOSTED_SMALL: "acme-mini",
        ModelTier.HOSTED_LARGE: "acme-large",
    }

    def default_headers(self) -> dict[str, str]:
        """Bearer auth plus Acme's client header."""
        return {**super().default_headers(), "Acme-Client": "jackfield-acme/0.1.0"}


@hookimpl
def jackfield_register_providers(register: RegisterProvider) -> None:
    """Register Acme under its name and an alias."""
    register(AcmeProvider, aliases=["acme-llm"])
