"""Kafka ingress: complaints and leads published by outside systems on their own
``ingress.<client>`` topics, on the real broker and database."""
from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from pydantic import BaseModel

from tests.support.intake import IntakeWorld, running_intake
from shared.contracts.cases import CaseMerged, CaseOpened
from shared.contracts.intake import SubmitComplaint, SubmitLead
from shared.envelope import new_envelope
from tests.support import stack

pytestmark = pytest.mark.stack


def lead(source_id: str = "M-1", **changes: Any) -> SubmitLead:
    body: dict[str, Any] = {"source_id": source_id, "category": "trademarks", "county": "610423",
                            "description": "监测发现疑似假冒商品", "suspect": {"name": "泾阳某某贸易商行"},
                            "figures": {"amount_involved": "12000"}}
    body.update(changes)
    return SubmitLead.model_validate(body)


def record(data: BaseModel | bytes, *, type: str = SubmitLead.EVENT_TYPE, actor: str | None = None,
           key: str = "M-1") -> tuple[str, list[tuple[str, bytes]], bytes]:
    envelope = new_envelope(type=type, source="/platform/monitoring", subject=key, actor=actor)
    value = data if isinstance(data, bytes) else data.model_dump_json().encode()
    return key, envelope.to_headers(), value


async def case_events(world: IntakeWorld, n: int) -> list[Any]:
    return await stack.eventually(lambda: stack.read_lanes(world.case_topic), until=lambda r: len(r) >= n,
                                  what=f"{n} case events")


async def dead_letters(world: IntakeWorld, name: str, n: int) -> list[Any]:
    """Dead letters this world's consumer group wrote (another intake may share the broker)."""
    async def mine() -> list[Any]:
        return [r for r in await stack.read_all(world.ingress_topic(name) + ".dlq") if stack.header(r, "dlq-group") == world.group]

    return await stack.eventually(mine, until=lambda r: len(r) >= n, what=f"{n} dead letters")


async def test_a_lead_published_on_a_clients_ingress_topic_opens_a_case(unique: str) -> None:
    world = IntakeWorld(unique)
    await world.create()
    await world.add_client("monitor", "platform", ["leads:write"])
    await stack.produce(world.ingress_topic("monitor"), [record(lead())])
    async with running_intake(world):
        [event_record] = await case_events(world, 1)
    event = CaseOpened.model_validate_json(event_record.value)
    assert event.origin == "lead" and event.channel == "kafka"
    assert event.client_id == world.client_id("monitor")
    assert event.suspect.name == "泾阳某某贸易商行" and event.county == "610423"
    assert str(event.figures["amount_involved"]) == "12000.00"
    assert event.tracking_no is None, "leads get no tracking number"
    assert stack.header(event_record, "ce_actor") == world.client_id("monitor")
    assert event_record.key.decode() == event.case_id


async def test_the_actor_comes_from_the_topic_never_from_the_records_headers(unique: str) -> None:
    world = IntakeWorld(unique)
    await world.create()
    await world.add_client("monitor", "platform", ["leads:write"])
    await stack.produce(world.ingress_topic("monitor"), [record(lead(), actor="leading-group-office")])
    async with running_intake(world):
        [event_record] = await case_events(world, 1)
    assert stack.header(event_record, "ce_actor") == world.client_id("monitor")
    assert CaseOpened.model_validate_json(event_record.value).client_id == world.client_id("monitor")


async def test_a_complaint_published_by_a_bureau_back_end_gets_a_tracking_number(unique: str) -> None:
    world = IntakeWorld(unique)
    await world.create()
    await world.add_client("bureau", "bureau", ["complaints:write"])
    complaint = SubmitComplaint.model_validate({
        "source_id": "B-9", "category": "food", "county": "610402", "description": "网购食品变质",
        "suspect": {"name": "某食品店"}, "complainant": {"name": "赵六", "phone": "13600001111"}})
    await stack.produce(world.ingress_topic("bureau"), [record(complaint, type=SubmitComplaint.EVENT_TYPE, key="B-9")])
    async with running_intake(world):
        [event_record] = await case_events(world, 1)
    event = CaseOpened.model_validate_json(event_record.value)
    assert event.origin == "complaint" and event.tracking_no and event.tracking_no.startswith("SD")
    assert event.complainant is not None and event.complainant.phone_masked == "*******1111"
    assert b"13600001111" not in event_record.value


