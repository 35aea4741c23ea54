"""Custody lists a case's lots (``GET /v1/lots?case_id=``, for the console's case page) on the real
database: each with its chain of custody, only those the caller may see (its bureau registered,
holds or received them; the office all), in two queries whatever their number; a hostile case id
is a 422 problem naming the field."""
from __future__ import annotations

import pytest

from tests.support.custody import CustodyWorld

pytestmark = pytest.mark.stack

ITEMS = [{"description": "假冒运动鞋", "quantity": "120", "unit": "双", "declared_value": "36000.00"}]


async def test_a_cases_lots_are_listed_to_those_who_may_see_them_with_their_chain(unique: str) -> None:
    world = CustodyWorld(unique)
    await world.create()
    bureau = await world.key("bureau", "market_regulation")
    other = await world.key("bureau", "food_drug")
    office = await world.key("office", "office")
    centre_id = f"centre-{unique}"
    case, elsewhere = f"case-{unique}", f"else-{unique}"
    async with world.running() as (http, _parts):
        await world.open_case(case, co_bureaus=(world.bureau("food_drug"),))  # food & drug co-operates on the case
        await world.open_case(elsewhere)
        lots = []
        for headers, case_id in ((bureau, case), (bureau, case), (other, case), (bureau, elsewhere)):
            r = await http.post("/v1/lots", headers=headers,
                                json={"case_id": case_id, "hazard": "ordinary", "location": "市公物仓", "items": ITEMS})
            assert r.status_code == 201, r.text
            lots.append(r.json()["lot_id"])
        r = await http.post(f"/v1/lots/{lots[0]}/handovers", json={"to": centre_id, "purpose": "appraisal"}, headers=bureau)
        assert r.status_code == 200, r.text

        mine = (await http.get("/v1/lots", params={"case_id": case}, headers=bureau)).json()
        assert mine["case_id"] == case and [lot["lot_id"] for lot in mine["lots"]] == sorted(lots[:2])
        handed = next(lot for lot in mine["lots"] if lot["lot_id"] == lots[0])
        assert [(c["to"], c["received_at"]) for c in handed["chain"]] == [(centre_id, None)]
        theirs = (await http.get("/v1/lots", params={"case_id": case}, headers=other)).json()["lots"]
        assert [lot["lot_id"] for lot in theirs] == [lots[2]]
        everything = (await http.get("/v1/lots", params={"case_id": case}, headers=office)).json()["lots"]
        assert sorted(lot["lot_id"] for lot in everything) == sorted(lots[:3])
        none = (await http.get("/v1/lots", params={"case_id": f"none-{unique}"}, headers=bureau)).json()
        assert none["lots"] == []

        hostile = await http.get("/v1/lots", params={"case_id": "x/../y"}, headers=bureau)
        assert hostile.status_code == 422 and hostile.headers["content-type"].startswith("application/problem+json")
        assert "case_id" in hostile.text
        assert (await http.get("/v1/lots", params={"case_id": case})).status_code == 401
