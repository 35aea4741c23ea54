"""Benchmark: routing's assignments per second from ``case.opened`` on the real stack,
against the raw aiokafka pass-through on the same broker in the same run, and the
latency from publishing ``case.opened`` to ``case.assigned`` arriving.

(a) raw: aiokafka consume → produce (acks=all, idempotent) → offset commit (bench.common);
(b) routing: the real consumer (inbox, placement, deadlines, case row, outbox) + relay,
    N preloaded ``case.opened`` over 14 counties and 6 categories → N ``case.assigned``;
(c) latency: ``case.opened`` published at a fixed rate while routing runs; p50/p99 from the
    publish to the arrival of that case's ``case.assigned``.

Run on the launched stack:
    .venv/bin/python -m bench.routing_assign [--events 10000] [--rate 100] [--seconds 15] [--json]

It prints one JSON object on the last line of stdout (``raw_per_s``, ``routing_assign_per_s``,
``routing_assign_ratio``, ``latency_p50_ms``, ``latency_p99_ms``, ``rss_mb_max`` …); ``--json``
keeps stdout to that line alone (logs go to stderr).
"""
from __future__ import annotations

import argparse
import asyncio
import sys
import time
import uuid
from datetime import datetime, timezone
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from bench.common import count_arrivals, percentile, preload, raw_passthrough, report, rss_mb_max
from shared.runtime.service import settle_heap
from shared.config import StackSettings
from shared.contracts.cases import CaseOpened
from shared.envelope import new_envelope
from shared.reference import counties
from shared.topics import TopicSpec, ensure_topics
from tests.support.routing import RoutingWorld, case_opened

CATEGORIES = ("false_advertising", "food", "product_quality", "price_fraud", "online_piracy", "patents")


def opened(i: int, tag: str) -> CaseOpened:
    codes = [c.code for c in counties()]
    return case_opened(f"B{i:07d}-{tag}", category=CATEGORIES[i % len(CATEGORIES)], county=codes[i % len(codes)])


async def publish_cases(bootstrap: str, topic: str, events: list[CaseOpened]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=5)
    await producer.start()
    try:
        futures = []
        for e in events:
            env = new_envelope(type=CaseOpened.EVENT_TYPE, source="/bench", subject=e.case_id, correlationid=e.case_id)
            futures.append(await producer.send(topic, value=e.model_dump_json().encode(), key=e.case_id.encode(),
                                               headers=env.to_headers()))
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def paced(bootstrap: str, topic: str, tag: str, rate: float, seconds: float, sent: dict[str, float]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=1)
    await producer.start()
    try:
        started, i = time.perf_counter(), 0
        while (elapsed := time.perf_counter() - started) < seconds:
            while i < int(elapsed * rate) + 1:
                e = opened(i, tag)
                env = new_envelope(type=CaseOpened.EVENT_TYPE, source="/bench", subject=e.case_id, correlationid=e.case_id)
                sent[e.case_id] = time.time()
                await producer.send(topic, value=e.model_dump_json().encode(), key=e.case_id.encode(),
                                    headers=env.to_headers())
                i += 1
            await asyncio.sleep(0.002)
        await producer.flush()
    finally:
        await producer.stop()


async def arrivals(bootstrap: str, topic: str, sent: dict[str, float], expected: int, timeout: float) -> list[float]:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    out: list[float] = []
    deadline = time.perf_counter() + timeout
    try:
        while len(out) < expected and time.perf_counter() < deadline:
            for records in (await consumer.getmany(timeout_ms=100)).values():
                now = time.time()
                for r in records:
                    at = sent.get(r.key.decode()) if r.key else None
                    if at is not None:
                        out.append(now - at)
        return out
    finally:
        await consumer.stop()


async def create_egress_topics(bootstrap: str, world: RoutingWorld, sample: list[CaseOpened]) -> int:
    """Create the egress topics of every bureau the cases go to, as a deployment would have them
    (first-time topic creation is not what this benchmark measures)."""
    from shared.egress import EgressTopics
    from services.routing.domain.placement import CaseFacts, place
    from tests.support.routing import default_rules_and_reference

    rules, ref = default_rules_and_reference()
    now = datetime.now(timezone.utc)
    bureaus = {str(place(CaseFacts(e.case_id, e.category, e.county, tuple(e.counties), {}), ref=ref, rules=rules, now=now,
                         prior_cases_of_suspect=0).lead) for e in sample}
    from shared.kafka import KafkaConnection

    egress = EgressTopics(KafkaConnection.of(bootstrap), prefix=world.egress_prefix)
    await ensure_topics(bootstrap, [egress.spec(b) for b in sorted(bureaus)])
    return len(bureaus)


