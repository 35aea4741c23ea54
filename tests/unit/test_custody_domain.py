"""The custody rules, pure: who may hand goods over or receive them, and when goods may leave."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from services.custody.domain import lots as rules
from services.custody.domain.lots import Item, Refused

AT = dt.datetime(2026, 12, 7, 2, 0, tzinfo=dt.timezone.utc)
BUREAU = "market_regulation@610402"
ITEM = Item("假冒运动鞋", Decimal(10), "双", Decimal("3000"))


def lot(hazard: str = "ordinary") -> rules.Lot:
    return rules.register("lot_1", "case-1", BUREAU, hazard, [ITEM], "A-03", AT)


def reason(exc: pytest.ExceptionInfo[Refused]) -> str:
    return exc.value.reason


def test_the_registering_bureau_holds_a_new_lot() -> None:
    new = lot()
    assert (new.holder, new.state, new.declared_value) == (BUREAU, "in_custody", Decimal("3000"))


@pytest.mark.parametrize("hazard,items,why", [("radioactive", [ITEM], "unknown_hazard"), ("ordinary", [], "empty"),
                                              ("ordinary", [Item("x", Decimal(0), "件", Decimal(1))], "not_positive")])
def test_a_lot_needs_a_known_hazard_and_positive_items(hazard: str, items: list[Item], why: str) -> None:
    with pytest.raises(Refused) as exc:
        rules.register("lot_1", "case-1", BUREAU, hazard, items, "A-03", AT)
    assert reason(exc) == why


def test_custody_passes_only_when_the_named_receiver_confirms() -> None:
    sent = rules.hand_over(lot(), by_party=BUREAU, by_person="p", to_party="police@610402", purpose="police", at=AT)
    assert (sent.state, sent.holder) == ("in_transit", BUREAU)
    with pytest.raises(Refused) as exc:
        rules.receive(sent, by_party="appraisal-x", by_person="q", at=AT)
    assert reason(exc) == "not_receiver" and exc.value.forbidden
    got = rules.receive(sent, by_party="police@610402", by_person="officer", at=AT)
    assert (got.holder, got.state, got.handovers[0].received_by) == ("police@610402", "in_custody", "officer")


def test_only_the_holder_hands_over_and_never_twice_at_once() -> None:
    with pytest.raises(Refused) as exc:
        rules.hand_over(lot(), by_party="food_drug@610402", by_person="p", to_party="x-centre", purpose="appraisal", at=AT)
    assert reason(exc) == "not_holder"
    sent = rules.hand_over(lot(), by_party=BUREAU, by_person="p", to_party="x-centre", purpose="appraisal", at=AT)
    with pytest.raises(Refused) as exc:
        rules.hand_over(sent, by_party=BUREAU, by_person="p", to_party="y-centre", purpose="appraisal", at=AT)
    assert reason(exc) == "hand_over_pending"


def test_goods_leave_only_as_decided() -> None:
    with pytest.raises(Refused) as exc:
        rules.dispose(lot(), by_party=BUREAU, outcome="returned", at=AT)
    assert reason(exc) == "no_decided_outcome"
    decided = rules.decide(lot(), by_party=BUREAU, by_person="p", outcome="returned", document_no="N-1",
                           decided_on=dt.date(2026, 12, 1))
    with pytest.raises(Refused) as exc:
        rules.dispose(decided, by_party=BUREAU, outcome="confiscated_auctioned", at=AT)
    assert reason(exc) == "not_the_decision"
    assert rules.dispose(decided, by_party=BUREAU, outcome="returned", at=AT).state == "disposed"


def test_destruction_needs_an_approved_plan_with_two_witnesses() -> None:
    decided = rules.decide(lot("toxic_harmful"), by_party=BUREAU, by_person="p", outcome="destroyed", document_no="N-2",
                           decided_on=dt.date(2026, 12, 1))
    with pytest.raises(Refused) as exc:
        rules.dispose(decided, by_party=BUREAU, outcome="destroyed", at=AT, plan_id="plan_1", plan_approved=False)
    assert reason(exc) == "no_approved_plan"
    with pytest.raises(Refused) as exc:
        rules.propose_plan("plan_1", BUREAU, [decided], dt.date(2026, 12, 8), "facility", ["张三", "张三"], dt.date(2026, 12, 7))
    assert reason(exc) == "too_few"
    with pytest.raises(Refused) as exc:
        rules.propose_plan("plan_1", BUREAU, [decided], dt.date(2026, 12, 6), "facility", ["a", "b"], dt.date(2026, 12, 7))
    assert reason(exc) == "in_the_past"
    plan = rules.propose_plan("plan_1", BUREAU, [decided], dt.date(2026, 12, 7), "facility", ["a", "b"], dt.date(2026, 12, 7))
    with pytest.raises(Refused) as exc:
        rules.approve_plan(plan, by_person="bureau-head", approver_is_office=False)
    assert reason(exc) == "not_approver"
    approved = rules.approve_plan(plan, by_person="office", approver_is_office=True)
    with pytest.raises(Refused) as exc:
        rules.record_destruction(approved, photos=[], environmental_cost=Decimal(1))
    assert reason(exc) == "missing"
    with pytest.raises(Refused) as exc:  # the record names photos added to the plan, none other
        rules.record_destruction(approved, photos=["a" * 64], environmental_cost=Decimal(900), uploaded=frozenset({"b" * 64}))
    assert reason(exc) == "not_uploaded" and exc.value.field == "photos.0"
    assert rules.record_destruction(approved, photos=["a" * 64], environmental_cost=Decimal(900),
                                    uploaded=frozenset({"a" * 64})).state == "done"
    assert rules.dispose(decided, by_party=BUREAU, outcome="destroyed", at=AT, plan_id="plan_1",
                         plan_approved=True).disposed_outcome == "destroyed"


def test_a_photo_is_an_image_and_only_the_bureau_or_the_holder_adds_a_lots_files() -> None:
    lot = rules.register("lot_1", "case-1", BUREAU, "ordinary", [ITEM], "仓", AT)
    rules.may_add_to_lot(lot, by_party=BUREAU)
    with pytest.raises(Refused) as exc:
        rules.may_add_to_lot(lot, by_party="food_drug@610402")
    assert reason(exc) == "not_bureau_or_holder" and exc.value.forbidden
    rules.file_fits("document", "application/pdf")
    with pytest.raises(Refused) as exc:
        rules.file_fits("photo", "application/pdf")
    assert reason(exc) == "not_a_photo" and exc.value.field == "file"
