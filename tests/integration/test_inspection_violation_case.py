"""A violation found in a random inspection opens a case through intake's normal path (issue 15
§3): inspection publishes a lead on its own ingress topic, intake — knowing the topic's owner,
the principal ``inspection`` with ``leads:write`` — opens the case."""
from __future__ import annotations

import pytest

from shared.contracts.cases import CaseOpened
from tests.support import stack
from tests.support.inspection import InspectionWorld, credit_code
from tests.support.intake import IntakeWorld, running_intake

pytestmark = pytest.mark.stack


async def test_a_violation_found_in_an_inspection_becomes_a_case_in_intake(unique: str) -> None:
    intake = IntakeWorld(unique)
    await intake.create()
    await intake.add_client("inspection", "platform", ["leads:write"])
    world = InspectionWorld(unique, lead_topic=intake.ingress_topic("inspection"))
    await world.create()
    bureau = await world.key("bureau", "forestry")
    code = credit_code(world.division, 7)
    async with world.running() as (http, _parts), running_intake(intake):
        await world.register([{"credit_code": code, "name": "某某苗木专业合作社", "county": "610423",
                               "category": "seedlings"}])
        await http.put("/v1/pools/inspectors", headers=bureau, json={"entries": [
            {"inspector_id": "LY001", "name": "甲"}, {"inspector_id": "LY002", "name": "乙"}]})
        plan = (await http.post("/v1/plans", headers=bureau, json={"title": "林木种子抽查", "scope": {},
                                                                   "sample_size": 1})).json()
        r = await http.post(f"/v1/plans/{plan['plan_id']}/results", headers=bureau, json={
            "credit_code": code, "result": "referred_to_case", "findings": "无证生产经营林木种子",
            "inspected_by": ["LY001", "LY002"]})
        assert r.status_code == 200, r.text
        records = await stack.eventually(lambda: stack.read_lanes(intake.case_topic), until=lambda rs: len(rs) >= 1,
                                         timeout=60, what="the case intake opened")
    opened = CaseOpened.model_validate_json(records[0].value)
    assert opened.origin == "lead" and opened.category == "seedlings" and opened.county == "610423"
    assert opened.suspect.credit_code == code
    assert opened.client_id == intake.client_id("inspection")
