"""In-process measurements, run in their own pinned process: ``python -m benchmarks.micro``.

* ``create_provider``: a cache hit, by name and config (the usual call) and by
  ``cache_key``.
* ``estimate_tokens`` on a ~10,000-token conversation against tiktoken encoding the
  same text, with a word-level BPE built in-process (no download).
* The response cache: a hit per backend (memory, sqlite, redis when a ``redis-server``
  binary exists) next to an uncached call to the loopback server.
* The SSE decoder on one long line (:mod:`benchmarks.sse`): CPU per MiB at 8 MiB
  against 1 MiB, a ratio that stays ~1 for a linear decoder.

CPU is ``time.process_time()`` (user + system of this process, as ``getrusage``), the
median over repetitions. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from typing import Any

from .clients import API_KEY
from .sse import bench_sse_long_line
from .wire import MODEL_OPENAI, NON_STREAM_MAX_TOKENS, PROMPT, TEXT

PAT = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""


def _per_call(fn: Callable[[], Any], number: int, repeat: int) -> list[float]:
    """CPU seconds per call of ``fn``, one value per repetition."""
    out = []
    for _ in range(repeat):
        gc.collect()
        start = time.process_time()
        for _ in range(number):
            fn()
        out.append((time.process_time() - start) / number)
    return out


def _summary(samples: list[float]) -> dict[str, Any]:
    return {"median": statistics.median(samples), "samples": samples}


# -- create_provider --------------------------------------------------------------------------


def bench_create_provider(quick: bool) -> dict[str, Any]:
    import jackfield

    kwargs = {"base_url": "http://127.0.0.1:9/v1", "api_key": API_KEY, "model": MODEL_OPENAI}
    first = jackfield.create_provider("openai-compat", **kwargs)
    keyed = jackfield.create_provider("openai-compat", cache_key="bench", **kwargs)
    assert jackfield.create_provider("openai-compat", **kwargs) is first
    assert jackfield.create_provider("openai-compat", cache_key="bench", **kwargs) is keyed
    number, repeat = (5_000, 5) if quick else (50_000, 9)
    by_config = _per_call(
        lambda: jackfield.create_provider("openai-compat", **kwargs), number, repeat
    )
    by_key = _per_call(
        lambda: jackfield.create_provider("openai-compat", cache_key="bench", **kwargs),
        number,
        repeat,
    )
    return {"by_name_and_config": _summary(by_config), "by_cache_key": _summary(by_key)}


# -- estimate_tokens -----------------------------------------------------------------------------


def _word_level_encoding(words: list[str]) -> Any:
    """A realistic-size BPE (whole words are single tokens), built offline.

    The vocabulary is prefix-closed ("w", "wo", "wor", ...) so BPE reaches every word.
    """
    import tiktoken

    ranks = {bytes([i]): i for i in range(256)}
    for word in words:
        for variant in (word, " " + word):
            raw = variant.encode()
            for k in range(2, len(raw) + 1):
                ranks.setdefault(raw[:k], len(ranks))
    return tiktoken.Encoding(
        name="bench_bpe",
        pat_str=PAT,
        mergeable_ranks=ranks,
        special_tokens={"<|endoftext|>": len(ranks)},
    )


def bench_estimate_tokens(quick: bool) -> dict[str, Any]:
    from jackfield.tokens import estimate_tokens, register_encoding
    from jackfield.types import Message

    rng = random.Random(0)
    letters = "abcdefghijklmnopqrstuvwxyz"
    words = ["".join(rng.choices(letters, k=rng.randint(2, 9))) for _ in range(3000)]
    enc = _word_level_encoding(words)
    register_encoding("o200k_base", enc)
    weights = [1 / (i + 1) for i in range(len(words))]  # Zipf-like
    messages = [Message.system("You are a helpful assistant.")]
    total = 0
    while total < 10_000:
        n = rng.randint(20, 200)
        text = " ".join(rng.choices(words, weights, k=n)) + ". 42, <|endoftext|>\n"
        role = "user" if len(messages) % 2 else "assistant"
        messages.append(Message(role, text))
        total += len(enc.encode_ordinary(text))
    joined = "".join(m.text for m in messages)
    raw_tokens = len(enc.encode_ordinary(joined))

    def estimate() -> int:
        return estimate_tokens(messages, model="gpt-4o")

    estimated = estimate()
    number, repeat = (5, 5) if quick else (25, 9)
    # interleaved, so a busy moment of the machine hits both sides alike
    t_est: list[float] = []
    t_ord: list[float] = []
    t_enc: list[float] = []
    for _ in range(repeat):
        t_est += _per_call(estimate, number, 1)
        t_ord += _per_call(lambda: enc.encode_ordinary(joined), number, 1)
        t_enc += _per_call(lambda: enc.encode(joined, disallowed_special=()), number, 1)
    def paired(a: list[float], b: list[float]) -> float:  # as benchmarks.run.paired_ratio
        return statistics.median(x / y for x, y in zip(a, b, strict=True))

    return {
        "messages": len(messages),
        "tokens_raw": raw_tokens,
        "tokens_estimated": estimated,
        "estimate_tokens": _summary(t_est),
        "encode_ordinary": _summary(t_ord),
        "encode": _summary(t_enc),
        "ratio_vs_encode_ordinary": paired(t_est, t_ord),
        "ratio_vs_encode": paired(t_est, t_enc),
    }


# -- response cache ------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextlib.contextmanager
def _redis_server() -> Iterator[str | None]:
    """A throw-away redis-server on a free loopback port (``None`` if there is none)."""
    binary = shutil.which("redis-server")
    if binary is None:
        yield None
        return
    port = _free_port()
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.Popen(
            [
                binary,
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                tmp,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                with (
                    contextlib.suppress(OSError),
                    socket.create_connection(("127.0.0.1", port), timeout=0.2),
                ):
                    break
                time.sleep(0.05)
            yield f"redis://127.0.0.1:{port}/0"
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def bench_response_cache(base_url: str, quick: bool) -> dict[str, Any]:
    try:
        from jackfield.cache import open_cache  # noqa: F401
    except ImportError as exc:
        return {"skipped": f"jackfield.cache is not available ({exc})"}
    from jackfield.plugins.openai_compat import OpenAICompatProvider

    number, repeat = (200, 3) if quick else (2_000, 7)
    loop = asyncio.new_event_loop()
    out: dict[str, Any] = {}

    def measure(provider: Any, *, cache: bool | None) -> list[float]:
        async def calls() -> None:
            for _ in range(number):
                r = await provider.generate(PROMPT, max_tokens=NON_STREAM_MAX_TOKENS, cache=cache)
                assert r.content == TEXT

        loop.run_until_complete(calls())  # warm-up; fills the cache
        samples = []
        for _ in range(repeat):
            gc.collect()
            start = time.process_time()
            loop.run_until_complete(calls())
            samples.append((time.process_time() - start) / number)
        return samples

    config = {"base_url": base_url + "/v1", "api_key": API_KEY, "model": MODEL_OPENAI}
    plain = OpenAICompatProvider(**config)
    out["uncached"] = _summary(measure(plain, cache=False))
    loop.run_until_complete(plain.aclose())

    with tempfile.TemporaryDirectory() as tmp, _redis_server() as redis_url:
        specs = {"memory": "memory", "sqlite": f"sqlite:{os.path.join(tmp, 'cache.db')}"}
        if redis_url is not None:
            specs["redis"] = redis_url
        else:
            out["redis"] = {"skipped": "no redis-server binary"}
        for backend, spec in specs.items():
            try:
                provider = OpenAICompatProvider(cache=spec, **config)
                out[backend] = _summary(measure(provider, cache=True))
                loop.run_until_complete(provider.aclose())
                close = getattr(provider.response_cache, "aclose", None)
                if close is not None:
                    loop.run_until_complete(close())
            except Exception as exc:  # a backend that is not there yet is reported
                out[backend] = {"skipped": f"{type(exc).__name__}: {exc}"}
    loop.close()
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("base_url")
    parser.add_argument("--cpu", type=int, default=None)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    out = os.fdopen(os.dup(sys.stdout.fileno()), "w")
    sys.stdout = sys.stderr
    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})
    os.environ.setdefault("JACKFIELD_TOKENS_OFFLINE", "1")  # never download a vocabulary
    result = {
        "create_provider": bench_create_provider(args.quick),
        "estimate_tokens": bench_estimate_tokens(args.quick),
        "response_cache": bench_response_cache(args.base_url, args.quick),
        "sse_long_line": bench_sse_long_line(args.quick),
    }
    out.write(json.dumps(result) + "\n")
    out.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
