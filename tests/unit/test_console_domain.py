"""The console's pure rules: roles, lockout, the worklist's order and the public lookup's second factor."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from services.console.domain import i18n
from services.console.domain.accounts import InvalidAccount, Lockout, check_password, parse_role
from services.console.domain.cases import (
    canonical_tracking_no, next_deadline, timeline, urgency, valid_last4, worklist_order,
)

NOW = datetime(2026, 11, 11, 8, 0, tzinfo=timezone.utc)


def role(text: str):  # noqa: ANN201
    return parse_role(text, office_bureau="office@610400", city_division="610400")


def test_each_role_maps_to_the_principal_kind_and_bureau_it_acts_for() -> None:
    assert (role("office").principal_kind, role("office").bureau) == ("office", "office@610400")
    assert role("bureau@market_regulation@610402").bureau == "market_regulation@610402"
    assert role("police").bureau == "public_security@610400"
    assert role("police@610402").bureau == "public_security@610402"
    assert role("procuratorate").principal_kind == "procuratorate"
    assert (role("ops").principal_kind, role("ops").bureau) == ("ops", None)
    assert role("office").sees_all_cases and not role("bureau@culture@610402").sees_all_cases


@pytest.mark.parametrize("text", ["bureau@market_regulation", "bureau@x@61", "bureau@public_security@610402",
                                  "admin", "police@abc", "office@610400"])
def test_a_malformed_role_is_refused_naming_the_field(text: str) -> None:
    with pytest.raises(InvalidAccount) as exc:
        role(text)
    assert exc.value.field == "role"


def test_a_short_password_is_refused() -> None:
    with pytest.raises(InvalidAccount):
        check_password("short")


def test_the_fifth_failure_in_a_row_locks_the_account_for_the_lockout_time() -> None:
    policy = Lockout(5, timedelta(minutes=15))
    count, until = 0, None
    for _ in range(4):
        count, until = policy.after_failure(count, NOW)
        assert until is None
    count, until = policy.after_failure(count, NOW)
    assert until == NOW + timedelta(minutes=15)
    assert policy.locked(until, NOW + timedelta(minutes=14)) and not policy.locked(until, NOW + timedelta(minutes=15))


def test_the_next_deadline_is_the_earliest_open_one() -> None:
    deadlines = [{"kind": "handling", "state": "open", "due_at": "2026-11-20T00:00:00+00:00", "citation": "art. 1"},
                 {"kind": "acknowledgement", "state": "met", "due_at": "2026-11-12T00:00:00+00:00"},
                 {"kind": "report", "state": "open", "due_at": "2026-11-15T00:00:00Z", "citation": "art. 2"}]
    nd = next_deadline(deadlines)
    assert nd is not None and (nd.kind, nd.citation) == ("report", "art. 2")
    assert next_deadline([]) is None


def test_urgency_is_breached_due_soon_or_ok() -> None:
    assert urgency(NOW - timedelta(seconds=1), NOW) == "breached"
    assert urgency(NOW + timedelta(hours=3), NOW) == "due_soon"
    assert urgency(NOW + timedelta(days=3), NOW) == "ok"
    assert urgency(None, NOW) == "none"


def test_the_worklist_puts_the_earliest_deadline_first_and_cases_without_one_last() -> None:
    items = [{"case_id": "a", "next_due_at": None}, {"case_id": "b", "next_due_at": NOW + timedelta(days=2)},
             {"case_id": "c", "next_due_at": NOW + timedelta(hours=1)}]
    assert [i["case_id"] for i in worklist_order(items)] == ["c", "b", "a"]


def test_a_tracking_number_is_read_as_intake_issues_it_and_the_second_factor_is_four_digits() -> None:
    assert canonical_tracking_no(" sd261111-7kq3m9xw ") == "SD261111-7KQ3M9XW"
    assert canonical_tracking_no("T-C-1") is None
    assert valid_last4("4321") and not valid_last4("432") and not valid_last4("43a1")


def test_the_second_factor_must_be_the_phones_last_four_digits() -> None:
    from services.routing.adapters.http_overview import second_factor_matches

    assert second_factor_matches("*******4321", "4321")
    assert not second_factor_matches("*******4321", "1234")
    assert not second_factor_matches(None, "4321")
    assert not second_factor_matches("*******4321", "432")


def test_a_cases_timeline_runs_from_opening_through_its_deadlines_with_their_legal_basis_to_closing() -> None:
    case = {"opened_at": "2026-11-10T01:00:00Z", "assigned_at": "2026-11-10T01:00:01Z", "origin": "complaint",
            "channel": "hotline", "bureau": "market_regulation@610402", "level": "county", "reasons": [],
            "state": "closed", "acknowledged_at": "2026-11-10T05:00:00Z", "closed_at": "2026-11-20T00:00:00Z",
            "outcome": "penalised", "transfers": 0, "referral": None,
            "deadlines": [{"kind": "acknowledgement", "due_at": "2026-11-17T00:00:00Z", "state": "met",
                           "bureau": "market_regulation@610402", "citation": "市场监督管理投诉举报处理暂行办法 第十四条",
                           "rule_id": "complaint_ack", "rule_version": "2019"}]}
    steps = timeline(case)
    assert [s["what"] for s in steps] == ["ev_opened", "ev_assigned", "ev_accepted", "ev_deadline_met", "ev_closed"]
    assert "第十四条" in steps[3]["citation"] and "complaint_ack v2019" in steps[3]["citation"]
    assert steps[-1]["detail"] == "penalised"


def test_every_text_has_chinese_first_and_english() -> None:
    assert i18n.text("sign_in", "zh") == "登录" and i18n.text("sign_in", "en") == "Sign in"
    assert all(zh and en for zh, en in i18n.TEXTS.values())


def test_the_outcome_form_offers_exactly_the_outcomes_routing_accepts_each_with_a_text() -> None:
    from typing import get_args

    from shared.contracts.bureau_actions import RecordOutcome
    from services.console.domain.cases import OUTCOMES

    assert set(OUTCOMES) == set(get_args(RecordOutcome.model_fields["outcome"].annotation))
    for outcome in OUTCOMES:
        assert i18n.text(f"outcome_{outcome}", "zh") != f"outcome_{outcome}"


def test_a_natural_persons_penalty_goes_with_the_resident_id_typed_and_no_credit_code() -> None:
    from services.console.domain.cases import penalty_decision

    body = penalty_decision({"party_kind": "natural_person", "party_name": " 欧阳锋 ", "resident_id": " 11010519491231002X ",
                             "credit_code": ""}, {"case_id": "C-1", "category": "false_advertising"})
    assert body["party"] == {"kind": "natural_person", "name": "欧阳锋", "resident_id": "11010519491231002X"}
