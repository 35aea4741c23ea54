"""The steps before a listing takes effect (SAMR Order 44; issue 14 §2), on worked examples at their
boundaries: the art. 12 weighing, the art. 13 notice and the party's periods, the decision, the level
above's consent, and who may take each step."""
from __future__ import annotations

import datetime as dt

import pytest

from services.credit.domain.listing_steps import (
    Proceeding, Step, StepRefused, advance, approver_of, division_level, parent_division,
)
from services.credit.domain.model import Bureau
from services.credit.rules import load_rulebook
from shared.workdays import SHANGHAI, WorkdayCalendar

BOOK = load_rulebook()
CAL = WorkdayCalendar(use_env=False)
PROC = BOOK.blacklist.procedure.at(dt.date(2024, 3, 1))
COUNTY = Bureau("k", "market_regulation", "610402")
CITY = Bureau("c", "market_regulation", "610400")
OFFICE = Bureau("o", "office", "610400")


def local(y: int, m: int, d: int, hh: int = 10, mm: int = 0, ss: int = 0) -> dt.datetime:
    return dt.datetime(y, m, d, hh, mm, ss, tzinfo=SHANGHAI)


def proceeding(state: str, *, basis: str = "order44", authority: str = "market_regulation@610402", **kw) -> Proceeding:
    approver = approver_of(PROC, authority)
    return Proceeding("lpr-1", "ip_intentional_heavy", basis, state, authority, approver, **kw)


def refused(p: Proceeding, step: Step, actor: Bureau = COUNTY, now: dt.datetime = local(2024, 3, 1)) -> StepRefused:
    with pytest.raises(StepRefused) as caught:
        advance(p, step, actor, PROC, CAL, now)
    return caught.value


# -- art. 12: the weighing --------------------------------------------------------------------

def test_no_listing_where_the_party_shows_there_was_no_intent() -> None:
    t = advance(proceeding("weighing"), Step("weigh", serious=True, intent_shown=False), COUNTY, PROC, CAL, local(2024, 3, 1))
    assert (t.state, t.notes["outcome"]) == ("not_listed", "no_intent")
    assert "第十二条第二款" in t.citation


def test_conduct_weighed_not_serious_is_not_listed_and_serious_conduct_goes_to_the_notice() -> None:
    assert advance(proceeding("weighing"), Step("weigh", serious=False, intent_shown=True), COUNTY, PROC, CAL,
                   local(2024, 3, 1)).state == "not_listed"
    assert advance(proceeding("weighing"), Step("weigh", serious=True, intent_shown=True), COUNTY, PROC, CAL,
                   local(2024, 3, 1)).state == "to_notify"


def test_a_weighing_without_its_findings_is_refused_naming_the_field() -> None:
    err = refused(proceeding("weighing"), Step("weigh", serious=True))
    assert (err.kind, err.field) == ("invalid", "intent_shown")


# -- art. 13: the notice and the party's periods -----------------------------------------------

def test_a_notice_served_on_a_friday_gives_five_working_days_to_state_a_case_and_five_days_to_ask_for_a_hearing() -> None:
    t = advance(proceeding("to_notify"), Step("notify", served_on=dt.date(2024, 3, 1)), COUNTY, PROC, CAL, local(2024, 3, 1))
    assert t.state == "statement_period"
    assert t.statement_due is not None and t.statement_due.due_date_local == dt.date(2024, 3, 8)
    assert t.hearing_request_due is not None and t.hearing_request_due.due_date_local == dt.date(2024, 3, 6)


def test_the_statement_period_skips_the_national_day_holiday_and_counts_its_make_up_saturday() -> None:
    t = advance(proceeding("to_notify"), Step("notify", served_on=dt.date(2024, 9, 30)), COUNTY, PROC, CAL,
                local(2024, 9, 30))
    # 2024-10-01..07 off, 2024-10-12 (Saturday) a make-up workday: Oct 8, 9, 10, 11, 12
    assert t.statement_due is not None and t.statement_due.due_date_local == dt.date(2024, 10, 12)


def test_a_notice_cannot_be_served_in_the_future() -> None:
    err = refused(proceeding("to_notify"), Step("notify", served_on=dt.date(2024, 3, 2)), now=local(2024, 3, 1))
    assert (err.reason, err.field) == ("served_in_future", "served_on")


def _in_period(**kw) -> Proceeding:
    statement_due = local(2024, 3, 8, 23, 59, 59) + dt.timedelta(microseconds=999999)
    hearing_due = local(2024, 3, 6, 23, 59, 59) + dt.timedelta(microseconds=999999)
    return proceeding("statement_period", statement_due_at=statement_due, hearing_request_due_at=hearing_due, **kw)


