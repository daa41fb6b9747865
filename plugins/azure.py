"""``azure``: Azure OpenAI deployments.

Calls ``{base_url}/openai/deployments/{deployment}/chat/completions?api-version=...``
with the ``api-key`` header. ``base_url`` defaults to ``$AZURE_OPENAI_ENDPOINT``; the
deployment is ``config.deployment`` or the call's model (tiers map to deployments
through ``tier_models``). Capabilities follow OpenAI's model families, found from
``extra={"deployment_model": "gpt-4o"}`` or else from the deployment's name.
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import quote

from jackfield import Capabilities, ConfigurationError, OutputMode, Request, hookimpl
from jackfield.provider import (
    OpenAICompatibleProvider,
    RegisterProvider,
    openai_model_capabilities,
)

DEFAULT_API_VERSION = "2024-10-21"


class AzureOpenAIProvider(OpenAICompatibleProvider):
    """Azure OpenAI: a deployment path, an ``api-version`` and the ``api-key`` header."""

    name = "azure"
    description = "Azure OpenAI deployments (api-key header, api-version)"
    api_key_env = "AZURE_OPENAI_API_KEY"
    default_auth_method = "api-key"
    default_capabilities = Capabilities(
        images=True,
        documents=True,
        structured_output=OutputMode.NATIVE,
        thinking=True,
    )

    def model_capabilities(self, model: str) -> Capabilities:
        """OpenAI's model families, by the deployment's model: ``extra["deployment_model"]``
        when set (``"gpt-4o"``), else the deployment name (often the model's own)."""
        base = self.config.extra.get("deployment_model")
        return openai_model_capabilities(
            base if isinstance(base, str) and base else model, self.default_capabilities
        )

    @property
    def base_url(self) -> str | None:
        """``config.base_url``, else ``$AZURE_OPENAI_ENDPOINT``."""
        url = self.config.base_url or os.environ.get("AZURE_OPENAI_ENDPOINT") or ""
        return url.rstrip("/") or None

    def validate_config(self) -> None:
        """An endpoint and a deployment (or model) are required."""
        super().validate_config()
        if not (self.config.deployment or self.config.model or self.config.tier_models):
            raise ConfigurationError(
                "set deployment (or model) to the deployment name",
                field="deployment",
                provider=self.name,
            )

    def resolve_model(self, model: str | None = None, tier: Any = None) -> str:
        """The deployment: explicit model, tier, then ``config.deployment``."""
        if model is None and tier is None and self.config.deployment:
            return self.config.deployment
        return super().resolve_model(model, tier)

    def chat_url(self, request: Request) -> str:
        """The deployment's chat URL with the ``api-version`` query."""
        version = self.config.api_version or DEFAULT_API_VERSION
        deployment = quote(request.model, safe="")
        return (
            f"{self.base_url}/openai/deployments/{deployment}/chat/completions"
            f"?api-version={quote(version, safe='')}"
        )


@hookimpl
def jackfield_register_providers(register: RegisterProvider) -> None:
    """Register the Azure OpenAI provider."""
    register(AzureOpenAIProvider, aliases=["azure-openai"])
