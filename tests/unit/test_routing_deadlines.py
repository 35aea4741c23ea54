"""Assignment and referral deadlines: working days over the official holiday calendar
(make-up workdays included), calendar days and hours, provisional beyond the data."""
from __future__ import annotations

import dataclasses
import datetime as dt
import textwrap
from pathlib import Path

from shared.workdays import SHANGHAI, WorkdayCalendar
from services.routing.domain import deadlines
from services.routing.domain.case import Context, decide, open_case
from tests.support.routing import case_opened, default_rules_and_reference
from shared.contracts.bureau_actions import AcknowledgeCase, DecideReferral, ProposeReferral

RULES, REF = default_rules_and_reference()


def local(y: int, m: int, d: int, h: int = 10) -> dt.datetime:
    return dt.datetime(y, m, d, h, 0, tzinfo=SHANGHAI).astimezone(dt.timezone.utc)


def ack_deadline(opened: dt.datetime, origin: str = "complaint", ref=REF):  # noqa: ANN001, ANN201
    ctx = Context(ref=ref, rules=RULES, now=opened)
    fx = open_case(case_opened("C-1", category="false_advertising", origin=origin, opened_at=opened), ctx=ctx,
                   prior_cases_of_suspect=0)
    (spec,) = fx.open_deadlines
    assert spec.kind == "acknowledgement"
    assert fx.emissions[0].payload.deadlines[0].deadline_id == spec.deadline_id
    return spec


def test_a_complaint_opened_before_spring_festival_2025_counts_the_make_up_sunday_and_saturday() -> None:
    # 2025 notice: 1-28 … 2-4 off; Sunday 1-26 and Saturday 2-8 are working days.
    spec = ack_deadline(local(2025, 1, 24))  # a Friday
    rule = REF.deadlines.rule("complaint_accept_decision", dt.date(2025, 1, 24))
    assert rule.unit == "working_days" and rule.amount == 7
    # 1-26 (Sun) 1-27 | 2-5 2-6 2-7 2-8 (Sat) | 2-10
    assert spec.due_date_local == dt.date(2025, 2, 10)
    assert spec.due_at == dt.datetime(2025, 2, 10, 23, 59, 59, 999999, tzinfo=SHANGHAI)
    assert not spec.provisional
    assert spec.rule_version == rule.version and spec.citation == rule.citation


def test_a_complaint_opened_before_national_day_2025_skips_the_eight_days_off_and_counts_both_make_up_days() -> None:
    # 2025 notice: 10-1 … 10-8 off; Sunday 9-28 and Saturday 10-11 are working days.
    spec = ack_deadline(local(2025, 9, 26))  # a Friday
    # 9-28 (Sun) 9-29 9-30 | 10-9 10-10 10-11 (Sat) 10-13
    assert spec.due_date_local == dt.date(2025, 10, 13)


def test_a_report_across_national_day_2024_gets_the_longer_report_period() -> None:
    # 2024 notice: 10-1 … 10-7 off; Sunday 9-29 and Saturday 10-12 are working days.
    opened = local(2024, 9, 27)  # a Friday
    rule = REF.deadlines.rule("report_case_decision", dt.date(2024, 9, 27))
    spec = ack_deadline(opened, origin="report")
    assert spec.rule_id == "report_case_decision"
    assert spec.due_date_local == REF.calendar.add_workdays(dt.date(2024, 9, 27), rule.amount).date
    # 9-29 (Sun) 9-30 | 10-8 … 10-11, 10-12 (Sat), 10-14 … 10-18, 10-21 … 10-23 → the 15th working day
    assert spec.due_date_local == dt.date(2024, 10, 23)


def test_the_rule_version_in_force_on_the_day_the_case_was_opened_applies() -> None:
    before = ack_deadline(local(2019, 3, 29), origin="report")  # 2007 rule: 7 working days
    after = ack_deadline(local(2019, 4, 1), origin="report")  # 2019 rule: 15 working days
    assert (before.rule_version, after.rule_version) == ("2007", "2019")
    assert before.due_date_local == REF.calendar.add_workdays(dt.date(2019, 3, 29), 7).date
    assert after.due_date_local == REF.calendar.add_workdays(dt.date(2019, 4, 1), 15).date


def _holiday_file(directory: Path, year: int, body: str) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / f"{year}.yaml").write_text(textwrap.dedent(body), encoding="utf-8")


