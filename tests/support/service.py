"""Start one service in this event loop, the way shared/runtime/service.main does, for tests.

    async with running_service(wiring.build, settings, base_url="http://intake.test") as (parts, http):
        ...

Builds the Parts on a pool of its own, runs the chosen loops (default: every loop of role ``all``: ``parts.loops`` and ``parts.api_loops``),
gives an in-process ASGI client for ``parts.app``, and on exit stops the loops (cancelling what
has not stopped after `stop_timeout`), closes ``parts.closers`` in reverse and the pool. The caller
runs ``wiring.prepare`` first (what ``shuangda migrate`` does)."""
from __future__ import annotations

import asyncio
import contextlib
from typing import Any, AsyncIterator, Awaitable, Callable

import httpx

from shared.db import create_pool
from shared.runtime.service import Parts, build_parts

Loop = Callable[[asyncio.Event], Awaitable[None]]


@contextlib.asynccontextmanager
async def running_service(build: Callable[..., Any], settings: Any, *, base_url: str, clock: Any = None,
                          loops: Callable[[Parts], list[Loop]] | None = None, stop_timeout: float = 20,
                          http_timeout: float = 30) -> AsyncIterator[tuple[Parts, httpx.AsyncClient]]:
    pool = await create_pool(settings.dsn, settings.schema, max_size=settings.pool_max_size)
    parts: Parts | None = None
    tasks: list[asyncio.Task[None]] = []
    stop = asyncio.Event()
    try:
        parts = await build_parts(build, settings, pool, clock=clock)
        chosen = loops(parts) if loops is not None else parts.for_role("test", "all").loops
        tasks = [asyncio.create_task(fn(stop)) for fn in chosen]
        http = httpx.AsyncClient(transport=httpx.ASGITransport(app=parts.app), base_url=base_url, timeout=http_timeout)
        try:
            yield parts, http
        finally:
            await http.aclose()
    finally:
        stop.set()
        if tasks:
            await asyncio.wait(tasks, timeout=stop_timeout)
            for t in tasks:
                if not t.done():
                    t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        for close in reversed(parts.closers if parts is not None else []):
            await close()
        await pool.close()
