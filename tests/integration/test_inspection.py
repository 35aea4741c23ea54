"""Random inspections (双随机、一公开, issue 15 §3) on the real database and broker: a forestry
bureau's seed-licence plan drawn from the registry in its scope (credit's `entity-registered` events,
snapshotted as a versioned pool) with the bureau's risk grades and commitments, from a published
seed (and re-run by anyone from the public part), inspected, published, one violation becoming a lead for intake; results
not published in time breach once; the public part is rate-limited."""
from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

from shared import audit
from shared.clock import ManualClock
from shared.contracts.intake import SubmitLead
from shared.db import connect
from tests.support import stack
from tests.support.inspection import InspectionWorld, credit_code

from services.inspection.domain import draw as drawing

pytestmark = pytest.mark.stack

START = dt.datetime(2026, 12, 7, 2, 0, tzinfo=dt.timezone.utc)
SEED = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"


def enterprises(division: str, n: int = 12) -> list[dict[str, Any]]:
    return [{"credit_code": credit_code(division, i), "name": f"苗木场{i}", "county": "610402" if i % 2 else "610404",
             "category": "seedlings", "risk": "high" if i % 3 == 0 else "low",
             **({"commitment": {"committed_on": "2026-03-01", "text": "不生产经营无证林木种子"}} if i % 2 else {})}
            for i in range(n)]


ROSTER = [{"inspector_id": f"LY{i:03d}", "name": f"执法员{i}"} for i in range(5)]


def refused(r: Any, status: int, reason: str) -> None:
    assert r.status_code == status, r.text
    assert r.json()["errors"][0]["reason"] == reason, r.json()


