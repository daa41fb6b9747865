"""The router's cost: one healthy target through the router against that target called
directly, in one pinned process: ``python -m benchmarks.router [--quick]``.

Both call jackfield's ``openai-compat`` provider against the benchmark's fake server
(its own process, pinned to the other CPU when there are two), sequentially, the same
request each time; every answer is checked. The figure is client CPU per request
(``time.process_time()``), and the ratio is paired: repetition ``i`` of the router and
of the direct call run back to back (see ``benchmarks.run.paired_ratio``). The router
runs as configured by default: memory state, strategy ``fallback``, breaker on.
Prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import statistics
import sys
import time
from typing import Any

from .clients import API_KEY
from .run import paired_ratio, start_server, stop_server
from .wire import MODEL_OPENAI, NON_STREAM_MAX_TOKENS, PROMPT, TEXT


def bench_router(base_url: str, quick: bool) -> dict[str, Any]:
    import jackfield

    number, repeat = (300, 5) if quick else (2_000, 11)
    config = {"base_url": base_url + "/v1", "api_key": API_KEY, "model": MODEL_OPENAI}
    # both from the registry, as an application gets them (the same hooks on both)
    direct = jackfield.create_provider("openai-compat", fresh=True, **config)
    router = jackfield.create_provider(
        "router", targets=[{"target": "openai-compat", **config}], fresh=True
    )
    loop = asyncio.new_event_loop()

    def once(provider: Any) -> float:
        async def calls() -> None:
            for _ in range(number):
                r = await provider.generate(PROMPT, max_tokens=NON_STREAM_MAX_TOKENS)
                assert r.content == TEXT

        gc.collect()
        start = time.process_time()
        loop.run_until_complete(calls())
        return (time.process_time() - start) / number

    once(direct)  # warm-up: connections, first calls
    once(router)
    plain: list[float] = []
    routed: list[float] = []
    for i in range(repeat):  # interleaved, alternating which goes first
        if i % 2:
            routed.append(once(router))
            plain.append(once(direct))
        else:
            plain.append(once(direct))
            routed.append(once(router))
    loop.run_until_complete(direct.aclose())
    loop.run_until_complete(router.aclose())
    loop.close()
    return {
        "requests_per_repetition": number,
        "direct_us": statistics.median(plain) * 1e6,
        "router_us": statistics.median(routed) * 1e6,
        "ratio": paired_ratio(routed, plain),
        "direct_samples": plain,
        "router_samples": routed,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    os.environ.setdefault("JACKFIELD_TOKENS_OFFLINE", "1")
    two = (os.cpu_count() or 1) >= 2
    server, port = start_server(1 if two else None)
    try:
        if two:
            os.sched_setaffinity(0, {0})
        result = bench_router(f"http://127.0.0.1:{port}", args.quick)
    finally:
        stop_server(server)
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
