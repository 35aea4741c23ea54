"""Custody and appraisal act only on a case routing assigned to the caller's bureau (issue 15): each
learns case → bureau from routing's ``case.assigned`` on the real broker (shared/case_bureaus.py),
refuses a case it never saw assigned (404 ``unknown_case``) and another bureau's case (403
``not_the_case_bureau``), each naming ``case_id``; a transfer moves the case, and a replayed older
assignment does not move it back."""
from __future__ import annotations

from typing import Any

import pytest

from tests.support.appraisal import AppraisalWorld
from tests.support.custody import CustodyWorld

pytestmark = pytest.mark.stack

ITEMS = [{"description": "假冒运动鞋", "quantity": "10", "unit": "双", "declared_value": "3000.00"}]


def refused(r: Any, status: int, reason: str) -> None:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["errors"][0] == {"field": "case_id", "reason": reason, "detail": r.json()["errors"][0]["detail"]}


async def test_goods_and_appraisals_are_refused_on_an_unknown_case_and_on_another_bureaus_case(unique: str) -> None:
    custody = CustodyWorld(unique)
    await custody.create()
    world = AppraisalWorld(unique, custody_topic=custody.settings.custody_topic, identity_schema=custody.identity_schema)
    await world.create(with_identity=False)
    mine, theirs = await custody.key("bureau", "market_regulation"), await custody.key("bureau", "food_drug")
    centre_id = f"centre-{unique}"
    await custody.key("appraisal", principal_id=centre_id)
    case, never = f"case-{unique}", f"never-{unique}"
    lot = {"hazard": "ordinary", "location": "市公物仓", "items": ITEMS}
    ask = {"kind": "authenticity", "provider": centre_id, "subject": "假冒运动鞋 10 双"}
    async with custody.running() as (goods, _c), world.running() as (http, _a):
        refused(await goods.post("/v1/lots", headers=mine, json=lot | {"case_id": never}), 404, "unknown_case")
        refused(await http.post("/v1/appraisals", headers=mine, json=ask | {"case_id": never}), 404, "unknown_case")

        await custody.open_case(case)
        await world.open_case(case)
        refused(await goods.post("/v1/lots", headers=theirs, json=lot | {"case_id": case}), 403, "not_the_case_bureau")
        refused(await http.post("/v1/appraisals", headers=theirs, json=ask | {"case_id": case}), 403,
                "not_the_case_bureau")
        assert (await goods.post("/v1/lots", headers=mine, json=lot | {"case_id": case})).status_code == 201
        assert (await http.post("/v1/appraisals", headers=mine, json=ask | {"case_id": case})).status_code == 201

        # transferred to food & drug (assignment 2); a replay of assignment 1 afterwards changes nothing
        await custody.open_case(case, custody.bureau("food_drug"), assignment_no=2)
        await custody.open_case(case, co_bureaus=(custody.bureau("culture"),), assignment_no=1)  # consumed, ignored
        refused(await goods.post("/v1/lots", headers=mine, json=lot | {"case_id": case}), 403, "not_the_case_bureau")
        assert (await goods.post("/v1/lots", headers=theirs, json=lot | {"case_id": case})).status_code == 201