async def test_the_same_lead_published_again_under_a_new_event_id_is_recognised_and_not_counted_twice(unique: str) -> None:
    world = IntakeWorld(unique)
    await world.create()
    await world.add_client("monitor", "platform", ["leads:write"])
    await stack.produce(world.ingress_topic("monitor"), [record(lead("M-7")), record(lead("M-7"))])
    async with running_intake(world):
        await case_events(world, 1)
        rows = await stack.eventually(lambda: world.fetch("SELECT event_id FROM inbox"), until=lambda r: len(r) >= 2,
                                      what="both records consumed")
        await asyncio.sleep(1.0)
        events = await stack.read_lanes(world.case_topic)
        cases = await world.fetch("SELECT reports_count FROM cases")
    assert len(rows) == 2 and len(events) == 1
    assert [c["reports_count"] for c in cases] == [1]


async def test_invalid_records_go_to_the_dlq_naming_the_field_and_the_good_ones_behind_them_are_applied(unique: str) -> None:
    world = IntakeWorld(unique)
    await world.create()
    await world.add_client("monitor", "platform", ["leads:write"])
    bad_county = lead("M-2", county="110101")
    bad_code = lead("M-3", suspect={"credit_code": "91110000600037341M"})
    unknown_field = b'{"source_id": "M-4", "category": "trademarks", "county": "610423", "suspect": {"name": "x"}, "actor": "me"}'
    await stack.produce(world.ingress_topic("monitor"), [
        record(bad_county), record(bad_code), record(unknown_field),
        record(lead("M-5"), type="shuangda.intake.delete_everything.v1"), ("M-6", [], b"{}"), record(lead("M-8")),
    ])
    async with running_intake(world):
        dlq = await dead_letters(world, "monitor", 5)
        await case_events(world, 1)
    by_field = {stack.header(r, "dlq-field"): r for r in dlq}
    assert set(by_field) == {"county", "suspect.credit_code", "actor", "type", "id"}
    assert "outside_city" in stack.header(by_field["county"], "dlq-detail")
    assert "bad_check_character" in stack.header(by_field["suspect.credit_code"], "dlq-detail")
    assert stack.header(by_field["actor"], "dlq-reason") == "validation_failed"
    assert stack.header(by_field["type"], "dlq-reason") == "unknown_event_type"
    assert stack.header(by_field["id"], "dlq-reason") == "invalid_envelope"
    assert all(stack.header(r, "dlq-origin-topic") == world.ingress_topic("monitor") for r in dlq)
    assert by_field["actor"].value == unknown_field, "the original record travels with the reason"


@pytest.mark.parametrize("situation", ["unregistered", "revoked", "lacks_scope"])
async def test_a_record_from_a_client_that_may_not_send_it_goes_to_the_dlq(unique: str, situation: str) -> None:
    world = IntakeWorld(unique)
    await world.create()
    if situation == "unregistered":
        from shared.topics import TopicSpec, ensure_topics

        await ensure_topics(stack.bootstrap(), [TopicSpec(world.ingress_topic("ghost"), "key", "no client", partitions=1)])
    else:
        await world.add_client("ghost", "platform", ["complaints:read"] if situation == "lacks_scope" else ["leads:write"])
        if situation == "revoked":
            await world.revoke("ghost")
    await stack.produce(world.ingress_topic("ghost"), [record(lead())])
    async with running_intake(world):
        [dead] = await dead_letters(world, "ghost", 1)
        await asyncio.sleep(0.5)
        events = await stack.read_lanes(world.case_topic)
    expected = {"unregistered": ("topic", "unknown_client"), "revoked": ("topic", "client_revoked"),
                "lacks_scope": ("type", "forbidden")}[situation]
    assert stack.header(dead, "dlq-field") == expected[0]
    assert expected[1] in stack.header(dead, "dlq-detail")
    assert events == []