async def test_a_seed_licence_plan_is_drawn_reproducibly_inspected_published_and_a_violation_becomes_a_lead(unique: str) -> None:
    world = InspectionWorld(unique)
    await world.create()
    bureau = await world.key("bureau", "forestry")
    other = await world.key("bureau", "agriculture")
    pool = enterprises(world.division)
    first_code = pool[1]["credit_code"]
    roster = [{**ROSTER[0], "conflicts": [first_code]}, *ROSTER[1:]]
    async with world.running() as (http, _parts):
        refused(await http.post("/v1/plans", headers=bureau, json={"title": "x", "scope": {}, "sample_size": 1}),
                409, "missing")
        assert (await http.put("/v1/pools/enterprises", json={"entries": pool[:3]}, headers=bureau)).json()["version"] == 1
        assert (await http.put("/v1/pools/inspectors", json={"entries": roster}, headers=bureau)).status_code == 201
        refused(await http.post("/v1/plans", headers=bureau, json={"title": "x", "scope": {}, "sample_size": 1}),
                409, "no_enterprise")  # the registry holds none yet
        await world.register(pool)
        v2 = (await http.put("/v1/pools/enterprises", json={"entries": pool}, headers=bureau)).json()
        assert v2["version"] == 2 and v2["size"] == 12 and v2["pool_id"] == f"attributes:{world.bureau()}"
        assert v2["not_in_registry"] == []
        body = {"title": "2026年林木种子生产经营许可证双随机抽查", "sample_size": 3, "seed": SEED,
                "scope": {"category": "seedlings", "county": "610402", "quality_commitment": True}}
        key = {"idempotency-key": f"plan-{unique}"}
        r = await http.post("/v1/plans", json=body, headers=bureau | key)
        assert r.status_code == 201, r.text
        assert (await http.post("/v1/plans", json=body, headers=bureau | key)).json() == r.json(), "replayed"
        plan = r.json()
        pid = plan["plan_id"]
        assert plan["eligible"] == 6 and len(plan["tasks"]) == 3
        assert plan["enterprise_pool"] == {"pool_id": f"enterprises:{world.bureau()}", "version": 1}
        assert all(t["county"] == "610402" for t in plan["tasks"])
        assert all("LY000" not in t["inspectors"] for t in plan["tasks"] if t["credit_code"] == first_code)

        # anyone re-runs the draw from what is public
        public = (await http.get(f"/v1/public/plans/{pid}")).json()
        assert public["seed"] == SEED and "inspectors" not in public["targets"][0]
        e_pool = (await http.get(f"/v1/public/pools/enterprises/{world.bureau()}/1")).json()
        # the snapshot: the registry in the scope's county and category, with the bureau's grades and commitments
        assert sorted(e["credit_code"] for e in e_pool["entries"]) == sorted(
            e["credit_code"] for e in pool if e["county"] == "610402")
        i_pool = (await http.get(f"/v1/public/pools/inspectors/{world.bureau()}/1")).json()
        entries = [drawing.Enterprise(e["credit_code"], e["name"], e["county"], e["category"], e["risk"],
                                      drawing.Commitment(**e["commitment"]) if e["commitment"] else None)
                   for e in e_pool["entries"]]
        staff = [drawing.Inspector(i["inspector_id"], i["name"], tuple(i["conflicts"])) for i in i_pool["entries"]]
        assert drawing.digest(entries) == e_pool["digest"] == public["enterprise_pool"]["digest"]
        rerun = drawing.draw(SEED, entries, staff, drawing.Scope("seedlings", "610402", (), True), sample_size=3,
                             sample_rate=None)
        assert [(x.credit_code, list(x.inspectors)) for x in rerun.targets] == [
            (t["credit_code"], t["inspectors"]) for t in plan["tasks"]]

        tasks = plan["tasks"]
        refused(await http.post(f"/v1/plans/{pid}/results", headers=other, json={
            "credit_code": tasks[0]["credit_code"], "result": "no_problem", "inspected_by": tasks[0]["inspectors"]}),
            403, "not_responsible")
        refused(await http.post(f"/v1/plans/{pid}/results", headers=bureau, json={
            "credit_code": pool[0]["credit_code"], "result": "no_problem", "inspected_by": ["LY001"]}), 409, "not_drawn")
        await http.post(f"/v1/plans/{pid}/results", headers=bureau, json={
            "credit_code": tasks[0]["credit_code"], "result": "no_problem", "inspected_by": tasks[0]["inspectors"]})
        r = await http.post(f"/v1/plans/{pid}/results", headers=bureau, json={
            "credit_code": tasks[1]["credit_code"], "result": "referred_to_case",
            "findings": "无证生产经营林木种子 3000 株", "inspected_by": tasks[1]["inspectors"]})
        assert r.status_code == 200, r.text
        before = (await http.get(f"/v1/public/plans/{pid}")).json()
        assert all(t["result"] is None for t in before["targets"]), "nothing is public before publication"
        published = (await http.post(f"/v1/plans/{pid}:publish", headers=bureau)).json()
        assert sorted(p["result"] for p in published["published"]) == ["no_problem", "referred_to_case"]
        refused(await http.post(f"/v1/plans/{pid}:publish", headers=bureau), 409, "nothing_to_publish")

        feed = (await http.get(f"/v1/public/results?bureau={world.bureau()}")).json()["results"]
        assert {f["credit_code"] for f in feed} == {tasks[0]["credit_code"], tasks[1]["credit_code"]}
        commitments = (await http.get(f"/v1/public/commitments?bureau={world.bureau()}")).json()
        assert len(commitments["enterprises"]) == 6
        violator = next(e for e in commitments["enterprises"] if e["credit_code"] == tasks[1]["credit_code"])
        assert violator["commitment"]["text"] == "不生产经营无证林木种子"
        assert violator["results"][0]["result"] == "referred_to_case"
        deadlines = (await http.get(f"/v1/plans/{pid}", headers=bureau)).json()["deadlines"]
        assert [d["state"] for d in deadlines] == ["met", "met"]
        office = await world.key("office", "office")
        today = dt.datetime.now(dt.timezone.utc).date().isoformat()
        refused_report = await http.get(f"/v1/reports/inspections?since={today}&until={today}", headers=bureau)
        assert refused_report.status_code == 403
        report = (await http.get(f"/v1/reports/inspections?since=2026-01-01&until=2099-12-31", headers=office)).json()
        assert report["bureaus"] == [{"bureau": world.bureau(), "plans": 1, "targets": 3, "inspected": 2, "no_problem": 1,
                                      "problems_found": 0, "referred_to_case": 1, "published": 2,
                                      "publication_breached": 0}]

        leads = await stack.eventually(lambda: stack.read_all(world.settings.lead_topic), until=lambda rs: len(rs) == 1,
                                       what="the violation's lead")
        lead = SubmitLead.model_validate_json(leads[0].value)
        assert stack.header(leads[0], "ce_type") == SubmitLead.EVENT_TYPE
        assert lead.suspect.credit_code == tasks[1]["credit_code"] and lead.category == "seedlings"
        assert lead.county == "610402" and lead.source_id == f"{pid}:{tasks[1]['credit_code']}"
        events = await stack.eventually(lambda: stack.read_all(world.settings.inspection_topic),
                                        until=lambda rs: len(rs) >= 4, what="the plan's four events")
        types = [stack.header(r, "ce_type") for r in events]
        assert types == ["shuangda.inspection.plan-drawn.v1", "shuangda.inspection.result-recorded.v1",
                         "shuangda.inspection.result-recorded.v1", "shuangda.inspection.results-published.v1"]
    conn = await connect(stack.dsn(), world.settings.schema)
    try:
        assert await audit.verify(conn) is None
        kinds = [e.kind for e in await audit.entries(conn, pid)]
    finally:
        await conn.close()
    assert kinds == ["inspection.plan_drawn", "inspection.result_recorded", "inspection.result_recorded",
                     "inspection.results_published"]


