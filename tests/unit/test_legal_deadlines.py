"""Worked examples for the legal periods in shared/reference/data/deadlines.yaml.

Each version applies from its effective date (the day before, the previous
version or none); each period ends on the day it names (at the figure) and
not a day earlier. Texts checked: see each version's verified_note and docs/legal.md.
"""
from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from shared.reference import deadline_rule, load_deadlines
from shared.reference._base import UnknownCode
from shared.workdays import WorkdayCalendar

D = dt.date
DAY = dt.timedelta(days=1)
SH = ZoneInfo("Asia/Shanghai")


@pytest.fixture(scope="module")
def cal() -> WorkdayCalendar:
    return WorkdayCalendar(use_env=False)


def _at(day: dt.date) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, 10, 0, tzinfo=SH)


def _versions():
    for spec in load_deadlines().rules:
        for i, v in enumerate(spec.versions):
            previous = spec.versions[i - 1].version if i else None
            yield pytest.param(spec.id, v.version, v.effective_from, previous, id=f"{spec.id}-{v.version}")


@pytest.mark.parametrize(("rule_id", "version", "effective_from", "previous"), list(_versions()))
def test_each_version_applies_from_its_effective_date_and_not_the_day_before(rule_id, version, effective_from, previous):
    assert deadline_rule(rule_id, effective_from).version == version
    if previous is None:
        with pytest.raises(UnknownCode):
            deadline_rule(rule_id, effective_from - DAY)
    else:
        assert deadline_rule(rule_id, effective_from - DAY).version == previous


def test_every_version_has_a_citation_and_says_what_it_was_verified_against():
    for spec in load_deadlines().rules:
        for v in spec.versions:
            assert v.citation.strip() and v.verified_note.strip(), f"{spec.id} {v.version}"


def test_complaint_acceptance_is_order_20_article_14_seven_working_days(cal):
    rule = deadline_rule("complaint_accept_decision", D(2026, 6, 1))
    assert (rule.amount, rule.unit, rule.article, rule.verified) == (7, "working_days", "第十四条", True)
    due = cal.deadline_from(_at(D(2026, 6, 1)), rule)  # Mon 2026-06-01; 6-19 端午 is after
    assert due.due_date_local == D(2026, 6, 10)
    assert cal.add_workdays(D(2026, 6, 1), 6).date < due.due_date_local  # not a day earlier


def test_a_complaint_received_24_december_2026_is_due_5_january_2027(cal):
    rule = deadline_rule("complaint_accept_decision", D(2026, 12, 24))
    due = cal.deadline_from(_at(D(2026, 12, 24)), rule)
    assert due.due_date_local == D(2027, 1, 5) and due.provisional  # 2027-01-01 元旦 not counted


def test_mediation_ends_45_working_days_after_acceptance_and_the_parties_are_told_within_7(cal):
    end = deadline_rule("complaint_mediation_end", D(2026, 3, 2))
    notice = deadline_rule("complaint_mediation_end_notice", D(2026, 3, 2))
    assert (end.amount, end.article, notice.amount, notice.article) == (45, "第二十一条第一款", 7, "第二十一条第二款")
    ended = cal.deadline_from(_at(D(2026, 3, 2)), end).due_date_local
    assert ended == cal.add_workdays(D(2026, 3, 2), 45).date and ended != cal.add_workdays(D(2026, 3, 2), 44).date


def test_a_real_name_reporter_is_told_within_5_working_days_of_the_case_decision(cal):
    rule = deadline_rule("report_reporter_notice", D(2026, 1, 5))
    assert (rule.amount, rule.unit, rule.article, rule.verified) == (5, "working_days", "第三十一条第二款", True)
    due = cal.deadline_from(_at(D(2026, 1, 5)), rule).due_date_local  # decision on Mon 2026-01-05
    assert due == D(2026, 1, 12) and cal.add_workdays(D(2026, 1, 5), 4).date == D(2026, 1, 9)  # not a day earlier
    assert deadline_rule("report_reporter_notice", D(2020, 1, 1)).version == "2020"
    with pytest.raises(UnknownCode):
        deadline_rule("report_reporter_notice", D(2019, 12, 31))


