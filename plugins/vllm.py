"""``vllm``: a vLLM server's OpenAI-compatible endpoint; no key unless it was started with one."""

from __future__ import annotations

from jackfield import hookimpl
from jackfield.provider import OpenAICompatibleProvider, RegisterProvider


class VLLMProvider(OpenAICompatibleProvider):
    """vLLM at ``http://localhost:8000/v1``; every tier is the served ``model``.

    Reasoning models served by vLLM stream ``delta.reasoning_content``, which arrives
    as thinking events.
    """

    name = "vllm"
    description = "vLLM server (OpenAI-compatible API; key optional via VLLM_API_KEY)"
    default_base_url = "http://localhost:8000/v1"
    api_key_env = "VLLM_API_KEY"
    tokenizer = "heuristic"
    requires_api_key = False  # sent as a bearer token when the server was started with one
    tiers_default_to_model = True


@hookimpl
def jackfield_register_providers(register: RegisterProvider) -> None:
    """Register the vLLM provider."""
    register(VLLMProvider)