async def test_another_services_command_on_a_shared_ingress_topic_is_left_to_that_service(unique: str) -> None:
    world = IntakeWorld(unique)
    await world.create()
    await world.add_client("bureau", "bureau", ["complaints:write", "leads:write"])
    acknowledge = ("case-1", new_envelope(type="shuangda.bureau.acknowledge-case.v1", source="/bureau", subject="case-1").to_headers(),
                   b'{"case_id": "case-1"}')
    await stack.produce(world.ingress_topic("bureau"), [acknowledge, record(lead("M-9"))])
    async with running_intake(world):
        # one partition: the lead's case event means the acknowledgement before it was passed over
        await case_events(world, 1)
        consumed = await world.fetch("SELECT event_id FROM inbox")
        mine = [r for r in await stack.read_all(world.ingress_topic("bureau") + ".dlq") if stack.header(r, "dlq-group") == world.group]
    assert len(consumed) == 1, "only the lead is intake's; the runtime skips the other service's command"
    assert mine == [], "intake dead-letters nothing that another service handles"


async def test_leads_about_one_new_suspect_published_together_open_one_case_and_merge_into_it_in_order(unique: str) -> None:
    world = IntakeWorld(unique)
    await world.create()
    await world.add_client("monitor", "platform", ["leads:write"])
    shop = {"platform": "example-mall", "shop_id": f"s-{unique}"}
    other = {"platform": "example-mall", "shop_id": f"o-{unique}"}
    records = [
        record(lead("A-1", suspect=shop, figures={"amount_involved": "100"}), key="A-1"),
        record(lead("A-2", suspect=shop, county="610402", figures={"amount_involved": "20"}), key="A-2"),
        record(lead("B-1", suspect=other), key="B-1"),
        record(lead("A-2", suspect=shop, county="610402", figures={"amount_involved": "20"}), key="A-2"),  # sent again
        record(lead("A-3", suspect=shop, figures={"amount_involved": "3"}), key="A-3"),
    ]
    await stack.produce(world.ingress_topic("monitor"), records)  # before the consumer starts: one batch
    async with running_intake(world, consumer_batch_size=500):
        events = await case_events(world, 4)
        consumed = await stack.eventually(lambda: world.fetch("SELECT received_at FROM inbox"), until=lambda r: len(r) >= 5,
                                          what="all five records consumed")
        cases = await world.fetch("SELECT case_id, reports_count, counties, figures FROM cases ORDER BY reports_count")
        reports = await world.fetch("SELECT source_id, outcome FROM reports ORDER BY source_id")
    assert len({r["received_at"] for r in consumed}) == 1, "all five in one consumer batch (one transaction)"
    about_a = [e for e in events if json.loads(e.value)["suspect"]["shop_id"] == shop["shop_id"]]
    kinds = [stack.header(e, "ce_type") for e in about_a]
    assert kinds == [CaseOpened.EVENT_TYPE, CaseMerged.EVENT_TYPE, CaseMerged.EVENT_TYPE], "one case opened, then merged"
    payloads = [CaseMerged.model_validate_json(e.value) if i else CaseOpened.model_validate_json(e.value)
                for i, e in enumerate(about_a)]
    assert [p.source_id for p in payloads] == ["A-1", "A-2", "A-3"], "in the order published"
    assert [p.reports_count for p in payloads] == [1, 2, 3]
    assert len({p.case_id for p in payloads}) == 1
    assert [str(p.figures["amount_involved"]) for p in payloads] == ["100.00", "120.00", "123.00"]
    assert payloads[-1].counties == ["610423", "610402"]
    assert all(stack.header(e, "ce_causationid") for e in events), "each event names the record that caused it"
    assert len(events) == 4, "the re-submitted A-2 counts once"
    assert [c["reports_count"] for c in cases] == [1, 3]
    assert [(r["source_id"], r["outcome"]) for r in reports] == [
        ("A-1", "opened"), ("A-2", "merged"), ("A-3", "merged"), ("B-1", "opened")]
