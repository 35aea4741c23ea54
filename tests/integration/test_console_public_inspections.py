"""The public portal's random-inspection results (双随机、一公开, issue 16) on the real stack:
inspection and the console on sockets, one identity store. A bureau draws a plan, records and
publishes its results; the public finds them on `/public/inspections` by name and by credit code,
and a bureau's quality commitments; an individual trader known by its operator's own name is shown
by the surname only and is not found by the clear name."""
from __future__ import annotations

import uuid

import httpx
import pytest

from shared.identifiers import uscc_check_character
from tests.support.console import console_stack
from tests.support.inspection import credit_code

pytestmark = pytest.mark.stack


def trader_code(division: str, n: int) -> str:
    first = f"92{division}MA{n:07d}"  # 92: a 个体工商户's code
    return first + uscc_check_character(first)


async def test_the_public_finds_published_inspection_results_and_commitments_with_a_traders_own_name_masked() -> None:
    unique = uuid.uuid4().hex[:10]
    async with console_stack(unique, inspection=True) as cs:
        await cs.create_account("alice", "bureau@market_regulation@610402")  # registers console.public
        http, world = cs.beside["inspection"], cs.beside["inspection_world"]
        bureau = await world.key("bureau", "forestry")
        company, trader = credit_code(world.division, 1), trader_code(world.division, 2)
        commitment = {"committed_on": "2026-03-01", "text": "不生产经营无证林木种子"}
        pool = [{"credit_code": company, "name": f"秦都苗木有限公司{unique}", "county": "610402", "category": "seedlings",
                 "risk": "low", "commitment": commitment},
                {"credit_code": trader, "name": "欧阳春", "county": "610402", "category": "seedlings", "risk": "low",
                 "commitment": commitment}]
        await world.register(pool)  # targets are drawn from the registry (credit's entity-registered events)
        assert (await http.put("/v1/pools/enterprises", json={"entries": pool}, headers=bureau)).status_code == 201
        roster = [{"inspector_id": f"LY{i:03d}", "name": f"执法员{i}"} for i in range(3)]
        assert (await http.put("/v1/pools/inspectors", json={"entries": roster}, headers=bureau)).status_code == 201
        drawn = await http.post("/v1/plans", headers=bureau, json={
            "title": "林木种子双随机抽查", "sample_size": 2, "scope": {"category": "seedlings"}})
        assert drawn.status_code == 201, drawn.text
        plan = drawn.json()
        for task, result in zip(plan["tasks"], ("no_problem", "problems_found")):
            r = await http.post(f"/v1/plans/{plan['plan_id']}/results", headers=bureau, json={
                "credit_code": task["credit_code"], "result": result, "inspected_by": task["inspectors"],
                **({"findings": "标签不规范"} if result == "problems_found" else {})})
            assert r.status_code == 200, r.text
        assert (await http.post(f"/v1/plans/{plan['plan_id']}:publish", headers=bureau)).status_code == 200

        async with httpx.AsyncClient(base_url=cs.url) as public:
            by_name = await public.get("/public/inspections", params={"q": f"秦都苗木有限公司{unique}"})
            assert by_name.status_code == 200, by_name.text
            assert f'data-credit-code="{company}"' in by_name.text and trader not in by_name.text
            by_code = await public.get("/public/inspections", params={"q": trader.lower()})
            assert f'data-credit-code="{trader}"' in by_code.text and "欧**" in by_code.text
            assert "欧阳春" not in by_code.text, "a trader's own name is shown by the surname only"
            clear = await public.get("/public/inspections", params={"q": "欧阳春"})
            assert f'data-credit-code="{trader}"' not in clear.text, "the clear name finds nothing"
            assert "标签不规范" not in by_code.text, "the findings are not published on the portal"

            committed = await public.get("/public/inspections", params={"bureau": world.bureau("forestry")})
            assert committed.status_code == 200 and 'data-testid="commitments"' in committed.text
            assert committed.text.count("不生产经营无证林木种子") == 2 and "欧阳春" not in committed.text
            bad = await public.get("/public/inspections", params={"bureau": "Forestry/../x"})
            assert bad.status_code == 422 and 'data-reason="bad_bureau"' in bad.text
