"""Every call's own deadline: ``timeout``, enforced by jackfield, not by the transport.

A transport's timeouts bound what it knows about (connecting, one socket read); a server
that sends broken chunked framing, or drips a byte at a time, outlives them all. So each
attempt runs under a :class:`Deadline` that nothing inside can outlive:

- an attempt of ``generate`` is bounded as a whole (``async with Deadline(...)``);
- a stream bounds each wait for its next event, the first included (:func:`idle_bounded`);
- a ``generate`` that consumes a stream (:meth:`Provider._generate_by_streaming`) trades
  the whole-call bound for the per-event one (:func:`per_event`): an answer that keeps
  coming is not cut off.

A deadline that runs out cancels the waiting task and raises
:class:`ProviderTimeoutError`, saying so when the time went waiting for a free pooled
connection (``max_connections``).

One timer per event loop serves every deadline in it (:class:`_Watchdog`): a deadline
costs a dict entry, not a timer handle (a loop that runs thousands of calls without
ever yielding, cache hits or the mock, accumulates nothing). A whole call's deadline,
and a stream's wait for its first event, fire at most :data:`GRAIN` seconds late. A
stream's later waits cost a few attribute writes and no clock read: the watchdog, which
looks at least every ``seconds / 8`` while a wait runs, dates a wait from the first look
that sees it, so those fire at most an eighth of ``seconds`` late, never early.
"""

from __future__ import annotations

import math
import sys
import weakref
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from contextvars import ContextVar, Token
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

from ..errors import ProviderTimeoutError
from ..transport._attempt import Attempt, set_attempt

if TYPE_CHECKING:
    import asyncio

__all__ = ["GRAIN", "Deadline", "idle_bounded", "per_event"]

T = TypeVar("T")

GRAIN = 0.02
"""Seconds: the most a precisely started deadline fires late (the watchdog's timer is not
re-armed sooner)."""

LOOKS = 8
"""A stream's later waits are looked at ``LOOKS`` times per ``seconds`` (at least every
:data:`GRAIN`): the most such a deadline fires late is ``seconds / LOOKS``."""

_CALL: ContextVar[Deadline | None] = ContextVar("jackfield_call_deadline", default=None)


class _Watchdog:
    """The one timer of an event loop: cancels the tasks whose deadline passed."""

    __slots__ = ("__weakref__", "_handle", "_when", "deadlines", "period")

    def __init__(self) -> None:
        # Nothing here may reference the loop: the loop keys this watchdog weakly.
        self.deadlines: dict[int, Deadline] = {}
        # Weakly: a handle references its loop, and the loop keys this watchdog weakly.
        self._handle: weakref.ref[asyncio.TimerHandle] | None = None
        self._when = math.inf
        self.period = math.inf
        """The timer fires again within this many seconds (while a wait runs)."""

    def wake_by(self, when: float, loop: asyncio.AbstractEventLoop) -> None:
        """Make sure the timer fires at ``when`` or earlier."""
        if when >= self._when:
            return
        handle = self._handle() if self._handle is not None else None
        if handle is not None:
            handle.cancel()
        self._when = when
        self._handle = weakref.ref(loop.call_at(when, self._fire))

    def _fire(self) -> None:
        import asyncio

        loop = asyncio.get_running_loop()
        self._handle, self._when, self.period = None, math.inf, math.inf
        now = loop.time()
        earliest = period = math.inf
        for deadline in list(self.deadlines.values()):
            if not deadline.waiting:
                continue  # its next start() wakes the timer again if need be
            if deadline.seen != deadline.waits:
                # a wait begun since the last look (restart reads no clock): it began by
                # now, so it is dated now, late by at most one period, never early
                deadline.seen = deadline.waits
                deadline.due = now + deadline.seconds
            if deadline.due <= now:
                deadline.expire()
            else:
                period = min(period, deadline.period)
                earliest = min(earliest, deadline.due, now + deadline.period)
        if earliest < math.inf:
            self.wake_by(max(earliest, now + GRAIN), loop)
            self.period = period


_WATCHDOGS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Watchdog] = (
    weakref.WeakKeyDictionary()
)


def _task_getter(loop: asyncio.AbstractEventLoop) -> Callable[[], asyncio.Task[Any] | None]:
    """A no-argument callable giving the running task of ``loop``, as cheap as can be:
    CPython 3.11's ``asyncio.current_task`` is Python code, its task table a C dict."""
    import asyncio
    import functools

    tasks = getattr(asyncio.tasks, "_current_tasks", None)
    if sys.version_info < (3, 12) and isinstance(tasks, dict):
        return functools.partial(tasks.get, loop)
    return functools.partial(asyncio.current_task, loop)  # C code from 3.12 on


def _watchdog(loop: asyncio.AbstractEventLoop) -> _Watchdog:
    dog = _WATCHDOGS.get(loop)
    if dog is None:
        dog = _WATCHDOGS[loop] = _Watchdog()
    return dog


