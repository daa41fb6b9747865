"""LoopLocal: one resource per event loop, closed when the loop ends, loops not kept alive."""

from __future__ import annotations

import asyncio
import gc
import itertools
import weakref

from jackfield.transport._loop_local import LoopLocal

CLOSED: list[int] = []
SERIAL = itertools.count()


class Resource:
    def __init__(self) -> None:
        self.loop = asyncio.get_running_loop()  # like an SDK client bound to its loop
        self.serial = next(SERIAL)  # not id(): ids are reused once objects are freed
        self.closed = False

    async def close(self) -> None:
        self.closed = True
        CLOSED.append(self.serial)


def test_one_resource_per_loop_closed_at_shutdown_and_loops_released() -> None:
    local: LoopLocal[Resource] = LoopLocal(Resource, Resource.close)
    made: list[int] = []
    loops: list[weakref.ref[asyncio.AbstractEventLoop]] = []
    CLOSED.clear()

    async def use() -> None:
        loops.append(weakref.ref(asyncio.get_running_loop()))
        first = local.get()
        assert local.get() is first and local.peek() is first
        made.append(first.serial)

    for _ in range(5):
        asyncio.run(use())
    gc.collect()
    assert len(set(made)) == 5
    assert made == CLOSED  # each loop's resource was closed when that loop ended
    assert len(local) == 0
    assert [ref() for ref in loops] == [None] * 5


async def test_aclose_closes_this_loops_resource_and_a_new_one_is_built() -> None:
    local: LoopLocal[Resource] = LoopLocal(Resource, Resource.close)
    first = local.get()
    await local.aclose()
    assert first.closed and local.peek() is None
    second = local.get()
    assert second is not first and not second.closed
    await local.aclose()


async def test_a_resource_closed_behind_its_back_is_rebuilt() -> None:
    local: LoopLocal[Resource] = LoopLocal(Resource, Resource.close, is_closed=lambda r: r.closed)
    first = local.get()
    await first.close()
    second = local.get()
    assert second is not first and not second.closed
    assert local.get() is second and len(local) == 1
    await local.aclose()
    assert second.closed and len(local) == 0
