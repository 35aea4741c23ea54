"""Working-day calendar and deadline arithmetic."""
from __future__ import annotations

import datetime as dt
import textwrap
from dataclasses import dataclass

import chinese_calendar
import pytest

from shared.reference import clear_caches, deadline_rule
from shared.workdays import (
    HOLIDAYS_DIR_ENV,
    SHANGHAI,
    DeadlineDate,
    HolidayDataError,
    OutsideCoverage,
    WorkdayCalendar,
    add_months,
    default_calendar,
    load_holiday_file,
)

D = dt.date
UTC = dt.timezone.utc

# A made-up 2027 arrangement for tests only — NOT the State Council's 2027 notice.
FAKE_2027 = """\
    year: 2027
    citation: TEST FIXTURE, not a real notice
    holidays:
      - {name: New Year's Day, dates: [2027-01-01]}
      - {name: Test holiday, from: 2027-01-05, to: 2027-01-06}
    workdays:
      - {name: Test make-up day, dates: [2027-01-09]}
"""


@pytest.fixture(autouse=True)
def _hermetic(monkeypatch):
    monkeypatch.delenv(HOLIDAYS_DIR_ENV, raising=False)
    default_calendar.cache_clear()
    clear_caches()
    yield
    default_calendar.cache_clear()


@pytest.fixture
def cal():
    return WorkdayCalendar()


def year_file(tmp_path, year, text, name="holidays"):
    directory = tmp_path / name
    directory.mkdir(exist_ok=True)
    (directory / f"{year}.yaml").write_text(textwrap.dedent(text), encoding="utf-8")
    return directory


@dataclass(frozen=True)
class Rule:
    amount: int
    unit: str
    roll_to_workday: bool = False


# --- the official calendar -------------------------------------------------------------------


def test_the_package_data_has_the_make_up_days_these_tests_rely_on():
    assert chinese_calendar.is_workday(D(2025, 9, 28))  # Sunday before National Day 2025
    assert chinese_calendar.is_workday(D(2025, 10, 11))  # Saturday after it
    assert chinese_calendar.is_workday(D(2026, 2, 14))  # Saturday before Spring Festival 2026
    assert chinese_calendar.is_workday(D(2026, 2, 28))  # Saturday after it
    assert not chinese_calendar.is_workday(D(2026, 2, 23))  # Monday inside the break


def test_make_up_weekend_days_are_workdays_and_holiday_weekdays_are_not(cal):
    assert cal.is_workday(D(2025, 9, 28)) and D(2025, 9, 28).weekday() == 6
    assert cal.is_workday(D(2025, 10, 11)) and D(2025, 10, 11).weekday() == 5
    assert not cal.is_workday(D(2025, 10, 8)) and D(2025, 10, 8).weekday() == 2


def test_the_day_of_the_event_does_not_count(cal):
    assert cal.add_workdays(D(2025, 6, 9), 1) == DeadlineDate(D(2025, 6, 10), provisional=False)
    assert cal.add_workdays(D(2025, 6, 13), 1).date == D(2025, 6, 16)  # Friday → Monday
    assert cal.add_workdays(D(2025, 6, 13), 0).date == D(2025, 6, 13)


def test_a_complaint_received_before_spring_festival_2026_is_due_on_the_make_up_saturday(cal):
    # Thu 12 Feb: Fri 13 (1), Sat 14 make-up (2), 15–23 off, 24 (3) … 27 (6), Sat 28 make-up (7)
    due = cal.add_workdays(D(2026, 2, 12), 7)
    assert due.date == D(2026, 2, 28) and not due.provisional


def test_three_working_days_from_the_friday_before_spring_festival_2026_skip_the_whole_break(cal):
    assert cal.add_workdays(D(2026, 2, 13), 3).date == D(2026, 2, 25)


def test_national_day_2025_deadlines_count_the_make_up_sunday_and_saturday(cal):
    assert cal.add_workdays(D(2025, 9, 26), 3).date == D(2025, 9, 30)  # Sun 28 counts
    assert cal.add_workdays(D(2025, 9, 30), 7).date == D(2025, 10, 16)  # 1–8 off, Sat 11 counts
    assert cal.add_workdays(D(2025, 9, 30), 15).date == D(2025, 10, 28)


# --- coverage and provisional deadlines ---------------------------------------------------------


def test_the_package_covers_until_the_end_of_2026(cal):
    assert cal.covered_until() == D(2026, 12, 31)
    assert cal.is_covered(D(2026, 12, 31)) and not cal.is_covered(D(2027, 1, 1))


