"""``openrouter``: OpenRouter's OpenAI-compatible API.

Optional attribution headers come from ``extra``: ``http_referer`` -> ``HTTP-Referer``,
``app_title`` -> ``X-Title``. Keep-alive comments (``: OPENROUTER PROCESSING``) are
skipped by the SSE parser; reasoning arrives in ``delta.reasoning``; an error inside a
200 stream raises the mapped error.
"""

from __future__ import annotations

import attrs

from jackfield import Capabilities, ModelTier, OutputMode, hookimpl
from jackfield.provider import (
    OpenAICompatibleProvider,
    RegisterProvider,
    family_capabilities,
    openai_model_capabilities,
)

_VENDORS: tuple[tuple[str, Capabilities], ...] = (
    (
        "claude",  # anthropic/claude-*: cache_control passes through, at most four
        Capabilities(
            images=True,
            documents=True,
            structured_output=OutputMode.NATIVE,
            thinking=True,
            context_window=200_000,
        ),
    ),
    (  # google/gemini-*: audio input too
        "gemini",
        Capabilities(
            images=True,
            documents=True,
            audio=True,
            structured_output=OutputMode.NATIVE,
            thinking=True,
            context_window=1_048_576,
        ),
    ),
)


class OpenRouterProvider(OpenAICompatibleProvider):
    """OpenRouter at ``https://openrouter.ai/api/v1`` with ``$OPENROUTER_API_KEY``."""

    name = "openrouter"
    description = "OpenRouter: many vendors' models through one OpenAI-compatible API"
    default_base_url = "https://openrouter.ai/api/v1"
    api_key_env = "OPENROUTER_API_KEY"
    default_capabilities = Capabilities(
        images=True,  # OpenRouter refuses a model without vision (a 404, never a drop)
        documents=True,  # PDFs: OpenRouter parses them for any model
        structured_output=OutputMode.TOOL,  # json_schema only where the model takes it
        thinking=True,  # the unified `reasoning` setting
    )
    """For a vendor no family below matches."""
    tier_models = {
        ModelTier.LOCAL_SMALL: "meta-llama/llama-3.2-3b-instruct",
        ModelTier.HOSTED_SMALL: "openai/gpt-5.4-mini",
        ModelTier.HOSTED_LARGE: "anthropic/claude-opus-4.6",
    }

    def model_capabilities(self, model: str) -> Capabilities:
        """By vendor and family: ``openai/*`` as the openai provider declares them (PDFs
        for every model), ``anthropic/claude-*`` and ``google/gemini-*`` natively
        structured, everything else :attr:`default_capabilities`."""
        vendor, _, name = model.partition("/")
        if vendor == "openai":
            caps = openai_model_capabilities(name, self.default_capabilities)
            return attrs.evolve(caps, documents=True)
        return family_capabilities(name or vendor, _VENDORS) or self.default_capabilities

    def default_headers(self) -> dict[str, str]:
        """Auth plus OpenRouter's optional attribution headers."""
        headers = super().default_headers()
        extra = self.config.extra
        if extra.get("http_referer"):
            headers["HTTP-Referer"] = str(extra["http_referer"])
        if extra.get("app_title"):
            headers["X-Title"] = str(extra["app_title"])
        return headers


@hookimpl
def jackfield_register_providers(register: RegisterProvider) -> None:
    """Register the OpenRouter provider."""
    register(OpenRouterProvider)
