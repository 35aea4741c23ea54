"""Disclosure deadlines, publicity periods and repair / early-removal eligibility,
counted on the official working-day calendar (issue #5)."""
from __future__ import annotations

import datetime as dt

from services.credit.domain.applications import Declaration, removal_eligibility, repair_eligibility
from services.credit.domain.model import RecordFacts
from services.credit.domain.records import is_overdue, publicity_plan
from services.credit.rules import load_rulebook
from shared.workdays import SHANGHAI, WorkdayCalendar

BOOK = load_rulebook()
CAL = WorkdayCalendar(use_env=False)
UTC = dt.timezone.utc
DONE = Declaration(obligations_met=True, commitment_signed=True)


def at(y: int, m: int, d: int, hour: int = 10) -> dt.datetime:
    return dt.datetime(y, m, d, hour, tzinfo=SHANGHAI)


def plan(decided_on: dt.date, *, heavy: bool = False, kind: str = "penalty", now: dt.datetime | None = None):
    return publicity_plan(BOOK, CAL, kind=kind, heavy=heavy, decided_on=decided_on, now=now or at(2024, 10, 1))


def test_a_penalty_is_due_for_disclosure_seven_working_days_after_the_decision() -> None:
    p = plan(dt.date(2024, 1, 10))  # a Wednesday in an ordinary fortnight
    assert p.disclosure_due is not None
    assert p.disclosure_due.due_date_local == dt.date(2024, 1, 19)
    assert p.disclosure_due.rule_id == "penalty_disclosure"


def test_the_disclosure_deadline_skips_the_national_day_holiday_and_counts_make_up_workdays() -> None:
    # Friday 27 Sep 2024: Sun 29 Sep is a make-up workday, 1-7 Oct are off, Sat 12 Oct is a make-up workday
    p = plan(dt.date(2024, 9, 27), now=at(2024, 9, 27, 16))
    assert p.disclosure_due is not None
    assert p.disclosure_due.due_date_local == dt.date(2024, 10, 12)
    assert not p.disclosure_due.provisional
    # the period ends at 24:00 local time of the due day
    assert p.disclosure_due.due_at_utc == dt.datetime(2024, 10, 12, 15, 59, 59, 999999, tzinfo=UTC)


def test_a_disclosure_is_overdue_only_after_the_last_instant_of_its_due_day() -> None:
    due = plan(dt.date(2024, 1, 10)).disclosure_due
    assert due is not None
    assert not is_overdue(due.due_at_utc, None, at(2024, 1, 19, 23))
    assert is_overdue(due.due_at_utc, None, at(2024, 1, 20, 0))
    assert not is_overdue(due.due_at_utc, at(2024, 1, 18), at(2024, 2, 1))


def test_an_ordinary_penalty_is_published_for_three_months_to_one_year() -> None:
    p = plan(dt.date(2024, 1, 31))
    assert p.type_id == "penalty_ordinary"
    assert p.min_until.due_date_local == dt.date(2024, 4, 30)  # no 31 April: the month's last day
    assert p.min_until.rule_id == "penalty_publicity_min"
    assert p.max_until.due_date_local == dt.date(2025, 1, 31)


def test_a_heavy_penalty_is_published_for_one_to_three_years() -> None:
    p = plan(dt.date(2024, 2, 29), heavy=True)
    assert p.type_id == "penalty_serious"
    assert p.min_until.due_date_local == dt.date(2025, 2, 28)
    assert p.max_until.due_date_local == dt.date(2027, 2, 28)
    assert p.max_until.rule_id == "penalty_publicity_max"


def test_a_criminal_referral_record_is_kept_but_not_published() -> None:
    p = plan(dt.date(2024, 5, 6), kind="criminal_referral")
    assert not p.disclose and p.disclosure_due is None and not p.repairable


def repair(now: dt.datetime, *, decided_on: dt.date = dt.date(2024, 1, 10), heavy: bool = False,
           declaration: Declaration = DONE, status: str = "active"):
    p = plan(decided_on, heavy=heavy)
    return repair_eligibility(BOOK, CAL, status=status, repairable=p.repairable,
                              publicity_min_until=p.min_until.due_at_utc, declaration=declaration, now=now)


