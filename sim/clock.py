"""The simulators' clock: the same ``SHUANGDA_CLOCK`` spec the services run with.

The demo starts every service with ``SHUANGDA_CLOCK=accelerated:<start>:<factor>@<anchor>``
(dev mode) and builds the simulators' clock from the very same text. The anchor
(one wall-clock instant) makes every process read the same simulated time, so a
bureau that "answers after two working days" does so two simulated working days
after the assignment, as routing counts them — with no estimate of one process's
clock from another's.
"""
from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta, timezone

from shared.clock import AcceleratedClock, Clock, clock_from_spec


def accelerated_spec(start: datetime, factor: float, anchor: float | None = None) -> str:
    """``accelerated:<ISO start, UTC>:<factor>@<anchor>`` — the value of ``SHUANGDA_CLOCK``; the anchor
    (Unix seconds, default now) is the wall-clock instant at which the simulated clock reads `start`."""
    if start.tzinfo is None:
        raise ValueError("start must be timezone-aware")
    iso = start.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")
    return f"accelerated:{iso}:{factor:g}@{time.time() if anchor is None else anchor:.3f}"


class SimClock:
    """Simulated time for the simulators (the services' own clock) and wall-clock waits."""

    def __init__(self, spec: str) -> None:
        self.spec = spec
        self.clock: Clock = clock_from_spec(spec, dev=True)
        self.factor = self.clock.factor if isinstance(self.clock, AcceleratedClock) else 1.0

    def now(self) -> datetime:
        return self.clock.now()

    def wall_seconds_until(self, at: datetime) -> float:
        """Wall-clock seconds until simulated instant `at`."""
        return max(0.0, (at - self.now()).total_seconds() / self.factor)

    def wall_seconds(self, simulated: timedelta) -> float:
        return simulated.total_seconds() / self.factor

    async def sleep_until(self, at: datetime, stop: asyncio.Event | None = None) -> bool:
        """Sleep until simulated instant `at` (re-checked each second); False if `stop` came first."""
        while True:
            wait = self.wall_seconds_until(at)
            if wait <= 0:
                return True
            if stop is None:
                await asyncio.sleep(min(wait, 1.0))
                continue
            try:
                await asyncio.wait_for(stop.wait(), timeout=min(wait, 1.0))
                return False
            except asyncio.TimeoutError:
                continue
