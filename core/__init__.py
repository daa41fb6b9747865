"""plugboard: one contract and one registry for every LLM provider.

Look a provider up by name and call it::

    import plugboard

    provider = plugboard.create_provider("mock")
    response = await provider.generate("Hello")

Every public name is imported lazily, so ``import plugboard`` stays cheap and never
imports an SDK, aiohttp or tiktoken.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS: dict[str, str] = {
    # types
    "ContentPart": "types",
    "FinishReason": "types",
    "ImagePart": "types",
    "Message": "types",
    "ModelTier": "types",
    "Request": "types",
    "Response": "types",
    "TextPart": "types",
    "Thinking": "types",
    "ToolCall": "types",
    "ToolSpec": "types",
    "Usage": "types",
    # events
    "StreamEnd": "events",
    "StreamEvent": "events",
    "StreamStart": "events",
    "TextDelta": "events",
    "TextEnd": "events",
    "TextStart": "events",
    "ThinkingDelta": "events",
    "ThinkingEnd": "events",
    "ThinkingStart": "events",
    "ToolCallDelta": "events",
    "ToolCallEnd": "events",
    "ToolCallStart": "events",
    # config
    "ProviderConfig": "config",
    "Secret": "config",
    # errors
    "APIError": "errors",
    "AuthenticationError": "errors",
    "BadRequestError": "errors",
    "ConfigurationError": "errors",
    "ContentFilterError": "errors",
    "ContextWindowExceededError": "errors",
    "MissingDependencyError": "errors",
    "NetworkError": "errors",
    "NotFoundError": "errors",
    "OverloadedError": "errors",
    "PermissionDeniedError": "errors",
    "PlugboardError": "errors",
    "PluginLoadError": "errors",
    "ProviderError": "errors",
    "ProviderNotFoundError": "errors",
    "ProviderTimeoutError": "errors",
    "QuotaExceededError": "errors",
    "RateLimitError": "errors",
    "RegistryError": "errors",
    "ServerError": "errors",
    "StreamError": "errors",
    "UnknownError": "errors",
    # contract
    "Provider": "provider",
    "ProviderStream": "provider",
    "RetryPolicy": "retry",
    "StreamAssembler": "assembler",
    "parse_streaming_json": "streaming_json",
    # hooks
    "hookimpl": "hookspecs",
    "hookspec": "hookspecs",
    # registry
    "ProviderInfo": "registry",
    "Registry": "registry",
    "clear_cache": "registry",
    "create_provider": "registry",
    "get_provider_class": "registry",
    "get_registry": "registry",
    "is_registered": "registry",
    "list_providers": "registry",
    "register_provider": "registry",
    "unregister_provider": "registry",
}

__all__ = [*sorted(_EXPORTS), "__version__"]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'plugboard' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__


if TYPE_CHECKING:
    from .assembler import StreamAssembler
    from .config import ProviderConfig, Secret
    from .errors import (
        APIError,
        AuthenticationError,
        BadRequestError,
        ConfigurationError,
        ContentFilterError,
        ContextWindowExceededError,
        MissingDependencyError,
        NetworkError,
        NotFoundError,
        OverloadedError,
        PermissionDeniedError,
        PlugboardError,
        PluginLoadError,
        ProviderError,
        ProviderNotFoundError,
        ProviderTimeoutError,
        QuotaExceededError,
        RateLimitError,
        RegistryError,
        ServerError,
        StreamError,
        UnknownError,
    )
    from .events import (
        StreamEnd,
        StreamEvent,
        StreamStart,
        TextDelta,
        TextEnd,
        TextStart,
        ThinkingDelta,
        ThinkingEnd,
        ThinkingStart,
        ToolCallDelta,
        ToolCallEnd,
        ToolCallStart,
    )
    from .hookspecs import hookimpl, hookspec
    from .provider import Provider, ProviderStream
    from .registry import (
        ProviderInfo,
        Registry,
        clear_cache,
        create_provider,
        get_provider_class,
        get_registry,
        is_registered,
        list_providers,
        register_provider,
        unregister_provider,
    )
    from .retry import RetryPolicy
    from .streaming_json import parse_streaming_json
    from .types import (
        ContentPart,
        FinishReason,
        ImagePart,
        Message,
        ModelTier,
        Request,
        Response,
        TextPart,
        Thinking,
        ToolCall,
        ToolSpec,
        Usage,
    )
