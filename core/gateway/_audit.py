"""Audit: who called what, reported through the observer hooks and to a JSON-lines file.

While the gateway serves a call, :func:`current_token_name` returns the calling token's
name (never its value), so any observer plugin (``jackfield_request_started``,
``jackfield_response_received``, ...) can attribute the call. :class:`AuditSink` writes
one JSON line per call, off the request path: a handler only appends to a bounded
queue; a background task writes batches from a worker thread (a full queue drops the
oldest lines and counts them, rather than grow or block a call).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import deque
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from .._markers import hookimpl
from ._metrics import Metrics

__all__ = ["AuditSink", "GatewayObserver", "current_token_name"]

log = logging.getLogger("jackfield.gateway")

_CALLER: ContextVar[str | None] = ContextVar("jackfield_gateway_caller", default=None)


def current_token_name() -> str | None:
    """The name of the client token whose call is running (``None`` outside a call)."""
    return _CALLER.get()


def set_caller(name: str | None) -> Any:
    """Set the calling token's name for this task; returns the reset token."""
    return _CALLER.set(name)


class AuditSink:
    """A JSON-lines audit file, written by a background task."""

    def __init__(self, path: Path, *, max_pending: int = 10_000) -> None:
        self.path = path
        self._pending: deque[dict[str, Any]] = deque(maxlen=max_pending)
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self.dropped = 0
        self.written = 0

    def start(self) -> None:
        """Start the writer task (on the running loop)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._task = asyncio.get_running_loop().create_task(self._run())

    def record(self, entry: dict[str, Any]) -> None:
        """Queue one line; never blocks, never raises."""
        if len(self._pending) == self._pending.maxlen:
            self.dropped += 1
        self._pending.append(entry)
        self._wake.set()

    def _write(self, lines: list[str]) -> None:
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write("".join(lines))

    async def _flush(self) -> None:
        while self._pending:
            batch = [
                json.dumps(self._pending.popleft(), separators=(",", ":")) + "\n"
                for _ in range(min(len(self._pending), 1000))
            ]
            try:
                await asyncio.to_thread(self._write, batch)
                self.written += len(batch)
            except OSError as exc:
                self.dropped += len(batch)
                log.error("jackfield gateway: cannot write the audit log (%s)", exc)

    async def _run(self) -> None:
        while not self._closing:
            await self._wake.wait()
            self._wake.clear()
            await self._flush()

    async def aclose(self) -> None:
        """Write what is queued, then stop the writer.

        The writer is asked to finish, not cancelled: a cancelled ``to_thread`` leaves
        its thread writing, and a second flush beside it could put later lines first."""
        self._closing = True
        self._wake.set()
        if self._task is not None:
            await asyncio.wait({self._task})  # its own end, whatever it was; ours propagates
            self._task = None
        await self._flush()


class GatewayObserver:
    """The gateway's own observer plugin: cache hits and router failovers, as metrics."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    @hookimpl
    def jackfield_response_received(self, response: Any) -> None:
        """Count answers from the response cache."""
        if getattr(response, "cached", False):
            self.metrics.cache_hits.inc()

    @hookimpl
    def jackfield_router_event(self, event: Any) -> None:
        """Count a router's failovers, by the target failed over from."""
        if getattr(event, "kind", None) == "failover":
            self.metrics.failovers.inc(str(event.target))
