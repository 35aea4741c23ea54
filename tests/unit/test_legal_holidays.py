"""Statutory holidays computed from 《全国年节及纪念日放假办法》 for years without a State Council notice.

The rule (第二条, versioned 2008 / 2014 / 2025) and the shipped lunar table are
proven against the official arrangements chinese_calendar carries (2008–2026):
every day the rule gives off must be a day off in the official data. Beyond
the data the computed days are used and the result stays provisional.
"""
from __future__ import annotations

import datetime as dt

import chinese_calendar
import pytest

from shared.workdays import DeadlineDate, OutsideCoverage, WorkdayCalendar, statutory_holidays

D = dt.date


@pytest.fixture(scope="module")
def cal() -> WorkdayCalendar:
    return WorkdayCalendar(use_env=False)


@pytest.mark.parametrize("year", range(2008, 2027))
def test_every_statutory_holiday_the_rule_gives_is_a_day_off_in_the_official_data(year):
    for day, name in statutory_holidays(year).days.items():
        assert chinese_calendar.is_holiday(day), f"{year}: {day} ({name}) is a working day in the official data"


@pytest.mark.parametrize("year", range(2008, 2027))
def test_the_official_data_names_the_same_festival_for_each_computed_holiday(year):
    english = {"元旦": "New Year's Day", "春节": "Spring Festival", "清明节": "Tomb-sweeping Day",
               "劳动节": "Labour Day", "端午节": "Dragon Boat Festival", "中秋节": "Mid-autumn Festival",
               "国庆节": "National Day"}
    for day, name in statutory_holidays(year).days.items():
        _, official = chinese_calendar.get_holiday_detail(day)
        if official is None:  # a weekend the notice does not name
            continue
        # 2015 and 2020: 中秋 joined with 国庆 and named either way in the data
        assert official in {english[name], "National Day", "Mid-autumn Festival"}, (day, name, official)


def test_the_2025_rule_has_thirteen_days_with_four_for_spring_festival_from_new_years_eve():
    h = statutory_holidays(2027)
    assert h.version == "2025" and h.verified and "第二条" in h.citation
    assert len(h.days) == 1 + 4 + 1 + 2 + 1 + 1 + 3  # 第二条: 13 days off
    spring = sorted(d for d, n in h.days.items() if n == "春节")
    assert spring == [D(2027, 2, 5), D(2027, 2, 6), D(2027, 2, 7), D(2027, 2, 8)]  # 除夕 to 初三
    assert [d for d, n in h.days.items() if n == "劳动节"] == [D(2027, 5, 1), D(2027, 5, 2)]
    assert {n for n in h.days.values()} == {"元旦", "春节", "清明节", "劳动节", "端午节", "中秋节", "国庆节"}


def test_the_rule_version_changes_on_1_january_2025():
    assert statutory_holidays(2024).version == "2014"
    assert statutory_holidays(2025).version == "2025"
    assert D(2024, 2, 9) not in statutory_holidays(2024).days  # 除夕 2024 was not a statutory holiday
    assert statutory_holidays(2025).days[D(2025, 1, 28)] == "春节"  # 除夕 2025 is


def test_a_complaint_received_on_24_december_2026_must_be_decided_by_5_january_2027_provisionally(cal):
    due = cal.add_workdays(D(2026, 12, 24), 7)  # 市场监督管理投诉举报处理暂行办法 第十四条: 7 working days
    assert due.date == D(2027, 1, 5) and due.provisional


def test_a_deadline_across_the_computed_2027_spring_festival_skips_its_weekdays(cal):
    # Thu 2027-02-04; Fri 2-5 (除夕) and Mon 2-8 (初三) are off; Sat/Sun as usual
    assert cal.add_workdays(D(2027, 2, 4), 1).date == D(2027, 2, 9)
    assert cal.add_workdays(D(2027, 2, 3), 1) == DeadlineDate(D(2027, 2, 4), provisional=True)


def test_the_lunar_table_ends_in_2060_and_later_years_fall_back_to_monday_to_friday(cal):
    assert statutory_holidays(2060).days
    with pytest.raises(OutsideCoverage):
        statutory_holidays(2061)
    assert cal.is_workday(D(2061, 1, 3), allow_provisional=True)  # a Monday; no lunar data, guessed
    assert cal.add_workdays(D(2061, 1, 3), 1).provisional


def test_a_state_council_notice_file_replaces_the_computed_days(tmp_path):
    (tmp_path / "2027.yaml").write_text(
        "year: 2027\ncitation: test notice (not the real one)\nholidays: []\n", encoding="utf-8")
    cal = WorkdayCalendar(extra_dirs=[tmp_path], use_env=False)
    assert cal.is_workday(D(2027, 1, 1))  # the (fake) notice wins over the rule
    assert not cal.add_workdays(D(2026, 12, 24), 7).provisional


def test_the_2007_and_2013_revisions_move_spring_festival_from_new_years_eve_to_the_third_day():
    # 国务院令第513号 (施行 2008-01-01): 除夕、初一、初二; 第644号 (施行 2014-01-01): 初一至初三
    h2013, h2014 = statutory_holidays(2013), statutory_holidays(2014)
    assert (h2013.version, h2013.verified, h2014.version, h2014.verified) == ("2008", True, "2014", True)
    assert sorted(d for d, n in h2013.days.items() if n == "春节") == [D(2013, 2, 9), D(2013, 2, 10), D(2013, 2, 11)]
    assert sorted(d for d, n in h2014.days.items() if n == "春节") == [D(2014, 1, 31), D(2014, 2, 1), D(2014, 2, 2)]
    assert D(2014, 1, 30) not in h2014.days  # 除夕 2014 is no longer a statutory holiday
    assert [d for d, n in statutory_holidays(2008).days.items() if n == "劳动节"] == [D(2008, 5, 1)]
