"""jackfield-acme: a provider plugin for the (fictional) Acme LLM API.

Acme speaks OpenAI's Chat Completions wire format, so the provider is a preset of
jackfield's OpenAI-compatible base: a name, a default URL, a key variable, a tier
table, one extra header and what its models can be asked for (capabilities). Retries,
errors, streaming, token estimates and hooks come from jackfield.
"""

from __future__ import annotations

from jackfield import Capabilities, ModelTier, OutputMode, hookimpl
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

    default_capabilities = Capabilities(
        images=True,  # every Acme model reads images
        structured_output=OutputMode.NATIVE,  # Acme enforces response_format schemas
        context_window=128_000,
    )
    """What every Acme model can be asked for; a call asking more is refused before I/O."""

    def model_capabilities(self, model: str) -> Capabilities:
        """``acme-large`` also thinks; the others as :attr:`default_capabilities`."""
        caps = self.default_capabilities
        if model.startswith("acme-large"):
            return Capabilities(
                images=True,
                structured_output=OutputMode.NATIVE,
                thinking=True,
                context_window=256_000,
            )
        return caps

    def default_headers(self) -> dict[str, str]:
        """Bearer auth plus Acme's client header."""
        return {**super().default_headers(), "Acme-Client": "jackfield-acme/0.1.0"}


@hookimpl
def jackfield_register_providers(register: RegisterProvider) -> None:
    """Register Acme under its name and an alias."""
    register(AcmeProvider, aliases=["acme-llm"])
