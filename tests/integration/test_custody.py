"""Seized goods in custody (issue 15 §1) on the real database and broker: registered by a bureau,
handed to an appraisal centre and back with each receipt confirmed, released only after a decided
outcome, destroyed only under a plan the office approved — every step in the hash-chained audit log
and published on the custody topic."""
from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

import pytest

from shared import audit
from shared.db import connect
from tests.support import evidence, stack
from tests.support.custody import CustodyWorld

pytestmark = pytest.mark.stack

ITEMS = [{"description": "假冒运动鞋", "quantity": "120", "unit": "双", "declared_value": "36000.00"},
         {"description": "假冒商标标识", "quantity": "500", "unit": "件", "declared_value": "500.00"}]


@pytest.fixture
async def world(unique: str) -> CustodyWorld:
    w = CustodyWorld(unique)
    await w.create()
    return w


def refused(r: Any, status: int, reason: str) -> None:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["errors"][0]["reason"] == reason, r.json()


async def register(world: CustodyWorld, http: Any, bureau: dict[str, str], hazard: str = "ordinary",
                   case: str = "case-0001") -> dict[str, Any]:
    await world.open_case(case)  # routing assigned the case to the world's bureau
    r = await http.post("/v1/lots", json={"case_id": case, "hazard": hazard, "location": "市公物仓 A-03", "items": ITEMS},
                        headers=bureau)
    assert r.status_code == 201, r.text
    return r.json()


async def test_goods_go_to_appraisal_and_back_with_each_receipt_then_leave_only_as_decided(world: CustodyWorld) -> None:
    bureau = await world.key("bureau", "market_regulation")
    centre_id = f"appraisal-centre-{world.unique}"
    centre = await world.key("appraisal", principal_id=centre_id)
    other = await world.key("bureau", "food_drug")
    async with world.running() as (http, _parts):
        lot = await register(world, http, bureau)
        assert (lot["holder"], lot["state"], lot["declared_value"]) == (world.bureau(), "in_custody", "36500.00")
        lid = lot["lot_id"]

        refused(await http.post(f"/v1/lots/{lid}/handovers", json={"to": centre_id, "purpose": "appraisal"},
                                headers=other), 403, "not_holder")
        r = await http.post(f"/v1/lots/{lid}/handovers", json={"to": centre_id, "purpose": "appraisal"}, headers=bureau)
        assert r.json()["state"] == "in_transit" and r.json()["holder"] == world.bureau()
        refused(await http.post(f"/v1/lots/{lid}:receive", headers=other), 403, "not_receiver")
        r = await http.post(f"/v1/lots/{lid}:receive", headers=centre)
        assert (r.json()["holder"], r.json()["state"]) == (centre_id, "in_custody")
        assert (await http.get(f"/v1/lots/{lid}", headers=other)).status_code == 404, "another bureau does not see it"
        assert (await http.get(f"/v1/lots/{lid}", headers=centre)).status_code == 200, "the holder does"

        await http.post(f"/v1/lots/{lid}/handovers", json={"to": world.bureau(), "purpose": "return_to_bureau"},
                        headers=centre)
        back = (await http.post(f"/v1/lots/{lid}:receive", headers=bureau)).json()
        assert back["holder"] == world.bureau()
        assert [(c["from"], c["to"], c["received_by"]) for c in back["chain"]] == [
            (world.bureau(), centre_id, centre_id), (centre_id, world.bureau(), world.bureau())]

        refused(await http.post(f"/v1/lots/{lid}:release", json={"outcome": "returned"}, headers=bureau),
                409, "no_decided_outcome")
        r = await http.post(f"/v1/lots/{lid}/decision", headers=bureau, json={
            "outcome": "confiscated_auctioned", "document_no": "咸市监罚〔2026〕88号", "decided_on": "2026-12-01"})
        assert r.status_code == 200, r.text
        refused(await http.post(f"/v1/lots/{lid}:release", json={"outcome": "returned"}, headers=bureau),
                409, "not_the_decision")
        key = {"idempotency-key": f"release-{world.unique}"}
        first = await http.post(f"/v1/lots/{lid}:release", json={"outcome": "confiscated_auctioned"}, headers=bureau | key)
        again = await http.post(f"/v1/lots/{lid}:release", json={"outcome": "confiscated_auctioned"}, headers=bureau | key)
        assert first.status_code == again.status_code == 200 and again.headers.get("idempotent-replayed") == "true"
        assert first.json()["state"] == "disposed"
        refused(await http.post(f"/v1/lots/{lid}/handovers", json={"to": centre_id, "purpose": "appraisal"},
                                headers=bureau), 409, "disposed")

    conn = await connect(stack.dsn(), world.settings.schema)
    try:
        assert await audit.verify(conn) is None
        kinds = [e.kind for e in await audit.entries(conn, lid)]
    finally:
        await conn.close()
    assert kinds == ["custody.registered", "custody.handed_over", "custody.received", "custody.handed_over",
                     "custody.received", "custody.decided", "custody.disposed"]


