"""The priority lane, consumer half (issue 11 §4), on the real broker and database: intake puts a case a
person filed on ``<case topic>.priority`` when it opens and keeps every later event of it there; routing
reads that lane with a consumer group of its own and announces the case on its own lane, which notify
reads with a second consumer too — so a complaint filed over HTTP is assigned and its webhook delivered
while thousands of bulk leads queued ahead of it are still waiting."""
from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from shared.contracts.cases import CaseMerged, CaseOpened
from shared.contracts.intake import SubmitLead
from shared.contracts.routing import CaseAssigned
from shared.envelope import new_envelope
from shared.topics import priority_lane
from shared.webhooks import generate_secret
from tests.support import stack
from tests.support.intake import IntakeWorld, running_intake
from tests.support.notify import HttpSink, NotifyWorld, free_port
from tests.support.routing import RoutingWorld

pytestmark = pytest.mark.stack

BULK = 5000
BUREAU = "market_regulation@610402"  # the complaint's; the leads' cases go to 610423's bureau, which has no webhook


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def complaint(suspect: str) -> dict[str, Any]:
    return {"category": "trademarks", "county": "610402", "description": "在秦都区某店买到假冒名牌运动鞋",
            "suspect": {"name": suspect}, "complainant": {"name": "李四", "phone": "13912345678"}}


def lead(source_id: str, suspect: str, county: str) -> tuple[str, list[tuple[str, bytes]], bytes]:
    body = SubmitLead.model_validate({"source_id": source_id, "category": "trademarks", "county": county,
                                      "description": "监测发现疑似假冒商品", "suspect": {"name": suspect},
                                      "figures": {"amount_involved": "100"}})
    envelope = new_envelope(type=SubmitLead.EVENT_TYPE, source="/platform/monitoring", subject=source_id)
    return source_id, envelope.to_headers(), body.model_dump_json().encode()


def types_of(records: list[Any]) -> list[tuple[str, str]]:
    return [(r.key.decode(), stack.header(r, "ce_type") or "") for r in records]


async def test_a_complaint_opens_its_case_on_the_lane_and_a_lead_merged_into_it_follows_while_other_leads_stay_bulk(
        unique: str) -> None:
    world = IntakeWorld(unique)
    await world.create()
    hotline = await world.add_client("hot", "hotline", ["complaints:write"], topic=False)
    await world.add_client("monitor", "platform", ["leads:write"])
    suspect = f"咸阳某某鞋店{unique}"
    async with running_intake(world) as intake:
        filed = await intake.http.post("/v1/complaints", headers=bearer(hotline), json=complaint(suspect))
        assert filed.status_code == 201, filed.text
        case_id = filed.json()["case_id"]
        await stack.eventually(lambda: stack.read_all(priority_lane(world.case_topic)), until=lambda r: len(r) >= 1,
                               what="the complaint's case.opened on the lane")
        # a lead about the same suspect joins the complaint's case; one about another opens a bulk case
        await stack.produce(world.ingress_topic("monitor"), [lead("M-1", suspect, "610402"),
                                                             lead("M-2", f"泾阳某某贸易商行{unique}", "610423")])
        on_lane = await stack.eventually(lambda: stack.read_all(priority_lane(world.case_topic)),
                                         until=lambda r: len(r) >= 2, what="the merged lead on the lane")
        bulk = await stack.eventually(lambda: stack.read_all(world.case_topic), until=lambda r: len(r) >= 1,
                                      what="the other lead's case.opened on the case topic")
        rows = await world.fetch("SELECT case_id, priority_lane FROM cases ORDER BY opened_at")
    assert types_of(on_lane) == [(case_id, CaseOpened.EVENT_TYPE), (case_id, CaseMerged.EVENT_TYPE)], \
        "the lead merged into a complaint's case is announced on the case's lane, after its opening"
    [other] = bulk
    assert stack.header(other, "ce_type") == CaseOpened.EVENT_TYPE and other.key.decode() != case_id
    assert CaseOpened.model_validate_json(other.value).origin == "lead"
    assert [(r["case_id"], r["priority_lane"]) for r in rows] == [(case_id, True), (other.key.decode(), False)]



