"""The clients under test, one class each, all doing the same work on the same wire.

Each client sends the same request body for its wire format and returns what an
application wants: the answer's text (non-streamed) or the text pieces of a stream.
The worker checks the results, so a client cannot win by skipping work.

The floors are honest minimal clients: aiohttp, ``json.dumps`` of the body, and for a
stream ``async for line in response.content`` with ``json.loads`` of every ``data:``
line, keeping the text deltas. Every library import happens in :meth:`Client.setup`,
so a worker process loads only what its client needs (peak RSS is compared).
"""

from __future__ import annotations

import json
from typing import Any

from .wire import MODEL_ANTHROPIC, MODEL_GEMINI, MODEL_OPENAI, NON_STREAM_MAX_TOKENS, PROMPT

API_KEY = "sk-bench-0123456789"
MESSAGES = [{"role": "user", "content": PROMPT}]


class Client:
    """One way of calling an LLM API; subclasses fill in the three methods."""

    name = ""
    wire = ""  # "openai", "responses", "anthropic" or "gemini"
    description = ""

    async def setup(self, base_url: str) -> None:
        """Import what is needed and build the client (not measured)."""
        raise NotImplementedError

    async def request(self) -> str:
        """One non-streamed call; returns the answer's text."""
        raise NotImplementedError

    async def stream(self, n: int) -> list[str]:
        """One stream of ``n`` content chunks; returns the text pieces."""
        raise NotImplementedError

    async def aclose(self) -> None:
        """Release connections."""


# -- floors: minimal hand-written aiohttp clients ------------------------------------------


class _Floor(Client):
    path = ""

    async def setup(self, base_url: str) -> None:
        import aiohttp

        self.session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=100))
        self.url = base_url + self.path

    async def aclose(self) -> None:
        await self.session.close()


