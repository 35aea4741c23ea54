"""Surge detection (early warning) — the pure part of the faust worker.

Reports (new cases and reports merged into open cases) are counted per
(county, category) and per suspect in hopping windows. When the window that
covers the most history up to an event (the earliest window still containing
it) reaches the threshold, one alert is raised for that key; the next alert
for the same key needs a window that does not overlap the alerted one.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from shared.envelope import deterministic_event_id


@dataclass(frozen=True)
class Window:
    start: float  # epoch seconds
    size: float

    @property
    def end(self) -> float:
        return self.start + self.size

    def start_utc(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.start, dt.timezone.utc)

    def end_utc(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.end, dt.timezone.utc)


def earliest_window(timestamp: float, size: int, step: int) -> Window:
    """The earliest hopping window (size, step) that contains `timestamp` (windows start at multiples of step)."""
    start = ((timestamp - size + step) // step) * step
    if start + size <= timestamp:  # pragma: no cover - guarded by the arithmetic above
        start += step
    return Window(float(start), float(size))


def should_alert(count: int, threshold: int, window: Window, last_alerted_start: float | None) -> bool:
    if count < threshold:
        return False
    return last_alerted_start is None or window.start >= last_alerted_start + window.size


def county_category_key(county: str, category: str) -> str:
    return f"{county}|{category}"


def suspect_watch_key(suspect_key: str) -> str:
    return f"suspect|{suspect_key}"


def alert_id(kind: str, key: str, window: Window) -> str:
    """The same alert re-sent after a crash keeps its id (consumers dedupe it)."""
    return deterministic_event_id("alert.hotspot-detected", kind, key, repr(window.start))