def test_a_deadline_beyond_the_holiday_data_is_provisional_and_recomputed_once_the_year_is_added(tmp_path: Path) -> None:
    opened = local(2026, 12, 28)  # a Monday; the data (chinese_calendar) ends with 2026
    spec = ack_deadline(opened)
    assert spec.provisional
    # 1-1 is a statutory holiday by rule (放假办法 第二条) even before the notice: 12-29 12-30 12-31 1-4 1-5 1-6 1-7
    assert spec.due_date_local == dt.date(2027, 1, 7)

    # a (test) notice for 2027 confirms 1-1 off: the date stands and is no longer provisional
    _holiday_file(tmp_path / "holidays", 2027, """\
        year: 2027
        citation: test notice for 2027 (not the real arrangement)
        holidays:
          - {name: New Year's Day, dates: [2027-01-01]}
        """)
    ref_2027 = dataclasses.replace(REF, calendar=WorkdayCalendar(extra_dirs=[tmp_path / "holidays"]))
    revised = deadlines.recompute(spec, ref_2027, RULES)
    assert not revised.provisional
    assert revised.due_date_local == dt.date(2027, 1, 7)
    assert revised.deadline_id == spec.deadline_id and revised.rule_version == spec.rule_version


def test_the_warning_comes_the_configured_time_before_the_deadline_but_not_before_half_the_period() -> None:
    spec = ack_deadline(local(2025, 6, 2))
    hours = RULES.deadline_watch.approaching_before_hours
    assert spec.warn_at == spec.due_at - dt.timedelta(hours=hours)
    short = deadlines.warn_at(RULES, spec.starts_at, spec.starts_at + dt.timedelta(hours=hours))
    fraction = float(RULES.deadline_watch.approaching_not_before_fraction)
    assert short == spec.starts_at + dt.timedelta(hours=hours) * fraction


def test_referral_steps_count_calendar_days_for_the_head_and_exact_hours_for_the_transfer() -> None:
    opened = local(2025, 9, 30, 9)
    ctx = Context(ref=REF, rules=RULES, now=opened)
    fx = open_case(case_opened("C-2", category="patents", opened_at=opened), ctx=ctx, prior_cases_of_suspect=0)
    case = fx.case
    case = decide(case, None, case.assignee, AcknowledgeCase(case_id="C-2", decision="accept"), None, ctx=ctx).case
    proposed = decide(case, None, case.assignee, ProposeReferral(case_id="C-2", reason="suspected counterfeit patent"),
                      None, ctx=ctx)
    (head,) = proposed.open_deadlines
    head_rule = REF.deadlines.rule("transfer_head_decision", opened.astimezone(SHANGHAI).date())
    assert head.kind == "referral_head_decision" and head_rule.unit == "calendar_days"
    # calendar days run through the National Day holiday
    assert head.due_date_local == dt.date(2025, 9, 30) + dt.timedelta(days=head_rule.amount)
    later = Context(ref=REF, rules=RULES, now=opened + dt.timedelta(hours=5))
    approved = decide(case, proposed.referral, case.assignee, DecideReferral(case_id="C-2", approve=True), None, ctx=later)
    (transfer,) = approved.open_deadlines
    transfer_rule = REF.deadlines.rule("transfer_to_police", opened.astimezone(SHANGHAI).date())
    assert transfer_rule.unit == "hours"
    assert transfer.due_at == later.now + dt.timedelta(hours=transfer_rule.amount)
    assert approved.close_deadlines and approved.close_deadlines[0].state == "met"


def test_the_reference_remembers_a_due_day_per_starting_day_and_forgets_everything_past_its_bound(monkeypatch) -> None:
    from services.routing.domain import reference

    ref = dataclasses.replace(REF)  # an empty memory of its own
    morning, evening = local(2026, 3, 2, 9), local(2026, 3, 2, 23)
    assert ack_deadline(morning, ref=ref).due_at == ack_deadline(evening, ref=ref).due_at  # same local day, same end
    assert ack_deadline(evening, ref=ref) == ack_deadline(evening, ref=dataclasses.replace(REF))  # as counted afresh
    monkeypatch.setattr(reference, "MEMO_LIMIT", 8)
    for day in range(1, 29):
        ack_deadline(local(2026, 2, day), ref=ref)
        assert len(ref._memo) <= 8