async def delete_own_topics(bootstrap: str, tag: str) -> None:
    """Delete the topics this run created (their names carry its tag): a broker left with thousands of
    topics makes every client that subscribes by pattern decode all of them on each metadata refresh,
    which slows the next runs (and everyone else's) for nothing."""
    from shared.kafka import KafkaConnection

    admin = KafkaConnection.of(bootstrap).admin(client_id=f"bench-cleanup-{tag}")
    await admin.start()
    try:
        mine = [t for t in await admin.list_topics() if tag in t]
        if mine:
            await admin.delete_topics(mine)
    except Exception as exc:  # cleanup is best effort; the figures are already measured
        print(f"could not delete the bench's topics: {exc}", file=sys.stderr)
    finally:
        await admin.close()


async def main(events: int, rate: float, seconds: float) -> dict[str, Any]:
    stack = StackSettings(dev=True)
    bootstrap = stack.kafka_bootstrap
    tag = uuid.uuid4().hex[:8]
    raw_in, raw_out = f"bench.raw.in.{tag}", f"bench.raw.out.{tag}"
    await ensure_topics(bootstrap, [TopicSpec(raw_in, "key", "bench", partitions=6),
                                    TopicSpec(raw_out, "key", "bench", partitions=6, has_dlq=False)])
    world = RoutingWorld(tag, bootstrap=bootstrap, dsn=stack.dsn)
    await world.create_topics(partitions=6)
    bureaus = await create_egress_topics(bootstrap, world, [opened(i, tag) for i in range(200)])
    await preload(bootstrap, raw_in, events, CaseOpened.EVENT_TYPE)
    await publish_cases(bootstrap, world.intake_topic, [opened(i, tag) for i in range(events)])

    raw_rate = await raw_passthrough(bootstrap, raw_in, raw_out, events, f"bench-raw-{tag}")

    # what `shuangda migrate` does (schema, topics, identity store) is not part of a service's start
    await world.prepare()
    await world.identity()
    counting = asyncio.create_task(count_arrivals(bootstrap, world.routing_topic, events, timeout=600))
    started = time.perf_counter()
    async with world.running(watch=True, consumer_batch_size=500, relay_batch_size=1000, pool_max_size=8):
        settle_heap()  # what the service's main does once its parts are built (shared.runtime.service)
        seen, from_first = await counting
        total = time.perf_counter() - started
    routing_rate = seen / total
    steady_rate = (seen - 1) / from_first if from_first > 0 else float("nan")

    latency_world = RoutingWorld(tag + "l", bootstrap=bootstrap, dsn=stack.dsn)
    latency_world.egress_prefix = world.egress_prefix  # the bureaus' egress topics exist already
    await latency_world.create_topics(partitions=6)
    sent: dict[str, float] = {}
    async with latency_world.running(watch=True) as svc:
        await asyncio.sleep(0.5)
        while not await svc.ready():
            await asyncio.sleep(0.2)
        collector = asyncio.create_task(arrivals(bootstrap, latency_world.routing_topic, sent, int(rate * seconds),
                                                 seconds + 60))
        await paced(bootstrap, latency_world.intake_topic, tag + "l", rate, seconds, sent)
        latencies = await collector

    figures = {
        "events": events,
        "bureaus": bureaus,
        "raw_per_s": round(raw_rate, 1),
        "routing_assign_per_s": round(routing_rate, 1),
        "routing_assign_per_s_after_first": round(steady_rate, 1),
        "routing_assign_ratio": round(routing_rate / raw_rate, 3),
        # like raw_per_s, counted once work flows (the service's start and group join excluded)
        "routing_assign_steady_ratio": round(steady_rate / raw_rate, 3),
        "routing_startup_s": round(total - from_first, 2),
        "routing_assigned": seen,
        "latency_rate_per_s": rate,
        "latency_sent": len(sent),
        "latency_received": len(latencies),
        "latency_p50_ms": round(percentile(latencies, 50) * 1000, 1),
        "latency_p99_ms": round(percentile(latencies, 99) * 1000, 1),
        # routing ran inside this process, so this is its peak resident set (plus the bench's own)
        "rss_mb_max": rss_mb_max(),
    }
    report("routing_assign", figures)
    await delete_own_topics(bootstrap, tag)
    return figures


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--json", action="store_true", help="print only the one JSON object on stdout")
    args = parser.parse_args()
    asyncio.run(main(args.events, args.rate, args.seconds))
