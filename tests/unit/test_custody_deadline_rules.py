"""Custody's deadlines, pure: the police hand-over counted by the shared Order 310 rule from the
police's opening of the case, the perishable period from custody's local-policy file."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from shared.watched_deadline import warn_at
from shared.reference.deadlines import deadline_rule, load_deadlines
from shared.workdays import SHANGHAI, WorkdayCalendar

from services.custody.app.deadlines import RULES_FILE
from services.custody.domain import deadlines, lots
from services.custody.domain.lots import Item

AT = dt.datetime(2026, 12, 7, 2, 0, tzinfo=dt.timezone.utc)   # 10:00 in Shanghai
BUREAU = "market_regulation@610402"
POLICE = "public_security@610402"
CAL = WorkdayCalendar()


def lot(hazard: str = "ordinary") -> lots.Lot:
    return lots.register("lot_1", "case-1", BUREAU, hazard, [Item("假冒运动鞋", Decimal(10), "双", Decimal(3000))], "A-03", AT)


def test_the_police_hand_over_is_due_at_the_end_of_the_third_day_after_the_opening_by_order_310() -> None:
    rule = deadline_rule("transfer_handover", AT.date())
    d = deadlines.police_handover(lot(), AT, rule, CAL)
    assert d is not None
    assert d.due_at.astimezone(SHANGHAI) == dt.datetime(2026, 12, 10, 23, 59, 59, 999999, tzinfo=SHANGHAI)
    assert (d.kind, d.party, d.subject, d.rule_id) == ("police_handover", BUREAU, "lot_1", "transfer_handover")
    assert "第310号" in d.citation and "第十二条" in d.citation and d.local_policy is False


def test_goods_already_received_by_the_police_or_disposed_of_have_no_hand_over_deadline() -> None:
    rule = deadline_rule("transfer_handover", AT.date())
    handed = lots.hand_over(lot(), by_party=BUREAU, by_person="x", to_party=POLICE, purpose="police", at=AT)
    received = lots.receive(handed, by_party=POLICE, by_person="y", at=AT)
    assert deadlines.police_handover(handed, AT, rule, CAL) is not None, "handed over but not yet received"
    assert deadlines.police_handover(received, AT, rule, CAL) is None
    decided = lots.decide(lot(), by_party=BUREAU, by_person="x", outcome="returned", document_no="1号", decided_on=AT.date())
    gone = lots.dispose(decided, by_party=BUREAU, outcome="returned", at=AT)
    assert deadlines.police_handover(gone, AT, rule, CAL) is None


def test_perishable_goods_get_the_local_policy_period_and_say_so() -> None:
    rule = load_deadlines(RULES_FILE).rule("custody_perishable_disposal", AT.date())
    d = deadlines.perishable_disposal(lot("perishable"), rule, CAL)
    assert d is not None and d.local_policy is True and d.citation.startswith("local policy")
    assert d.due_at.astimezone(SHANGHAI).date() == dt.date(2026, 12, 14)
    assert deadlines.perishable_disposal(lot("ordinary"), rule, CAL) is None


def test_approaching_is_a_day_before_the_deadline_but_never_before_half_the_period() -> None:
    due = AT + dt.timedelta(days=4)
    assert warn_at(AT, due) == due - dt.timedelta(hours=24)
    short = AT + dt.timedelta(hours=10)
    assert warn_at(AT, short) == AT + dt.timedelta(hours=5)
