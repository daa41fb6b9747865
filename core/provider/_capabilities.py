"""The no-silent-drop rule: a call asking for what the provider cannot express is
refused before any I/O with :class:`UnsupportedFeatureError` naming the feature.

:func:`check_request` also settles the structured-output mode of the call: the
strongest the provider's :class:`Capabilities` offer, or the weaker one the caller chose.
"""

from __future__ import annotations

import attrs

from ..errors import BadRequestError, UnsupportedFeatureError
from ..types import (
    AudioPart,
    CachePoint,
    Capabilities,
    DocumentPart,
    ImagePart,
    OutputMode,
    Request,
)

__all__ = ["check_request", "count_cache_points", "union"]

_STRENGTH = {OutputMode.PROMPT: 0, OutputMode.TOOL: 1, OutputMode.NATIVE: 2}


def _refuse(feature: str, what: str, provider: str, model: str) -> UnsupportedFeatureError:
    return UnsupportedFeatureError(
        f"{provider} cannot {what} with model {model!r} (capability {feature!r}); "
        f"if this server can, set capabilities={{{feature!r}: ...}} in its config",
        feature=feature,
        provider=provider,
        model=model,
    )


def count_cache_points(request: Request) -> int:
    """How many prompt-cache breakpoints ``request`` carries (parts and tools)."""
    n = sum(1 for t in request.tools if t.cache_point is not None)
    for m in request.messages:
        if not isinstance(m.content, str):
            n += sum(1 for p in m.content if isinstance(p, CachePoint))
    return n


def check_request(request: Request, caps: Capabilities, provider: str) -> Request:
    """``request`` if ``caps`` can express all of it (with the structured-output mode
    settled), else :class:`UnsupportedFeatureError`."""
    model = request.model
    if request.tools and not caps.tools:
        raise _refuse("tools", "call tools", provider, model)
    if request.tool_choice is not None and not request.tools:
        raise BadRequestError(
            f"tool_choice {request.tool_choice!r} needs tools: this call passes none",
            provider=provider,
            model=model,
        )
    if request.temperature is not None and not caps.temperature:
        raise _refuse("temperature", "take a sampling temperature", provider, model)
    if request.extra.get("parallel_tool_calls") and not caps.parallel_tool_calls:
        raise _refuse("parallel_tool_calls", "make parallel tool calls", provider, model)
    if request.reasoning and not caps.thinking:
        raise _refuse("thinking", "think (reasoning)", provider, model)
    if request.json_mode and not caps.json_mode:
        raise _refuse("json_mode", "answer in JSON mode", provider, model)
    tools = request.tools
    cache_points = sum(1 for t in tools if t.cache_point is not None) if tools else 0
    for m in request.messages:
        content = m.content
        if type(content) is str:
            continue
        for part in content:
            if isinstance(part, ImagePart):
                if not caps.images:
                    raise _refuse("images", "read images", provider, model)
            elif isinstance(part, DocumentPart):
                if not caps.documents:
                    raise _refuse("documents", "read documents", provider, model)
                if part.url and not caps.document_urls:
                    raise _refuse("document_urls", "fetch documents by URL", provider, model)
            elif isinstance(part, AudioPart):
                if not caps.audio:
                    raise _refuse("audio", "hear audio", provider, model)
            elif isinstance(part, CachePoint):
                cache_points += 1
    if cache_points:
        if caps.cache_points == "none":
            raise _refuse("cache_points", "mark prompt-cache breakpoints", provider, model)
        limit = caps.max_cache_points
        if limit is not None and cache_points > limit:
            raise UnsupportedFeatureError(
                f"{cache_points} cache points, but {provider} takes at most {limit} per call",
                feature="cache_points",
                provider=provider,
                model=model,
            )
    output = request.output
    if output is not None:
        best = caps.structured_output
        mode = output.mode
        if mode is None:
            mode = best
        elif _STRENGTH[mode] > _STRENGTH[best]:
            raise _refuse("structured_output", f"enforce a schema in {mode} mode", provider, model)
        if output.mode is not mode:
            request = attrs.evolve(request, output=attrs.evolve(output, mode=mode))
    return request


_CACHE_POINTS = ("none", "automatic", "explicit")


def union(caps: list[Capabilities]) -> Capabilities:
    """What any of ``caps`` can express (a router's view of its targets): each flag if
    one has it, the strongest structured-output mode, the largest limits (``None``,
    no limit, wins)."""
    flags = {
        f.name: any(getattr(c, f.name) for c in caps)
        for f in attrs.fields(Capabilities)
        if f.type in (bool, "bool")
    }
    limits = [c.max_cache_points for c in caps]
    windows = [c.context_window for c in caps if c.context_window is not None]
    return Capabilities(
        **flags,
        structured_output=max((c.structured_output for c in caps), key=_STRENGTH.__getitem__),
        cache_points=max((c.cache_points for c in caps), key=_CACHE_POINTS.index),
        max_cache_points=None if None in limits else max(x for x in limits if x is not None),
        context_window=max(windows) if windows else None,
    )
