"""What one attempt's connection did, as the transport saw it: pooled, reused, queued.

An :class:`Attempt` lives in a context variable for the duration of one attempt (see
:func:`tracking`). The transport's connector (:mod:`._connection_trace`) marks it while
the request waits for a connection and when it is sent on a reused one; the
resend rule (:func:`~jackfield.transport._connection_trace.resending`) and the
provider's deadline read it. Nothing here imports an HTTP client.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar, Token

__all__ = ["Attempt", "current_attempt", "set_attempt", "tracking"]


class Attempt:
    """The connection facts of the attempt running in this context."""

    __slots__ = ("queued", "reused")

    def __init__(self) -> None:
        self.queued = False
        """Waiting, now, for a connection: a free one of a full pool (``max_connections``)
        or, within ``connect_timeout``, a new one."""
        self.reused = False
        """The request went out on a pooled connection used before."""


_CURRENT: ContextVar[Attempt | None] = ContextVar("jackfield_attempt", default=None)


def current_attempt() -> Attempt | None:
    """The attempt running in this context, if one is tracked."""
    return _CURRENT.get()


def set_attempt(attempt: Attempt) -> Token[Attempt | None]:
    """Track ``attempt`` in this context; reset the returned token to stop."""
    return _CURRENT.set(attempt)


@contextlib.contextmanager
def tracking() -> Iterator[Attempt]:
    """Track a new :class:`Attempt` in this context until the block ends."""
    attempt = Attempt()
    token = _CURRENT.set(attempt)
    try:
        yield attempt
    finally:
        _CURRENT.reset(token)
