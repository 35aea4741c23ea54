"""Issue 14 §7 through all four services on the real stack (credit's side, then routing's): a bureau decides a penalty on a routed case whose
figures cross a criminal threshold and refers nothing to the police (以罚代刑, Order 310 art. 16) — credit
raises credit.penalty-substitutes-prosecution and notify delivers it, signed, to the procuratorate and the
leading-group office with the threshold, the figures and the rule's citation."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from shared.reference import load_thresholds
from tests.e2e.conftest import E2E

pytestmark = pytest.mark.stack

EVENT = "shuangda.credit.penalty-substitutes-prosecution.v1"


def turnover_threshold(on: dt.date) -> Decimal:
    fam = load_thresholds().family("counterfeit_trademark")
    version = max((v for v in fam.versions if v.effective_from <= on), key=lambda v: v.effective_from)
    return next(c for c in version.conditions if c.id == "turnover").all_of[0].at_least


async def test_a_penalty_over_the_criminal_threshold_without_a_referral_reaches_the_procuratorate_and_the_office(
        e2e: E2E) -> None:
    code = e2e.new_code()
    case_id = (await e2e.complain(code=code))["case_id"]  # a small complaint: routing proposes no referral
    bureau = "market_regulation@610402"
    await e2e.webhook("shuangda.case.assigned.v1", case_id=case_id, recipient=bureau)
    assert (await e2e.act(bureau, case_id, "acknowledge", {"decision": "accept"})).status == 200

    over = str(turnover_threshold(e2e.today))
    decision_no, penalty = await e2e.penalty(bureau, case_id=case_id, code=code,
                                             figures={"illegal_turnover": over})
    assert penalty.status == 201, penalty.body
    assert penalty.body["substitutes_prosecution"] is True

    to_procuratorate = await e2e.webhook(EVENT, case_id=case_id, recipient="procuratorate@610402", timeout=120)
    event = to_procuratorate.body["data"]["event"]
    assert event["decision_no"] == decision_no and event["bureau"] == bureau
    assert event["procuratorate"] == "procuratorate@610402" and event["referral_state"] == "none"
    assert event["figures"]["illegal_turnover"] == over
    assert event["family"] == "counterfeit_trademark" and event["threshold_citation"]
    assert "第十六条" in event["liability_citation"]
    to_office = await e2e.webhook(EVENT, case_id=case_id, recipient="office@610400", timeout=120)
    assert to_office.body["data"]["event"]["record_id"] == penalty.body["record_id"]


async def test_a_case_closed_with_a_penalty_after_its_referral_was_rejected_reaches_the_procuratorate_from_routing(
        e2e: E2E) -> None:
    code = e2e.new_code()
    over = str(turnover_threshold(e2e.today))
    # named as 213, so held to 213's turnover (not 215's lower one); routing proposes the referral itself
    case_id = (await e2e.complain(code=code, figures={"illegal_turnover": over, "conduct": 213}))["case_id"]
    bureau = "market_regulation@610402"
    await e2e.webhook("shuangda.referral.proposed.v1", case_id=case_id, recipient=bureau)
    assert (await e2e.act(bureau, case_id, "acknowledge", {"decision": "accept"})).status == 200
    rejected = await e2e.act(bureau, case_id, "referral/decision", {"approve": False, "reason": "情节轻微，不移送"})
    assert rejected.status == 200 and rejected.body["referral_state"] == "rejected", rejected.body
    outcome = await e2e.act(bureau, case_id, "outcome",
                            {"outcome": "penalty_decided", "decision_no": "咸秦市监罚〔2026〕77号", "penalty_amount": "20000.00"})
    assert outcome.status == 200, outcome.body

    arrived = await e2e.webhook("shuangda.case.penalty-over-threshold.v1", case_id=case_id,
                                recipient="procuratorate@610402", timeout=120)
    event = arrived.body["data"]["event"]
    assert event["referral_state"] == "rejected" and event["threshold_rule"] == "counterfeit_trademark.turnover"
    assert Decimal(event["figures"]["illegal_turnover"]) == Decimal(over) and "第十六条第二款" in event["liability_citation"]
    await e2e.webhook("shuangda.case.penalty-over-threshold.v1", case_id=case_id, recipient="office@610400", timeout=120)
