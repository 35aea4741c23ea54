"""Custody's deadlines. Pure.

- **police_handover**: once the police open a criminal case on a referral (立案), the agency hands
  the seized goods over within the shared legal rule `transfer_handover` (Order 310 第十二条:
  3 days). One deadline per lot of the case still in custody; met when the police confirm receipt
  of a hand-over with purpose `police` (or when routing records the case's hand-over), cancelled
  when the lot is disposed of otherwise.
- **perishable_disposal**: a perishable lot is disposed of within custody's local-policy period
  (`services/custody/rules/deadlines.yaml`, labelled "local policy"); met by its disposal.
"""
from __future__ import annotations

import datetime as dt
from typing import Protocol

from shared.watched_deadline import WatchedDeadline, warn_at
from shared.workdays import SHANGHAI, WorkdayCalendar

from services.custody.domain.lots import Lot

POLICE_HANDOVER = "police_handover"
PERISHABLE_DISPOSAL = "perishable_disposal"
KINDS = (POLICE_HANDOVER, PERISHABLE_DISPOSAL)


class Rule(Protocol):
    id: str
    version: str
    amount: int
    unit: str
    citation: str
    article: str
    roll_to_workday: bool


def _deadline(kind: str, lot: Lot, party: str, rule: Rule, starts_at: dt.datetime, calendar: WorkdayCalendar,
              before_hours: float) -> WatchedDeadline:
    due = calendar.deadline_from(starts_at, rule)
    citation = f"{rule.citation} {rule.article}".strip()
    return WatchedDeadline(
        deadline_id=f"{lot.lot_id}:{kind}", subject=lot.lot_id, case_id=lot.case_id, kind=kind, party=party,
        rule_id=rule.id, rule_version=rule.version, citation=citation,
        local_policy=citation.startswith("local policy"), starts_at=starts_at,
        warn_at=warn_at(starts_at, due.due_at_utc, before_hours=before_hours), due_at=due.due_at_utc,
        provisional=due.provisional)


def police_handover(lot: Lot, accepted_at: dt.datetime, rule: Rule, calendar: WorkdayCalendar, *,
                    before_hours: float = 24) -> WatchedDeadline | None:
    """The lot's hand-over deadline once the police opened the case, or None when nothing is due
    (the lot was disposed of, or the police already received it)."""
    if lot.state == "disposed" or with_police(lot):
        return None
    return _deadline(POLICE_HANDOVER, lot, lot.bureau, rule, accepted_at, calendar, before_hours)


def perishable_disposal(lot: Lot, rule: Rule, calendar: WorkdayCalendar, *,
                        before_hours: float = 24) -> WatchedDeadline | None:
    if lot.hazard != "perishable" or lot.state == "disposed":
        return None
    return _deadline(PERISHABLE_DISPOSAL, lot, lot.bureau, rule, lot.registered_at, calendar, before_hours)


def with_police(lot: Lot) -> bool:
    """True once a hand-over with purpose `police` was received."""
    return any(h.purpose == "police" and h.received_at is not None for h in lot.handovers)


def local_day(at: dt.datetime) -> dt.date:
    """The local date whose rule version applies to a period starting at `at`."""
    return at.astimezone(SHANGHAI).date()