def test_a_december_2026_deadline_spilling_into_2027_is_provisional_and_skips_new_years_day(cal):
    due = cal.add_workdays(D(2026, 12, 24), 7)
    assert due.provisional
    # Dec 25, 28, 29, 30, 31 (5); Jan 1 a statutory holiday by rule; Jan 4 (6), Jan 5 (7)
    assert due.date == D(2027, 1, 5)


def test_a_deadline_inside_the_data_is_not_provisional_even_late_in_2026(cal):
    assert not cal.add_workdays(D(2026, 12, 21), 4).provisional


def test_adding_a_2027_data_file_makes_the_deadline_final_and_extends_coverage(tmp_path):
    directory = year_file(tmp_path, 2027, FAKE_2027)
    cal = WorkdayCalendar(extra_dirs=[directory])
    assert cal.covered_until() == D(2027, 12, 31)
    due = cal.add_workdays(D(2026, 12, 24), 7)
    # Dec 25, 28, 29, 30, 31 (5); Jan 1 off; Jan 4 (6); Jan 5–6 off; Jan 7 (7)
    assert due == DeadlineDate(D(2027, 1, 7), provisional=False)
    assert cal.is_workday(D(2027, 1, 9))  # the file's make-up Saturday
    assert not cal.is_workday(D(2027, 1, 10))  # an ordinary Sunday
    assert "TEST FIXTURE" in cal.sources()[2027]


def test_the_holidays_dir_environment_variable_adds_data_files(tmp_path, monkeypatch):
    directory = year_file(tmp_path, 2027, FAKE_2027)
    monkeypatch.setenv(HOLIDAYS_DIR_ENV, str(directory))
    assert default_calendar().covered_until() == D(2027, 12, 31)


def test_a_year_after_a_gap_is_covered_but_does_not_extend_covered_until(tmp_path):
    directory = year_file(tmp_path, 2028, FAKE_2027.replace("2027", "2028"))
    cal = WorkdayCalendar(extra_dirs=[directory])
    assert cal.covered_until() == D(2026, 12, 31)
    assert cal.is_covered(D(2028, 3, 1)) and not cal.is_covered(D(2027, 3, 1))


def test_outside_the_data_is_workday_raises_unless_a_provisional_answer_is_asked_for(cal):
    with pytest.raises(OutsideCoverage) as err:
        cal.is_workday(D(2027, 1, 1))
    assert err.value.covered_until == D(2026, 12, 31) and "2027" in str(err.value)
    assert not cal.is_workday(D(2027, 1, 1), allow_provisional=True)  # a Friday, but 元旦 by rule
    assert cal.is_workday(D(2027, 1, 4), allow_provisional=True)  # a Monday, guessed
    with pytest.raises(OutsideCoverage):
        cal.is_workday(D(2003, 5, 1))


def test_a_data_file_replaces_the_package_for_its_whole_year(tmp_path):
    directory = year_file(
        tmp_path,
        2026,
        """\
        year: 2026
        citation: TEST FIXTURE
        holidays:
          - {name: Test, dates: [2026-03-02]}
        """,
    )
    cal = WorkdayCalendar(extra_dirs=[directory])
    assert not cal.is_workday(D(2026, 3, 2))
    assert cal.is_workday(D(2026, 2, 16))  # a package holiday the file does not list
    assert not cal.is_workday(D(2026, 2, 14))  # the package's make-up Saturday is gone too


def test_later_directories_win_over_earlier_ones(tmp_path):
    first = year_file(tmp_path, 2027, FAKE_2027, name="a")
    second = year_file(tmp_path, 2027, "year: 2027\ncitation: second\n", name="b")
    cal = WorkdayCalendar(extra_dirs=[first, second])
    assert cal.is_workday(D(2027, 1, 5))
    assert "second" in cal.sources()[2027]


def test_a_notice_may_list_a_day_of_the_previous_year(tmp_path):
    directory = year_file(
        tmp_path,
        2027,
        FAKE_2027.replace("dates: [2027-01-01]", "from: 2026-12-31, to: 2027-01-01"),
    )
    cal = WorkdayCalendar(extra_dirs=[directory])
    assert not cal.is_workday(D(2026, 12, 31))
    assert cal.covered_until() == D(2027, 12, 31)


def test_the_template_file_is_not_loaded(cal):
    assert not cal.is_covered(D(2099, 1, 1))


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("2027.yaml", "year: 2028\ncitation: x\n", "file name says 2027"),
        ("2027.yaml", "year: 2027\ncitation: x\nworkdays: [{name: t, dates: [2027-01-04]}]\n", "not a Saturday"),
        (
            "2027.yaml",
            "year: 2027\ncitation: x\nholidays: [{name: t, dates: [2027-01-09]}]\n"
            "workdays: [{name: t, dates: [2027-01-09]}]\n",
            "both",
        ),
        ("2027.yaml", "year: 2027\nholidays: []\n", "citation"),
        ("2027.yaml", "year: 2027\ncitation: x\nholidays: [{name: t, from: 2027-01-09}]\n", "from and to"),
    ],
)
def test_malformed_holiday_files_are_refused_with_the_reason(tmp_path, name, text, message):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    with pytest.raises(HolidayDataError, match=message):
        load_holiday_file(path)


