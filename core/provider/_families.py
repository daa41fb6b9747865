"""What each model family can express: the declarations behind
:meth:`Provider.model_capabilities` of the OpenAI-speaking built-ins.

Model ids are matched by prefix after any ``vendor/`` part (``openai/gpt-4o`` is
``gpt-4o``), so dated snapshots (``gpt-4o-2024-08-06``) share their family's entry. A
name no family matches gets the provider's default declaration: a new model is more
likely to be able to do more, and the server refuses what it cannot take.
"""

from __future__ import annotations

import re

import attrs

from ..types import Capabilities, OutputMode

__all__ = [
    "OPENAI_FAMILIES",
    "family_capabilities",
    "openai_model_capabilities",
    "self_hosted_capabilities",
]

_CHAT = Capabilities(
    images=True, documents=True, structured_output=OutputMode.NATIVE, thinking=False
)
_REASONING = attrs.evolve(_CHAT, thinking=True, temperature=False)
_AUDIO = Capabilities(audio=True, structured_output=OutputMode.TOOL, context_window=128_000)
_LEGACY = Capabilities(structured_output=OutputMode.TOOL)

OPENAI_FAMILIES: tuple[tuple[str, Capabilities], ...] = (
    # audio input: Chat Completions' input_audio parts, on the audio models only
    (r"gpt-audio|gpt-4o(-mini)?-audio", _AUDIO),
    # GPT-5: reasoning models with vision and PDF input; the chat snapshots do not reason
    (r"gpt-5(\.\d+)?-chat", attrs.evolve(_CHAT, context_window=128_000)),
    (r"gpt-5\.4-(mini|nano)", attrs.evolve(_REASONING, context_window=400_000)),
    (r"gpt-5\.4", attrs.evolve(_REASONING, context_window=1_050_000)),
    (r"gpt-5(\.[0-3])?(?!\.\d)", attrs.evolve(_REASONING, context_window=400_000)),
    (r"gpt-5", _REASONING),  # later 5.x: context window not known here
    # o-series: reasoning; o1-mini and o1-preview take no tools, images or schemas
    (
        r"o1-(mini|preview)",
        Capabilities(tools=False, json_mode=False, thinking=True, temperature=False),
    ),
    (r"o3-mini", attrs.evolve(_REASONING, images=False, documents=False, context_window=200_000)),
    (r"o1|o3|o4-mini", attrs.evolve(_REASONING, context_window=200_000)),
    # GPT-4.1 and GPT-4o: vision, PDFs, strict schemas, no reasoning
    (r"gpt-4\.1", attrs.evolve(_CHAT, context_window=1_047_576)),
    (r"(chat)?gpt-4o", attrs.evolve(_CHAT, context_window=128_000)),
    # older models: no schema enforcement (a forced tool instead)
    (r"gpt-4-turbo|gpt-4-vision", attrs.evolve(_LEGACY, images=True, context_window=128_000)),
    (r"gpt-4", attrs.evolve(_LEGACY, json_mode=False, context_window=8_192)),
    (r"gpt-3\.5-turbo", attrs.evolve(_LEGACY, context_window=16_385)),
)
"""OpenAI's Chat Completions model families: a pattern matched at the start of the
model id, up to a name boundary, first match wins. A family's declaration replaces the
provider's default whole."""

_BOUNDARY = r"(?=$|[-.:@_/])"


def family_capabilities(
    model: str, families: tuple[tuple[str, Capabilities], ...]
) -> Capabilities | None:
    """The declaration of the first family whose pattern matches the start of ``model``
    up to a name boundary (``o1`` matches ``o1-2024-12-17``, not ``o10``), or ``None``.
    A ``vendor/`` part is ignored. (Providers cache the result per model.)"""
    name = model.lower().rpartition("/")[2]
    for pattern, caps in families:
        if re.match(f"(?:{pattern}){_BOUNDARY}", name):
            return caps
    return None


def openai_model_capabilities(model: str, default: Capabilities) -> Capabilities:
    """What OpenAI's Chat Completions offers ``model`` (:data:`OPENAI_FAMILIES`), else
    ``default``."""
    return family_capabilities(model, OPENAI_FAMILIES) or default


_VISION = re.compile(
    r"llava|bakllava|vision|-vl\b|vl:|qwen2\.5vl|qwen3-vl|gemma3|llama4|minicpm-v|moondream|"
    r"mistral-small3\.[12]|pixtral|internvl|phi-?4-multimodal",
)
_THINKING = re.compile(r"qwen3|qwq|deepseek-r1|gpt-oss|magistral|phi4-reasoning|cogito|openthinker")


def self_hosted_capabilities(model: str, default: Capabilities) -> Capabilities:
    """``default`` (a self-hosted server's conservative declaration), with images for
    the open vision families (llava, ``*-vision``, gemma3, qwen2.5-VL ...) and thinking
    for the open reasoning families (qwen3, deepseek-r1, gpt-oss ...), by name."""
    name = model.lower()
    caps = default
    if not caps.images and _VISION.search(name):
        caps = attrs.evolve(caps, images=True)
    if not caps.thinking and _THINKING.search(name):
        caps = attrs.evolve(caps, thinking=True)
    return caps
