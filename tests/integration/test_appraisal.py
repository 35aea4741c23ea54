"""Rapid appraisal (issue 15 §2) on the real database and broker: a bureau requests an appraisal
from the appraisal centre or a rights holder's identification service, the provider answers,
receives the samples (by custody's hand-over, or saying so) and reports; the result is published
with its evidential weight and what it adds to the case's figures; deadlines breach once."""
from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

from shared import audit
from shared.clock import ManualClock
from shared.db import connect
from shared.topics import provider_egress
from tests.support import stack
from tests.support.appraisal import AppraisalWorld
from tests.support.custody import CustodyWorld

pytestmark = pytest.mark.stack

START = dt.datetime(2026, 12, 7, 2, 0, tzinfo=dt.timezone.utc)   # Monday 10:00 in Shanghai
REPORT = {"doc_no": "咸快鉴〔2026〕17号", "title": "鉴定意见书",
          "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"}


def refused(r: Any, status: int, reason: str) -> None:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["errors"][0]["reason"] == reason, r.json()


async def events(world: AppraisalWorld, until: Any, what: str) -> list[tuple[str, dict[str, Any]]]:
    async def probe() -> list[tuple[str, dict[str, Any]]]:
        return [(stack.header(r, "ce_type") or "", json.loads(r.value))
                for r in await stack.read_all(world.settings.appraisal_topic)]
    return await stack.eventually(probe, until=until, what=what)


async def test_the_centre_appraises_counterfeit_goods_and_the_result_carries_the_case_figures(unique: str) -> None:
    world = AppraisalWorld(unique)
    await world.create()
    bureau = await world.key("bureau", "market_regulation")
    centre_id = f"centre-{unique}"
    centre = await world.key("appraisal", principal_id=centre_id)
    other = await world.key("appraisal", principal_id=f"other-centre-{unique}")
    case = f"case-{unique}"
    async with world.running() as (http, _parts):
        await world.open_case(case)  # routing assigned the case to the bureau
        key = {"idempotency-key": f"req-{unique}"}
        body = {"case_id": case, "kind": "authenticity", "provider": centre_id, "subject": "假冒运动鞋 120 双"}
        first = await http.post("/v1/appraisals", json=body, headers=bureau | key)
        again = await http.post("/v1/appraisals", json=body, headers=bureau | key)
        assert first.status_code == again.status_code == 201, first.text
        assert again.headers.get("idempotent-replayed") == "true" and first.json() == again.json()
        aid = first.json()["appraisal_id"]
        assert first.json()["provider_kind"] == "appraisal_centre"
        refused(await http.post(f"/v1/appraisals/{aid}:accept", headers=other), 403, "not_provider")
        assert (await http.post(f"/v1/appraisals/{aid}:accept", headers=centre)).json()["state"] == "accepted"
        refused(await http.post(f"/v1/appraisals/{aid}/result", json={"verdict": "counterfeit", "report": REPORT},
                                headers=centre), 409, "not_samples_received")
        assert (await http.post(f"/v1/appraisals/{aid}:samples-received", json={}, headers=centre)).status_code == 200
        refused(await http.post(f"/v1/appraisals/{aid}/result", json={"verdict": "substandard", "report": REPORT},
                                headers=centre), 409, "not_for_this_kind")
        done = await http.post(f"/v1/appraisals/{aid}/result", headers=centre,
                               json={"verdict": "counterfeit", "valuation": "56000.00", "report": REPORT})
        assert done.status_code == 200, done.text
        seen = (await http.get(f"/v1/appraisals/{aid}", headers=bureau)).json()
        assert seen["result"]["evidential_weight"] == "appraisal_opinion"
        assert {d["kind"]: d["state"] for d in seen["deadlines"]} == {"appraisal_answer": "met", "appraisal_result": "met"}
        assert (await http.get(f"/v1/appraisals/{aid}", headers=other)).status_code == 404
        listed = (await http.get(f"/v1/appraisals?case_id={case}", headers=bureau)).json()["appraisals"]
        assert [a["appraisal_id"] for a in listed] == [aid]

        # the request reaches the centre on its own topic, egress.appraisal.<provider>, which only it may read
        mine = world.settings.egress_prefix + provider_egress(centre_id).name

        async def copies() -> list[tuple[str, str]]:
            return [(stack.header(r, "ce_type") or "", json.loads(r.value)["appraisal_id"]) for r in await stack.read_all(mine)]

        got = await stack.eventually(copies, until=lambda c: len(c) >= 4, what="the copies on the centre's topic")
        assert got == [("shuangda.appraisal.requested.v1", aid), ("shuangda.appraisal.stepped.v1", aid),
                       ("shuangda.appraisal.stepped.v1", aid), ("shuangda.appraisal.reported.v1", aid)]
        assert not await stack.read_all(world.settings.egress_prefix + provider_egress(f"other-centre-{unique}").name)

    found = await events(world, lambda e: any(t.endswith("appraisal.reported.v1") for t, _ in e), "the result")
    assert [t for t, _ in found] == ["shuangda.appraisal.requested.v1", "shuangda.appraisal.stepped.v1",
                                     "shuangda.appraisal.stepped.v1", "shuangda.appraisal.reported.v1"]
    reported = found[-1][1]
    assert reported["figures"] == {"unsold_value": "56000.00"} and reported["case_id"] == case
    assert reported["withheld_figures"] == {} and reported["weight_rule"]["counts_toward_thresholds"] is True
    assert reported["report"]["doc_no"] == REPORT["doc_no"]
    conn = await connect(stack.dsn(), world.settings.schema)
    try:
        assert await audit.verify(conn) is None
        kinds = [e.kind for e in await audit.entries(conn, aid)]
    finally:
        await conn.close()
    assert kinds == ["appraisal.requested", "appraisal.accepted", "appraisal.samples_received", "appraisal.reported"]


