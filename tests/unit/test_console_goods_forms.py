"""The case page's goods forms read into custody's and appraisal's bodies, and which lot commands
the page offers (services/console/domain/goods.py)."""
from __future__ import annotations

from services.console.domain import goods

LOT = {"lot_id": "lot_" + "a" * 20, "holder": "market_regulation@610402", "chain": [], "disposed": None}


def test_blank_item_rows_are_left_out_and_values_pass_as_typed_for_custody_to_check() -> None:
    body = goods.register_body("C-1", {"hazard": "ordinary", "location": " 仓 A ", "item0_description": "鞋",
                                       "item0_quantity": "12", "item0_unit": "双", "item0_value": "",
                                       "item1_description": " ", "item2_quantity": "x"})
    assert body == {"case_id": "C-1", "hazard": "ordinary", "location": "仓 A", "items": [
        {"description": "鞋", "quantity": "12", "unit": "双", "declared_value": "0"},
        {"description": "", "quantity": "x", "unit": "", "declared_value": "0"}]}


def test_an_appraisal_request_names_the_lot_and_date_only_when_given() -> None:
    assert goods.appraisal_body("C-1", {"kind": "value", "provider": "centre-1", "subject": "s"}) == {
        "case_id": "C-1", "kind": "value", "provider": "centre-1", "subject": "s"}
    assert goods.appraisal_body("C-1", {"kind": "value", "provider": "p", "subject": "s", "lot_id": LOT["lot_id"],
                                        "wanted_by": "2026-12-31"})["lot_id"] == LOT["lot_id"]


def test_the_holder_may_hand_over_and_only_the_receiver_confirms_a_pending_hand_over() -> None:
    holder, receiver = "market_regulation@610402", "office@610400"
    assert goods.lot_actions(LOT, holder) == {"hand_over": True, "receive": False}
    assert goods.lot_actions(LOT, receiver) == {"hand_over": False, "receive": False}
    moving = {**LOT, "chain": [{"to": receiver, "received_at": None}]}
    assert goods.lot_actions(moving, holder) == {"hand_over": False, "receive": False}
    assert goods.lot_actions(moving, receiver) == {"hand_over": False, "receive": True}
    assert goods.lot_actions({**LOT, "disposed": {"outcome": "returned"}}, holder)["hand_over"] is False
    assert goods.lot_actions(LOT, None) == {"hand_over": False, "receive": False}


def test_only_a_lot_id_of_custodys_shape_is_sent() -> None:
    assert goods.lot_shaped(LOT["lot_id"]) and not goods.lot_shaped("lot_../x") and not goods.lot_shaped("")