async def test_toxic_goods_are_destroyed_only_under_a_plan_the_office_approved(world: CustodyWorld) -> None:
    bureau = await world.key("bureau", "market_regulation")
    office = await world.key("office", "office")
    async with world.running() as (http, _parts):
        lots = [await register(world, http, bureau, hazard="toxic_harmful", case=f"case-{n}") for n in range(2)]
        ids = [x["lot_id"] for x in lots]
        tomorrow = (dt.date.today() + dt.timedelta(days=1)).isoformat()
        plan_body = {"lot_ids": ids, "scheduled_on": tomorrow, "facility": "市危险废物处置中心", "witnesses": ["张三", "李四"]}
        refused(await http.post("/v1/destruction-plans", json=plan_body, headers=bureau), 409, "no_decided_outcome")
        for lid in ids:
            await http.post(f"/v1/lots/{lid}/decision", headers=bureau, json={
                "outcome": "destroyed", "document_no": "咸市监没〔2026〕9号", "decided_on": "2026-12-02"})
        refused(await http.post(f"/v1/lots/{ids[0]}:release", json={"outcome": "returned"}, headers=bureau),
                409, "not_the_decision")
        refused(await http.post("/v1/destruction-plans", json={**plan_body, "witnesses": ["张三"]}, headers=bureau),
                409, "too_few")
        r = await http.post("/v1/destruction-plans", json=plan_body, headers=bureau)
        assert r.status_code == 201, r.text
        plan = r.json()["plan_id"]
        record = {"photos": [hashlib.sha256(b"not yet").hexdigest()], "environmental_cost": "1800.00"}
        refused(await http.post(f"/v1/destruction-plans/{plan}:record", json=record, headers=bureau), 409, "not_approved")
        assert (await http.post(f"/v1/destruction-plans/{plan}:approve", headers=bureau)).status_code == 403
        assert (await http.post(f"/v1/destruction-plans/{plan}:approve", headers=office)).json()["state"] == "approved"
        photo = await http.post(f"/v1/destruction-plans/{plan}/files", headers=bureau, content=evidence.jpeg_with_exif())
        assert photo.status_code == 201, photo.text
        record["photos"] = [photo.json()["sha256"]]  # the record names the photos added to the plan
        done = await http.post(f"/v1/destruction-plans/{plan}:record", json=record, headers=bureau)
        assert done.status_code == 200 and done.json()["state"] == "done", done.text
        for lid in ids:
            lot = (await http.get(f"/v1/lots/{lid}", headers=bureau)).json()
            assert lot["disposed"] == {"outcome": "destroyed", "at": lot["disposed"]["at"], "plan_id": plan}
        today = dt.date.today().isoformat()
        costs = (await http.get(f"/v1/reports/costs?since={today}&until={tomorrow}", headers=office)).json()
        # each lot kept one local day (registered and destroyed the same day) at the toxic goods' local-policy rate
        assert costs["bureaus"] == [{"bureau": world.bureau(), "lots": 2, "declared_value": "73000.00",
                                     "lots_kept": 2, "storage_days": 2, "storage_cost": "100.00",
                                     "destroyed": 2, "destruction_cost": "1800.00", "total_cost": "1900.00"}]
        assert [r["version"] for r in costs["storage_rates"]] == ["local-2026"]
        assert costs["storage_rates"][0]["local_policy"] is True
        kept = (await http.get(f"/v1/lots/{ids[0]}", headers=bureau)).json()["storage"]
        assert (kept["days"], kept["cost"], kept["rate_versions"]) == (1, "50.00", ["local-2026"])
        assert kept["until"] == lot["disposed"]["at"] and kept["rate"]["local_policy"] is True
        backwards = await http.get(f"/v1/reports/costs?since={tomorrow}&until={today}", headers=office)
        assert backwards.status_code == 422 and backwards.json()["errors"][0]["field"] == "until"
        assert (await http.get(f"/v1/reports/costs?since={today}&until={today}", headers=bureau)).status_code == 403

        async def published() -> list[str]:
            consumer = world.settings.kafka.consumer(world.settings.custody_topic, auto_offset_reset="earliest",
                                                     enable_auto_commit=False)
            await consumer.start()
            try:
                batch = await consumer.getmany(timeout_ms=2000, max_records=1000)
                return [dict(r.headers)["ce_type"].decode() for rs in batch.values() for r in rs]
            finally:
                await consumer.stop()

        types = await stack.eventually(published, until=lambda t: t.count("shuangda.custody.lot-disposed.v1") == 2,
                                       timeout=30, what="two lot-disposed events on the custody topic")
    assert types.count("shuangda.custody.lot-registered.v1") == 2
    assert types.count("shuangda.custody.destruction-plan.v1") == 3  # proposed, approved, done


async def test_a_lot_with_hostile_fields_is_refused_naming_the_field(world: CustodyWorld) -> None:
    bureau = await world.key("bureau", "market_regulation")
    async with world.running() as (http, _parts):
        r = await http.post("/v1/lots", headers=bureau, json={
            "case_id": "case-1", "hazard": "radioactive", "location": "仓\x00库", "items": [
                {"description": "x", "quantity": "-1", "unit": "件", "declared_value": "1"}]})
        assert r.status_code == 422
        fields = {e["field"] for e in r.json()["errors"]}
        assert {"hazard", "location", "items.0.quantity"} <= fields, r.json()
        assert (await http.post("/v1/lots", json={"case_id": "c", "hazard": "ordinary", "location": "x",
                                                  "items": ITEMS})).status_code == 401
        assert json.loads((await http.get("/v1/lots/lot_nothere", headers=bureau)).text)["status"] == 422
