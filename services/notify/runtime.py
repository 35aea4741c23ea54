"""The event loop notify runs on: uvloop (in the lock file through uvicorn[standard]) when it is installed.

At 双11 rates notify's one process is CPU-bound on socket I/O — a request per delivery, Postgres and Kafka —
and uvloop's transports cost far less per call than asyncio's selector loop. Falls back to asyncio's loop."""
from __future__ import annotations

import asyncio
from typing import Any, Callable, Coroutine, TypeVar

T = TypeVar("T")


def event_loop_factory() -> Callable[[], asyncio.AbstractEventLoop]:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is in the lock file
        return asyncio.new_event_loop
    return uvloop.new_event_loop


def run(main: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run` on notify's event loop."""
    with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
        return runner.run(main)
