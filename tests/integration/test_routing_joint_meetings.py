"""The office convenes or dismisses a proposed joint meeting through routing's API on the real stack
(issue 16 §2): only the office, once per case, a dismissal only with a reason; the decision is one
``case.joint-meeting-decided`` on case.routing and a copy on each concerned bureau's egress topic;
an Idempotency-Key replays the first answer; hostile input is a 4xx problem naming the field."""
from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from tests.support import stack
from tests.support.routing import RoutingWorld, case_opened

pytestmark = pytest.mark.stack
OFFICE = "office@610400"
DECIDED = "shuangda.case.joint-meeting-decided.v1"


async def decided_on(topic: str, case_id: str, expect: int) -> list[Any]:
    records = await stack.eventually(
        lambda: stack.read_all(topic),
        until=lambda rs: len([r for r in rs if r.key == case_id.encode() and stack.header(r, "ce_type") == DECIDED]) >= expect,
        what=f"{DECIDED} on {topic}")
    return [r for r in records if r.key == case_id.encode() and stack.header(r, "ce_type") == DECIDED]


async def test_the_office_convenes_a_proposed_joint_meeting_once_and_the_bureaus_concerned_hear_of_it() -> None:
    w = RoutingWorld(uuid.uuid4().hex[:10], bootstrap=stack.bootstrap(), dsn=stack.dsn())
    await w.create_topics()
    async with w.running() as svc:
        major, ordinary = f"J-{w.unique}", f"O-{w.unique}"
        await w.open_cases(case_opened(major, category="cross_border", counties=["610402", "610481"]),
                           case_opened(ordinary, county="610402"))
        row = await stack.eventually(lambda: w.case_row(major), until=lambda r: r is not None and r["joint_meeting_proposed"],
                                     what="the joint meeting proposed")
        await stack.eventually(lambda: w.case_row(ordinary), until=lambda r: r is not None, what="the ordinary case")
        bureaus = list(dict.fromkeys([row["assignee"], *row["co_bureaus"]]))
        assert len(bureaus) >= 2
        office = {"Authorization": f"Bearer {await w.api_key(OFFICE)}"}
        lead = {"Authorization": f"Bearer {await w.api_key(row['assignee'])}"}
        path = f"/v1/cases/{major}/joint-meeting"

        listed = (await svc.http.get("/v1/joint-meetings", headers=office)).json()
        assert [(m["case_id"], m["decision"]) for m in listed if m["case_id"] in (major, ordinary)] == [(major, None)]
        assert (await svc.http.get("/v1/joint-meetings", headers=lead)).status_code == 403

        refused = await svc.http.post(path, headers=lead, json={"decision": "convene"})
        assert refused.status_code == 403, "only the office decides"
        no_reason = await svc.http.post(path, headers=office, json={"decision": "dismiss", "reason": "  "})
        assert no_reason.status_code == 422 and no_reason.json()["errors"][0]["field"] == "reason"
        not_proposed = await svc.http.post(f"/v1/cases/{ordinary}/joint-meeting", headers=office,
                                           json={"decision": "convene"})
        assert not_proposed.status_code == 409 and not_proposed.json()["reason"] == "not_proposed"
        unknown = await svc.http.post(f"/v1/cases/X-{w.unique}/joint-meeting", headers=office, json={"decision": "convene"})
        assert unknown.status_code == 404

        key = {"Idempotency-Key": f"jm-{uuid.uuid4().hex}"}
        convened = await svc.http.post(path, headers={**office, **key}, json={"decision": "convene", "reason": "跨区县联合执法"})
        assert convened.status_code == 200, convened.text
        assert convened.json() == {"case_id": major, "decision": "convene", "events": [DECIDED]}
        replay = await svc.http.post(path, headers={**office, **key}, json={"decision": "convene", "reason": "跨区县联合执法"})
        assert replay.status_code == 200 and replay.headers.get("Idempotent-Replayed") == "true"
        again = await svc.http.post(path, headers=office, json={"decision": "dismiss", "reason": "改变主意"})
        assert again.status_code == 409 and again.json()["reason"] == "already_decided"

        [event] = await decided_on(w.routing_topic, major, 1)
        body = json.loads(event.value)
        assert body["decision"] == "convene" and body["bureaus"] == bureaus and body["office"] == OFFICE
        assert body["decided_by"] == OFFICE and body["reason"] == "跨区县联合执法"
        for bureau in bureaus:
            copies = await decided_on(w.egress_topic(bureau), major, 1)
            assert len(copies) == 1, f"{bureau} hears of it once"
        listed = (await svc.http.get("/v1/joint-meetings", headers=office)).json()
        [mine] = [m for m in listed if m["case_id"] == major]
        assert mine["decision"] == "convene" and mine["decided_by"] == OFFICE
        rows = await w.fetch("SELECT decision FROM joint_meetings WHERE case_id = $1", major)
        assert [r["decision"] for r in rows] == ["convene"]


@pytest.mark.parametrize("body, field", [
    ({"decision": "maybe"}, "decision"),
    ({}, "decision"),
    ({"decision": "dismiss", "reason": "bad\x00reason"}, "reason"),
    ({"decision": "dismiss", "reason": "x" * 2001}, "reason"),
    ({"decision": "convene", "when": "now"}, "when"),
])
async def test_a_hostile_joint_meeting_decision_is_a_422_problem_naming_the_field(body: dict[str, Any], field: str) -> None:
    w = RoutingWorld(uuid.uuid4().hex[:10], bootstrap=stack.bootstrap(), dsn=stack.dsn())
    await w.create_topics()
    async with w.running(watch=False) as svc:
        office = {"Authorization": f"Bearer {await w.api_key(OFFICE)}"}
        response = await svc.http.post(f"/v1/cases/C-{w.unique}/joint-meeting", headers=office, json=body)
        assert response.status_code == 422, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        assert field in json.dumps(response.json(), ensure_ascii=False)
