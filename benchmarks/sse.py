"""The SSE decoder on one long line: ``python -m benchmarks.sse [--quick]``.

One ``data:`` line of 1 MiB and of 8 MiB (256 KiB and 2 MiB with ``--quick``) is fed to
:class:`jackfield.wire._sse.SSEDecoder` 1 KiB at a time, as a slow server or a small
socket buffer delivers it. The figure is CPU per MiB at each size, the median of the
repetitions, and the ratio of the long line's to the short one's: ~1 for a linear
decoder, ~8 for one that re-copies the pending line with every chunk. Prints one JSON
object.
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import time
from typing import Any

CHUNK = 1024
MIB = 1024 * 1024


def _feed_seconds(size: int) -> float:
    """CPU seconds to decode one ``size``-byte data line arriving in 1 KiB chunks."""
    from jackfield.wire._sse import SSEDecoder

    piece = b"x" * CHUNK
    decoder = SSEDecoder(max_event_bytes=2 * size)
    gc.collect()
    start = time.process_time()
    decoder.feed(b"data: ")
    for _ in range(size // CHUNK):
        decoder.feed(piece)
    (event,) = decoder.feed(b"\n\n")
    elapsed = time.process_time() - start
    assert len(event.data) == size  # the work was done
    return elapsed


def bench_sse_long_line(quick: bool) -> dict[str, Any]:
    """CPU per MiB for a short and a long line, and their ratio."""
    short, long = (MIB // 4, 2 * MIB) if quick else (MIB, 8 * MIB)
    repeat = 3 if quick else 5
    _feed_seconds(short)  # warm-up: the import and first allocations are not measured
    per_short = [_feed_seconds(short) / (short / MIB) for _ in range(repeat)]
    per_long = [_feed_seconds(long) / (long / MIB) for _ in range(repeat)]
    ratio = statistics.median(per_long) / statistics.median(per_short)
    return {
        "chunk_bytes": CHUNK,
        "short_bytes": short,
        "long_bytes": long,
        "short_per_mib": {"median": statistics.median(per_short), "samples": per_short},
        "long_per_mib": {"median": statistics.median(per_long), "samples": per_long},
        "ratio_long_vs_short": ratio,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.sse", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="256 KiB and 2 MiB lines")
    args = parser.parse_args(argv)
    print(json.dumps(bench_sse_long_line(args.quick)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