def test_order_45_publish_within_20_working_days_and_withdraw_within_3(cal):
    publish = deadline_rule("samr_publicity_publish", D(2021, 9, 1))
    withdraw = deadline_rule("samr_publicity_withdraw", D(2021, 9, 1))
    assert (publish.amount, publish.article, withdraw.amount, withdraw.article) == (20, "第九条", 3, "第十一条")
    with pytest.raises(UnknownCode):
        deadline_rule("samr_publicity_publish", D(2021, 8, 31))
    assert cal.deadline_from(_at(D(2026, 9, 24)), publish).due_date_local == D(2026, 10, 29)  # 国庆 10-01..10-08 off


def test_order_45_periods_are_three_months_for_minor_penalties_and_three_years_otherwise():
    assert (deadline_rule("samr_publicity_period_minor", D(2025, 1, 1)).amount,
            deadline_rule("samr_publicity_period_minor", D(2025, 1, 1)).unit) == (3, "months")
    assert (deadline_rule("samr_publicity_period", D(2025, 1, 1)).amount,
            deadline_rule("samr_publicity_period", D(2025, 1, 1)).unit) == (3, "years")


def test_order_310_supervision_request_3_days_and_police_forwarding_24_hours(cal):
    sup = deadline_rule("procuratorate_supervision_request", D(2026, 5, 6))
    fwd = deadline_rule("police_forward_jurisdiction", D(2026, 5, 6))
    assert (sup.amount, sup.unit, sup.article) == (3, "calendar_days", "第九条第二款")
    assert (fwd.amount, fwd.unit, fwd.article) == (24, "hours", "第七条")
    start = dt.datetime(2026, 5, 6, 9, 30, tzinfo=SH)
    assert cal.deadline_from(start, fwd).due_at_utc == (start + dt.timedelta(hours=24)).astimezone(dt.timezone.utc)


def test_order_310_calendar_day_periods_ending_on_a_holiday_do_not_roll(cal):
    # decided (deadlines.yaml note): no roll, so the due date is never later than the legal one
    rule = deadline_rule("transfer_head_decision", D(2026, 9, 30))
    assert rule.roll_to_workday is False
    due = cal.deadline_from(_at(D(2026, 9, 30)), rule)
    assert due.due_date_local == D(2026, 10, 3) and not cal.is_workday(D(2026, 10, 3))


def test_ndrc_publicity_periods_count_from_the_decision_and_change_version_on_1_april_2026():
    assert deadline_rule("penalty_publicity_min", D(2026, 3, 31)).version == "2023"
    new = deadline_rule("penalty_publicity_min", D(2026, 4, 1))
    assert new.version == "2026" and "认定之日" in new.starts_at and not new.verified
    assert deadline_rule("penalty_publicity_max", D(2023, 4, 30)).version == "2019"


def test_police_decide_on_a_reconsideration_within_3_days_under_order_310_article_9_paragraph_2(cal):
    rule = deadline_rule("police_reconsideration_decision", D(2026, 5, 6))
    assert (rule.amount, rule.unit, rule.article, rule.verified) == (3, "calendar_days", "第九条第二款", True)
    assert cal.deadline_from(_at(D(2026, 5, 6)), rule).due_date_local == D(2026, 5, 9)  # not 05-08


@pytest.mark.parametrize(
    ("rule_id", "article"),
    [("police_filing_decision", "第八条"), ("transfer_reconsideration_request", "第九条第一款"),
     ("procuratorate_supervision_request", "第九条第二款"), ("transfer_handover", "第十二条"),
     ("transfer_head_decision", "第五条第二款")],
)
def test_every_order_310_three_day_period_ends_on_the_third_calendar_day_after(cal, rule_id, article):
    rule = deadline_rule(rule_id, D(2026, 5, 6))
    assert (rule.amount, rule.unit, rule.article, rule.verified) == (3, "calendar_days", article, True)
    assert cal.deadline_from(_at(D(2026, 5, 6)), rule).due_date_local == D(2026, 5, 9)
    assert deadline_rule(rule_id, D(2001, 7, 9)).version == "2001"
    with pytest.raises(UnknownCode):
        deadline_rule(rule_id, D(2001, 7, 8))


