"""Redelivered events never create a second delivery (issue #6): the inbox skips a
known event id, and the unique (event, recipient, channel) key holds even for a
consumer that has no inbox entry for it."""
from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from shared.contracts.routing import CaseAssigned
from shared.envelope import new_envelope
from shared.webhooks import generate_secret
from tests.support import stack
from tests.support.notify import HttpSink, NotifyWorld, probe, record_for, sample

pytestmark = pytest.mark.stack



async def test_a_redelivered_kafka_event_creates_no_second_delivery(unique: str, tmp_path: Path, sink: HttpSink) -> None:
    world = NotifyWorld(unique, tmp_path)
    await world.create(stack.dsn(), stack.bootstrap())
    world.write_directory({"version": "t", "recipients": [
        {"match": "market_regulation@*", "webhook": {"url": sink.url("/hooks/mr"), "secret": generate_secret()}}]})
    case_id = f"C-{unique}"
    event = sample(CaseAssigned, case_id=case_id, bureau="market_regulation@610402", co_bureaus=[])
    envelope = new_envelope(type=CaseAssigned.EVENT_TYPE, source="/tests", subject=case_id, correlationid=case_id)
    record = record_for(event, envelope=envelope)
    # the same event twice in one batch, and once more after it was delivered
    await stack.produce(world.topics["routing_topic"], [record, record])
    async with world.running(world.settings(stack.dsn(), stack.bootstrap())):
        await stack.eventually(
            lambda: world.fetch(stack.dsn(), "SELECT 1 FROM deliveries WHERE state = 'delivered'"),
            until=lambda r: len(r) == 1, what="the first delivery")
        # a sentinel behind the redelivered copy on the same partition (same key) proves the copy was consumed
        sentinel = sample(CaseAssigned, case_id=case_id, bureau="market_regulation@610404", co_bureaus=[])
        await stack.produce(world.topics["routing_topic"], [record, record_for(sentinel)])
        await stack.eventually(probe(lambda: len(sink.on("/hooks/mr"))), until=lambda n: n >= 2,
                               what="the sentinel delivered")
        await asyncio.sleep(0.5)
    rows = await world.fetch(stack.dsn(), "SELECT event_id, recipient FROM deliveries ORDER BY id")
    assert [(r["event_id"], r["recipient"]) for r in rows][0] == (envelope.id, "market_regulation@610402")
    assert len(rows) == 2, "one delivery for the event (delivered thrice) and one for the sentinel"
    hits = sink.on("/hooks/mr")
    assert len(hits) == 2 and len({h.headers["webhook-id"] for h in hits}) == 2


async def test_the_unique_delivery_key_holds_even_when_a_second_consumer_group_replays_every_event(
        unique: str, tmp_path: Path, sink: HttpSink) -> None:
    world = NotifyWorld(unique, tmp_path)
    await world.create(stack.dsn(), stack.bootstrap())
    world.write_directory({"version": "t", "recipients": [
        {"match": "market_regulation@*", "webhook": {"url": sink.url("/hooks/mr"), "secret": generate_secret()}}]})
    events = [sample(CaseAssigned, case_id=f"C-{unique}-{i}", bureau="market_regulation@610402", co_bureaus=[])
              for i in range(5)]
    await stack.produce(world.topics["routing_topic"], [record_for(e) for e in events])
    async with world.running(world.settings(stack.dsn(), stack.bootstrap())):
        await stack.eventually(
            lambda: world.fetch(stack.dsn(), "SELECT 1 FROM deliveries WHERE state = 'delivered'"),
            until=lambda r: len(r) == 5, what="five deliveries")
    # another group has no inbox entries for these events: it applies them again, from the start
    replaying = world.settings(stack.dsn(), stack.bootstrap(), consumer_group=world.group + "-replay")
    async with world.running(replaying):
        await stack.eventually(
            lambda: world.fetch(stack.dsn(), "SELECT 1 FROM inbox WHERE consumer = $1", world.group + "-replay"),
            until=lambda r: len(r) == 5, what="the replay applied every event")
        await asyncio.sleep(0.5)
    assert len(await world.fetch(stack.dsn(), "SELECT 1 FROM deliveries")) == 5
    assert len(sink.on("/hooks/mr")) == 5, "nothing was sent twice"
