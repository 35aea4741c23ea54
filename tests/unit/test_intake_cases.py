"""Intake's case rules: opening and merging within the window, running totals,
tracking numbers and API keys (pure domain code)."""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from services.intake.domain.merge import accepts_reports, decide, merge_into, open_case
from services.intake.domain.model import ClientContext
from services.intake.domain.tracking import new_tracking_no, parse_tracking_no
from services.intake.domain.validation import validate_complaint_payload, validate_lead_payload

T0 = datetime(2025, 6, 1, 4, 0, tzinfo=timezone.utc)
WINDOW = timedelta(days=30)
HOTLINE = ClientContext("hotline-1", "hotline")
PLATFORM = ClientContext("platform-1", "platform")


def report(county: str = "610402", **figures: str):
    return validate_complaint_payload({
        "category": "trademarks", "county": county, "description": "假货",
        "suspect": {"credit_code": "91110000600037341L"}, "complainant": {"name": "张三", "phone": "13800138000"},
        "figures": figures,
    }, client=HOTLINE, transport="http", now=T0)


def test_a_report_with_no_open_case_opens_one() -> None:
    assert decide(None, report(), T0, WINDOW) == "open"


def test_a_report_within_the_window_merges_and_one_after_it_opens_a_new_case() -> None:
    case = open_case("case-1", report(), T0)
    assert decide(case, report(), T0 + timedelta(days=29, hours=23), WINDOW) == "merge"
    assert decide(case, report(), T0 + timedelta(days=30), WINDOW) == "open"
    assert decide(case, report(), T0 + timedelta(days=31), WINDOW) == "open"


def test_the_window_is_configurable() -> None:
    case = open_case("case-1", report(), T0)
    assert accepts_reports(case, T0 + timedelta(days=5), timedelta(days=7))
    assert not accepts_reports(case, T0 + timedelta(days=8), timedelta(days=7))


def test_merging_keeps_running_totals_and_every_county_involved() -> None:
    case = open_case("case-1", report(sales="100.10", pieces="3"), T0)
    case = merge_into(case, report(county="610427", sales="0.90", loss="5"), T0 + timedelta(days=1))
    case = merge_into(case, report(county="610482", sales="1"), T0 + timedelta(days=2))
    assert case.reports_count == 3
    assert case.figures == {"sales": Decimal("102.00"), "pieces": Decimal(3), "loss": Decimal("5.00")}
    assert case.counties == ("610402", "610482")
    assert case.county == "610402", "the case stays with the county that opened it"
    assert case.opened_at == T0 and case.last_report_at == T0 + timedelta(days=2)


def test_a_later_report_fills_in_what_the_case_did_not_know_about_the_suspect() -> None:
    first = validate_lead_payload({"source_id": "a", "category": "trademarks", "county": "610402",
                                   "suspect": {"credit_code": "91110000600037341L"}}, client=PLATFORM, transport="http", now=T0)
    second = validate_lead_payload({"source_id": "b", "category": "trademarks", "county": "610402",
                                    "suspect": {"credit_code": "91110000600037341L", "shop_id": "s1", "name": "某店"}},
                                   client=PLATFORM, transport="http", now=T0)
    assert first.merge_key == second.merge_key
    case = merge_into(open_case("c", first, T0), second, T0)
    assert case.suspect.name == "某店" and case.suspect.shop_id == "s1" and case.suspect.platform == "platform-1"


def test_a_case_a_person_filed_opens_on_the_priority_lane_and_keeps_it_whatever_merges_into_it() -> None:
    lead = validate_lead_payload({"source_id": "a", "category": "trademarks", "county": "610402",
                                  "suspect": {"credit_code": "91110000600037341L"}}, client=PLATFORM, transport="kafka", now=T0)
    complaint_case = open_case("c1", report(), T0)
    assert complaint_case.priority_lane, "a complaint over HTTP is on the lane"
    assert merge_into(complaint_case, lead, T0).priority_lane, "a lead merged into it follows the case"
    lead_case = open_case("c2", lead, T0)
    assert not lead_case.priority_lane, "a bulk lead's case is not"
    assert not merge_into(lead_case, report(), T0).priority_lane, "the lane is decided at opening, never after"


def test_deciding_with_a_case_about_another_suspect_is_a_programming_error() -> None:
    case = replace(open_case("case-1", report(), T0), merge_key="uscc:OTHER")
    with pytest.raises(ValueError):
        decide(case, report(), T0, WINDOW)


def test_a_tracking_number_carries_the_shanghai_date_and_reads_back_forgivingly() -> None:
    late_evening_utc = datetime(2025, 6, 1, 17, 30, tzinfo=timezone.utc)  # already 2 June in Shanghai
    number = new_tracking_no(late_evening_utc, bytes([0, 0, 0, 0, 1]))
    assert number == "SD250602-00000001"
    assert parse_tracking_no(" sd250602-oooooooi ") == number
    assert parse_tracking_no("ＳＤ２５０６０２－００００００００") == "SD250602-00000000"


@pytest.mark.parametrize("text", ["", "SD250602-0000000", "XX250602-00000000", "SD250602-0000000U", "x" * 100, "\x00"])
def test_text_that_cannot_be_a_tracking_number_is_not_one(text: str) -> None:
    assert parse_tracking_no(text) is None
