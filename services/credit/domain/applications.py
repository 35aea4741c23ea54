"""Eligibility of applications for credit repair and for early removal from the list.

Each unmet condition is a short, stable reason code (shown to the applicant
and counted in metrics):

- ``record_not_active`` / ``listing_not_active``: nothing to end early;
- ``not_repairable``: the record's publicity type allows no repair;
- ``minimum_period_not_passed``: the minimum publicity period (repair) or the
  early-removal period (list) has not ended yet;
- ``early_removal_not_allowed``: the listing's rule allows none;
- ``obligations_not_met``, ``commitment_missing``: the applicant did not
  declare the obligations performed / the credit commitment signed;
- ``new_heavy_penalty``: a heavy penalty was decided after the listing.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Sequence

from shared.workdays import SHANGHAI, Deadline, WorkdayCalendar

from services.credit.domain.model import RecordFacts
from services.credit.rules import RuleBook, resolve_period


@dataclass(frozen=True)
class Declaration:
    obligations_met: bool
    commitment_signed: bool


@dataclass(frozen=True)
class Eligibility:
    eligible: bool
    reasons: tuple[str, ...]
    decision_due: Deadline
    citation: str


def _declared(requires: Sequence[str], declaration: Declaration) -> list[str]:
    reasons = []
    if "obligations_met" in requires and not declaration.obligations_met:
        reasons.append("obligations_not_met")
    if "commitment_signed" in requires and not declaration.commitment_signed:
        reasons.append("commitment_missing")
    return reasons


def _decision_due(book: RuleBook, calendar: WorkdayCalendar, kind: str, now: dt.datetime) -> tuple[Deadline, Sequence[str], str]:
    rule = book.applications.at(kind, now.astimezone(SHANGHAI).date())
    period = resolve_period(rule.decision_within, now.astimezone(SHANGHAI).date(), rule.citation)
    return calendar.deadline_from(now, period), rule.requires, rule.citation


def repair_eligibility(
    book: RuleBook,
    calendar: WorkdayCalendar,
    *,
    status: str,
    repairable: bool,
    publicity_min_until: dt.datetime,
    declaration: Declaration,
    now: dt.datetime,
) -> Eligibility:
    due, requires, citation = _decision_due(book, calendar, "repair", now)
    reasons: list[str] = []
    if status != "active":
        reasons.append("record_not_active")
    if not repairable:
        reasons.append("not_repairable")
    if now <= publicity_min_until:
        reasons.append("minimum_period_not_passed")
    reasons += _declared(requires, declaration)
    return Eligibility(not reasons, tuple(reasons), due, citation)


def removal_eligibility(
    book: RuleBook,
    calendar: WorkdayCalendar,
    *,
    status: str,
    rule_allows: bool,
    listed_at: dt.datetime,
    early_removal_from: dt.datetime,
    records: Sequence[RecordFacts],
    declaration: Declaration,
    now: dt.datetime,
) -> Eligibility:
    due, requires, citation = _decision_due(book, calendar, "early_removal", now)
    reasons: list[str] = []
    if status != "listed":
        reasons.append("listing_not_active")
    if not rule_allows:
        reasons.append("early_removal_not_allowed")
    if now < early_removal_from:
        reasons.append("minimum_period_not_passed")
    reasons += _declared(requires, declaration)
    if "no_new_heavy_penalty" in requires:
        listed_day = listed_at.astimezone(SHANGHAI).date()
        if any(r.kind == "penalty" and r.heavy and r.status != "revoked" and r.decided_on > listed_day for r in records):
            reasons.append("new_heavy_penalty")
    return Eligibility(not reasons, tuple(reasons), due, citation)
