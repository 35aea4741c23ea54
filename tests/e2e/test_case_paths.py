"""Cases through all four services on the real stack: every step through the
real channels — intake's API, Kafka, routing's bureau API, notify's signed
webhooks and SMS, credit's penalty API and public disclosure."""
from __future__ import annotations

from typing import Any

import pytest

from sim.api import Answer, call
from sim.registration import register_credit_bureaus
from tests.e2e.conftest import E2E
from tests.support import stack

pytestmark = pytest.mark.stack

PACKAGE = {
    "transfer_letter": {"doc_no": "移送函-1", "title": "涉嫌犯罪案件移送书"},
    "investigation_report": {"doc_no": "调查报告-1", "title": "涉嫌犯罪案件情况的调查报告"},
    "seized_goods_list": {"doc_no": "清单-1", "title": "涉案物品清单"},
    "test_reports": [{"doc_no": "鉴定-1", "title": "检验鉴定报告"}],
}


async def proceedings(e2e: E2E, code: str) -> Answer:
    """An entity's listing proceedings and review flags (credit)."""
    token = next(iter(e2e.keys.credit.values()))
    return await call(e2e.http, "GET", f"{e2e.iso.url('credit')}/v1/entities/{code}/listing-proceedings", token=token)


async def proceeding_step(e2e: E2E, bureau: str, proceeding_id: str, action: str, body: dict[str, Any]) -> Answer:
    return await call(e2e.http, "POST", f"{e2e.iso.url('credit')}/v1/listing-proceedings/{proceeding_id}:{action}",
                      token=e2e.keys.credit[bureau], json=body)


async def delivered(e2e: E2E, case_id: str, *, expect: set[tuple[str, str]], timeout: float = 90) -> list[Any]:
    """Wait until notify has delivered (event type, channel) for the case for every pair in `expect`."""
    schema = e2e.iso.schemas.notify

    async def rows() -> list[Any]:
        return await e2e.sql(f'SELECT event_type, channel, recipient, state, attempts FROM "{schema}".deliveries'
                             " WHERE case_id = $1", case_id)

    def complete(found: list[Any]) -> bool:
        done = {(r["event_type"], r["channel"]) for r in found if r["state"] == "delivered"}
        return expect <= done

    return await stack.eventually(rows, until=complete, timeout=timeout, interval=0.5, what=f"notices of {case_id}")


async def test_a_complaint_is_assigned_acknowledged_penalised_recorded_disclosed_and_notified(e2e: E2E) -> None:
    code = e2e.new_code()
    receipt = await e2e.complain(code=code)
    case_id = receipt["case_id"]
    assert receipt["outcome"] == "opened" and receipt["tracking_no"]

    assigned = await e2e.webhook("shuangda.case.assigned.v1", case_id=case_id, recipient="market_regulation@610402")
    event = assigned.body["data"]["event"]
    assert event["category"] == "trademarks" and event["level"] == "county"
    assert [d["kind"] for d in event["deadlines"]] == ["acknowledgement"]
    assert "public_security@610402" in event["co_bureaus"]
    assert "complainant" not in event or "phone" not in (event["complainant"] or {})  # sealed data never leaves notify

    ack = await e2e.act("market_regulation@610402", case_id, "acknowledge", {"decision": "accept"})
    assert ack.status == 200 and "shuangda.case.acknowledged.v1" in ack.body["events"]

    decision_no, penalty = await e2e.penalty("market_regulation@610402", case_id=case_id, code=code)
    assert penalty.status == 201, penalty.body
    record_id = penalty.body["record_id"]
    outcome = await e2e.act("market_regulation@610402", case_id, "outcome",
                            {"outcome": "penalty_decided", "decision_no": decision_no, "penalty_amount": "20000.00"})
    assert outcome.status == 200 and outcome.body["state"] == "closed"

    entity = await e2e.entity(code)
    assert entity.status == 200 and entity.body["status"] == "has_records"
    assert [r["record_id"] for r in entity.body["records"]] == [record_id]

    async def disclosed() -> list[Any]:
        answer = await stack_get(e2e, f"{e2e.iso.url('credit')}/v1/disclosures?kind=penalty&limit=500")
        return [item for item in answer.get("items", []) if item.get("decision_no") == decision_no]

    published = await stack.eventually(disclosed, until=bool, timeout=60, what="the penalty in the disclosure feed")
    assert published[0]["credit_code"] == code and "张三" not in str(published)

    notices = await delivered(e2e, case_id, expect={
        ("shuangda.case.assigned.v1", "webhook"), ("shuangda.case.opened.v1", "sms"),
        ("shuangda.case.acknowledged.v1", "sms"), ("shuangda.case.outcome-recorded.v1", "sms"),
    })
    assert all(r["state"] == "delivered" for r in notices if r["channel"] == "webhook")
    assert e2e.receiver.stats.rejected_signatures == 0

    def delivered_status(records: list[Any]) -> bool:
        return any(case_id.encode() in r.value and b"delivered" in dict(r.headers).get("ce_type", b"") for r in records)

    # notify's relay publishes the status after the delivery row is written: wait for it, don't race it
    await stack.eventually(lambda: stack.read_all(e2e.topic("notification.status"), timeout=10),
                           until=delivered_status, what="the case's delivered status event")


