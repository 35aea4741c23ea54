"""Notify's counters count committed work only (issue 13 §5): a consumer batch
whose handling fails after planning its deliveries — so its transaction rolls
back — and is run again counts its notices once, as the rows it left."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from prometheus_client import REGISTRY

from shared.contracts.routing import CaseAssigned
from shared.webhooks import generate_secret
from tests.support import stack
from tests.support.notify import HttpSink, NotifyWorld, probe, record_for, sample

pytestmark = pytest.mark.stack


def counted(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_a_batch_rolled_back_and_run_again_counts_its_notices_and_deliveries_once(
        unique: str, tmp_path: Path, sink: HttpSink) -> None:
    world = NotifyWorld(unique, tmp_path)
    await world.create(stack.dsn(), stack.bootstrap())
    world.write_directory({"version": "t", "recipients": [
        {"match": "market_regulation@*", "webhook": {"url": sink.url("/hooks/mr"), "secret": generate_secret()}}]})
    notices = ("shuangda_notices_total", {"event_type": CaseAssigned.EVENT_TYPE, "outcome": "delivery"})
    delivered = ("shuangda_notifications_total", {"channel": "webhook", "outcome": "delivered"})
    before = counted(notices[0], **notices[1]), counted(delivered[0], **delivered[1])
    async with world.running(world.settings(stack.dsn(), stack.bootstrap())) as parts:
        plan = parts.planner.record
        runs: list[int] = []

        async def fails_once_after_planning(events: Any, uow: Any) -> Any:
            refused = await plan(events, uow)  # rows written, the counter registered for after the commit …
            runs.append(len(events))
            if len(runs) == 1:
                raise RuntimeError("the batch fails after planning")  # … and the transaction rolls back
            return refused

        parts.planner.record = fails_once_after_planning
        await stack.produce(world.topics["routing_topic"], [
            record_for(sample(CaseAssigned, case_id=f"C-{unique}", bureau="market_regulation@610402", co_bureaus=[]))])
        await stack.eventually(probe(lambda: len(sink.on("/hooks/mr"))), until=lambda n: n >= 1, what="the delivery")
        await stack.eventually(probe(lambda: counted(delivered[0], **delivered[1]) - before[1]), until=lambda n: n >= 1,
                               what="the delivery counted")
    assert len(runs) >= 2, "the batch was run again after the failure"
    rows = await world.fetch(stack.dsn(), "SELECT state FROM deliveries")
    assert [r["state"] for r in rows] == ["delivered"]
    assert counted(notices[0], **notices[1]) - before[0] == 1, "one notice counted, as one row was kept"
    assert counted(delivered[0], **delivered[1]) - before[1] == 1