async def test_a_complaint_filed_behind_five_thousand_bulk_leads_is_assigned_and_its_webhook_delivered_first(
        unique: str, tmp_path: Path, sink: HttpSink) -> None:
    """Routing and notify run as processes of their own, as deployed (in one event loop with the test, their
    bulk batches would hold up every step of the complaint's path, which no deployment shares)."""
    routing = RoutingWorld(unique, bootstrap=stack.bootstrap(), dsn=stack.dsn())
    await routing.create_topics()
    await routing.prepare()
    await routing.identity()
    intake_world = IntakeWorld(unique, case_topic=routing.intake_topic, routing_topic=routing.routing_topic)
    await intake_world.create()
    hotline = await intake_world.add_client("hot", "hotline", ["complaints:write"], topic=False)
    await intake_world.add_client("monitor", "platform", ["leads:write"])
    notify = NotifyWorld(unique, tmp_path)
    notify.topics.update(intake_topic=routing.intake_topic, routing_topic=routing.routing_topic)
    await notify.create(stack.dsn(), stack.bootstrap())
    notify.write_directory({"version": "t", "recipients": [
        {"id": "market_regulation", "match": BUREAU, "webhook": {"url": sink.url("/hooks/mr"), "secret": generate_secret()}}]})

    # the bulk backlog: every lead a case of its own (a suspect each), all opened by intake before routing runs
    await stack.produce(intake_world.ingress_topic("monitor"),
                        [lead(f"M-{i}", f"泾阳某某贸易商行{unique}-{i}", "610423") for i in range(BULK)])
    async with running_intake(intake_world) as intake:
        await stack.eventually(lambda: intake_world.fetch("SELECT (SELECT count(*) FROM cases) AS cases,"
                                                          " (SELECT count(*) FROM outbox WHERE sent_at IS NULL) AS unsent"),
                               until=lambda rows: rows[0]["cases"] == BULK and rows[0]["unsent"] == 0, timeout=300,
                               interval=1.0, what=f"intake opened the {BULK} leads' cases and published them")

        async def leads_assigned() -> int:
            rows = await routing.fetch("SELECT count(*) AS n FROM cases WHERE origin = 'lead'")
            return int(rows[0]["n"])

        routing_port, notify_port = free_port(), free_port()
        procs = [
            stack.spawn("services.routing", routing.env(SHUANGDA_ROUTING_HTTP_PORT=str(routing_port),
                                                        SHUANGDA_ROUTING_WARNINGS_EMBEDDED="false"),
                        tmp_path / "routing.log"),
            stack.spawn("services.notify", notify.env(http_port=notify_port), tmp_path / "notify.log"),
        ]
        try:
            for port in (routing_port, notify_port):  # both consumers of each polling
                await stack.eventually(lambda: stack.ready(port), until=bool, timeout=90, what=f"ready on {port}")
            await stack.eventually(leads_assigned, until=lambda n: n > 0, timeout=120, interval=0.05,
                                   what="routing working the backlog")
            filed = await intake.http.post("/v1/complaints", headers=bearer(hotline), json=complaint(f"咸阳某某鞋店{unique}"))
            assert filed.status_code == 201, filed.text
            case_id = filed.json()["case_id"]

            def assigned_hook() -> list[Any]:
                bodies = [json.loads(r.body) for r in sink.on("/hooks/mr") if r.status == 200]
                return [b for b in bodies if b["type"] == CaseAssigned.EVENT_TYPE and b["data"]["case_id"] == case_id]

            async def delivered() -> tuple[list[Any], int]:
                return assigned_hook(), await leads_assigned()  # counted after the webhook was seen: never fewer

            hooks, assigned_then = await stack.eventually(delivered, until=lambda got: bool(got[0]), timeout=120,
                                                          interval=0.05, what="the complaint's case.assigned webhook")
            assert assigned_then < BULK, "the complaint's webhook came only after every bulk lead was assigned"
            assert len(hooks) == 1
        finally:
            for proc in procs:
                proc.terminate()
            for proc in procs:
                await asyncio.to_thread(proc.wait, 30)

    lane = await stack.read_all(priority_lane(routing.routing_topic))
    assert (case_id, CaseAssigned.EVENT_TYPE) in types_of(lane), "routing announced the complaint on its lane"
    assert all(k == case_id for k, _ in types_of(lane)), "only the complaint's case is on routing's lane"