async def test_a_rights_holders_identification_is_marked_and_only_for_authenticity(unique: str) -> None:
    world = AppraisalWorld(unique)
    await world.create()
    bureau = await world.key("bureau", "market_regulation")
    brand_id = f"brand-{unique}"
    brand = await world.key("appraisal", principal_id=brand_id, roles=("rights_holder",))
    await world.key("bureau", "food_drug")
    async with world.running() as (http, _parts):
        await world.open_case(f"case-{unique}")
        base = {"case_id": f"case-{unique}", "provider": brand_id, "subject": "标称某品牌手袋 30 只"}
        refused(await http.post("/v1/appraisals", json=base | {"kind": "value"}, headers=bureau),
                409, "rights_holder_authenticity_only")
        refused(await http.post("/v1/appraisals", json=base | {"kind": "authenticity", "provider": world.bureau("food_drug")},
                                headers=bureau), 409, "not_an_appraiser")
        assert (await http.post("/v1/appraisals", json=base | {"kind": "authenticity"}, headers=brand)).status_code == 403
        aid = (await http.post("/v1/appraisals", json=base | {"kind": "authenticity"}, headers=bureau)).json()["appraisal_id"]
        await http.post(f"/v1/appraisals/{aid}:accept", headers=brand)
        await http.post(f"/v1/appraisals/{aid}:samples-received", json={}, headers=brand)
        r = await http.post(f"/v1/appraisals/{aid}/result", headers=brand,
                            json={"verdict": "counterfeit", "valuation": "90000.00", "report": REPORT})
        assert r.json()["provider_kind"] == "rights_holder"
        assert r.json()["result"]["evidential_weight"] == "rights_holder_identification"
        # its weight differs: alone it raises no figure toward a referral; the valuation is carried as withheld
        found = await events(world, lambda e: any(t == "shuangda.appraisal.reported.v1" for t, _ in e), "the result")
        (reported,) = [p for t, p in found if t == "shuangda.appraisal.reported.v1"]
        assert reported["figures"] == {} and reported["withheld_figures"] == {"unsold_value": "90000.00"}
        assert reported["weight_rule"]["counts_toward_thresholds"] is False
        assert reported["weight_rule"]["verified"] is False and reported["weight_rule"]["version"] == "local-2026"