async def small_plan(http: Any, world: InspectionWorld, bureau: dict[str, str], sample_size: int) -> dict[str, Any]:
    """Four enterprises registered, their attributes and the roster uploaded, and a plan of `sample_size`
    targets drawn from them."""
    await world.register(enterprises(world.division, 4))
    await http.put("/v1/pools/enterprises", json={"entries": enterprises(world.division, 4)}, headers=bureau)
    await http.put("/v1/pools/inspectors", json={"entries": ROSTER}, headers=bureau)
    r = await http.post("/v1/plans", headers=bureau, json={"title": "抽查", "scope": {}, "sample_size": sample_size})
    assert r.status_code == 201, r.text
    return r.json()


async def test_a_result_not_published_within_the_period_breaches_once(unique: str) -> None:
    world = InspectionWorld(unique)
    await world.create()
    bureau = await world.key("bureau", "forestry")
    clock = ManualClock(START)
    async with world.running(clock) as (http, _parts):
        plan = await small_plan(http, world, bureau, 1)
        task = plan["tasks"][0]
        await http.post(f"/v1/plans/{plan['plan_id']}/results", headers=bureau, json={
            "credit_code": task["credit_code"], "result": "problems_found", "findings": "标签不全",
            "inspected_by": task["inspectors"][:1]})
        clock.advance(dt.timedelta(days=40))
        await stack.eventually(lambda: http.get(f"/v1/plans/{plan['plan_id']}", headers=bureau),
                               until=lambda r: r.json()["deadlines"][0]["breached_sent"], what="the breach")
        records = await stack.eventually(
            lambda: stack.read_all(world.settings.inspection_topic),
            until=lambda rs: any(stack.header(r, "ce_type") == "shuangda.inspection.deadline-breached.v1" for r in rs),
            what="the breach event")
        breached = [json.loads(r.value) for r in records if stack.header(r, "ce_type") == "shuangda.inspection.deadline-breached.v1"]
        assert len(breached) == 1 and breached[0]["credit_code"] == task["credit_code"]
        assert breached[0]["deadline"]["local_policy"] is True


