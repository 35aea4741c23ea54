"""Routing's reads for the console (adapters/http_overview.py) on the real broker and database:
the office's overview and assessment, and the public status by tracking number + second factor."""
from __future__ import annotations

import datetime as dt
import uuid

import pytest

from shared.contracts.cases import Complainant
from tests.support import stack
from tests.support.routing import RoutingWorld, case_opened

pytestmark = pytest.mark.stack
OFFICE = "office@610400"
MINE = "market_regulation@610402"


async def test_the_office_overview_counts_cases_by_state_county_bureau_and_category_and_a_bureau_may_not_read_it() -> None:
    unique = uuid.uuid4().hex[:10]
    world = RoutingWorld(unique, bootstrap=stack.bootstrap(), dsn=stack.dsn())
    await world.create_topics()
    tracking = f"SD261207-{unique[:8].upper().translate(str.maketrans('ILOU', '1100'))}"
    async with world.running(public_rate_burst=4,  # 4 status reads, then 429
                              public_rate_per_second=0.01) as svc:
        first = case_opened(f"A-{unique}", category="false_advertising", county="610402").model_copy(
            update={"tracking_no": tracking, "complainant": Complainant(name_masked="张*", phone_masked="*******4321")})
        await world.open_cases(first, case_opened(f"B-{unique}", category="false_advertising", county="610402"),
                               case_opened(f"C-{unique}", category="online_piracy", county="610404"))
        for c in (f"A-{unique}", f"B-{unique}", f"C-{unique}"):
            await stack.eventually(lambda c=c: world.case_row(c), until=lambda r: r is not None, what=f"{c} assigned")
        office = {"Authorization": f"Bearer {await world.api_key(OFFICE)}"}
        bureau = {"Authorization": f"Bearer {await world.api_key(MINE)}"}

        r = await svc.http.get("/v1/overview", headers=office)
        assert r.status_code == 200, r.text
        o = r.json()
        assert {c["key"]: c["total"] for c in o["cases_by_state"]} == {"assigned": 3}
        assert {c["key"]: c["total"] for c in o["cases_by_county"]} == {"610402": 2, "610404": 1}
        assert {c["key"]: c["total"] for c in o["cases_by_category"]} == {"false_advertising": 2, "online_piracy": 1}
        assert {c["key"]: c["open"] for c in o["cases_by_bureau"]}[MINE] == 2
        assert o["deadlines_breached"] == 0 and o["hotspots"][0] == {"county": "610402", "category": "false_advertising",
                                                                     "cases": 2}
        assert (await svc.http.get("/v1/overview", headers=bureau)).status_code == 403

        today = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).date()
        r = await svc.http.get("/v1/overview/assessment", headers=office,
                               params={"start": str(today - dt.timedelta(days=1)), "end": str(today + dt.timedelta(days=1))})
        assert r.status_code == 200, r.text
        a = r.json()
        assert {row["key"]: row["opened"] for row in a["by_county"]} == {"610402": 2, "610404": 1}
        assert {row["key"]: row["answered"] for row in a["by_bureau"]}[MINE] == 0
        too_long = await svc.http.get("/v1/overview/assessment", headers=office,
                                      params={"start": "2025-01-01", "end": "2026-12-31"})
        assert too_long.status_code == 422

        right = await svc.http.post("/v1/status", headers=bureau, json={"tracking_no": tracking, "last4": "4321"})
        assert right.status_code == 200, right.text
        assert right.json()["state"] == "assigned" and right.json()["bureau"] == MINE
        assert right.json()["next_kind"] and right.json()["phone_masked"] == "*******4321"
        wrong = await svc.http.post("/v1/status", headers=bureau, json={"tracking_no": tracking, "last4": "0000"})
        unknown = await svc.http.post("/v1/status", headers=bureau, json={"tracking_no": "SD261207-ZZZZZZZZ", "last4": "4321"})
        assert wrong.status_code == unknown.status_code == 404 and wrong.json()["detail"] == unknown.json()["detail"]
        fourth = await svc.http.post("/v1/status", headers=bureau, json={"tracking_no": tracking, "last4": "4321"})
        limited = await svc.http.post("/v1/status", headers=bureau, json={"tracking_no": tracking, "last4": "4321"})
        assert fourth.status_code == 200 and limited.status_code == 429 and limited.headers["retry-after"]
