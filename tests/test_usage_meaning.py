"""One meaning of ``Usage`` on every wire: ``input_tokens`` is everything the model read,
cache reads and cache writes included as parts of it (``docs/concepts.md``)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import attrs
import pytest
from hypothesis import given, strategies as st
from test_reliability_providers import Spec, provider_params

from jackfield.testing._fake_server import FakeLLMServer
from jackfield.testing._scripts import Reply
from jackfield.types import Usage
from jackfield.wire import _anthropic, _openai_chat

counts = st.integers(min_value=0, max_value=10**7)
FIXTURES = Path(__file__).parent / "fixtures" / "wire_requests"


@given(uncached=counts, read=counts, write=counts, out=counts)
def test_anthropic_input_counts_cache_reads_and_writes(
    uncached: int, read: int, write: int, out: int
) -> None:
    usage = _anthropic.parse_usage(
        {
            "input_tokens": uncached,  # Anthropic's field excludes cached input
            "cache_read_input_tokens": read,
            "cache_creation_input_tokens": write,
            "output_tokens": out,
        }
    )
    assert usage == Usage(uncached + read + write, out, read, write)
    assert usage.total_tokens == uncached + read + write + out


@given(uncached=counts, read=counts, out=counts)
def test_both_wires_agree_on_the_same_call(uncached: int, read: int, out: int) -> None:
    # the same call read `uncached + read` tokens, `read` of them from the cache
    openai = _openai_chat.parse_usage(
        {
            "prompt_tokens": uncached + read,  # OpenAI's field includes cached input
            "prompt_tokens_details": {"cached_tokens": read},
            "completion_tokens": out,
        }
    )
    anthropic = _anthropic.parse_usage(
        {"input_tokens": uncached, "cache_read_input_tokens": read, "output_tokens": out}
    )
    assert openai == anthropic
    assert openai.cache_read_tokens <= openai.input_tokens


@given(uncached=counts, read=counts, write=counts, out=counts)
def test_both_wires_agree_on_cache_writes(uncached: int, read: int, write: int, out: int) -> None:
    # Chat Completions servers that report writes (OpenRouter, OpenAI's explicit
    # breakpoints) count them inside prompt_tokens, as they do reads
    openai = _openai_chat.parse_usage(
        {
            "prompt_tokens": uncached + read + write,
            "prompt_tokens_details": {"cached_tokens": read, "cache_write_tokens": write},
            "completion_tokens": out,
        }
    )
    anthropic = _anthropic.parse_usage(
        {
            "input_tokens": uncached,
            "cache_read_input_tokens": read,
            "cache_creation_input_tokens": write,
            "output_tokens": out,
        }
    )
    assert openai == anthropic == Usage(uncached + read + write, out, read, write)


@pytest.mark.parametrize(
    ("name", "parse"),
    [
        ("openrouter-usage-cache-write.json", _openai_chat.parse_usage),
        ("anthropic-usage-cache.json", _anthropic.parse_usage),
    ],
)
def test_documented_usage_with_cache_writes(name: str, parse: object) -> None:
    capture = json.loads((FIXTURES / name).read_text())
    assert callable(parse)
    assert parse(capture["usage"]) == Usage(**capture["expected"])


USAGE = Usage(input_tokens=1200, output_tokens=40, cache_read_tokens=1000)
USAGE_WRITES = Usage(
    input_tokens=1500, output_tokens=40, cache_read_tokens=1000, cache_write_tokens=300
)


@pytest.mark.parametrize("usage", [USAGE, USAGE_WRITES], ids=["reads", "reads-and-writes"])
@pytest.mark.parametrize("spec", provider_params())
@pytest.mark.parametrize("streamed", [False, True], ids=["generate", "stream"])
async def test_every_provider_reports_the_same_usage_for_the_same_call(
    spec: Spec, streamed: bool, usage: Usage
) -> None:
    async with FakeLLMServer() as server:
        server.enqueue(Reply("cached answer", usage=usage))
        provider = spec.make(server, max_retries=0)
        try:
            call = provider.stream("hi").collect() if streamed else provider.generate("hi")
            response = await asyncio.wait_for(call, 20)
        finally:
            await provider.aclose()
    if spec.wire == "gemini":
        # Gemini's usageMetadata has no slot for cache writes (its caching is implicit,
        # or explicit through cachedContents, billed apart): they are uncached input
        usage = attrs.evolve(usage, cache_write_tokens=0)
    assert response.usage == usage