async def stack_get(e2e: E2E, url: str) -> dict[str, Any]:
    response = await e2e.http.get(url)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


async def test_a_case_above_the_criminal_threshold_is_referred_accepted_by_the_police_and_the_party_listed(e2e: E2E) -> None:
    code = e2e.new_code("610404")
    receipt = await e2e.complain(code=code, county="610404",
                                 figures={"sales": "80000.00", "illegal_turnover": "90000.00", "pieces": 300})
    case_id = receipt["case_id"]
    agency, police = "market_regulation@610404", "public_security@610404"

    proposed = await e2e.webhook("shuangda.referral.proposed.v1", case_id=case_id, recipient=agency)
    event = proposed.body["data"]["event"]
    assert event["proposed_by"] == "routing" and event["basis"]["kind"] == "threshold_crossed"
    assert event["police"] == police and event["next_deadline"]["kind"] == "referral_head_decision"

    assert (await e2e.act(agency, case_id, "acknowledge", {"decision": "accept"})).status == 200
    approve = await e2e.act(agency, case_id, "referral/decision", {"approve": True})
    assert approve.status == 200 and approve.body["referral_state"] == "approved"
    incomplete = await e2e.act(agency, case_id, "referral/transfer", {"package": {"transfer_letter": PACKAGE["transfer_letter"]}})
    assert incomplete.status == 409 and incomplete.body["reason"] == "incomplete_package"
    transfer = await e2e.act(agency, case_id, "referral/transfer", {"package": PACKAGE})
    assert transfer.status == 200 and transfer.body["referral_state"] == "transferred"

    told = await e2e.webhook("shuangda.referral.transferred.v1", case_id=case_id, recipient=police)
    assert told.body["data"]["event"]["suspect"]["credit_code"] == code
    assert (await e2e.read_case(police, case_id)).status == 200  # the police may now read the case
    opened = await e2e.act(police, case_id, "referral/police-decision", {"decision": "open", "police_case_no": "咸公立字〔1〕号"})
    assert opened.status == 200 and opened.body["referral_state"] == "accepted"

    await e2e.webhook("shuangda.referral.accepted.v1", case_id=case_id, recipient=agency)
    handover = await e2e.act(agency, case_id, "referral/handover", {"files": [{"doc_no": "卷宗-1"}], "note": "已移交"})
    assert handover.status == 200 and handover.body["state"] == "closed"
    case = await e2e.read_case(agency, case_id)
    assert case.body["outcome"] == "referred_to_police" and case.body["referral"]["state"] == "handed_over"

    async def flags() -> Any:
        return (await proceedings(e2e, code)).body

    # police opening a case is no Order 44 ground: a local-policy review flag, nobody listed (issue 14 §2)
    found = await stack.eventually(flags, until=lambda b: isinstance(b, dict) and b.get("proceedings"),
                                   timeout=60, what="the referral's review flag")
    [flag] = found["proceedings"]
    assert (flag["rule_id"], flag["basis"], flag["state"]) == ("criminal_referral_accepted", "local_policy", "review")
    entity = (await e2e.entity(code)).body
    assert entity["status"] != "blacklisted" and entity["listings"] == []
    assert [r["kind"] for r in entity["records"]] == ["criminal_referral"]
    await delivered(e2e, case_id, expect={("shuangda.referral.transferred.v1", "webhook"),
                                          ("shuangda.referral.handed-over.v1", "webhook")})


