"""The administrative → criminal referral on the real broker and database: from a
complaint whose figures cross the threshold to the police opening a case, with
the agency acting over HTTP and the police over their Kafka ingress topic."""
from __future__ import annotations

import uuid
from typing import Any

import pytest

from shared.contracts.bureau_actions import DecideCriminalCase, HandOver, RequestReconsideration, RequestSupervision
from shared.contracts.cases import Suspect
from shared.contracts.referral import ReferralAccepted
from tests.support.routing import RoutingWorld, case_opened
from tests.support import stack

pytestmark = pytest.mark.stack

AGENCY = "market_regulation@610402"
POLICE = "public_security@610402"
DOCS = {"transfer_letter": {"doc_no": "咸市监移〔2025〕1号"}, "investigation_report": {"doc_no": "R-1"},
        "seized_goods_list": {"doc_no": "L-1"}, "test_reports": [{"doc_no": "T-1", "title": "鉴定报告"}]}


def world() -> RoutingWorld:
    return RoutingWorld(uuid.uuid4().hex[:10], bootstrap=stack.bootstrap(), dsn=stack.dsn())


async def events_of(topic: str, case_id: str, n: int, timeout: float = 30.0) -> list[Any]:
    records = await stack.eventually(
        lambda: stack.read_all(topic),
        until=lambda rs: len({stack.header(r, "ce_id") for r in rs if r.key == case_id.encode()}) >= n,
        timeout=timeout, what=f"{n} events of {case_id} on {topic}",
    )
    seen, out = set(), []
    for r in records:
        if r.key == case_id.encode() and stack.header(r, "ce_id") not in seen:
            seen.add(stack.header(r, "ce_id"))
            out.append(r)
    return out


def types(records: list[Any]) -> list[str]:
    return [stack.header(r, "ce_type").split(".")[-2] for r in records]


async def test_a_complaint_crossing_the_threshold_goes_all_the_way_to_police_acceptance_and_handover() -> None:
    w = world()
    await w.create_topics(bureaus=[AGENCY, POLICE])
    case_id = f"C-{w.unique}"
    suspect = Suspect(credit_code="91110000600037341L", name="咸阳某商贸有限公司")
    async with w.running() as svc:
        agency_key, police_key = await w.api_key(AGENCY), await w.api_key(POLICE)
        agency = {"Authorization": f"Bearer {agency_key}"}
        police = {"X-API-Key": police_key}
        await w.open_cases(case_opened(case_id, category="trademarks", county="610402", suspect=suspect,
                                       figures={"illegal_turnover": 80000, "illegal_gains": 12000}))

        # routing assigns the case and, the figures crossing the threshold, proposes the referral itself
        proposed = await events_of(w.referral_topic, case_id, 1)
        assert types(proposed) == ["proposed"]
        assert (await svc.http.get(f"/v1/cases/{case_id}", headers=police)).status_code == 404

        r = await svc.http.post(f"/v1/cases/{case_id}/acknowledge", headers=agency, json={"decision": "accept"})
        assert r.status_code == 200, r.text
        r = await svc.http.post(f"/v1/cases/{case_id}/referral/decision", headers=agency,
                                json={"approve": True, "reason": "局长批准移送"})
        assert r.status_code == 200 and r.json()["referral_state"] == "approved", r.text
        incomplete = {k: v for k, v in DOCS.items() if k != "seized_goods_list"}
        r = await svc.http.post(f"/v1/cases/{case_id}/referral/transfer", headers=agency, json={"package": incomplete})
        assert r.status_code == 409 and r.json()["reason"] == "incomplete_package", r.text
        assert "seized_goods_list" in r.json()["detail"]
        r = await svc.http.post(f"/v1/cases/{case_id}/referral/transfer", headers=agency, json={"package": DOCS})
        assert r.status_code == 200 and r.json()["referral_state"] == "transferred", r.text

        # the police read the case now, and open a criminal case through their own ingress topic
        detail = (await svc.http.get(f"/v1/cases/{case_id}", headers=police)).json()
        assert detail["referral"]["state"] == "transferred"
        await w.command_via_kafka(POLICE, DecideCriminalCase(case_id=case_id, decision="open", police_case_no="咸公刑立〔2025〕9号"))
        await stack.eventually(lambda: w.fetch("SELECT state FROM referrals WHERE case_id = $1", case_id),
                               until=lambda rows: rows and rows[0]["state"] == "accepted", what="the police accepted")
        await w.command_via_kafka(AGENCY, HandOver(case_id=case_id, goods_list={"doc_no": "L-1"}, files=[{"doc_no": "F-1"}]))
        lifecycle = await events_of(w.referral_topic, case_id, 5)

    assert types(lifecycle) == ["proposed", "approved", "transferred", "accepted", "handed-over"]
    accepted = ReferralAccepted.model_validate_json(lifecycle[3].value)
    assert accepted.suspect.credit_code == "91110000600037341L" and accepted.suspect.name == "咸阳某商贸有限公司"
    assert accepted.police == POLICE and accepted.agency == AGENCY and accepted.after == "transfer"
    assert accepted.police_case_no == "咸公刑立〔2025〕9号"
    assert stack.header(lifecycle[3], "ce_actor") == POLICE, "the actor is the bureau the ingress topic names"

    police_stream = await events_of(w.egress_topic(POLICE), case_id, 3)
    assert types(police_stream) == ["transferred", "accepted", "handed-over"]
    agency_stream = await events_of(w.egress_topic(AGENCY), case_id, 8)
    assert "assigned" in types(agency_stream) and types(agency_stream)[-1] == "outcome-recorded"

    row = await w.case_row(case_id)
    assert (row["state"], row["outcome"]) == ("closed", "referred_to_police")
    deadlines = await w.fetch("SELECT kind, state FROM deadlines WHERE case_id = $1 ORDER BY created_at", case_id)
    assert [d["state"] for d in deadlines if d["state"] == "open"] == []
    assert {d["kind"]: d["state"] for d in deadlines} == {
        "acknowledgement": "met", "referral_head_decision": "met", "referral_transfer": "met",
        "police_filing_decision": "met", "handover": "met",
    }


