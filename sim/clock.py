"""The simulators' clock: the same ``SHUANGDA_CLOCK`` spec the services run with.

The demo starts every service with ``SHUANGDA_CLOCK=accelerated:<start>:<factor>``
(dev mode) and builds the simulators' clock from the very same text, so a bureau
that "answers after two working days" does so two simulated working days after
the assignment, as routing counts them.

An accelerated clock starts counting when its process builds it, so processes
that built theirs a few wall-clock seconds apart disagree by those seconds ×
factor (hours, at demo speeds). `SimClock` therefore keeps one *frame* per
service it talks to: an estimate of how far that service's clock is ahead of
its own, first from a reading (`calibrate`: a service answered with its now),
then from the time stamps of the events the service sends (`observe`). The
hotlines act in intake's frame, the bureaus in routing's.
"""
from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from shared.clock import AcceleratedClock, Clock, clock_from_spec

FRAMES = ("intake", "routing", "credit")


def accelerated_spec(start: datetime, factor: float) -> str:
    """``accelerated:<ISO start, UTC>:<factor>`` — the value of ``SHUANGDA_CLOCK``."""
    if start.tzinfo is None:
        raise ValueError("start must be timezone-aware")
    iso = start.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")
    return f"accelerated:{iso}:{factor:g}"


@dataclass
class Frame:
    skew: float = 0.0        # simulated seconds the service's clock is ahead of ours
    samples: int = 0
    observed: float = 0.0
    calibrated: bool = False
    calibration: float = 0.0
    ignored: int = 0


class SimClock:
    """Simulated time for the simulators, per-service frames, and wall-clock waits."""

    #: observations needed before they replace the calibration
    MIN_SAMPLES = 3
    #: an observation further than this (simulated seconds) from the calibration is not about this
    #: run's clock (an old event re-delivered, a service still on the wall clock) and is ignored
    MAX_JUMP = 86400.0

    def __init__(self, spec: str) -> None:
        self.spec = spec
        self.clock: Clock = clock_from_spec(spec, dev=True)
        self.factor = self.clock.factor if isinstance(self.clock, AcceleratedClock) else 1.0
        self.frames: dict[str, Frame] = {name: Frame() for name in FRAMES}

    def now(self) -> datetime:
        return self.clock.now()

    def frame(self, name: str | None) -> Frame | None:
        if name is None:
            return None
        return self.frames.setdefault(name, Frame())

    def skew(self, name: str = "routing") -> float:
        f = self.frame(name)
        return f.skew if f else 0.0

    def service_now(self, frame: str | None = "routing") -> datetime:
        """Our best estimate of what `frame`'s service clock reads now (our own clock for None)."""
        f = self.frame(frame)
        return self.now() + timedelta(seconds=f.skew if f else 0.0)

    def calibrate(self, service_time: datetime, own_time: datetime, frames: tuple[str, ...] = FRAMES) -> None:
        """A service read `service_time` when this clock read `own_time` (the middle of a
        request that answered with the service's now): the first estimate of `frames`."""
        skew = (service_time - own_time).total_seconds()
        for name in frames:
            self.frames[name] = Frame(skew=skew, calibrated=True, calibration=skew)

    def observe(self, service_time: datetime, frame: str = "routing") -> None:
        """An event stamped `service_time` by `frame`'s service has just arrived. The stamp
        is at most that service's now (delivery lag only makes it look earlier), so the
        largest difference seen is the estimate; a few samples replace the calibration."""
        f = self.frames.setdefault(frame, Frame())
        diff = (service_time - self.now()).total_seconds()
        if f.calibrated and abs(diff - f.calibration) > self.MAX_JUMP:
            f.ignored += 1
            return
        f.observed = diff if f.samples == 0 else max(f.observed, diff)
        f.samples += 1
        if f.samples >= self.MIN_SAMPLES:
            f.skew = f.observed

    def plausible(self, frame: str, *, like: str = "credit", within: float = 86400.0) -> str:
        """`frame` if its service seems to run the same clock as `like`'s (within `within` simulated
        seconds), else `like` — e.g. a service still on the wall clock while the others run fast."""
        f, g = self.frames.get(frame), self.frames.get(like)
        if f is None or g is None or abs(f.skew - g.skew) <= within:
            return frame
        return like

    def wall_seconds_until(self, at: datetime, frame: str | None = "routing") -> float:
        """Wall-clock seconds until simulated instant `at` in `frame`."""
        return max(0.0, (at - self.service_now(frame)).total_seconds() / self.factor)

    def wall_seconds(self, simulated: timedelta) -> float:
        return simulated.total_seconds() / self.factor

    async def sleep_until(self, at: datetime, stop: asyncio.Event | None = None, frame: str | None = "routing") -> bool:
        """Sleep until simulated instant `at` in `frame` (re-estimated each second); False if `stop` came first."""
        while True:
            wait = self.wall_seconds_until(at, frame)
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
