"""Run actions at simulated instants: a heap of due times (in wall-clock terms)
and one dispatcher that starts each action when it is due, at most
`concurrency` at once."""
from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import time
from datetime import datetime
from typing import Awaitable, Callable

from sim.clock import SimClock

log = logging.getLogger(__name__)

Action = Callable[[], Awaitable[None]]


class Scheduler:
    def __init__(self, clock: SimClock, *, concurrency: int = 24) -> None:
        self.clock = clock
        self._heap: list[tuple[float, int, str, Action]] = []
        self._seq = itertools.count()
        self._wake = asyncio.Event()
        self._sem = asyncio.Semaphore(concurrency)
        self._running: set[asyncio.Task[None]] = set()
        self.done = 0
        self.failed = 0

    @property
    def pending(self) -> int:
        return len(self._heap) + len(self._running)

    def at(self, when: datetime, action: Action, what: str = "") -> None:
        """Run `action` at simulated instant `when`."""
        due = time.monotonic() + self.clock.wall_seconds_until(when)
        heapq.heappush(self._heap, (due, next(self._seq), what, action))
        self._wake.set()

    def soon(self, action: Action, what: str = "") -> None:
        heapq.heappush(self._heap, (time.monotonic(), next(self._seq), what, action))
        self._wake.set()

    async def _run_one(self, what: str, action: Action) -> None:
        async with self._sem:
            try:
                await action()
                self.done += 1
            except Exception:
                self.failed += 1
                log.exception("simulated action %s failed", what)

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            now = time.monotonic()
            while self._heap and self._heap[0][0] <= now:
                _, _, what, action = heapq.heappop(self._heap)
                task = asyncio.create_task(self._run_one(what, action))
                self._running.add(task)
                task.add_done_callback(self._running.discard)
            wait = min(0.5, self._heap[0][0] - now) if self._heap else 0.5
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=max(0.005, wait))
            except asyncio.TimeoutError:
                pass
            if stop.is_set():
                break

    async def drain(self, timeout: float = 30.0) -> None:
        """Wait for the actions already started (not the ones still due later)."""
        if self._running:
            await asyncio.wait(set(self._running), timeout=timeout)
