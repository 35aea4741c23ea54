"""A credit record's legal character: heavy or not, publicity type and periods.

Periods count from the decision date in Asia/Shanghai, the day of the
decision itself not counted (shared.workdays conventions): the disclosure is
due 7 working days after the decision (shared rule ``penalty_disclosure``);
publication may end on repair after the minimum period and ends by itself at
the maximum (publicity.yaml).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Iterable

from shared.reference import UnknownCode, deadline_rule
from shared.workdays import SHANGHAI, Deadline, WorkdayCalendar

from services.credit.rules import Period, RuleBook, resolve_period

DISCLOSURE_RULE = "penalty_disclosure"


@dataclass(frozen=True)
class HeavyResult:
    heavy: bool
    rules: tuple[str, ...]
    citations: tuple[str, ...]


def classify_heavy(
    book: RuleBook,
    *,
    penalty_types: Iterable[str],
    aggravated: bool,
    fine_amount: Decimal | None,
    party_kind: str,
    decided_on: dt.date,
) -> HeavyResult:
    """Whether a decision is a heavy penalty (较重行政处罚) under the rules in force on its date."""
    types = set(penalty_types)
    matched: list[str] = []
    citations: list[str] = []
    for rule, v in book.heavy.in_force(decided_on):
        if v.any_penalty_type and not types & set(v.any_penalty_type):
            continue
        if v.aggravated is not None and aggravated != v.aggravated:
            continue
        if v.fine_at_least:
            threshold = v.fine_at_least.get(party_kind)  # type: ignore[call-overload]
            if threshold is None or fine_amount is None or fine_amount < threshold:
                continue
        matched.append(rule.id)
        citations.append(v.citation)
    return HeavyResult(bool(matched), tuple(matched), tuple(citations))


@dataclass(frozen=True)
class PublicityPlan:
    type_id: str
    type_version: str
    disclose: bool
    repairable: bool
    disclosure_due: Deadline | None
    min_until: Deadline
    max_until: Deadline
    citations: tuple[str, ...]


def decision_instant(decided_on: dt.date) -> dt.datetime:
    """The start of the decision day in Asia/Shanghai, as an aware datetime."""
    return dt.datetime.combine(decided_on, dt.time(0), tzinfo=SHANGHAI)


def publicity_plan(
    book: RuleBook,
    calendar: WorkdayCalendar,
    *,
    kind: str,
    heavy: bool,
    decided_on: dt.date,
    now: dt.datetime,
) -> PublicityPlan:
    """Disclosure due date and publicity periods of a new record.

    The publicity type version in force on the day the record is created
    applies (it governs the publication); the disclosure deadline is the one
    in force on the decision date.
    """
    today = now.astimezone(SHANGHAI).date()
    ptype = book.publicity.type_for(kind, heavy)
    version = ptype.version_at(today)
    start = decision_instant(decided_on)
    min_period = resolve_period(version.min, today, version.citation)
    max_period = resolve_period(version.max, today, version.citation)
    disclosure: Deadline | None = None
    citations = [version.citation, min_period.citation, max_period.citation]
    if ptype.disclose:
        rule = _disclosure_rule(decided_on, today)
        disclosure = calendar.deadline_from(start, rule)
        citations.append(rule.citation)
    return PublicityPlan(
        type_id=ptype.id,
        type_version=version.version,
        disclose=ptype.disclose,
        repairable=ptype.repairable,
        disclosure_due=disclosure,
        min_until=calendar.deadline_from(start, min_period),
        max_until=calendar.deadline_from(start, max_period),
        citations=tuple(dict.fromkeys(c for c in citations if c)),
    )


def _disclosure_rule(decided_on: dt.date, today: dt.date) -> Period:
    try:
        rule = deadline_rule(DISCLOSURE_RULE, decided_on)
    except UnknownCode:  # a decision older than the rule's first version: the one in force now
        rule = deadline_rule(DISCLOSURE_RULE, today)
    return Period(rule.amount, rule.unit, rule.citation, rule.id, rule.version, rule.roll_to_workday)


def is_overdue(disclosure_due_at: dt.datetime | None, disclosed_at: dt.datetime | None, now: dt.datetime) -> bool:
    """A disclosure is overdue when it has not happened and its last instant has passed."""
    return disclosure_due_at is not None and disclosed_at is None and now > disclosure_due_at
