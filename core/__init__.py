"""jackfield: one contract and one registry for every LLM provider.

Look a provider up by name and call it::

    import jackfield

    provider = jackfield.create_provider("mock")
    response = await provider.generate("Hello")

Every public name is imported lazily, so ``import jackfield`` stays cheap and never
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
    "JackfieldError": "errors",
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
        raise AttributeError(f"module 'jackfield' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__


if TYPE_CHECKING:
    from .assembler import StreamAssembler as StreamAssembler
    from .config import ProviderConfig as ProviderConfig
    from .config import Secret as Secret
    from .errors import (
        APIError as APIError,
    )
    from .errors import (
        AuthenticationError as AuthenticationError,
    )
    from .errors import (
        BadRequestError as BadRequestError,
    )
    from .errors import (
        ConfigurationError as ConfigurationError,
    )
    from .errors import (
        ContentFilterError as ContentFilterError,
    )
    from .errors import (
        ContextWindowExceededError as ContextWindowExceededError,
    )
    from .errors import (
        JackfieldError as JackfieldError,
    )
    from .errors import (
        MissingDependencyError as MissingDependencyError,
    )
    from .errors import (
        NetworkError as NetworkError,
    )
    from .errors import (
        NotFoundError as NotFoundError,
    )
    from .errors import (
        OverloadedError as OverloadedError,
    )
    from .errors import (
        PermissionDeniedError as PermissionDeniedError,
    )
    from .errors import (
        PluginLoadError as PluginLoadError,
    )
    from .errors import (
        ProviderError as ProviderError,
    )
    from .errors import (
        ProviderNotFoundError as ProviderNotFoundError,
    )
    from .errors import (
        ProviderTimeoutError as ProviderTimeoutError,
    )
    from .errors import (
        QuotaExceededError as QuotaExceededError,
    )
    from .errors import (
        RateLimitError as RateLimitError,
    )
    from .errors import (
        RegistryError as RegistryError,
    )
    from .errors import (
        ServerError as ServerError,
    )
    from .errors import (
        StreamError as StreamError,
    )
    from .errors import (
        UnknownError as UnknownError,
    )
    from .events import (
        StreamEnd as StreamEnd,
    )
    from .events import (
        StreamEvent as StreamEvent,
    )
    from .events import (
        StreamStart as StreamStart,
    )
    from .events import (
        TextDelta as TextDelta,
    )
    from .events import (
        TextEnd as TextEnd,
    )
    from .events import (
        TextStart as TextStart,
    )
    from .events import (
        ThinkingDelta as ThinkingDelta,
    )
    from .events import (
        ThinkingEnd as ThinkingEnd,
    )
    from .events import (
        ThinkingStart as ThinkingStart,
    )
    from .events import (
        ToolCallDelta as ToolCallDelta,
    )
    from .events import (
        ToolCallEnd as ToolCallEnd,
    )
    from .events import (
        ToolCallStart as ToolCallStart,
    )
    from .hookspecs import hookimpl as hookimpl
    from .hookspecs import hookspec as hookspec
    from .provider import Provider as Provider
    from .provider import ProviderStream as ProviderStream
    from .registry import (
        ProviderInfo as ProviderInfo,
    )
    from .registry import (
        Registry as Registry,
    )
    from .registry import (
        clear_cache as clear_cache,
    )
    from .registry import (
        create_provider as create_provider,
    )
    from .registry import (
        get_provider_class as get_provider_class,
    )
    from .registry import (
        get_registry as get_registry,
    )
    from .registry import (
        is_registered as is_registered,
    )
    from .registry import (
        list_providers as list_providers,
    )
    from .registry import (
        register_provider as register_provider,
    )
    from .registry import (
        unregister_provider as unregister_provider,
    )
    from .retry import RetryPolicy as RetryPolicy
    from .streaming_json import parse_streaming_json as parse_streaming_json
    from .types import (
        ContentPart as ContentPart,
    )
    from .types import (
        FinishReason as FinishReason,
    )
    from .types import (
        ImagePart as ImagePart,
    )
    from .types import (
        Message as Message,
    )
    from .types import (
        ModelTier as ModelTier,
    )
    from .types import (
        Request as Request,
    )
    from .types import (
        Response as Response,
    )
    from .types import (
        TextPart as TextPart,
    )
    from .types import (
        Thinking as Thinking,
    )
    from .types import (
        ToolCall as ToolCall,
    )
    from .types import (
        ToolSpec as ToolSpec,
    )
    from .types import (
        Usage as Usage,
    )
