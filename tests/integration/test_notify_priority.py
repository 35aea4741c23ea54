"""Priority lanes (issue 11 §4): with a backlog of bulk-lead notices queued for an endpoint, a
complaint's notice and a critical one (a deadline breach) are delivered before the backlog drains."""
from __future__ import annotations

from pathlib import Path

import pytest

from shared.contracts.routing import CaseAssigned, DeadlineBreached
from shared.webhooks import generate_secret
from tests.support import stack
from tests.support.notify import HttpSink, NotifyWorld, record_for, sample

pytestmark = pytest.mark.stack

BACKLOG = 150
BUREAU = "market_regulation@610402"



async def test_a_complaint_and_a_critical_notice_overtake_a_backlog_of_bulk_leads(
        unique: str, tmp_path: Path, sink: HttpSink) -> None:
    world = NotifyWorld(unique, tmp_path)
    await world.create(stack.dsn(), stack.bootstrap())
    sink.script("/hooks/mr", delay=0.04)  # 4 slots × 40 ms: the backlog takes well over a second to drain
    world.write_directory({"version": "t", "recipients": [
        {"id": "market_regulation", "match": "market_regulation@*",
         "webhook": {"url": sink.url("/hooks/mr"), "secret": generate_secret()}}]})
    settings = world.settings(stack.dsn(), stack.bootstrap())
    topic = world.topics["routing_topic"]
    async with world.running(settings):
        await stack.produce(topic, [
            record_for(sample(CaseAssigned, case_id=f"C-{unique}-lead-{i}", bureau=BUREAU, co_bureaus=[],
                              origin="lead", tracking_no=None))
            for i in range(BACKLOG)])

        async def backlog_draining() -> list[object]:
            return await world.fetch(stack.dsn(), "SELECT state FROM deliveries")

        await stack.eventually(backlog_draining, interval=0.02, what="the bulk backlog queued and draining",
                               until=lambda rows: len(rows) == BACKLOG and any(r["state"] == "delivered" for r in rows))
        await stack.produce(topic, [
            record_for(sample(CaseAssigned, case_id=f"C-{unique}-complaint", bureau=BUREAU, co_bureaus=[],
                              origin="complaint")),
            record_for(sample(DeadlineBreached, case_id=f"C-{unique}-breach")),
        ])
        rows = await stack.eventually(
            lambda: world.fetch(stack.dsn(), "SELECT case_id, message_id, state, priority FROM deliveries"),
            until=lambda rows: len(rows) == BACKLOG + 2 and all(r["state"] == "delivered" for r in rows),
            timeout=60, what="every notice delivered")

    arrival = {r.headers["webhook-id"]: n for n, r in enumerate(r for r in sink.on("/hooks/mr") if r.status == 200)}
    lanes = {r["case_id"].rsplit("-", 1)[-1] if "lead" not in r["case_id"] else "lead": r for r in rows}
    assert lanes["complaint"]["priority"] == 1 and lanes["breach"]["priority"] == 0
    leads = [arrival[r["message_id"]] for r in rows if "-lead-" in r["case_id"]]
    for urgent in ("complaint", "breach"):
        at = arrival[lanes[urgent]["message_id"]]
        after = sum(1 for n in leads if n > at)
        assert after >= BACKLOG // 2, (
            f"the {urgent} notice arrived {at}th, before only {after} of {BACKLOG} bulk-lead notices")


async def test_a_complaint_takes_the_reserved_slots_while_bulk_holds_the_rest_of_the_in_flight_budget(
        unique: str, tmp_path: Path, sink: HttpSink) -> None:
    """priority_reserve: with every bulk slot of the dispatcher's budget busy on a slow bureau, a complaint for
    another bureau is sent while all of those bulk sends are still unanswered (without the reserve, bulk would
    hold the whole budget and the complaint would wait for one of them to finish)."""
    budget, reserve, backlog = 6, 2, 30
    world = NotifyWorld(unique, tmp_path)
    await world.create(stack.dsn(), stack.bootstrap())
    sink.script("/hooks/slow", delay=20.0)  # the bulk sends stay in flight for the whole test
    world.write_directory({"version": "t", "recipients": [
        {"id": "slow_bureau", "match": "market_regulation@*",
         "webhook": {"url": sink.url("/hooks/slow"), "secret": generate_secret()}},
        {"id": "quick_bureau", "match": "culture_tourism@*",
         "webhook": {"url": sink.url("/hooks/quick"), "secret": generate_secret()}}]})
    settings = world.settings(stack.dsn(), stack.bootstrap(), max_in_flight=budget, priority_reserve=reserve,
                              endpoint_concurrency=50, webhook_timeout_seconds=30.0, lease_seconds=60.0)
    topic = world.topics["routing_topic"]
    async with world.running(settings):
        await stack.produce(topic, [
            record_for(sample(CaseAssigned, case_id=f"C-{unique}-lead-{i}", bureau=BUREAU, co_bureaus=[],
                              origin="lead", tracking_no=None))
            for i in range(backlog)])
        await stack.eventually(lambda: _async(sink.on("/hooks/slow")), interval=0.05, timeout=60,
                               until=lambda hits: len(hits) >= budget - reserve,
                               what="the bulk share of the budget in flight to the slow bureau")
        await stack.produce(topic, [
            record_for(sample(CaseAssigned, case_id=f"C-{unique}-complaint", bureau="culture_tourism@610402",
                              co_bureaus=[], origin="complaint"))])
        [complaint] = await stack.eventually(lambda: _async(sink.on("/hooks/quick")), interval=0.05, timeout=60,
                                             until=lambda hits: len(hits) >= 1, what="the complaint's webhook")
        bulk = [(hit.at, hit.status) for hit in sink.on("/hooks/slow")]
        pending = await world.fetch(stack.dsn(), "SELECT count(*) AS n FROM deliveries WHERE state = 'pending'")

    assert len(bulk) == budget - reserve, f"bulk took {len(bulk)} of {budget} sends, past its share"
    assert all(status == 0 and at < complaint.at for at, status in bulk), \
        "a bulk send finished before the complaint's was made: the complaint waited for a slot"
    assert pending[0]["n"] >= backlog - (budget - reserve), "the bulk backlog was not still waiting"


async def _async(value: object) -> object:
    return value
