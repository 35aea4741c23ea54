"""Per-endpoint isolation (issue #6): one endpoint down — hanging or refusing
connections — while 50 others receive on time."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from shared.contracts.routing import CaseAssigned
from shared.webhooks import generate_secret
from tests.support import stack
from tests.support.notify import HttpSink, NotifyWorld, free_port, record_for, sample

pytestmark = pytest.mark.stack

HEALTHY = 50



def bureau(i: int | str) -> str:
    return f"market_regulation@t{i}"


async def deliver_round(world: NotifyWorld, sink: HttpSink, tag: str) -> float:
    """Send one notice to each healthy bureau; seconds from producing to the last arrival."""
    before = len([r for r in sink.requests if r.path.startswith("/hooks/ok")])
    started = time.monotonic()
    await stack.produce(world.topics["routing_topic"], [
        record_for(sample(CaseAssigned, case_id=f"C-{tag}-{i}", bureau=bureau(i), co_bureaus=[])) for i in range(HEALTHY)])

    async def arrived() -> int:
        return len([r for r in sink.requests if r.path.startswith("/hooks/ok")]) - before

    await stack.eventually(arrived, until=lambda n: n >= HEALTHY, timeout=30, interval=0.02,
                           what=f"{HEALTHY} healthy deliveries ({tag})")
    return time.monotonic() - started


@pytest.mark.parametrize("failure", ["hanging", "refusing connections"])
async def test_one_dead_endpoint_does_not_delay_fifty_healthy_ones(
        unique: str, tmp_path: Path, sink: HttpSink, failure: str) -> None:
    world = NotifyWorld(unique, tmp_path)
    await world.create(stack.dsn(), stack.bootstrap())
    secret = generate_secret()
    dead_url = sink.url("/hooks/dead") if failure == "hanging" else f"http://127.0.0.1:{free_port()}/hooks/dead"
    sink.script("/hooks/dead", then="hang")
    entries: list[dict[str, Any]] = [
        {"match": bureau(i), "webhook": {"url": sink.url(f"/hooks/ok/{i}"), "secret": secret}} for i in range(HEALTHY)]
    entries.append({"match": bureau("dead"), "webhook": {"url": dead_url, "secret": secret}})
    world.write_directory({"version": "t", "recipients": entries})
    settings = world.settings(stack.dsn(), stack.bootstrap(), webhook_timeout_seconds=3.0, lease_seconds=10.0,
                              retry_schedule=[0, 0.5, 1, 1, 1, 1], breaker_open_seconds=1.0)
    async with world.running(settings):
        baseline = await deliver_round(world, sink, "baseline")
        # 20 notices for the dead endpoint go in first, then one for each healthy bureau
        await stack.produce(world.topics["routing_topic"], [
            record_for(sample(CaseAssigned, case_id=f"C-dead-{i}", bureau=bureau("dead"), co_bureaus=[]))
            for i in range(20)])
        with_dead = await deliver_round(world, sink, "with-dead")
        dead_rows = await world.fetch(stack.dsn(), "SELECT state, attempts FROM deliveries WHERE recipient = $1",
                                      bureau("dead"))
    assert len(dead_rows) == 20
    assert all(r["state"] in ("pending", "in_flight") for r in dead_rows), "the dead endpoint is still being retried"
    assert with_dead <= max(3 * baseline, baseline + 2.0), (
        f"50 healthy deliveries took {with_dead:.2f}s beside a dead endpoint, {baseline:.2f}s without")
    if failure == "hanging":
        assert len(sink.on("/hooks/dead")) <= settings.endpoint_concurrency, (
            "the hanging endpoint holds at most its own slots")
