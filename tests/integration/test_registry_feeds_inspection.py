"""The registry feeds the random draw (issue 15 §3, 双随机): the registration authority registers
enterprises in credit's registry; credit's `entity-registered` events reach inspection's copy; a
county bureau's plan is drawn from the registry in its own county — a versioned snapshot with the
bureau's risk grades and commitments, the same version again while nothing changed — and anyone
re-runs it from the published pool. Real broker and database, both services in process."""
from __future__ import annotations

import json
from typing import Any

import pytest

from services.inspection.domain import draw as drawing
from tests.support import identity, stack
from tests.support.credit import CreditWorld, http as credit_http
from tests.support.inspection import InspectionWorld, credit_code

pytestmark = pytest.mark.stack

SEED = "a1b2c3d4e5f60718293a4b5c6d7e8f90"
ROSTER = [{"inspector_id": f"LY{i:03d}", "name": f"执法员{i}"} for i in range(4)]


async def key(schema: str, bureau: str) -> dict[str, str]:
    return {"authorization": f"Bearer {await identity.issue_key(schema, bureau, 'bureau', bureau=bureau)}"}


async def test_a_plan_is_drawn_from_the_registry_in_the_bureaus_county_as_a_snapshot_anyone_can_re_run(unique: str) -> None:
    cw = CreditWorld(unique)
    await cw.create()
    iw = InspectionWorld(unique, credit_topic=cw.settings.credit_topic)
    await iw.create(with_identity=False)
    registrar = await key(cw.identity_schema, "market_regulation@610402")
    forestry = await key(cw.identity_schema, "forestry@610402")
    codes = [credit_code("610402", i) for i in range(5)]
    trader = "92610402MA0000001L"
    entries: list[dict[str, Any]] = [
        {"credit_code": c, "name": f"秦都苗木{i}号有限公司", "county": "610402", "categories": ["seedlings"]}
        for i, c in enumerate(codes)] + [
        {"credit_code": trader, "name": "张三丰", "county": "610402", "categories": ["seedlings", "farm_inputs"]}]
    async with cw.running() as cparts, iw.running() as (ihttp, _):
        async with credit_http(cparts) as chttp:
            r = await chttp.put("/v1/registry/entities", headers=registrar | {"idempotency-key": f"reg-{unique}"},
                                json={"entries": entries})
            assert r.status_code == 200 and r.json() == {"registered": 6, "changed": 0, "unchanged": 0}, r.text
            again = await chttp.put("/v1/registry/entities", headers=registrar, json={"entries": entries})
            assert again.json() == {"registered": 0, "changed": 0, "unchanged": 6}
            gone = await chttp.put("/v1/registry/entities", headers=registrar, json={"entries": [
                entries[4] | {"status": "deregistered"}]})
            assert gone.json() == {"registered": 0, "changed": 1, "unchanged": 0}
            outside = await chttp.put("/v1/registry/entities", headers=registrar, json={"entries": [
                entries[0] | {"county": "610404"}]})
            assert outside.status_code == 422 and outside.json()["errors"][0]["field"] == "entries[0].county"
            not_registrar = await chttp.put("/v1/registry/entities", headers=forestry, json={"entries": entries[:1]})
            assert not_registrar.status_code == 403 and not_registrar.json()["reason"] == "not_registration_authority"

        events = await cw.events(cw.settings.credit_topic, what="seven registrations",
                                 until=lambda e: sum(t.endswith("entity-registered.v1") for t, _ in e) == 7)
        published = {p["credit_code"]: p for t, p in events if t.endswith("entity-registered.v1")}
        assert published[trader]["name"] == "张**" and published[trader]["kind"] == "individual_trader"
        assert published[codes[4]]["status"] == "deregistered" and published[codes[4]]["version"] == 2

        async def registry() -> int:
            conn = await cw.conn()
            try:
                return int(await conn.fetchval(f"SELECT count(*) FROM {iw.settings.schema}.registry WHERE status = 'registered'"))
            finally:
                await conn.close()
        await stack.eventually(registry, until=lambda n: n == 5, what="inspection's copy of the registry")

        grades = [{"credit_code": codes[0], "risk": "high",
                   "commitment": {"committed_on": "2026-03-01", "text": "不生产经营无证林木种子"}},
                  {"credit_code": credit_code("610402", 99), "risk": "low"}]
        up = (await ihttp.put("/v1/pools/enterprises", headers=forestry, json={"entries": grades})).json()
        assert up["not_in_registry"] == [credit_code("610402", 99)]
        assert (await ihttp.put("/v1/pools/inspectors", headers=forestry, json={"entries": ROSTER})).status_code == 201
        body = {"title": "林木种子双随机抽查", "scope": {"category": "seedlings"}, "sample_size": 3, "seed": SEED}
        plan = (await ihttp.post("/v1/plans", headers=forestry, json=body)).json()
        assert plan["scope"]["county"] == "610402", "a county's bureau draws in its own county"
        assert plan["eligible"] == 5 and len(plan["tasks"]) == 3
        refused = await ihttp.post("/v1/plans", headers=forestry, json=body | {"scope": {"county": "610404"}})
        assert refused.status_code == 409 and refused.json()["errors"][0]["reason"] == "outside_division"
        second = (await ihttp.post("/v1/plans", headers=forestry, json=body | {"seed": SEED[::-1]})).json()
        assert second["enterprise_pool"] == plan["enterprise_pool"] == {
            "pool_id": "enterprises:forestry@610402", "version": 1}, "the same snapshot while nothing changed"

        public = (await ihttp.get(f"/v1/public/plans/{plan['plan_id']}")).json()
        pool = (await ihttp.get("/v1/public/pools/enterprises/forestry@610402/1")).json()
        assert pool["digest"] == public["enterprise_pool"]["digest"]
        listed = {e["credit_code"]: e for e in pool["entries"]}
        assert set(listed) == set(codes[:4]) | {trader}, "the deregistered enterprise is not drawn"
        assert listed[trader]["name"] == "张**" and listed[codes[0]]["risk"] == "high"
        assert listed[codes[0]]["commitment"]["text"] == "不生产经营无证林木种子" and listed[codes[1]]["risk"] == "medium"
        entries_ = [drawing.Enterprise(e["credit_code"], e["name"], e["county"], e["category"], e["risk"],
                                       drawing.Commitment(**e["commitment"]) if e["commitment"] else None)
                    for e in pool["entries"]]
        assert drawing.digest(entries_) == pool["digest"]
        staff = [drawing.Inspector(i["inspector_id"], i["name"]) for i in ROSTER]
        rerun = drawing.draw(SEED, entries_, staff, drawing.Scope(**{**public["scope"], "risks": tuple(public["scope"]["risks"])}),
                             sample_size=3, sample_rate=None)
        assert [x.credit_code for x in rerun.targets] == [t["credit_code"] for t in plan["tasks"]]
        assert json.dumps(public).count("张三丰") == 0
