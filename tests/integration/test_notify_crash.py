"""Notify killed with SIGKILL mid-delivery and restarted (issue #6): every recipient
ends with exactly one successful delivery — counted as distinct webhook-ids at the
receiver and as delivered rows. Notices in flight at the kill are sent again with
the same webhook-id (the documented limit: receivers deduplicate on it)."""
from __future__ import annotations

import asyncio
import signal
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from shared.contracts.notification import NotificationDelivered
from shared.contracts.routing import CaseAssigned
from shared.webhooks import generate_secret
from tests.support import stack
from tests.support.notify import HttpSink, NotifyWorld, free_port, probe, record_for, sample

pytestmark = pytest.mark.stack

RECIPIENTS = 30



def bureau(i: int) -> str:
    return f"market_regulation@k{i:02d}"



async def test_notify_killed_mid_delivery_and_restarted_delivers_each_notice_exactly_once(
        unique: str, tmp_path: Path, sink: HttpSink) -> None:
    world = NotifyWorld(unique, tmp_path)
    await world.create(stack.dsn(), stack.bootstrap())
    secret = generate_secret()
    entries: list[dict[str, Any]] = []
    for i in range(RECIPIENTS):
        sink.script(f"/hooks/{i}", delay=0.05 * i)  # answers spread over 1.5 s: the kill lands mid-delivery
        entries.append({"match": bureau(i), "webhook": {"url": sink.url(f"/hooks/{i}"), "secret": secret}})
    world.write_directory({"version": "t", "recipients": entries})
    port = free_port()
    env = world.env(http_port=port, lease_seconds=4.0)
    await stack.produce(world.topics["routing_topic"], [
        record_for(sample(CaseAssigned, case_id=f"C-{unique}-{i}", bureau=bureau(i), co_bureaus=[]))
        for i in range(RECIPIENTS)])

    first = stack.spawn("services.notify", env, tmp_path / "notify.log")
    try:
        await stack.eventually(lambda: stack.ready(port), until=bool, timeout=60, what="notify ready (/readyz)")
        await stack.eventually(probe(lambda: len(sink.requests)), until=lambda n: n >= RECIPIENTS,
                               timeout=30, interval=0.02, what="every notice on its way")
        await asyncio.sleep(0.7)
    finally:
        first.send_signal(signal.SIGKILL)
        assert await asyncio.to_thread(first.wait, 30) == -signal.SIGKILL
    answered_before = {r.headers["webhook-id"] for r in sink.requests if r.status}
    rows = await world.fetch(stack.dsn(), "SELECT state, count(*) AS n FROM deliveries GROUP BY state")
    states = {r["state"]: r["n"] for r in rows}
    assert states.get("in_flight", 0) > 0, f"the kill came mid-delivery: {states}"
    assert 0 < len(answered_before) < RECIPIENTS

    second = stack.spawn("services.notify", env, tmp_path / "notify.log")
    try:
        delivered = await stack.eventually(
            lambda: world.fetch(stack.dsn(), "SELECT recipient, message_id FROM deliveries WHERE state = 'delivered'"),
            until=lambda r: len(r) >= RECIPIENTS, timeout=60, what="every notice delivered after the restart")
        events = await stack.eventually(lambda: stack.read_all(world.topics["notification_topic"]),
                                        until=lambda r: len({stack.header(e, "ce_id") for e in r}) >= RECIPIENTS,
                                        timeout=30, what="a delivered event per notice")
    finally:
        second.kill()  # what is asserted is already recorded; a graceful stop is not under test here
        await asyncio.to_thread(second.wait, 30)

    rows = await world.fetch(stack.dsn(), "SELECT recipient, state FROM deliveries")
    assert len(rows) == RECIPIENTS
    per_recipient = Counter(r["recipient"] for r in delivered)
    assert sorted(per_recipient) == sorted(bureau(i) for i in range(RECIPIENTS))
    assert set(per_recipient.values()) == {1}, "exactly one delivered row per recipient"
    for i in range(RECIPIENTS):
        ids = {r.headers["webhook-id"] for r in sink.on(f"/hooks/{i}")}
        assert len(ids) == 1, f"recipient {i} saw {len(ids)} different webhook-ids"
        assert any(r.status == 200 for r in sink.on(f"/hooks/{i}"))
    resent = Counter(r.headers["webhook-id"] for r in sink.requests)
    assert any(n > 1 for n in resent.values()), "some notices were in flight at the kill and were sent again"
    status_ids = {stack.header(e, "ce_id") for e in events}
    assert len(status_ids) == RECIPIENTS, "one notification.delivered per delivery (re-publishes keep their id)"
    assert {NotificationDelivered.model_validate_json(e.value).delivery_id for e in events} == {
        r["message_id"] for r in delivered}