class Deadline:
    """``async with Deadline(seconds, ...)``: the block ends within ``seconds``, else
    :class:`ProviderTimeoutError`.

    ``what`` names what did not arrive in time ("a complete answer", "the next event").
    A stream's per-event waits reuse one deadline: :meth:`start` and :meth:`stop` around
    each wait (a few attribute writes: the hot path), :meth:`close` at the end.
    """

    __slots__ = (
        "_current_task",
        "_dog",
        "_loop",
        "_time",
        "_tokens",
        "attempt",
        "due",
        "expired",
        "max_connections",
        "period",
        "seconds",
        "seen",
        "task",
        "waiting",
        "waits",
        "what",
    )

    def __init__(self, seconds: float, *, what: str, max_connections: int) -> None:
        self.seconds = seconds
        self.period = max(GRAIN, seconds / LOOKS)
        """How often the watchdog must look while a restarted wait runs."""
        self.waits = 0
        """Counts the waits begun; the watchdog dates those it has not ``seen``."""
        self.seen = 0
        self.what = what
        self.max_connections = max_connections
        self.due = math.inf
        self.waiting = False
        """Whether a wait is running (the watchdog skips a deadline between waits)."""
        self.expired = False
        self.task: asyncio.Task[Any] | None = None
        self.attempt = Attempt()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._dog: _Watchdog | None = None
        self._time: Any = None
        self._current_task: Any = None
        self._tokens: tuple[Token[Deadline | None], Token[Attempt | None]] | None = None

    def start(self, *, track: bool = True) -> None:
        """Start a wait of at most ``seconds`` in the running task. ``track``: make this
        the context's deadline and attempt (what :func:`per_event` and the transport
        see)."""
        import asyncio

        loop = asyncio.get_running_loop()
        dog = self._dog
        if loop is not self._loop or dog is None:
            self.close()
            self._loop, dog = loop, _watchdog(loop)
            self._dog, self._time, self._current_task = dog, loop.time, _task_getter(loop)
            dog.deadlines[id(self)] = self
        self.task = self._current_task()
        self.expired = False
        self.due = due = loop.time() + self.seconds
        self.waits += 1
        self.seen = self.waits  # dated precisely: the watchdog keeps this due
        self.waiting = True
        if track:
            self.attempt.queued = self.attempt.reused = False
            self._tokens = (_CALL.set(self), set_attempt(self.attempt))
        if due < dog._when:
            dog.wake_by(due, loop)

    def restart(self) -> None:
        """:meth:`start` again, untracked, in the loop of the last start (the hot path of
        a stream: one wait per event). No clock read: the watchdog dates the wait."""
        dog = self._dog
        if dog is None:
            self.start(track=False)
            return
        self.task = self._current_task()
        self.expired = False
        self.waits += 1
        self.waiting = True
        if self.period < dog.period:  # the timer would look too rarely (or not at all)
            dog.wake_by(self._time() + self.period, self._loop)  # type: ignore[arg-type]
            dog.period = self.period

    def stop(self, exc: BaseException | None) -> None:
        """End the wait; :class:`ProviderTimeoutError` if it ran out and ``exc`` (what
        the wait raised) is the cancellation that caused."""
        self.waiting = False
        if self._tokens is not None:
            _CALL.reset(self._tokens[0])
            self._tokens[1].var.reset(self._tokens[1])
            self._tokens = None
        if not self.expired:
            return
        import asyncio

        assert self.task is not None
        # Our cancel is taken back; another one (the caller's) still propagates.
        others = self.task.uncancel()
        if exc is None or (isinstance(exc, asyncio.CancelledError) and others > 0):
            return
        raise ProviderTimeoutError(self._message()) from None

    def close(self) -> None:
        """No more waits: leave the watchdog."""
        if self._dog is not None:
            self._dog.deadlines.pop(id(self), None)
            self._dog = None

    async def __aenter__(self) -> Deadline:
        self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
        self.stop(exc)

    def expire(self) -> None:
        """The deadline passed: cancel the task waiting under it."""
        self.waiting = False
        if self.task is not None and not self.task.done():
            self.expired = True
            self.task.cancel()

    async def next_event(self, next_event: Callable[[], Awaitable[T]]) -> T:
        """``await next_event()`` as one wait, already started (:meth:`start` or
        :meth:`restart`); ``StopAsyncIteration`` passes through. For the few waits of a
        stream's head; its loop inlines this (see :func:`idle_bounded`)."""
        try:
            event = await next_event()
        except StopAsyncIteration:
            self.stop(None)
            raise
        except BaseException as exc:
            self.stop(exc)
            raise
        self.stop(None)
        return event

    def lift(self) -> None:
        """No more deadline for the rest of this wait (see :func:`per_event`)."""
        self.due = math.inf

    def _message(self) -> str:
        if self.attempt.queued:
            return (
                f"no free connection within timeout={self.seconds:g} s: all "
                f"max_connections={self.max_connections} connections of this event loop "
                "stayed busy"
            )
        return f"{self.what} did not arrive within timeout={self.seconds:g} s"


def per_event() -> None:
    """Lift the whole-call deadline of the running :class:`Deadline` block, for a call
    that bounds each event instead (:func:`idle_bounded`)."""
    deadline = _CALL.get()
    if deadline is not None:
        deadline.lift()


async def idle_bounded(
    events: AsyncIterator[T], seconds: float, *, max_connections: int
) -> AsyncGenerator[T, None]:
    """``events``, each awaited within ``seconds`` (the wait for the first included).

    The deadline covers only the wait for an event, never the caller's own work between
    events. Closing this generator closes ``events``.
    """
    deadline = Deadline(seconds, what="the next event", max_connections=max_connections)
    deadline.start()  # tracked: the first wait connects, and the transport marks it
    next_event = events.__anext__
    try:
        while True:
            try:
                event = await next_event()
            except StopAsyncIteration:
                deadline.stop(None)
                return
            except BaseException as exc:
                deadline.stop(exc)
                raise
            if deadline.expired or deadline._tokens is not None:
                deadline.stop(None)
            else:  # stop()'s common case, inline: the hot path
                deadline.waiting = False
            yield event
            dog = deadline._dog
            if dog is None or deadline.period < dog.period:
                deadline.restart()
            else:  # restart()'s common case, inline: the hot path
                deadline.task = deadline._current_task()
                deadline.expired = False
                deadline.waits += 1
                deadline.waiting = True
    finally:
        deadline.close()
        close = getattr(events, "aclose", None)
        if close is not None:
            import contextlib

            with contextlib.suppress(Exception):  # must not hide the original error
                await close()
