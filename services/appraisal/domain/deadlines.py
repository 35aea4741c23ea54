"""Appraisal's deadlines. Pure. Both run from the request and bind the provider:

- **appraisal_answer**: accept or refuse (`rules/deadlines.yaml`, local policy);
- **appraisal_result**: report the result — the local-policy period, or the bureau's earlier
  ``wanted_by`` date (then the rule is ``requested_by_bureau``, labelled as such).
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from shared.watched_deadline import WatchedDeadline, warn_at
from shared.workdays import SHANGHAI, WorkdayCalendar

from services.appraisal.domain.appraisals import Appraisal

ANSWER = "appraisal_answer"
RESULT = "appraisal_result"
END_OF_DAY = dt.time(23, 59, 59, 999999)


def _made(a: Appraisal, kind: str, rule: Any, due: dt.datetime, provisional: bool, before_hours: float,
          citation: str | None = None, rule_id: str | None = None, version: str | None = None) -> WatchedDeadline:
    cited = citation if citation is not None else f"{rule.citation} {rule.article}".strip()
    return WatchedDeadline(
        deadline_id=f"{a.appraisal_id}:{kind}", subject=a.appraisal_id, case_id=a.case_id, kind=kind, party=a.provider,
        rule_id=rule_id or rule.id, rule_version=version or rule.version, citation=cited,
        local_policy=cited.startswith("local policy"), starts_at=a.requested_at,
        warn_at=warn_at(a.requested_at, due, before_hours=before_hours), due_at=due, provisional=provisional)


def on_request(a: Appraisal, answer_rule: Any, result_rule: Any, calendar: WorkdayCalendar, *,
               before_hours: float = 24) -> list[WatchedDeadline]:
    answer = calendar.deadline_from(a.requested_at, answer_rule)
    result = calendar.deadline_from(a.requested_at, result_rule)
    out = [_made(a, ANSWER, answer_rule, answer.due_at_utc, answer.provisional, before_hours)]
    if a.wanted_by is not None:
        wanted = dt.datetime.combine(a.wanted_by, END_OF_DAY, SHANGHAI).astimezone(dt.timezone.utc)
        if wanted < result.due_at_utc:
            out.append(_made(a, RESULT, result_rule, wanted, False, before_hours,
                             citation=f"requested by the bureau ({a.bureau}); within {result_rule.id}",
                             rule_id="requested_by_bureau", version=a.wanted_by.isoformat()))
            return out
    out.append(_made(a, RESULT, result_rule, result.due_at_utc, result.provisional, before_hours))
    return out


def local_day(at: dt.datetime) -> dt.date:
    return at.astimezone(SHANGHAI).date()