def test_the_bureau_decides_only_after_the_statement_period_unless_the_party_has_spoken() -> None:
    last_instant = local(2024, 3, 8, 23, 59, 59)
    assert refused(_in_period(), Step("decide", list_entity=True), now=last_instant).reason == "statement_period_open"
    after = local(2024, 3, 9, 0, 0, 0)
    assert advance(_in_period(), Step("decide", list_entity=True), COUNTY, PROC, CAL, after).state == "approval"
    heard = _in_period(party_heard=True)
    assert advance(heard, Step("decide", list_entity=False), COUNTY, PROC, CAL, local(2024, 3, 4)).state == "not_listed"


def test_a_hearing_may_be_asked_for_until_the_fifth_day_and_not_after() -> None:
    t = advance(_in_period(), Step("statement", statement_kind="hearing_request"), COUNTY, PROC, CAL,
                local(2024, 3, 6, 23, 59, 59))
    assert t.hearing_requested is True and t.state == "statement_period"
    err = refused(_in_period(), Step("statement", statement_kind="hearing_request"), now=local(2024, 3, 7, 0, 0, 0))
    assert err.reason == "hearing_request_late" and "第六十四条" in err.detail


def test_a_requested_hearing_must_have_been_held_before_the_decision() -> None:
    p = _in_period(hearing_requested=True, party_heard=True)
    err = refused(p, Step("decide", list_entity=True), now=local(2024, 3, 20))
    assert (err.reason, err.field) == ("hearing_not_held", "hearing_held_on")
    done = advance(p, Step("decide", list_entity=True, hearing_held_on=dt.date(2024, 3, 18)), COUNTY, PROC, CAL,
                   local(2024, 3, 20))
    assert done.state == "approval"


# -- approval by the level above ---------------------------------------------------------------

def test_county_and_prefecture_listings_need_the_level_above_and_a_province_does_not() -> None:
    assert [division_level(d) for d in ("610402", "610400", "610000")] == ["county", "prefecture", "province"]
    assert parent_division("610402") == "610400" and parent_division("610400") == "610000"
    assert approver_of(PROC, "market_regulation@610402") == "market_regulation@610400"
    assert approver_of(PROC, "market_regulation@610400") == "market_regulation@610000"
    assert approver_of(PROC, "market_regulation@610000") is None


def test_a_provincial_decision_lists_at_once_and_a_county_one_waits_for_the_city_bureau() -> None:
    province = Bureau("p", "market_regulation", "610000")
    p = proceeding("statement_period", authority="market_regulation@610000", party_heard=True)
    t = advance(p, Step("decide", list_entity=True), province, PROC, CAL, local(2024, 3, 4))
    assert (t.state, t.lists) == ("listed", True)
    waiting = proceeding("approval")
    assert refused(waiting, Step("approve", approved=True), actor=COUNTY).reason == "not_the_approver"
    approved = advance(waiting, Step("approve", approved=True), CITY, PROC, CAL, local(2024, 3, 4))
    assert (approved.state, approved.lists) == ("listed", True)
    declined = advance(waiting, Step("approve", approved=False), CITY, PROC, CAL, local(2024, 3, 4))
    assert (declined.state, declined.lists) == ("not_listed", False)


# -- who acts, and closed proceedings ----------------------------------------------------------

def test_the_office_may_dismiss_a_local_policy_flag_but_not_weigh_an_order_44_proceeding() -> None:
    flag = proceeding("review", basis="local_policy")
    assert advance(flag, Step("dismiss"), OFFICE, PROC, CAL, local(2024, 3, 1)).state == "not_listed"
    assert refused(proceeding("weighing"), Step("weigh", serious=True, intent_shown=True), actor=OFFICE).reason \
        == "not_the_authority"
    assert refused(proceeding("weighing"), Step("dismiss")).reason == "not_a_review_flag"


def test_another_bureau_cannot_take_a_step_and_a_closed_proceeding_takes_none() -> None:
    other = Bureau("x", "market_regulation", "610403")
    assert refused(proceeding("weighing"), Step("weigh", serious=True, intent_shown=True), actor=other).kind == "not_allowed"
    assert refused(proceeding("listed"), Step("weigh", serious=True, intent_shown=True)).reason == "proceeding_closed"


def test_the_procedure_is_versioned_data_with_citations_and_verification_notes() -> None:
    assert PROC.effective_from == dt.date(2021, 9, 1) and "第44号" in PROC.citation
    for step in (PROC.weighing, PROC.notice, PROC.approval, PROC.basis_revoked):
        assert step.article and (step.verified or step.verified_note)
    assert BOOK.blacklist.procedure.at(dt.date(2021, 9, 1)).version == PROC.version  # the day Order 44 came into force
    with pytest.raises(Exception):
        BOOK.blacklist.procedure.at(dt.date(2021, 8, 31))  # the day before
