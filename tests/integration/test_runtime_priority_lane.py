"""The relay's priority lane (issue 11 §4): a person's complaint committed behind a bulk backlog in the
outbox is published in the relay's first batch, ahead of the backlog, and rows of each topic keep their order."""
from __future__ import annotations

import asyncio
from typing import ClassVar

import pytest
from pydantic import BaseModel

from shared.db import connect, create_pool, migrate
from shared.runtime.relay import OutboxRelay
from shared.runtime.uow import unit_of_work
from shared.topics import TopicSpec, ensure_topics, priority_lane
from tests.support import stack

pytestmark = pytest.mark.stack

BACKLOG = 1200
BATCH = 100


class Noted(BaseModel):
    EVENT_TYPE: ClassVar[str] = "test.noted.v1"
    n: int


async def test_a_priority_lane_row_behind_a_bulk_backlog_goes_out_in_the_relays_first_batch(unique: str) -> None:
    schema = f"lane_{unique}"
    bulk, urgent = f"test.lane.{unique}", priority_lane(f"test.lane.{unique}")
    await ensure_topics(stack.bootstrap(), [TopicSpec(bulk, "case id", "bulk", has_dlq=False),
                                            TopicSpec(urgent, "case id", "lane", has_dlq=False)])
    await migrate(stack.dsn(), schema)
    pool = await create_pool(stack.dsn(), schema)
    try:
        async with unit_of_work(pool, source="/test") as uow:  # the backlog first, then a lane row and two more
            for i in range(BACKLOG):
                uow.emit(bulk, Noted(n=i), key=f"lead-{i}")
            uow.emit(urgent, Noted(n=0), key="complaint")
            uow.emit(urgent, Noted(n=1), key="complaint")
        relay = OutboxRelay(service="lane-test", schema=schema, dsn=stack.dsn(), bootstrap=stack.bootstrap(),
                            batch_size=BATCH, poll_seconds=0.2)
        stop = asyncio.Event()
        task = asyncio.create_task(relay.run(stop))
        try:
            await stack.eventually(lambda: pool.fetchval("SELECT count(*) FROM outbox WHERE sent_at IS NULL"),
                                   until=lambda n: n == 0, timeout=120, what="the outbox drained")
        finally:
            stop.set()
            await task
        rows = await pool.fetch("SELECT topic, sent_at FROM outbox ORDER BY id")
    finally:
        await pool.close()

    first = min(r["sent_at"] for r in rows)
    lane_sent = [r["sent_at"] for r in rows if r["topic"] == urgent]
    assert lane_sent == [first, first], "the lane rows were not in the relay's first batch"
    later = sum(1 for r in rows if r["topic"] == bulk and r["sent_at"] > first)
    assert later >= BACKLOG - BATCH, f"only {later} of {BACKLOG} bulk rows went out after the lane's"
    lane_out = [Noted.model_validate_json(r.value).n for r in await stack.read_all(urgent, expect=2)]
    assert lane_out == [0, 1], "a case's lane events were lost, doubled or reordered"
    published = await stack.read_all(bulk, expect=BACKLOG)
    assert len(published) == BACKLOG, "a bulk row was lost or sent twice"