async def test_a_police_refusal_goes_through_reconsideration_and_procuratorate_supervision() -> None:
    w = world()
    await w.create_topics(bureaus=[AGENCY, POLICE])
    case_id = f"C-{w.unique}"
    async with w.running() as svc:
        agency = {"Authorization": f"Bearer {await w.api_key(AGENCY)}"}
        await w.open_cases(case_opened(case_id, category="trademarks", figures={"illegal_turnover": 90000}))
        await events_of(w.referral_topic, case_id, 1)
        for path, body in (("acknowledge", {"decision": "accept"}), ("referral/decision", {"approve": True}),
                           ("referral/transfer", {"package": DOCS})):
            r = await svc.http.post(f"/v1/cases/{case_id}/{path}", headers=agency, json=body)
            assert r.status_code == 200, r.text
        # a refusal must be in writing with reasons
        await w.command_via_kafka(POLICE, DecideCriminalCase(case_id=case_id, decision="refuse"))
        await w.command_via_kafka(POLICE, DecideCriminalCase(case_id=case_id, decision="refuse", reason="情节显著轻微"))
        await events_of(w.referral_topic, case_id, 4)
        await w.command_via_kafka(AGENCY, RequestReconsideration(case_id=case_id, reason="数额已达追诉标准"))
        await events_of(w.referral_topic, case_id, 5)
        await w.command_via_kafka(POLICE, DecideCriminalCase(case_id=case_id, decision="refuse", reason="维持不予立案"))
        await events_of(w.referral_topic, case_id, 6)
        await w.command_via_kafka(AGENCY, RequestSupervision(case_id=case_id, reason="提请检察院立案监督"))
        lifecycle = await events_of(w.referral_topic, case_id, 7)
        refusals = await events_of(w.routing_topic, case_id, 3)

    assert types(lifecycle) == ["proposed", "approved", "transferred", "refused", "reconsideration-requested",
                                "reconsideration-refused", "supervision-requested"]
    refused = [r for r in refusals if types([r]) == ["command-refused"]]
    assert len(refused) == 1 and b"reason_required" in refused[0].value
    supervision = await events_of(w.egress_topic("procuratorate@610402"), case_id, 1)
    assert types(supervision) == ["supervision-requested"]
