"""Digests, broadcasts and the reloadable directory on the real stack (issue #6)."""
from __future__ import annotations

import asyncio
import json
import os
import signal
from pathlib import Path
from typing import Any

import pytest

from services.notify.domain.notices import DIGEST_TYPE
from shared.contracts.credit import Blacklisted
from shared.contracts.routing import CaseAssigned, DeadlineApproaching
from shared.webhooks import generate_secret
from tests.support import stack
from tests.support.notify import HttpSink, NotifyWorld, probe, record_for, sample

pytestmark = pytest.mark.stack



def hits(sink: HttpSink, path: str) -> Any:
    async def probe() -> list[Any]:
        return sink.on(path)

    return probe


async def test_non_critical_notices_wait_for_the_digest_and_deadline_notices_go_at_once(
        unique: str, tmp_path: Path, sink: HttpSink) -> None:
    world = NotifyWorld(unique, tmp_path)
    await world.create(stack.dsn(), stack.bootstrap())
    world.write_directory({"version": "t", "recipients": [{
        "match": "market_regulation@*", "digest_seconds": 3,
        "webhook": {"url": sink.url("/hooks/mr"), "secret": generate_secret()}}]})
    bureau = "market_regulation@610402"
    cases = [sample(CaseAssigned, case_id=f"C-{unique}-{i}", bureau=bureau, co_bureaus=[]) for i in range(3)]
    deadline = sample(DeadlineApproaching, case_id=f"C-{unique}-0")
    async with world.running(world.settings(stack.dsn(), stack.bootstrap())):
        await stack.produce(world.topics["routing_topic"], [record_for(e) for e in [*cases, deadline]])
        first = await stack.eventually(hits(sink, "/hooks/mr"), until=lambda r: len(r) >= 1, what="the deadline notice")
        assert json.loads(first[0].body)["type"] == DeadlineApproaching.EVENT_TYPE, (
            "the critical notice came first, not held back for the digest")
        got = await stack.eventually(
            hits(sink, "/hooks/mr"), timeout=15, what="the digest",
            until=lambda r: sum(len(json.loads(h.body)["data"].get("items", [])) for h in r) >= 3)
    digests = [json.loads(h.body) for h in got if json.loads(h.body)["type"] == DIGEST_TYPE]
    assert 1 <= len(digests) <= 2, "one digest per window (the notices may straddle two)"
    items = [i for d in digests for i in d["data"]["items"]]
    assert sorted(i["event"]["case_id"] for i in items) == sorted(c.case_id for c in cases)
    assert all(i["title"].startswith("【新案件】") for i in items)
    assert digests[0]["data"]["title"].startswith("【通知汇总】")
    waiting = await world.fetch(stack.dsn(), "SELECT count(*) AS n FROM digest_items WHERE digest_id IS NULL")
    assert waiting[0]["n"] == 0
    rows = await world.fetch(stack.dsn(), "SELECT event_type, cardinality(event_ids) AS n FROM deliveries")
    assert sorted((r["event_type"], r["n"]) for r in rows if r["event_type"] != DIGEST_TYPE) == [
        (DeadlineApproaching.EVENT_TYPE, 0)]


async def test_a_blacklisting_is_broadcast_to_every_subscribing_department(
        unique: str, tmp_path: Path, sink: HttpSink) -> None:
    world = NotifyWorld(unique, tmp_path)
    await world.create(stack.dsn(), stack.bootstrap())
    secret = generate_secret()
    world.write_directory({"version": "t", "recipients": [
        {"id": "market", "match": "market_regulation@*", "webhook": {"url": sink.url("/hooks/market"), "secret": secret}},
        {"id": "tax", "match": "tax@*", "webhook": {"url": sink.url("/hooks/tax"), "secret": secret}},
        {"id": "police", "match": "public_security@*", "events": ["shuangda.referral.*"],
         "webhook": {"url": sink.url("/hooks/police"), "secret": secret}},
    ]})
    event = sample(Blacklisted, listing_id=f"L-{unique}")
    async with world.running(world.settings(stack.dsn(), stack.bootstrap())):
        await stack.produce(world.topics["credit_topic"], [record_for(event, key=event.credit_code)])
        await stack.eventually(hits(sink, "/hooks/tax"), until=lambda r: len(r) == 1, what="the broadcast")
        await stack.eventually(hits(sink, "/hooks/market"), until=lambda r: len(r) == 1, what="the broadcast")
        await asyncio.sleep(0.5)
    assert sink.on("/hooks/police") == [], "a department that does not subscribe is not told"
    body = json.loads(sink.on("/hooks/tax")[0].body)
    assert body["data"]["recipient"] == "tax" and "严重违法失信名单" in body["data"]["title"]


async def test_the_directory_is_reloaded_on_change_and_on_sighup_and_a_broken_file_keeps_the_old_one(
        unique: str, tmp_path: Path, sink: HttpSink) -> None:
    world = NotifyWorld(unique, tmp_path)
    await world.create(stack.dsn(), stack.bootstrap())
    secret = generate_secret()
    market = {"match": "market_regulation@*", "webhook": {"url": sink.url("/hooks/market"), "secret": secret}}
    culture = {"match": "culture@*", "webhook": {"url": sink.url("/hooks/culture"), "secret": secret}}
    world.write_directory({"version": "v1", "recipients": [market]})
    topic = world.topics["routing_topic"]

    def to(bureau: str, n: int) -> Any:
        return record_for(sample(CaseAssigned, case_id=f"C-{unique}-{n}", bureau=bureau, co_bureaus=[]))

    settings = world.settings(stack.dsn(), stack.bootstrap(), directory_check_seconds=0.2)
    async with world.running(settings) as parts:
        await stack.produce(topic, [to("culture@610400", 1), to("market_regulation@610402", 2)])
        await stack.eventually(hits(sink, "/hooks/market"), until=lambda r: len(r) == 1, what="market told")
        assert sink.on("/hooks/culture") == [], "nobody serves culture@ yet"
        world.write_directory({"version": "v2", "recipients": [market, culture]})  # an mtime change
        await stack.eventually(probe(lambda: parts.directory.current.version), until=lambda v: v == "v2",
                               what="v2 in force")
        await stack.produce(topic, [to("culture@610400", 3)])
        await stack.eventually(hits(sink, "/hooks/culture"), until=lambda r: len(r) == 1, what="culture told")
        world.directory_path.write_text("version: [broken", encoding="utf-8")
        await asyncio.sleep(1.0)
        assert parts.directory.current.version == "v2", "an invalid file is refused, the directory in force stays"
        await stack.produce(topic, [to("culture@610400", 4)])
        await stack.eventually(hits(sink, "/hooks/culture"), until=lambda r: len(r) == 2, what="still delivering")

    # SIGHUP alone (no mtime polling to speak of)
    world.write_directory({"version": "v3", "recipients": [market]})
    slow = world.settings(stack.dsn(), stack.bootstrap(), directory_check_seconds=3600)
    async with world.running(slow) as parts:
        await stack.eventually(probe(lambda: parts.directory.sighup_installed), until=bool,
                               what="the SIGHUP handler installed")
        world.write_directory({"version": "v4", "recipients": [market, culture]})
        os.kill(os.getpid(), signal.SIGHUP)
        await stack.eventually(probe(lambda: parts.directory.current.version), until=lambda v: v == "v4",
                               timeout=5, what="v4 in force after SIGHUP")
