"""The one clock every service reads time through.

Production uses the wall clock. The demo and tests replay a day faster: an
`AcceleratedClock` reads `start` at one wall-clock instant (its anchor) and
runs `factor` times faster than the wall clock from there, so deadlines,
breaches and publicity expiries come due in minutes. A `ManualClock` is moved
by tests. Configure with ``SHUANGDA_CLOCK`` = ``wall`` (default) or
``accelerated:<ISO start>:<factor>[@<anchor, Unix seconds>]`` (dev mode only).

The anchor is what lets several processes agree: every process given the same
spec reads the same simulated time, however many seconds apart they started.
Without one, the clock anchors where it is built.
"""
from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, timezone-aware UTC."""
        ...


class WallClock:
    def now(self) -> datetime:
        return datetime.now(timezone.utc)


class AcceleratedClock:
    """Reads `start` at wall-clock instant `anchor` (Unix seconds; default: now) and advances `factor`
    seconds per wall-clock second."""

    def __init__(self, start: datetime, factor: float, anchor: float | None = None) -> None:
        if start.tzinfo is None:
            raise ValueError("start must be timezone-aware")
        if factor <= 0:
            raise ValueError("factor must be positive")
        self.start = start.astimezone(timezone.utc)
        self.factor = factor
        self.anchor = time.time() if anchor is None else anchor

    def now(self) -> datetime:
        return self.start + timedelta(seconds=(time.time() - self.anchor) * self.factor)


class ManualClock:
    """The wall clock shifted by an offset that tests move, or frozen at an instant."""

    def __init__(self, at: datetime | None = None, offset: timedelta = timedelta(0)) -> None:
        self.at = at.astimezone(timezone.utc) if at is not None else None
        self.offset = offset

    def now(self) -> datetime:
        base = self.at if self.at is not None else datetime.now(timezone.utc)
        return base + self.offset

    def advance(self, delta: timedelta) -> None:
        self.offset += delta


def clock_from_spec(spec: str | None, *, dev: bool) -> Clock:
    """Build the clock named by ``SHUANGDA_CLOCK``; anything but the wall clock needs dev mode."""
    if not spec or spec == "wall":
        return WallClock()
    if not dev:
        raise ValueError("clock: only the wall clock is allowed outside dev mode")
    kind, _, rest = spec.partition(":")
    if kind == "accelerated":
        rest, _, anchor_text = rest.partition("@")
        start_text, _, factor_text = rest.rpartition(":")
        try:
            start = datetime.fromisoformat(start_text.replace("Z", "+00:00"))
            factor = float(factor_text)
            anchor = float(anchor_text) if anchor_text else None
        except ValueError:
            raise ValueError(f"clock: expected accelerated:<ISO start>:<factor>[@<anchor>], got {spec!r}") from None
        return AcceleratedClock(start, factor, anchor)
    raise ValueError(f"clock: unknown kind {kind!r} (wall, accelerated)")