async def test_two_counterfeit_penalties_within_24_months_are_flagged_and_the_business_is_listed_only_through_the_steps(
        e2e: E2E) -> None:
    code = e2e.new_code("610422")
    cases: list[tuple[str, str]] = []
    for category in ("trademarks", "cosmetics"):
        receipt = await e2e.complain(code=code, category=category, county="610422")
        assigned = await e2e.webhook("shuangda.case.assigned.v1", case_id=receipt["case_id"],
                                     where=lambda e: e.get("bureau") is not None)
        cases.append((receipt["case_id"], assigned.body["data"]["event"]["bureau"]))
    # the second case is about a suspect routing has seen: the city bureau takes it
    assert cases[1][1] == "market_regulation@610400"
    for (case_id, bureau), category in zip(cases, ("trademarks", "cosmetics")):
        assert (await e2e.act(bureau, case_id, "acknowledge", {"decision": "accept"})).status == 200
        _, penalty = await e2e.penalty(bureau, case_id=case_id, code=code, category=category, fine="8000.00")
        assert penalty.status == 201, penalty.body
    [pid] = penalty.body["listing_proceedings"]

    # two counterfeit penalties are local policy, not an Order 44 ground: a flag a person decides, nobody listed
    flag = (await proceedings(e2e, code)).body["proceedings"][0]
    assert (flag["proceeding_id"], flag["basis"], flag["state"]) == (pid, "local_policy", "review")
    assert (await e2e.entity(code)).body["status"] != "blacklisted"

    city = "market_regulation@610400"
    for action, body in (("weigh", {"serious": True, "intent_shown": True}), ("notify", {"served_on": e2e.today.isoformat()}),
                         ("statement", {"kind": "waiver"}), ("decide", {"list": True})):
        step = await proceeding_step(e2e, city, pid, action, body)
        assert step.status == 200, (action, step.body)
    assert step.body["state"] == "approval" and step.body["approver"] == "market_regulation@610000"
    assert (await e2e.entity(code)).body["status"] != "blacklisted", "not before the level above consents"
    province = await register_credit_bureaus(e2e.dsn, e2e.iso.schemas.identity, ["market_regulation@610000"])
    e2e.keys.credit.update(province)
    approved = await proceeding_step(e2e, "market_regulation@610000", pid, "approve", {"approved": True})
    assert approved.status == 200 and approved.body["state"] == "listed", approved.body

    async def entity() -> Any:
        return (await e2e.entity(code)).body

    listed = await stack.eventually(entity, until=lambda b: isinstance(b, dict) and b.get("status") == "blacklisted",
                                    timeout=60, what="the business on the list")
    assert [li["rule_id"] for li in listed["listings"]] == ["repeat_counterfeit"]
    assert listed["measures"], "joint-punishment measures apply to a listed business"
    broadcast = await e2e.webhook("shuangda.credit.blacklisted.v1", recipient="market_regulation",
                                  where=lambda e: e.get("credit_code") == code)
    assert len(broadcast.body["data"]["event"]["triggering_records"]) == 2


async def test_a_bureau_passes_a_case_on_and_only_the_new_bureau_sees_and_handles_it(e2e: E2E) -> None:
    code = e2e.new_code()
    case_id = (await e2e.complain(code=code))["case_id"]
    first, second = "market_regulation@610402", "culture@610402"
    await e2e.webhook("shuangda.case.assigned.v1", case_id=case_id, recipient=first)

    moved = await e2e.act(first, case_id, "transfer", {"to_bureau": second, "reason": "涉及网络盗版，属文化部门职责"})
    assert moved.status == 200 and "shuangda.case.transferred.v1" in moved.body["events"]
    told = await e2e.webhook("shuangda.case.transferred.v1", case_id=case_id, recipient=first)
    assert told.body["data"]["event"]["to_bureau"] == second
    assigned = await e2e.webhook("shuangda.case.assigned.v1", case_id=case_id, recipient=second)
    assert assigned.body["data"]["event"]["assignment_no"] == 2
    assert assigned.body["data"]["event"]["transferred_from"] == first

    assert (await e2e.read_case(first, case_id)).status == 404
    assert (await e2e.act(first, case_id, "acknowledge", {"decision": "accept"})).status == 404
    assert (await e2e.act(second, case_id, "acknowledge", {"decision": "accept"})).status == 200
    case = await e2e.read_case(second, case_id)
    assert case.body["bureau"] == second and case.body["state"] == "accepted" and case.body["transfers"] == 1


async def test_a_case_passed_on_too_often_goes_to_the_office_which_directs_it(e2e: E2E) -> None:
    case_id = (await e2e.complain(code=e2e.new_code()))["case_id"]
    chain = ["market_regulation@610402", "culture@610402", "market_regulation@610402", "culture@610402"]
    await e2e.webhook("shuangda.case.assigned.v1", case_id=case_id, recipient=chain[0])
    for holder, target in zip(chain, chain[1:] + ["market_regulation@610402"]):
        answer = await e2e.act(holder, case_id, "transfer", {"to_bureau": target, "reason": "不属于本部门职责"})
        assert answer.status == 200, answer.body
    escalated = await e2e.webhook("shuangda.case.escalated.v1", case_id=case_id, recipient="office@610400")
    assert escalated.body["data"]["event"]["transfers"] == 4
    await e2e.webhook("shuangda.case.assigned.v1", case_id=case_id, recipient="office@610400")
    directed = await e2e.act("office@610400", case_id, "transfer", {"to_bureau": "market_regulation@610400",
                                                                   "reason": "领导小组办公室指定由市局主办"})
    assert directed.status == 200
    await e2e.webhook("shuangda.case.assigned.v1", case_id=case_id, recipient="market_regulation@610400")
    case = await e2e.read_case("office@610400", case_id)
    assert case.body["bureau"] == "market_regulation@610400" and case.body["transfers"] == 0
