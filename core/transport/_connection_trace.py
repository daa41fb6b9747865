"""The aiohttp connector that marks the running :class:`~._attempt.Attempt`, and the
resend of a request that met a stale pooled connection.

A server may close a kept-alive connection right after an answer (``llama-server`` does
after each stream, though it sent ``Keep-Alive``); the client has not yet seen the close
when it takes that connection from the pool for the next request, which then fails
while it is being written ("Can not write request body"). Such a request never reached
the server: :func:`resending` sends it again at once, on another connection, without a
backoff and without counting an attempt (httpx and urllib3 drop such a connection before
using it). Only a write failure on a *reused* connection is resent: a request the server
may have read (it reset the connection afterwards) is an attempt like any other, retried
by the policy or not at all.

Imported only by code that already uses aiohttp.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import aiohttp

from ._attempt import current_attempt, tracking

__all__ = ["TrackingConnector", "met_stale_connection", "resending"]

log = logging.getLogger("jackfield.transport")

T = TypeVar("T")

# aiohttp raises this when it writes to a connection whose close it has seen meanwhile.
_WRITE_TO_CLOSED: tuple[type[BaseException], ...] = tuple(
    cls for cls in (getattr(aiohttp, "ClientConnectionResetError", None),) if cls is not None
)


class TrackingConnector(aiohttp.TCPConnector):
    """A ``TCPConnector`` that marks the running :class:`~._attempt.Attempt`: waiting in
    :meth:`connect` (for a free pooled connection, or to connect), and handed a
    connection it handed out before (reused).

    Cheaper than an ``aiohttp.TraceConfig``, which costs every request a round of signal
    coroutines and every response chunk one more.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._handed_out: weakref.WeakSet[Any] = weakref.WeakSet()

    async def connect(self, req: Any, traces: Any, timeout: Any) -> Any:  # noqa: ASYNC109
        """As ``TCPConnector.connect``, marking the current attempt."""
        attempt = current_attempt()
        if attempt is None:
            return await super().connect(req, traces, timeout)
        attempt.queued = True  # left set if the wait is cancelled: the deadline reads it
        connection = await super().connect(req, traces, timeout)
        attempt.queued = False
        protocol = connection.protocol
        if protocol in self._handed_out:
            attempt.reused = True
        elif protocol is not None:
            self._handed_out.add(protocol)
        return connection


def met_stale_connection(exc: BaseException | None) -> bool:
    """Whether ``exc`` is a request that failed while being written to a connection the
    server had closed ("Can not write request body", "Cannot write to closing
    transport"): the server cannot have read it. A failure after the request was
    written (a reset, "Server disconnected") is not: the server may have acted on it."""
    seen = 0
    while exc is not None and seen < 8:
        if isinstance(exc, _WRITE_TO_CLOSED):
            return True
        if isinstance(exc, aiohttp.ClientOSError) and "Can not write request body" in str(exc):
            return True
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return False


async def resending(send: Callable[[], Awaitable[T]], *, max_resends: int) -> T:
    """``await send()``; again, at once, while it fails writing to a stale reused
    connection (:func:`met_stale_connection`).

    ``send`` sends the request and reads the response head. Each resend discards one
    stale connection; at most ``max_resends`` (the pool's size) are made.
    """
    attempt = current_attempt()
    if attempt is None:
        with tracking():
            return await resending(send, max_resends=max_resends)
    resends = 0
    while True:
        attempt.reused = False
        try:
            return await send()
        except Exception as exc:
            if resends >= max_resends or not attempt.reused or not met_stale_connection(exc):
                raise
            resends += 1
            log.debug("resending on a new connection: the pooled one was closed (%r)", exc)
