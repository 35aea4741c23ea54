"""Seized goods through the services as processes (issue 15's first chain): a bureau's case → goods
registered in custody → out to the appraisal centre → "counterfeit" with a valuation → routing
raises the case's figures, the criminal threshold is crossed and the referral proposed → sent to
the police → the goods handed to the police with the referral, custody recording the hand-over
and the Order 310 art. 12 deadline met. Every step through the services' APIs and Kafka."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from sim.api import Answer
from tests.e2e.conftest import E2E
from tests.support import stack

pytestmark = pytest.mark.stack

PACKAGE = {
    "transfer_letter": {"doc_no": "移送函-G1", "title": "涉嫌犯罪案件移送书"},
    "investigation_report": {"doc_no": "调查报告-G1", "title": "涉嫌犯罪案件情况的调查报告"},
    "seized_goods_list": {"doc_no": "清单-G1", "title": "涉案物品清单"},
    "test_reports": [{"doc_no": "咸快鉴〔2026〕G1号", "title": "鉴定意见书"}],
}
REPORT = {"doc_no": "咸快鉴〔2026〕G1号", "title": "鉴定意见书",
          "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"}


async def test_seized_goods_appraised_counterfeit_raise_the_figures_to_a_referral_and_go_to_the_police_in_time(
        e2e: E2E) -> None:
    county = "610403"
    bureau, police = f"market_regulation@{county}", f"public_security@{county}"
    b, p, centre = e2e.keys.routing[bureau], e2e.keys.routing[police], e2e.keys.appraisal[e2e.centre]
    receipt = await e2e.complain(code=e2e.new_code(county), county=county, figures={"sales": "899.00", "pieces": 1})
    case_id = receipt["case_id"]
    await e2e.webhook("shuangda.case.assigned.v1", case_id=case_id, recipient=bureau)
    assert (await e2e.act(bureau, case_id, "acknowledge", {"decision": "accept"})).status == 200

    async def register() -> Answer:
        return await e2e.on("custody", "POST", "/v1/lots", token=b, json={
            "case_id": case_id, "hazard": "ordinary", "location": "市公物仓 A-03",
            "items": [{"description": "假冒某品牌运动鞋", "quantity": "600", "unit": "双", "declared_value": "60000.00"}]})

    # custody and appraisal learn the case's bureau from routing's case.assigned: until then 404 unknown_case
    lot = await stack.eventually(register, until=lambda a: (a.status, a.reason) != (404, "unknown_case"), timeout=60,
                                 what="custody knows the case's bureau")
    assert lot.status == 201 and lot.body["holder"] == bureau, lot.body
    lot_id = lot.body["lot_id"]

    async def request() -> Answer:
        return await e2e.on("appraisal", "POST", "/v1/appraisals", token=b, json={
            "case_id": case_id, "kind": "authenticity", "provider": e2e.centre, "subject": "假冒某品牌运动鞋 600 双",
            "lot_id": lot_id})

    asked = await stack.eventually(request, until=lambda a: (a.status, a.reason) != (404, "unknown_case"), timeout=60,
                                   what="appraisal knows the case's bureau")
    assert asked.status == 201, asked.body
    aid = asked.body["appraisal_id"]
    assert (await e2e.on("appraisal", "POST", f"/v1/appraisals/{aid}:accept", token=centre)).status == 200
    out = await e2e.on("custody", "POST", f"/v1/lots/{lot_id}/handovers", token=b,
                       json={"to": e2e.centre, "purpose": "appraisal"})
    assert out.status == 200, out.body
    assert (await e2e.on("custody", "POST", f"/v1/lots/{lot_id}:receive", token=centre)).status == 200

    async def appraisal() -> Answer:
        return await e2e.on("appraisal", "GET", f"/v1/appraisals/{aid}", token=centre)

    # the samples' arrival is custody's receipt, carried to appraisal on custody.lifecycle
    await stack.eventually(appraisal, until=lambda a: a.body.get("state") == "samples_received", timeout=60,
                           what="the samples received through custody")
    result = await e2e.on("appraisal", "POST", f"/v1/appraisals/{aid}/result", token=centre,
                          json={"verdict": "counterfeit", "valuation": "180000.00", "report": REPORT})
    assert result.status == 200 and result.body["result"]["evidential_weight"] == "appraisal_opinion", result.body

    # routing takes the valuation as the unsold goods' value: over 刑法 214's 150,000 yuan
    proposed = await e2e.webhook("shuangda.referral.proposed.v1", case_id=case_id, recipient=bureau)
    assert proposed.body["data"]["event"]["basis"]["kind"] == "threshold_crossed"
    case = await e2e.read_case(bureau, case_id)
    figures = {k: Decimal(str(v)) for k, v in case.body["figures"].items()}
    assert figures["unsold_value"] == Decimal("180000") and figures["sales"] == Decimal("899"), case.body

    back = await e2e.on("custody", "POST", f"/v1/lots/{lot_id}/handovers", token=centre,
                        json={"to": bureau, "purpose": "return_to_bureau"})
    assert back.status == 200, back.body
    assert (await e2e.on("custody", "POST", f"/v1/lots/{lot_id}:receive", token=b)).status == 200

    assert (await e2e.act(bureau, case_id, "referral/decision", {"approve": True})).status == 200
    sent = await e2e.act(bureau, case_id, "referral/transfer", {"package": PACKAGE})
    assert sent.status == 200 and sent.body["referral_state"] == "transferred", sent.body
    opened = await e2e.act(police, case_id, "referral/police-decision", {"decision": "open", "police_case_no": "咸公立字〔G1〕号"})
    assert opened.status == 200 and opened.body["referral_state"] == "accepted", opened.body

    async def goods(token: str = b) -> Answer:
        return await e2e.on("custody", "GET", f"/v1/lots/{lot_id}", token=token)

    def handover_deadline(a: Answer) -> dict[str, Any] | None:
        return next((d for d in a.body.get("deadlines", []) if d["kind"] == "police_handover"), None)

    # custody learns of the police's opening on referral.lifecycle: the 3 days start
    started = await stack.eventually(goods, until=handover_deadline, timeout=60, what="the police hand-over deadline")
    due = handover_deadline(started)
    assert due is not None and due["rule_id"] == "transfer_handover" and due["state"] == "open"
    assert "310" in due["citation"] and due["local_policy"] is False

    stranger = await e2e.on("custody", "POST", f"/v1/lots/{lot_id}/handovers", token=p, json={"to": police, "purpose": "police"})
    assert (stranger.status, stranger.reason) == (403, "not_holder"), "only the holder hands over"
    to_police = await e2e.on("custody", "POST", f"/v1/lots/{lot_id}/handovers", token=b, json={"to": police, "purpose": "police"})
    assert to_police.status == 200, to_police.body
    received = await e2e.on("custody", "POST", f"/v1/lots/{lot_id}:receive", token=p)
    assert received.status == 200 and received.body["holder"] == police, received.body
    handover = await e2e.act(bureau, case_id, "referral/handover", {"files": [{"doc_no": "卷宗-G1"}], "note": "涉案物品已移交公安"})
    assert handover.status == 200 and handover.body["state"] == "closed", handover.body

    final = await goods(p)
    assert final.status == 200, "the police see the goods they hold"
    assert [(h["from"], h["to"], h["purpose"], h["received_by"] is not None) for h in final.body["chain"]] == [
        (bureau, e2e.centre, "appraisal", True), (e2e.centre, bureau, "return_to_bureau", True),
        (bureau, police, "police", True)]
    met = handover_deadline(final)
    assert met is not None and met["state"] == "met" and met["closed_at"] is not None
    assert dt.datetime.fromisoformat(met["closed_at"]) <= dt.datetime.fromisoformat(met["due_at"]), "within the 3 days"
