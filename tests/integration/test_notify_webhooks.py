"""Notify's webhooks against real local receivers (issue #6): retries with a stable
webhook-id, Standard Webhooks signatures checked independently, 410 disabling an
endpoint, Retry-After, and the fallback to email with its status events on Kafka."""
from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

import pytest

from shared.contracts.notification import NotificationDelivered, NotificationFailed
from shared.contracts.routing import CaseAssigned
from shared.webhooks import generate_secret
from tests.support import stack
from tests.support.notify import HttpSink, NotifyWorld, SmtpSink, probe, record_for, sample

pytestmark = pytest.mark.stack


def independently_verified(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """Recompute the Standard Webhooks signature here, without shared.webhooks."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    expected = "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return any(hmac.compare_digest(expected, s) for s in headers["webhook-signature"].split())


def directory(webhook_url: str, secret: str, *, email: list[str] | None = None) -> dict[str, Any]:
    entry: dict[str, Any] = {"id": "market_regulation", "match": "market_regulation@*",
                             "webhook": {"url": webhook_url, "secret": secret}}
    if email:
        entry["email"] = email
    return {"version": "test-1", "recipients": [entry]}


def assigned(case_id: str, bureau: str = "market_regulation@610402") -> CaseAssigned:
    return sample(CaseAssigned, case_id=case_id, bureau=bureau, co_bureaus=[])  # type: ignore[return-value]




async def world_for(unique: str, tmp_path: Path) -> NotifyWorld:
    world = NotifyWorld(unique, tmp_path)
    await world.create(stack.dsn(), stack.bootstrap())
    return world


async def status_events(world: NotifyWorld, expect: int) -> list[Any]:
    return await stack.eventually(
        lambda: stack.read_all(world.topics["notification_topic"]), until=lambda r: len(r) >= expect,
        what=f"{expect} status event(s)",
    )


async def test_a_webhook_that_fails_three_times_then_succeeds_is_delivered_once_with_one_stable_signed_id(
        unique: str, tmp_path: Path, sink: HttpSink) -> None:
    world = await world_for(unique, tmp_path)
    secret = generate_secret()
    sink.script("/hooks/mr", [500, 302, 404], then=200)
    world.write_directory(directory(sink.url("/hooks/mr"), secret))
    settings = world.settings(stack.dsn(), stack.bootstrap(), retry_schedule=[0, 0.3, 0.6, 0.9, 1.2])
    async with world.running(settings):
        await stack.produce(world.topics["routing_topic"], [record_for(assigned(f"C-{unique}"))])
        rows = await stack.eventually(
            lambda: world.fetch(stack.dsn(), "SELECT * FROM deliveries WHERE state = 'delivered'"),
            until=lambda r: len(r) == 1, timeout=30, what="the delivery recorded as delivered")
        await asyncio.sleep(1.0)  # time enough for a (wrong) extra attempt to show up
    hits = sink.on("/hooks/mr")
    assert [h.status for h in hits] == [500, 302, 404, 200], "3xx and 4xx are failures, retried until the 2xx"
    assert len({h.headers["webhook-id"] for h in hits}) == 1, "the webhook-id is stable across retries"
    assert hits[0].headers["webhook-id"] == rows[0]["message_id"]
    assert all(independently_verified(secret, h.headers, h.body) for h in hits)
    assert len({h.body for h in hits}) == 1, "every retry carries the same body"
    gaps = [b.at - a.at for a, b in zip(hits, hits[1:])]
    assert all(g >= d - 0.05 for g, d in zip(gaps, [0.3, 0.6, 0.9])), f"retries follow the schedule: {gaps}"
    body = json.loads(hits[-1].body)
    assert body["type"] == CaseAssigned.EVENT_TYPE
    assert body["data"]["recipient"] == "market_regulation@610402"
    assert body["data"]["event"]["case_id"] == f"C-{unique}"
    assert "新案件" in body["data"]["title"] and "秦都区市场监督管理局" in body["data"]["text"]
    assert rows[0]["attempts"] == 4
    attempts = await world.fetch(stack.dsn(), "SELECT result, status FROM delivery_attempts ORDER BY n")
    assert [(a["result"], a["status"]) for a in attempts] == [("5xx", 500), ("3xx", 302), ("4xx", 404), ("2xx", 200)]
    events = await status_events(world, 1)
    assert [stack.header(e, "ce_type") for e in events] == [NotificationDelivered.EVENT_TYPE]
    delivered = NotificationDelivered.model_validate_json(events[0].value)
    assert (delivered.delivery_id, delivered.attempts, delivered.channel) == (rows[0]["message_id"], 4, "webhook")
    assert events[0].key.decode() == "market_regulation@610402"


async def test_an_endpoint_answering_410_is_disabled_gets_no_more_attempts_and_email_takes_over(
        unique: str, tmp_path: Path, sink: HttpSink, smtp: SmtpSink) -> None:
    world = await world_for(unique, tmp_path)
    sink.script("/hooks/gone", then=410)
    world.write_directory(directory(sink.url("/hooks/gone"), generate_secret(), email=["mr@bureau.invalid"]))
    settings = world.settings(stack.dsn(), stack.bootstrap(), smtp_port=smtp.port)
    async with world.running(settings):
        await stack.produce(world.topics["routing_topic"], [record_for(assigned(f"C1-{unique}"))])
        await stack.eventually(probe(lambda: len(smtp.messages)), until=lambda n: n == 1,
                               what="the email fallback")
        await stack.produce(world.topics["routing_topic"], [record_for(assigned(f"C2-{unique}"))])
        await stack.eventually(probe(lambda: len(smtp.messages)), until=lambda n: n == 2,
                               what="the second notice, straight to email")
        await asyncio.sleep(1.5)
    assert len(sink.on("/hooks/gone")) == 1, "after the 410 the endpoint was never called again"
    endpoints = await world.fetch(stack.dsn(), "SELECT endpoint, disabled_at FROM endpoints")
    assert len(endpoints) == 1 and endpoints[0]["disabled_at"] is not None
    rows = await world.fetch(stack.dsn(), "SELECT channel, state, attempts FROM deliveries ORDER BY id")
    assert sorted((r["channel"], r["state"]) for r in rows) == [
        ("email", "delivered"), ("email", "delivered"), ("webhook", "disabled"), ("webhook", "disabled")]
    events = await status_events(world, 4)
    failed = [NotificationFailed.model_validate_json(e.value) for e in events
              if stack.header(e, "ce_type") == NotificationFailed.EVENT_TYPE]
    assert [(f.reason, f.fallback_channel) for f in failed] == [("endpoint_disabled", "email")] * 2
    delivered = [NotificationDelivered.model_validate_json(e.value) for e in events
                 if stack.header(e, "ce_type") == NotificationDelivered.EVENT_TYPE]
    assert all(d.fallback and d.channel == "email" for d in delivered) and len(delivered) == 2


async def test_a_429_with_retry_after_is_retried_no_sooner_than_the_receiver_asked(
        unique: str, tmp_path: Path, sink: HttpSink) -> None:
    world = await world_for(unique, tmp_path)
    sink.script("/hooks/busy", [(429, {"Retry-After": "2"})], then=200)
    world.write_directory(directory(sink.url("/hooks/busy"), generate_secret()))
    async with world.running(world.settings(stack.dsn(), stack.bootstrap())):
        await stack.produce(world.topics["routing_topic"], [record_for(assigned(f"C-{unique}"))])
        await stack.eventually(probe(lambda: len(sink.on("/hooks/busy"))), until=lambda n: n == 2,
                               timeout=20, what="the retry after Retry-After")
    first, second = sink.on("/hooks/busy")
    assert second.at - first.at >= 1.95, "the schedule says 0.3 s, the receiver said 2 s: the receiver wins"


async def test_when_every_attempt_fails_notification_failed_is_published_and_the_fallback_channel_delivers(
        unique: str, tmp_path: Path, sink: HttpSink, smtp: SmtpSink) -> None:
    world = await world_for(unique, tmp_path)
    sink.script("/hooks/broken", then=500)
    world.write_directory(directory(sink.url("/hooks/broken"), generate_secret(), email=["mr@bureau.invalid"]))
    settings = world.settings(stack.dsn(), stack.bootstrap(), smtp_port=smtp.port, retry_schedule=[0, 0.2, 0.2],
                              breaker_failure_threshold=10)
    async with world.running(settings):
        await stack.produce(world.topics["routing_topic"], [record_for(assigned(f"C-{unique}"))])
        await stack.eventually(probe(lambda: len(smtp.messages)), until=lambda n: n == 1,
                               timeout=20, what="the email fallback")
        events = await status_events(world, 2)
    assert len(sink.on("/hooks/broken")) == 3, "the schedule has three attempts"
    failed = NotificationFailed.model_validate_json(next(
        e.value for e in events if stack.header(e, "ce_type") == NotificationFailed.EVENT_TYPE))
    assert (failed.reason, failed.channel, failed.attempts, failed.fallback_channel) == (
        "retries_exhausted", "webhook", 3, "email")
    assert failed.detail == "HTTP 500"
    assert smtp.messages[0]["Subject"].startswith("【新案件】")
