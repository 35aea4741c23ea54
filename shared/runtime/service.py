"""Running one service process: the HTTP app, consumers, relay and any other
loops side by side until SIGTERM/SIGINT, then a clean stop.

A composition root builds its parts and hands them to `run_service`; nothing
here connects at import time.
"""
from __future__ import annotations

import asyncio
import logging
import signal
from typing import Awaitable, Callable, Sequence

from fastapi import FastAPI

from shared.http import serve

log = logging.getLogger(__name__)

Loop = Callable[[asyncio.Event], Awaitable[None]]


async def run_service(
    name: str,
    *,
    app: FastAPI | None,
    host: str,
    port: int,
    loops: Sequence[Loop],
    stop: asyncio.Event | None = None,
    shutdown_grace: float = 10.0,
) -> None:
    """Run until a signal (or `stop`) arrives. A loop that dies stops the process
    (non-zero exit through the raised error), so a supervisor restarts it
    instead of leaving a half-working service."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):
            pass
    tasks = [asyncio.create_task(fn(stop), name=getattr(fn, "__qualname__", "loop")) for fn in loops]
    if app is not None:
        tasks.append(asyncio.create_task(serve(app, host, port, stop), name="http"))
    log.info("%s started", name, extra={"port": port})
    failed: BaseException | None = None
    pending = set(tasks)
    while pending and not stop.is_set():
        done, pending = await asyncio.wait(pending | {asyncio.ensure_future(stop.wait())}, return_when=asyncio.FIRST_COMPLETED)
        pending = {t for t in pending if t in tasks}
        for task in done:
            if task in tasks and task.exception() is not None:
                failed = task.exception()
                log.error("%s: %s failed", name, task.get_name(), exc_info=failed)
                stop.set()
    stop.set()
    _, still_running = await asyncio.wait(tasks, timeout=shutdown_grace)
    for task in still_running:  # e.g. a client stuck talking to a broker that is down
        log.warning("%s: %s did not stop within %.0fs; cancelling", name, task.get_name(), shutdown_grace)
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    log.info("%s stopped", name)
    if failed is not None:
        raise SystemExit(1)
