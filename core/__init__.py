"""jackfield: one contract and one registry for every LLM provider.

Look a provider up by name and call it::

    import jackfield

    provider = jackfield.create_provider("mock")
    response = await provider.generate("Hello")

Every public name is imported lazily, so ``import jackfield`` stays cheap and never
imports an SDK, aiohttp or tiktoken.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._lazy import lazy_exports

__version__ = "0.1.0"

_EXPORTS: dict[str, str] = {
    # types
    "AudioPart": "types",
    "CachePoint": "types",
    "Capabilities": "types",
    "ContentPart": "types",
    "DocumentPart": "types",
    "FinishReason": "types",
    "ImagePart": "types",
    "Message": "types",
    "ModelTier": "types",
    "OutputMode": "types",
    "OutputSchema": "types",
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
    "OutputValidationError": "errors",
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
    "UnsupportedFeatureError": "errors",
    # contract
    "Provider": "provider",
    "ProviderStream": "provider",
    "SyncStream": "provider._sync",
    "RetryPolicy": "retry",
    "json_schema": "schema",
    "tool_from_function": "schema",
    "StreamAssembler": "wire._assembler",
    "parse_streaming_json": "wire._partial_json",
    # hooks
    "hookimpl": "_markers",
    "hookspec": "_markers",
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
    # router
    "Router": "router",
    "RouterEvent": "router",
}

__all__ = [*sorted(_EXPORTS), "__version__"]


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())


if TYPE_CHECKING:
    from ._markers import (
        hookimpl as hookimpl,
        hookspec as hookspec,
    )
    from .config import (
        ProviderConfig as ProviderConfig,
        Secret as Secret,
    )
    from .errors import (
        APIError as APIError,
        AuthenticationError as AuthenticationError,
        BadRequestError as BadRequestError,
        ConfigurationError as ConfigurationError,
        ContentFilterError as ContentFilterError,
        ContextWindowExceededError as ContextWindowExceededError,
        JackfieldError as JackfieldError,
        MissingDependencyError as MissingDependencyError,
        NetworkError as NetworkError,
        NotFoundError as NotFoundError,
        OutputValidationError as OutputValidationError,
        OverloadedError as OverloadedError,
        PermissionDeniedError as PermissionDeniedError,
        PluginLoadError as PluginLoadError,
        ProviderError as ProviderError,
        ProviderNotFoundError as ProviderNotFoundError,
        ProviderTimeoutError as ProviderTimeoutError,
        QuotaExceededError as QuotaExceededError,
        RateLimitError as RateLimitError,
        RegistryError as RegistryError,
        ServerError as ServerError,
        StreamError as StreamError,
        UnknownError as UnknownError,
        UnsupportedFeatureError as UnsupportedFeatureError,
    )
    from .events import (
        StreamEnd as StreamEnd,
        StreamEvent as StreamEvent,
        StreamStart as StreamStart,
        TextDelta as TextDelta,
        TextEnd as TextEnd,
        TextStart as TextStart,
        ThinkingDelta as ThinkingDelta,
        ThinkingEnd as ThinkingEnd,
        ThinkingStart as ThinkingStart,
        ToolCallDelta as ToolCallDelta,
        ToolCallEnd as ToolCallEnd,
        ToolCallStart as ToolCallStart,
    )
    from .provider import (
        Provider as Provider,
        ProviderStream as ProviderStream,
    )
    from .provider._sync import (
        SyncStream as SyncStream,
    )
    from .registry import (
        ProviderInfo as ProviderInfo,
        Registry as Registry,
        clear_cache as clear_cache,
        create_provider as create_provider,
        get_provider_class as get_provider_class,
        get_registry as get_registry,
        is_registered as is_registered,
        list_providers as list_providers,
        register_provider as register_provider,
        unregister_provider as unregister_provider,
    )
    from .retry import (
        RetryPolicy as RetryPolicy,
    )
    from .router import (
        Router as Router,
        RouterEvent as RouterEvent,
    )
    from .schema import (
        json_schema as json_schema,
        tool_from_function as tool_from_function,
    )
    from .types import (
        AudioPart as AudioPart,
        CachePoint as CachePoint,
        Capabilities as Capabilities,
        ContentPart as ContentPart,
        DocumentPart as DocumentPart,
        FinishReason as FinishReason,
        ImagePart as ImagePart,
        Message as Message,
        ModelTier as ModelTier,
        OutputMode as OutputMode,
        OutputSchema as OutputSchema,
        Request as Request,
        Response as Response,
        TextPart as TextPart,
        Thinking as Thinking,
        ToolCall as ToolCall,
        ToolSpec as ToolSpec,
        Usage as Usage,
    )
    from .wire._assembler import (
        StreamAssembler as StreamAssembler,
    )
    from .wire._partial_json import (
        parse_streaming_json as parse_streaming_json,
    )
