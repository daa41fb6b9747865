"""The gateway's audit sink: lines in the order of the calls, none lost at shutdown."""

from __future__ import annotations

import asyncio
import json
import threading
from pathlib import Path

from jackfield.gateway._audit import AuditSink


async def test_closing_during_a_write_keeps_the_lines_in_order(tmp_path: Path) -> None:
    """``aclose`` while the writer's thread is still writing a batch waits for it: the
    lines queued after that batch follow it, never overtake it."""
    sink = AuditSink(tmp_path / "audit.jsonl")
    release = threading.Event()
    writing = threading.Event()
    write = sink._write

    def slow_first_write(lines: list[str]) -> None:
        if not writing.is_set():
            writing.set()
            release.wait(5)
        write(lines)

    sink._write = slow_first_write  # type: ignore[method-assign]
    sink.start()
    sink.record({"call": 1})
    assert await asyncio.to_thread(writing.wait, 5)  # the writer's thread holds line 1
    sink.record({"call": 2})
    closing = asyncio.ensure_future(sink.aclose())
    await asyncio.sleep(0.05)
    release.set()
    await asyncio.wait_for(closing, 5)
    lines = [json.loads(line) for line in sink.path.read_text().splitlines()]
    assert lines == [{"call": 1}, {"call": 2}]
    assert sink.written == 2 and sink.dropped == 0
