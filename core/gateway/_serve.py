"""Running a gateway until SIGINT or SIGTERM, then draining it (``jackfield serve``)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable

from ._app import Gateway
from ._config import GatewayConfig

__all__ = ["serve"]

log = logging.getLogger("jackfield.gateway")


async def serve(
    config: GatewayConfig,
    *,
    host: str | None = None,
    port: int | None = None,
    ready: Callable[[Gateway], None] | None = None,
) -> None:
    """Serve ``config`` until SIGINT or SIGTERM; then stop listening, let running calls
    finish within ``drain_seconds`` and exit. ``ready`` is called once listening."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    gateway = Gateway(config)
    try:
        await gateway.start(host, port)
        log.warning("jackfield gateway listening on %s", gateway.url)
        if ready is not None:
            ready(gateway)
        await stop.wait()
        log.warning("jackfield gateway: draining (up to %s s)", config.drain_seconds)
    finally:
        await gateway.aclose()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(sig)