async def test_publishing_meets_only_the_published_results_deadlines_and_a_correction_opens_its_own(unique: str) -> None:
    world = InspectionWorld(unique)
    await world.create()
    bureau = await world.key("bureau", "forestry")
    clock = ManualClock(START)
    async with world.running(clock) as (http, _parts):
        plan = await small_plan(http, world, bureau, 2)
        pid, (first, second) = plan["plan_id"], plan["tasks"]

        def result(task: dict[str, Any], **extra: Any) -> dict[str, Any]:
            return {"credit_code": task["credit_code"], "result": "no_problem", "inspected_by": task["inspectors"][:1],
                    **extra}

        async def states() -> dict[str, str]:
            r = await http.get(f"/v1/plans/{pid}", headers=bureau)
            return {d["deadline_id"].split(":", 1)[1]: d["state"] for d in r.json()["deadlines"]}

        assert (await http.post(f"/v1/plans/{pid}/results", headers=bureau, json=result(first))).status_code == 200
        assert (await http.post(f"/v1/plans/{pid}:publish", headers=bureau)).status_code == 200
        clock.advance(dt.timedelta(hours=1))
        assert (await http.post(f"/v1/plans/{pid}/results", headers=bureau, json=result(second))).status_code == 200
        # the second result was recorded after the publication: its deadline is still open
        assert await states() == {f"{first['credit_code']}:result_publication": "met",
                                  f"{second['credit_code']}:result_publication": "open"}
        refused(await http.post(f"/v1/plans/{pid}/results", headers=bureau, json=result(first)), 409, "already_recorded")
        corrected = await http.post(f"/v1/plans/{pid}/results", headers=bureau, json=result(
            first, result="problems_found", findings="复核发现标签不全", correction_reason="复核更正"))
        assert corrected.status_code == 200, corrected.text
        assert corrected.json()["revision"] == 2 and corrected.json()["state"] == "recorded"
        assert (await states())[f"{first['credit_code']}:result_publication:r2"] == "open"
        assert (await http.post(f"/v1/plans/{pid}:publish", headers=bureau)).status_code == 200
        assert set((await states()).values()) == {"met"}
        records = await stack.eventually(
            lambda: stack.read_all(world.settings.inspection_topic),
            until=lambda rs: sum(stack.header(r, "ce_type") == "shuangda.inspection.results-published.v1" for r in rs) == 2,
            what="both publications")
        recorded = [json.loads(r.value) for r in records if stack.header(r, "ce_type") == "shuangda.inspection.result-recorded.v1"]
        assert [(e["revision"], e["correction_reason"]) for e in recorded] == [(1, None), (1, None), (2, "复核更正")]


async def test_hostile_pools_and_plans_are_refused_naming_the_field_and_the_public_part_is_rate_limited(unique: str) -> None:
    world = InspectionWorld(unique, public_rate_per_second=0.01, public_rate_burst=3)
    await world.create()
    bureau = await world.key("bureau", "forestry")
    async with world.running() as (http, _parts):
        bad = {"entries": [{"credit_code": "91350100M000100Y44", "name": "甲\x00", "county": "110101",
                            "category": "astrology", "risk": "extreme", "extra": 1}]}
        r = await http.put("/v1/pools/enterprises", json=bad, headers=bureau)
        assert r.status_code == 422
        fields = {e["field"] for e in r.json()["errors"]}
        assert {"entries.0.credit_code", "entries.0.name", "entries.0.county", "entries.0.category", "entries.0.risk",
                "entries.0.extra"} <= fields, r.json()
        dup = {"entries": [ROSTER[0], ROSTER[0]]}
        refused(await http.put("/v1/pools/inspectors", json=dup, headers=bureau), 409, "duplicate")
        r = await http.post("/v1/plans", headers=bureau, json={"title": "x", "scope": {"county": "999999"},
                                                               "sample_size": 0, "seed": "short"})
        assert {"scope.county", "sample_size", "seed"} <= {e["field"] for e in r.json()["errors"]}, r.json()
        codes = [(await http.get(f"/v1/public/commitments?bureau={world.bureau()}")).status_code for _ in range(5)]
        assert codes[:3] == [200, 200, 200] and codes[-1] == 429