async def test_custodys_hand_over_to_the_centre_is_the_samples_arrival(unique: str) -> None:
    custody = CustodyWorld(unique)
    await custody.create()
    world = AppraisalWorld(unique, custody_topic=custody.settings.custody_topic, identity_schema=custody.identity_schema)
    await world.create(with_identity=False)
    bureau = await custody.key("bureau", "market_regulation")
    centre_id = f"centre-{unique}"
    centre = await custody.key("appraisal", principal_id=centre_id)
    case = f"case-{unique}"
    async with custody.running() as (goods, _c), world.running() as (http, _a):
        await custody.open_case(case)
        await world.open_case(case)
        lot = (await goods.post("/v1/lots", headers=bureau, json={"case_id": case, "hazard": "ordinary", "location": "A-1",
               "items": [{"description": "假冒手机", "quantity": "40", "unit": "台", "declared_value": "80000"}]})).json()
        aid = (await http.post("/v1/appraisals", headers=bureau, json={
            "case_id": case, "kind": "value", "provider": centre_id, "subject": "假冒手机 40 台",
            "lot_id": lot["lot_id"]})).json()["appraisal_id"]
        await http.post(f"/v1/appraisals/{aid}:accept", headers=centre)
        await goods.post(f"/v1/lots/{lot['lot_id']}/handovers", json={"to": centre_id, "purpose": "appraisal"}, headers=bureau)
        assert (await goods.post(f"/v1/lots/{lot['lot_id']}:receive", headers=centre)).status_code == 200
        got = await stack.eventually(lambda: http.get(f"/v1/appraisals/{aid}", headers=centre),
                                     until=lambda r: r.json()["state"] == "samples_received", what="samples via custody")
        assert got.json()["lot_id"] == lot["lot_id"]


async def test_a_provider_that_does_not_answer_in_time_breaches_once(unique: str) -> None:
    world = AppraisalWorld(unique)
    await world.create()
    bureau = await world.key("bureau", "market_regulation")
    centre_id = f"centre-{unique}"
    await world.key("appraisal", principal_id=centre_id)
    clock = ManualClock(START)
    async with world.running(clock) as (http, _parts):
        await world.open_case(f"case-{unique}")
        aid = (await http.post("/v1/appraisals", headers=bureau, json={
            "case_id": f"case-{unique}", "kind": "quality", "provider": centre_id, "subject": "电线 200 卷"})).json()["appraisal_id"]
        clock.advance(dt.timedelta(days=4))   # past 2 working days, within 10
        await stack.eventually(lambda: http.get(f"/v1/appraisals/{aid}", headers=bureau),
                               until=lambda r: {d["kind"]: d["breached_sent"] for d in r.json()["deadlines"]}
                               == {"appraisal_answer": True, "appraisal_result": False}, what="the answer breached")
    found = await events(world, lambda e: any("deadline" in t for t, _ in e), "the breach")
    breaches = [p for t, p in found if t == "shuangda.appraisal.deadline-breached.v1"]
    assert len(breaches) == 1 and breaches[0]["deadline"]["kind"] == "appraisal_answer"
    assert breaches[0]["deadline"]["local_policy"] is True and breaches[0]["deadline"]["party"] == centre_id


async def test_a_request_with_hostile_fields_is_refused_naming_each_field(unique: str) -> None:
    world = AppraisalWorld(unique)
    await world.create()
    bureau = await world.key("bureau", "market_regulation")
    async with world.running() as (http, _parts):
        r = await http.post("/v1/appraisals", headers=bureau, json={
            "case_id": "x/../y", "kind": "astrology", "provider": "BAD ID", "subject": "鞋\x00", "lot_id": "lot_zz",
            "wanted_by": "1900-01-01", "extra": 1})
        assert r.status_code == 422
        fields = {e["field"] for e in r.json()["errors"]}
        assert {"case_id", "kind", "provider", "subject", "lot_id", "wanted_by", "extra"} <= fields, r.json()
        assert (await http.post("/v1/appraisals", json={})).status_code == 401
        assert (await http.get("/v1/appraisals/apr_nothere", headers=bureau)).status_code == 422