def test_a_missing_holiday_directory_is_an_error_not_a_silent_gap(tmp_path):
    with pytest.raises(HolidayDataError, match="does not exist"):
        WorkdayCalendar(extra_dirs=[tmp_path / "nope"])


def test_dates_must_be_local_calendar_days_not_datetimes(cal):
    with pytest.raises(TypeError):
        cal.is_workday(dt.datetime(2025, 1, 2, 3, 0))
    with pytest.raises(ValueError):
        cal.add_workdays(D(2025, 1, 2), -1)


# --- deadlines from events ----------------------------------------------------------------------


def test_a_working_day_deadline_ends_at_the_end_of_the_local_due_day(cal):
    rule = deadline_rule("complaint_accept_decision", at=D(2026, 2, 12))
    deadline = cal.deadline_from(dt.datetime(2026, 2, 12, 2, 0, tzinfo=UTC), rule)
    assert deadline.due_date_local == D(2026, 2, 28)
    assert deadline.due_at_utc == dt.datetime(2026, 2, 28, 15, 59, 59, 999999, tzinfo=UTC)
    assert deadline.due_at_utc.astimezone(SHANGHAI).time() == dt.time(23, 59, 59, 999999)
    assert not deadline.provisional
    assert (deadline.rule_id, deadline.rule_version) == ("complaint_accept_decision", "2020")


def test_the_event_day_is_the_shanghai_day_not_the_utc_day(cal):
    # 17:00 UTC on 25 Sep is 01:00 on Friday 26 Sep in Shanghai
    deadline = cal.deadline_from(dt.datetime(2025, 9, 25, 17, 0, tzinfo=UTC), Rule(3, "working_days"))
    assert deadline.due_date_local == D(2025, 9, 30)


def test_an_hours_deadline_is_exact(cal):
    rule = deadline_rule("transfer_to_police", at=D(2025, 10, 1))
    approved = dt.datetime(2025, 10, 1, 9, 30, tzinfo=SHANGHAI)
    deadline = cal.deadline_from(approved, rule)
    assert deadline.due_at_utc == dt.datetime(2025, 10, 2, 1, 30, tzinfo=UTC)
    assert deadline.due_at_utc.tzinfo == UTC and not deadline.provisional


def test_calendar_day_deadlines_ignore_holidays_unless_the_rule_rolls_to_a_workday(cal):
    event = dt.datetime(2025, 9, 28, 2, 0, tzinfo=UTC)  # Sunday 28 Sep, local 10:00
    plain = cal.deadline_from(event, deadline_rule("police_filing_decision", at=D(2025, 9, 28)))
    assert plain.due_date_local == D(2025, 10, 1)
    rolled = cal.deadline_from(event, Rule(3, "calendar_days", roll_to_workday=True))
    assert rolled.due_date_local == D(2025, 10, 9)


def test_month_and_year_periods_end_on_the_corresponding_day_or_the_month_end(cal):
    assert add_months(D(2025, 11, 30), 3) == D(2026, 2, 28)
    assert add_months(D(2024, 2, 29), 12) == D(2025, 2, 28)
    event = dt.datetime(2025, 1, 31, 4, 0, tzinfo=UTC)
    assert cal.deadline_from(event, Rule(1, "months")).due_date_local == D(2025, 2, 28)
    listed = cal.deadline_from(event, deadline_rule("serious_violation_list_max", at=D(2025, 1, 31)))
    assert listed.due_date_local == D(2028, 1, 31) and not listed.provisional


def test_a_working_day_deadline_beyond_the_data_is_provisional(cal):
    deadline = cal.deadline_from(dt.datetime(2026, 12, 24, 1, 0, tzinfo=UTC), Rule(7, "working_days"))
    assert deadline.provisional and deadline.due_date_local == D(2027, 1, 5)  # 2027-01-01 is 元旦


def test_deadlines_need_an_aware_event_time_and_a_known_unit(cal):
    with pytest.raises(ValueError, match="timezone-aware"):
        cal.deadline_from(dt.datetime(2025, 1, 2, 3, 0), Rule(1, "hours"))
    with pytest.raises(ValueError, match="unit"):
        cal.deadline_from(dt.datetime(2025, 1, 2, 3, 0, tzinfo=UTC), Rule(1, "fortnights"))
