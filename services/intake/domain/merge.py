"""Whether a report opens a case or joins an open one.

A report joins the open case about the same suspect and category: the merge
key is the suspect's credit code; else its normalised name and county; else
the platform and shop id; else the listing's host and path (see
`validation._suspect`). A case takes reports for `window` after it was opened
(default 30 days); a report after that opens a new case about the suspect.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from services.intake.domain.model import CaseState, Report
from services.intake.domain.validation import add_figures
from shared.topics import filed_by_person

Decision = Literal["open", "merge"]


def accepts_reports(case: CaseState | None, now: datetime, window: timedelta) -> bool:
    """True while `case` takes further reports (its merge window has not passed)."""
    return case is not None and now < case.opened_at + window


def decide(case: CaseState | None, report: Report, now: datetime, window: timedelta) -> Decision:
    """`merge` into `case` (the open case for the report's merge key and category), or `open` a new one."""
    if case is not None and (case.merge_key != report.merge_key or case.category != report.category):
        raise ValueError("decide() was given a case for another merge key or category")
    return "merge" if accepts_reports(case, now, window) else "open"


def open_case(case_id: str, report: Report, now: datetime) -> CaseState:
    return CaseState(
        case_id=case_id,
        merge_key=report.merge_key,
        category=report.category,
        county=report.county,
        counties=(report.county,),
        suspect=report.suspect,
        figures=dict(report.figures),
        reports_count=1,
        opened_at=now,
        last_report_at=now,
        # the lane is the opening report's: a lead merged into a complaint's case follows it there
        priority_lane=filed_by_person(report.origin, report.channel),
    )


def merge_into(case: CaseState, report: Report, now: datetime) -> CaseState:
    """The case with the report added: running totals, every county involved, the suspect's missing facts filled in."""
    counties = case.counties if report.county in case.counties else (*case.counties, report.county)
    return CaseState(
        case_id=case.case_id,
        merge_key=case.merge_key,
        category=case.category,
        county=case.county,
        counties=counties,
        suspect=case.suspect.enriched_by(report.suspect),
        figures=add_figures(case.figures, report.figures),
        reports_count=case.reports_count + 1,
        opened_at=case.opened_at,
        last_report_at=max(case.last_report_at, now),
        priority_lane=case.priority_lane,
    )
