"""Office hours of the simulated bureaus (Asia/Shanghai, official working days).

A bureau's clerk works 08:30–12:00 and 14:00–17:30 on working days — the
official calendar with its make-up workdays (`shared.workdays`), so the
simulated day respects the same holidays routing counts deadlines with.
`after_work_hours(start, hours)` is when a task needing `hours` of office time,
begun at `start`, is done.
"""
from __future__ import annotations

import datetime as dt
import functools

from shared.workdays import SHANGHAI, WorkdayCalendar, default_calendar

#: (start, end) of the office's sessions, local time
SESSIONS: tuple[tuple[dt.time, dt.time], ...] = ((dt.time(8, 30), dt.time(12, 0)), (dt.time(14, 0), dt.time(17, 30)))
HOURS_PER_DAY = sum((e.hour * 60 + e.minute - s.hour * 60 - s.minute) / 60 for s, e in SESSIONS)


@functools.lru_cache(maxsize=1)
def _calendar() -> WorkdayCalendar:
    return default_calendar()


def is_workday(day: dt.date, calendar: WorkdayCalendar | None = None) -> bool:
    return (calendar or _calendar()).is_workday(day, allow_provisional=True)


def after_work_hours(start: dt.datetime, hours: float, calendar: WorkdayCalendar | None = None) -> dt.datetime:
    """The instant (UTC) at which `hours` of office time, begun at `start`, have been worked."""
    if start.tzinfo is None:
        raise ValueError("start must be timezone-aware")
    remaining = dt.timedelta(hours=max(0.0, hours))
    local = start.astimezone(SHANGHAI)
    for _ in range(400):  # at most ~a year of days: a guard, never reached with sane inputs
        day = local.date()
        if is_workday(day, calendar):
            for s, e in SESSIONS:
                begin = dt.datetime.combine(day, s, SHANGHAI)
                end = dt.datetime.combine(day, e, SHANGHAI)
                if local >= end:
                    continue
                cursor = max(local, begin)
                available = end - cursor
                if remaining <= available:
                    return (cursor + remaining).astimezone(dt.timezone.utc)
                remaining -= available
                local = end
        local = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0, 0), SHANGHAI)
    raise ValueError("no working time found within a year")


def in_office(at: dt.datetime, calendar: WorkdayCalendar | None = None) -> bool:
    local = at.astimezone(SHANGHAI)
    if not is_workday(local.date(), calendar):
        return False
    return any(s <= local.time() < e for s, e in SESSIONS)
