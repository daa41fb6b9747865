"""``ollama``: a local Ollama server through its OpenAI-compatible endpoint; no key."""

from __future__ import annotations

from jackfield import Capabilities, ModelTier, OutputMode, hookimpl
from jackfield.provider import OpenAICompatibleProvider, RegisterProvider


class OllamaProvider(OpenAICompatibleProvider):
    """Ollama at ``http://localhost:11434/v1`` (set ``base_url`` for another host)."""

    name = "ollama"
    description = "Local Ollama server (OpenAI-compatible API, no key)"
    default_base_url = "http://localhost:11434/v1"
    default_auth_method = "none"  # no key: none is read, required or sent
    tiers_default_to_model = True
    tokenizer = "heuristic"
    default_capabilities = Capabilities(
        structured_output=OutputMode.NATIVE,  # response_format json_schema
    )
    """Conservative: images and thinking only for the vision and reasoning families
    (llava, gemma3, qwen2.5-VL ...; qwen3, deepseek-r1, gpt-oss ...), found by name."""
    tier_models = {
        ModelTier.LOCAL_SMALL: "llama3.2:3b",
        ModelTier.HOSTED_SMALL: "llama3.1:8b",
        ModelTier.HOSTED_LARGE: "llama3.3:70b",
    }


@hookimpl
def jackfield_register_providers(register: RegisterProvider) -> None:
    """Register the Ollama provider."""
    register(OllamaProvider)
