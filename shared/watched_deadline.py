"""A deadline of a service other than routing (custody, appraisal, inspection), as its pure rules
compute it, and the shared rule for when "approaching" is due. Pure: no I/O, no clock — a
service's domain/ imports this module; the table, the watch and its SQL are `shared.deadline_watch`."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True)
class WatchedDeadline:
    deadline_id: str
    subject: str
    case_id: str
    kind: str
    party: str
    rule_id: str
    rule_version: str
    citation: str
    local_policy: bool
    starts_at: dt.datetime
    warn_at: dt.datetime
    due_at: dt.datetime
    provisional: bool = False


def warn_at(starts_at: dt.datetime, due_at: dt.datetime, *, before_hours: float = 24,
            not_before_fraction: float = 0.5) -> dt.datetime:
    """When "approaching" is due: `before_hours` before the deadline, but never earlier than
    `not_before_fraction` of the period (a one-day period warns at half time, not at once)."""
    before = due_at - dt.timedelta(hours=before_hours)
    earliest = starts_at + (due_at - starts_at) * not_before_fraction
    return max(before, earliest)