class FloorOpenAI(_Floor):
    name = "floor-openai"
    wire = "openai"
    description = "hand-written aiohttp client (the floor), OpenAI wire"
    path = "/v1/chat/completions"
    headers = {"Authorization": f"Bearer {API_KEY}", "Content-Type": "application/json"}

    async def request(self) -> str:
        body = {"model": MODEL_OPENAI, "messages": MESSAGES, "max_tokens": NON_STREAM_MAX_TOKENS}
        async with self.session.post(self.url, data=json.dumps(body), headers=self.headers) as r:
            if r.status != 200:
                raise RuntimeError(f"HTTP {r.status}")
            data = json.loads(await r.read())
        text: str = data["choices"][0]["message"]["content"]
        return text

    async def stream(self, n: int) -> list[str]:
        body = {
            "model": MODEL_OPENAI,
            "messages": MESSAGES,
            "max_tokens": n,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        parts: list[str] = []
        async with self.session.post(self.url, data=json.dumps(body), headers=self.headers) as r:
            if r.status != 200:
                raise RuntimeError(f"HTTP {r.status}")
            async for line in r.content:
                if line.startswith(b"data: "):
                    data = line[6:].rstrip()
                    if data == b"[DONE]":
                        break
                    chunk = json.loads(data)
                    choices = chunk["choices"]
                    if choices:
                        content = choices[0]["delta"].get("content")
                        if content:
                            parts.append(content)
        return parts


class FloorResponses(_Floor):
    name = "floor-responses"
    wire = "responses"
    description = "hand-written aiohttp client (the floor), OpenAI Responses wire"
    path = "/v1/responses"
    headers = FloorOpenAI.headers

    async def request(self) -> str:
        body = {"model": MODEL_OPENAI, "input": PROMPT, "max_output_tokens": NON_STREAM_MAX_TOKENS}
        async with self.session.post(self.url, data=json.dumps(body), headers=self.headers) as r:
            if r.status != 200:
                raise RuntimeError(f"HTTP {r.status}")
            data = json.loads(await r.read())
        text: str = data["output"][0]["content"][0]["text"]
        return text

    async def stream(self, n: int) -> list[str]:
        body = {"model": MODEL_OPENAI, "input": PROMPT, "max_output_tokens": n, "stream": True}
        parts: list[str] = []
        async with self.session.post(self.url, data=json.dumps(body), headers=self.headers) as r:
            if r.status != 200:
                raise RuntimeError(f"HTTP {r.status}")
            async for line in r.content:
                if line.startswith(b"data: "):
                    event = json.loads(line[6:])
                    kind = event["type"]
                    if kind == "response.output_text.delta":
                        parts.append(event["delta"])
                    elif kind in ("response.completed", "response.incomplete"):
                        break
        return parts


class FloorAnthropic(_Floor):
    name = "floor-anthropic"
    wire = "anthropic"
    description = "hand-written aiohttp client (the floor), Anthropic wire"
    path = "/v1/messages"
    headers = {
        "x-api-key": API_KEY,
        "anthropic-version": "2023-06-01",
        "Content-Type": "application/json",
    }

    async def request(self) -> str:
        body = {
            "model": MODEL_ANTHROPIC,
            "max_tokens": NON_STREAM_MAX_TOKENS,
            "messages": MESSAGES,
        }
        async with self.session.post(self.url, data=json.dumps(body), headers=self.headers) as r:
            if r.status != 200:
                raise RuntimeError(f"HTTP {r.status}")
            data = json.loads(await r.read())
        text: str = data["content"][0]["text"]
        return text

    async def stream(self, n: int) -> list[str]:
        body = {"model": MODEL_ANTHROPIC, "max_tokens": n, "messages": MESSAGES, "stream": True}
        parts: list[str] = []
        async with self.session.post(self.url, data=json.dumps(body), headers=self.headers) as r:
            if r.status != 200:
                raise RuntimeError(f"HTTP {r.status}")
            async for line in r.content:
                if line.startswith(b"data: "):
                    event = json.loads(line[6:])
                    kind = event["type"]
                    if kind == "content_block_delta":
                        delta = event["delta"]
                        if delta["type"] == "text_delta":
                            parts.append(delta["text"])
                    elif kind == "message_stop":
                        break
        return parts


class FloorGemini(_Floor):
    name = "floor-gemini"
    wire = "gemini"
    description = "hand-written aiohttp client (the floor), Gemini generateContent wire"
    path = f"/v1beta/models/{MODEL_GEMINI}"
    headers = {"x-goog-api-key": API_KEY, "Content-Type": "application/json"}

    @staticmethod
    def _body(max_tokens: int) -> str:
        return json.dumps(
            {
                "contents": [{"role": "user", "parts": [{"text": PROMPT}]}],
                "generationConfig": {"maxOutputTokens": max_tokens},
            }
        )

    async def request(self) -> str:
        body = self._body(NON_STREAM_MAX_TOKENS)
        url = self.url + ":generateContent"
        async with self.session.post(url, data=body, headers=self.headers) as r:
            if r.status != 200:
                raise RuntimeError(f"HTTP {r.status}")
            data = json.loads(await r.read())
        text: str = data["candidates"][0]["content"]["parts"][0]["text"]
        return text

    async def stream(self, n: int) -> list[str]:
        body = self._body(n)
        url = self.url + ":streamGenerateContent?alt=sse"
        parts: list[str] = []
        async with self.session.post(url, data=body, headers=self.headers) as r:
            if r.status != 200:
                raise RuntimeError(f"HTTP {r.status}")
            async for line in r.content:
                if line.startswith(b"data: "):
                    candidate = json.loads(line[6:])["candidates"][0]
                    for part in candidate["content"]["parts"]:
                        text = part.get("text")
                        if text:
                            parts.append(text)
                    if "finishReason" in candidate:  # the last chunk; the body ends after it
                        break
        return parts


# -- the SDKs used directly ---------------------------------------------------------------


class SDKOpenAI(Client):
    name = "sdk-openai"
    wire = "openai"
    description = "openai SDK used directly (AsyncOpenAI, typed chunks)"

    async def setup(self, base_url: str) -> None:
        import openai

        self.client = openai.AsyncOpenAI(base_url=base_url + "/v1", api_key=API_KEY, max_retries=0)

    async def request(self) -> str:
        r = await self.client.chat.completions.create(
            model=MODEL_OPENAI,
            messages=MESSAGES,
            max_tokens=NON_STREAM_MAX_TOKENS,  # type: ignore[arg-type]
        )
        return r.choices[0].message.content or ""

    async def stream(self, n: int) -> list[str]:
        parts: list[str] = []
        s = await self.client.chat.completions.create(
            model=MODEL_OPENAI,
            messages=MESSAGES,  # type: ignore[arg-type]
            max_tokens=n,
            stream=True,
            stream_options={"include_usage": True},
        )
        async for chunk in s:
            if chunk.choices:
                content = chunk.choices[0].delta.content
                if content:
                    parts.append(content)
        return parts

    async def aclose(self) -> None:
        await self.client.close()


class SDKResponses(Client):
    name = "sdk-responses"
    wire = "responses"
    description = "openai SDK used directly (responses.create, typed events)"

    async def setup(self, base_url: str) -> None:
        import openai

        self.client = openai.AsyncOpenAI(base_url=base_url + "/v1", api_key=API_KEY, max_retries=0)

    async def request(self) -> str:
        r = await self.client.responses.create(
            model=MODEL_OPENAI, input=PROMPT, max_output_tokens=NON_STREAM_MAX_TOKENS
        )
        return r.output_text

    async def stream(self, n: int) -> list[str]:
        parts: list[str] = []
        s = await self.client.responses.create(
            model=MODEL_OPENAI, input=PROMPT, max_output_tokens=n, stream=True
        )
        async for event in s:
            if event.type == "response.output_text.delta":
                parts.append(event.delta)
        return parts

    async def aclose(self) -> None:
        await self.client.close()


class SDKAnthropic(Client):
    name = "sdk-anthropic"
    wire = "anthropic"
    description = "anthropic SDK used directly (messages.create, stream=True)"

    async def setup(self, base_url: str) -> None:
        import anthropic

        self.client = anthropic.AsyncAnthropic(base_url=base_url, api_key=API_KEY, max_retries=0)

    async def request(self) -> str:
        r = await self.client.messages.create(
            model=MODEL_ANTHROPIC,
            max_tokens=NON_STREAM_MAX_TOKENS,
            messages=MESSAGES,  # type: ignore[arg-type]
        )
        block: Any = r.content[0]
        text: str = block.text
        return text

    async def stream(self, n: int) -> list[str]:
        parts: list[str] = []
        s = await self.client.messages.create(
            model=MODEL_ANTHROPIC,
            max_tokens=n,
            messages=MESSAGES,
            stream=True,  # type: ignore[arg-type]
        )
        async for event in s:
            if event.type == "content_block_delta" and event.delta.type == "text_delta":
                parts.append(event.delta.text)
        return parts

    async def aclose(self) -> None:
        await self.client.close()


class SDKGemini(Client):
    name = "sdk-gemini"
    wire = "gemini"
    description = "google-genai SDK used directly (aio.models.generate_content[_stream])"

    async def setup(self, base_url: str) -> None:
        from google import genai
        from google.genai import types

        self.types = types
        options = types.HttpOptions(
            base_url=base_url, retry_options=types.HttpRetryOptions(attempts=1)
        )
        self.client = genai.Client(api_key=API_KEY, http_options=options)

    async def request(self) -> str:
        config = self.types.GenerateContentConfig(max_output_tokens=NON_STREAM_MAX_TOKENS)
        r = await self.client.aio.models.generate_content(
            model=MODEL_GEMINI, contents=PROMPT, config=config
        )
        return r.text or ""

    async def stream(self, n: int) -> list[str]:
        parts: list[str] = []
        config = self.types.GenerateContentConfig(max_output_tokens=n)
        s = await self.client.aio.models.generate_content_stream(
            model=MODEL_GEMINI, contents=PROMPT, config=config
        )
        async for chunk in s:
            text = chunk.text
            if text:
                parts.append(text)
        return parts

    async def aclose(self) -> None:
        await self.client.aio.aclose()
        self.client.close()


# -- jackfield ------------------------------------------------------------------------------


class _Jackfield(Client):
    provider_name = ""
    module = ""
    class_name = ""
    model = ""
    options: dict[str, Any] = {}

    def _base(self, base_url: str) -> str:
        return base_url

    async def setup(self, base_url: str) -> None:
        import jackfield

        registry = jackfield.get_registry()
        config = {"base_url": self._base(base_url), "api_key": API_KEY, "model": self.model}
        config.update(self.options)
        if registry.is_registered(self.provider_name):
            self.provider: Any = jackfield.create_provider(self.provider_name, **config)
        else:  # the plugin exists but its entry point is not registered (yet)
            import importlib

            cls = getattr(importlib.import_module(self.module), self.class_name)
            self.provider = cls(hooks=registry.hooks, **config)
        from jackfield.events import TextDelta

        self.text_delta = TextDelta

    async def request(self) -> str:
        r = await self.provider.generate(PROMPT, max_tokens=NON_STREAM_MAX_TOKENS)
        text: str = r.content
        return text

    async def stream(self, n: int) -> list[str]:
        parts: list[str] = []
        text_delta = self.text_delta
        async for event in self.provider.stream(PROMPT, max_tokens=n):
            if isinstance(event, text_delta):
                parts.append(event.text)
        return parts

    async def aclose(self) -> None:
        await self.provider.aclose()


class JackfieldOpenAICompat(_Jackfield):
    name = "pb-openai-compat"
    wire = "openai"
    description = "jackfield `openai-compat` provider (aiohttp)"
    provider_name = "openai-compat"
    module = "jackfield.plugins.openai_compat"
    class_name = "OpenAICompatProvider"
    model = MODEL_OPENAI

    def _base(self, base_url: str) -> str:
        return base_url + "/v1"


class JackfieldOpenAI(JackfieldOpenAICompat):
    name = "pb-openai"
    description = "jackfield `openai` provider (openai SDK transport, jackfield parsing)"
    provider_name = "openai"
    module = "jackfield.plugins.openai"
    class_name = "OpenAIProvider"


class JackfieldOpenAIResponses(JackfieldOpenAI):
    name = "pb-openai-responses"
    wire = "responses"
    description = "jackfield `openai` provider on the Responses API (api='responses')"
    options = {"api": "responses"}


class JackfieldAnthropic(_Jackfield):
    name = "pb-anthropic"
    wire = "anthropic"
    description = "jackfield `anthropic` provider (anthropic SDK transport, jackfield parsing)"
    provider_name = "anthropic"
    module = "jackfield.plugins.anthropic"
    class_name = "AnthropicProvider"
    model = MODEL_ANTHROPIC


class JackfieldGemini(_Jackfield):
    name = "pb-gemini"
    wire = "gemini"
    description = "jackfield `gemini` provider (google-genai SDK transport, jackfield parsing)"
    provider_name = "gemini"
    module = "jackfield.plugins.gemini"
    class_name = "GeminiProvider"
    model = MODEL_GEMINI


CLIENTS: dict[str, type[Client]] = {
    c.name: c
    for c in (
        FloorOpenAI,
        FloorResponses,
        FloorAnthropic,
        FloorGemini,
        SDKOpenAI,
        SDKResponses,
        SDKAnthropic,
        SDKGemini,
        JackfieldOpenAICompat,
        JackfieldOpenAI,
        JackfieldOpenAIResponses,
        JackfieldAnthropic,
        JackfieldGemini,
    )
}
FLOOR = {
    "openai": "floor-openai",
    "responses": "floor-responses",
    "anthropic": "floor-anthropic",
    "gemini": "floor-gemini",
}
OPT_IN = ("floor-gemini", "sdk-gemini", "pb-gemini")
"""Clients that run only when ``--clients`` names them: the Gemini three would add 75 to
90 s to a default full run (``sdk-gemini`` about 75 s of it), which the other wires'
figures do not need."""
DEFAULT = [name for name in CLIENTS if name not in OPT_IN]
"""What ``python -m benchmarks`` runs without ``--clients``."""
SDK = {
    "openai": "sdk-openai",
    "responses": "sdk-responses",
    "anthropic": "sdk-anthropic",
    "gemini": "sdk-gemini",
}


def available(name: str) -> str | None:
    """Why client ``name`` cannot run here (a missing module), else ``None``."""
    import importlib.util

    needs = {
        "sdk-openai": ["openai"],
        "sdk-responses": ["openai"],
        "sdk-anthropic": ["anthropic"],
        "pb-openai": ["openai", "jackfield.plugins.openai"],
        "pb-openai-responses": ["openai", "jackfield.plugins.openai"],
        "pb-anthropic": ["anthropic", "jackfield.plugins.anthropic"],
        "sdk-gemini": ["google.genai"],
        "pb-gemini": ["google.genai", "jackfield.plugins.gemini"],
    }.get(name, [])
    for module in needs:
        try:
            if importlib.util.find_spec(module) is None:
                return f"{module} is not installed"
        except ModuleNotFoundError:
            return f"{module} is not installed"
    return None
