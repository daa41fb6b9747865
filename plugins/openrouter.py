"""``openrouter``: OpenRouter's OpenAI-compatible API.

Optional attribution headers come from ``extra``: ``http_referer`` -> ``HTTP-Referer``,
``app_title`` -> ``X-Title``. Keep-alive comments (``: OPENROUTER PROCESSING``) are
skipped by the SSE parser; reasoning arrives in ``delta.reasoning``; an error inside a
200 stream raises the mapped error.
"""

from __future__ import annotations

from jackfield import Capabilities, ModelTier, OutputMode, hookimpl
from jackfield.provider import OpenAICompatibleProvider, RegisterProvider


class OpenRouterProvider(OpenAICompatibleProvider):
    """OpenRouter at ``https://openrouter.ai/api/v1`` with ``$OPENROUTER_API_KEY``."""

    name = "openrouter"
    description = "OpenRouter: many vendors' models through one OpenAI-compatible API"
    default_base_url = "https://openrouter.ai/api/v1"
    api_key_env = "OPENROUTER_API_KEY"
    default_capabilities = Capabilities(
        images=True,
        documents=True,
        structured_output=OutputMode.NATIVE,
        thinking=True,
    )
    tier_models = {
        ModelTier.LOCAL_SMALL: "meta-llama/llama-3.2-3b-instruct",
        ModelTier.HOSTED_SMALL: "openai/gpt-5.4-mini",
        ModelTier.HOSTED_LARGE: "anthropic/claude-opus-4.6",
    }

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