def test_repair_is_not_possible_before_the_minimum_publicity_period_has_passed() -> None:
    result = repair(at(2024, 4, 10, 23))  # the minimum period ends at the end of 10 April
    assert not result.eligible and result.reasons == ("minimum_period_not_passed",)


def test_repair_is_possible_the_day_after_the_minimum_period_when_the_obligations_are_met() -> None:
    assert repair(at(2024, 4, 11, 0)).eligible


def test_repair_needs_the_obligations_performed_and_a_credit_commitment() -> None:
    result = repair(at(2024, 6, 1), declaration=Declaration(obligations_met=False, commitment_signed=False))
    assert result.reasons == ("obligations_not_met", "commitment_missing")


def test_a_heavy_penalty_can_be_repaired_only_after_a_year() -> None:
    assert repair(at(2024, 6, 1), heavy=True).reasons == ("minimum_period_not_passed",)
    assert repair(at(2025, 1, 11), heavy=True).eligible


def test_an_ended_record_cannot_be_repaired() -> None:
    assert "record_not_active" in repair(at(2024, 6, 1), status="expired").reasons


def test_a_repair_application_must_be_decided_within_five_working_days_of_receipt() -> None:
    # received on Monday 30 Sep 2024: 1-7 Oct are off, Sat 12 Oct is a make-up workday
    result = repair(at(2024, 9, 30, 9))
    assert result.decision_due.due_date_local == dt.date(2024, 10, 12)


def removal(now: dt.datetime, *, records: list[RecordFacts] = (), allowed: bool = True, declaration: Declaration = DONE):
    listed_at = at(2024, 3, 1)
    early = dt.datetime(2025, 3, 1, 23, 59, 59, 999999, tzinfo=SHANGHAI)
    return removal_eligibility(BOOK, CAL, status="listed", rule_allows=allowed, listed_at=listed_at, early_removal_from=early,
                               records=list(records), declaration=declaration, now=now)


def test_early_removal_can_be_applied_for_only_after_a_year_on_the_list() -> None:
    assert removal(at(2025, 2, 28)).reasons == ("minimum_period_not_passed",)
    assert removal(at(2025, 3, 2)).eligible


def test_a_new_heavy_penalty_after_the_listing_bars_early_removal() -> None:
    new = RecordFacts("x", "penalty", "trademarks", dt.date(2024, 8, 1), True, False, "active", "b", "罚x")
    assert removal(at(2025, 3, 2), records=[new]).reasons == ("new_heavy_penalty",)


def test_a_listing_whose_rule_allows_no_early_removal_stays_until_it_expires() -> None:
    assert "early_removal_not_allowed" in removal(at(2025, 6, 1), allowed=False).reasons


def test_before_may_2023_a_heavy_penalty_is_published_for_at_least_six_months_and_from_then_one_year() -> None:
    # the version in force on the day the record is created applies (publicity.yaml)
    before = plan(dt.date(2023, 4, 30), heavy=True, now=at(2023, 4, 30))
    after = plan(dt.date(2023, 5, 1), heavy=True, now=at(2023, 5, 1))
    assert before.min_until.due_date_local == dt.date(2023, 10, 30)  # 发改办财金〔2019〕527号: 6 months
    assert after.min_until.due_date_local == dt.date(2024, 5, 1)  # Order 58: 1 year


def test_from_april_2026_the_new_ndrc_rule_applies_with_the_same_periods_counted_from_the_decision() -> None:
    old = BOOK.publicity.get("penalty_ordinary").version_at(dt.date(2026, 3, 31))
    new = BOOK.publicity.get("penalty_ordinary").version_at(dt.date(2026, 4, 1))
    assert (old.version, new.version) == ("2023", "2026")
    p = plan(dt.date(2026, 4, 1), now=at(2026, 4, 1))
    assert p.min_until.due_date_local == dt.date(2026, 7, 1) and p.max_until.due_date_local == dt.date(2027, 4, 1)
