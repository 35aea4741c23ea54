"""A random inspection through the services as processes (issue 15's 双随机、一公开 chain): a bureau's
plan drawn from the registry in its scope (registered through credit, learned from credit's events)
with a published seed — re-run here from the public part alone, with
nothing but sha256, to the same targets and inspectors — results recorded, published in the public
feed and in credit's public disclosure feed (inspection.lifecycle → credit), and the one violation
opening a case through intake's normal path (inspection's lead on its own ingress topic → intake →
routing → the bureau's webhook)."""
from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any

import pytest

from tests.e2e.conftest import E2E
from tests.support import stack

pytestmark = pytest.mark.stack


def rank(seed: str, label: str) -> str:
    return hashlib.sha256(f"{seed}|{label}".encode()).hexdigest()


def rerun(seed: str, plan: dict[str, Any], enterprises: list[dict[str, Any]],
          inspectors: list[dict[str, Any]]) -> list[tuple[str, list[str]]]:
    """The draw as docs/inspection.md publishes it, by someone who has only the public documents."""
    scope = plan["scope"] if isinstance(plan["scope"], dict) else json.loads(plan["scope"])

    def holds(e: dict[str, Any]) -> bool:
        return ((scope.get("category") in (None, e["category"])) and (scope.get("county") in (None, e["county"]))
                and (not scope.get("risks") or e["risk"] in scope["risks"])
                and (scope.get("quality_commitment") is None or bool(e.get("commitment")) == scope["quality_commitment"]))

    eligible = [e["credit_code"] for e in enterprises if holds(e)]
    chosen = sorted(eligible, key=lambda c: (rank(seed, "target|" + c), c))[:plan["sample_size"]]
    out = []
    for code in chosen:
        free = [i["inspector_id"] for i in inspectors if code not in i.get("conflicts", [])]
        picked = sorted(free, key=lambda i: (rank(seed, f"inspector|{code}|{i}"), i))
        out.append((code, picked[:plan["inspectors_per_target"]]))
    return out


async def test_an_inspection_plan_is_drawn_reproducibly_published_and_its_violation_becomes_a_case(e2e: E2E) -> None:
    county = "610404"
    bureau = f"market_regulation@{county}"
    token = e2e.keys.routing[bureau]
    pool = [{"credit_code": e2e.new_code(county), "name": f"咸阳抽查{i}号商贸有限公司", "county": county,
             "category": "trademarks", "risk": "high" if i % 3 == 0 else "low",
             **({"commitment": {"committed_on": "2026-03-15", "text": "不销售侵犯注册商标专用权的商品"}} if i % 2 else {})}
            for i in range(8)]
    roster = [{"inspector_id": f"SJ{i:03d}", "name": f"执法员{i}", "conflicts": [pool[0]["credit_code"]] if i == 0 else []}
              for i in range(4)]
    # the county's market regulation registers them in credit's registry; inspection learns them from its events
    registered = await e2e.on("credit", "PUT", "/v1/registry/entities", token=token, json={"entries": [
        {"credit_code": e["credit_code"], "name": e["name"], "county": county, "categories": [e["category"]]}
        for e in pool]})
    assert registered.status == 200 and registered.body["registered"] == 8, registered.body

    async def attributes() -> Any:
        return await e2e.on("inspection", "PUT", "/v1/pools/enterprises", token=token, json={"entries": pool})
    await stack.eventually(attributes, until=lambda a: a.status == 201 and a.body["not_in_registry"] == [], interval=1.0,
                           what="inspection holding the registrations")
    assert (await e2e.on("inspection", "PUT", "/v1/pools/inspectors", token=token, json={"entries": roster})).status == 201
    seed = uuid.uuid4().hex
    drawn = await e2e.on("inspection", "POST", "/v1/plans", token=token, json={
        "title": "商标专用权双随机抽查", "scope": {"category": "trademarks", "county": county}, "sample_size": 3, "seed": seed})
    assert drawn.status == 201, drawn.body
    plan_id, tasks = drawn.body["plan_id"], drawn.body["tasks"]
    assert len(tasks) == 3

    public = (await e2e.http.get(f"{e2e.iso.url('inspection')}/v1/public/plans/{plan_id}")).json()
    assert public["seed"] == seed and all("inspectors" not in t for t in public["targets"])
    pools = {}
    for kind, ref in (("enterprises", public["enterprise_pool"]), ("inspectors", public["inspector_roster"])):
        got = (await e2e.http.get(f"{e2e.iso.url('inspection')}/v1/public/pools/{kind}/{bureau}/{ref['version']}")).json()
        assert got["digest"] == ref["digest"]
        pools[kind] = got["entries"]
    assert rerun(seed, public, pools["enterprises"], pools["inspectors"]) == [
        (t["credit_code"], t["inspectors"]) for t in tasks], "anyone re-running the draw gets the same targets"

    clean, flawed, violator = tasks
    for task, result, findings in ((clean, "no_problem", ""), (flawed, "problems_found", "进货台账不全"),
                                   (violator, "referred_to_case", "销售假冒注册商标的运动鞋 40 双")):
        recorded = await e2e.on("inspection", "POST", f"/v1/plans/{plan_id}/results", token=token, json={
            "credit_code": task["credit_code"], "result": result, "findings": findings, "inspected_by": task["inspectors"]})
        assert recorded.status == 200, recorded.body
    published = await e2e.on("inspection", "POST", f"/v1/plans/{plan_id}:publish", token=token)
    assert published.status == 200 and len(published.body["published"]) == 3, published.body
    feed = (await e2e.http.get(f"{e2e.iso.url('inspection')}/v1/public/results?bureau={bureau}")).json()["results"]
    assert {(f["credit_code"], f["result"]) for f in feed} == {
        (clean["credit_code"], "no_problem"), (flawed["credit_code"], "problems_found"),
        (violator["credit_code"], "referred_to_case")}

    async def disclosed() -> list[dict[str, Any]]:
        page = await e2e.http.get(f"{e2e.iso.url('credit')}/v1/disclosures", params={"kind": "inspection", "limit": 5000})
        return [i for i in page.json()["items"] if i["plan_id"] == plan_id]
    shown = await stack.eventually(disclosed, until=lambda i: len(i) == 3, what="the results in credit's disclosure feed")
    assert {(i["credit_code"], i["result"]) for i in shown} == {(f["credit_code"], f["result"]) for f in feed}
    assert all(i["bureau"] == "渭城区市场监督管理局" and i["published_at"] for i in shown)

    code = violator["credit_code"]
    assigned = await e2e.webhook("shuangda.case.assigned.v1",
                                 where=lambda e: (e.get("suspect") or {}).get("credit_code") == code)
    event = assigned.body["data"]["event"]
    assert (event["origin"], event["category"], event["county"]) == ("lead", "trademarks", county)
    case = await e2e.read_case(event["bureau"], event["case_id"])
    assert case.status == 200 and case.body["suspect"]["credit_code"] == code