def test_order_45_publication_stops_3_months_or_3_years_after_it_began(cal):
    minor = deadline_rule("samr_publicity_period_minor", D(2026, 1, 15))
    other = deadline_rule("samr_publicity_period", D(2026, 1, 15))
    assert (minor.article, minor.verified, other.article, other.verified) == ("第十三条第一款", True, "第十三条第一款", True)
    published = _at(D(2026, 1, 15))
    assert cal.deadline_from(published, minor).due_date_local == D(2026, 4, 15)
    assert cal.deadline_from(published, other).due_date_local == D(2029, 1, 15)
    with pytest.raises(UnknownCode):
        deadline_rule("samr_publicity_period", D(2021, 8, 31))
    assert deadline_rule("samr_publicity_period", D(2021, 9, 1)).version == "2021"


def test_order_45_withdrawal_within_3_working_days_is_not_a_day_early(cal):
    rule = deadline_rule("samr_publicity_withdraw", D(2026, 9, 30))
    assert (rule.amount, rule.unit, rule.article, rule.verified) == (3, "working_days", "第十一条", True)
    due = cal.deadline_from(_at(D(2026, 9, 30)), rule).due_date_local  # 国庆 10-01..10-07 and 10-08 off
    assert due == cal.add_workdays(D(2026, 9, 30), 3).date and due > D(2026, 10, 8)


def test_before_order_20_a_complaint_was_decided_within_7_working_days_under_order_62_article_15():
    old = deadline_rule("complaint_accept_decision", D(2019, 12, 31))
    assert (old.version, old.amount, old.article, old.verified) == ("2014", 7, "第十五条", True)
    assert deadline_rule("complaint_accept_decision", D(2020, 1, 1)).article == "第十四条"
    assert deadline_rule("complaint_accept_decision", D(2014, 3, 15)).version == "2014"
    with pytest.raises(UnknownCode):
        deadline_rule("complaint_accept_decision", D(2014, 3, 14))


def test_a_report_is_checked_within_15_working_days_extendable_by_15(cal):
    rule = deadline_rule("report_case_decision", D(2026, 3, 2))
    assert (rule.amount, rule.extended_amount, rule.article, rule.verified) == (15, 30, "第十八条第一款", True)
    due = cal.deadline_from(_at(D(2026, 3, 2)), rule).due_date_local
    assert due == cal.add_workdays(D(2026, 3, 2), 15).date != cal.add_workdays(D(2026, 3, 2), 14).date
    old = deadline_rule("report_case_decision", D(2019, 3, 31))
    assert (old.version, old.amount, old.extended_amount, old.verified) == ("2007", 7, 15, False)


def test_dual_publicity_is_due_7_working_days_after_the_decision_from_the_2015_state_council_opinion(cal):
    rule = deadline_rule("penalty_disclosure", D(2015, 6, 24))
    assert (rule.version, rule.amount, rule.unit, rule.verified) == ("2015", 7, "working_days", True)
    assert "国办发〔2015〕51号" in rule.citation
    with pytest.raises(UnknownCode):
        deadline_rule("penalty_disclosure", D(2015, 6, 23))
    due = cal.deadline_from(_at(D(2026, 3, 2)), deadline_rule("penalty_disclosure", D(2026, 3, 2))).due_date_local
    assert due == D(2026, 3, 11)  # Mon 03-02 + 7 working days, not 03-10


def test_the_2019_ndrc_notice_gives_3_months_to_1_year_and_up_to_3_years_from_the_decision():
    low = deadline_rule("penalty_publicity_min", D(2019, 7, 1))
    high = deadline_rule("penalty_publicity_max", D(2019, 7, 1))
    assert (low.amount, low.unit, low.verified, high.amount, high.unit, high.verified) == (3, "months", True, 3, "years", True)
    assert "发改办财金〔2019〕527号" in low.citation
    new = deadline_rule("penalty_publicity_min", D(2026, 4, 1))
    assert "第36号" in new.citation and not new.verified
