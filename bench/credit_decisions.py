"""Benchmark: credit's penalty decisions per second from a bureau's ingress topic, against the raw
aiokafka pass-through on the same broker in the same run.

(a) raw: aiokafka consume → produce (acks=all, idempotent) → offset commit (bench.common);
(b) credit: N ``penalty.decided`` preloaded on ``ingress.market_regulation-<division>`` (keyed by
    credit code, over N/2 organisations, so half the entities get a second record and some are
    listed), consumed by credit's real consumer (inbox, entity upsert, record, list evaluation,
    audit chain, outbox) and relay, running in this process against a fresh schema and its own
    topics → N ``credit.record-created`` on the credit topic.

The rate is from credit's consumer having its first fetch (the group joined) to the last
``credit.record-created`` arriving — the window the raw pass-through is timed on (first batch to
last); ``credit_decisions_per_s_with_group_join`` counts from starting credit. The scheduler (disclosure, expiry) does
not run: it is not the stage measured. The audit chain is verified at the end.

Run on the launched stack (about a minute on 2 cores):
    .venv/bin/python -m bench.credit_decisions [--json] [--decisions 5000] [--batch 500]
"""
from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import random
import re
import sys
import time
import uuid
from decimal import Decimal
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from bench.common import preload, raw_passthrough, report, rss_mb_max
from shared.runtime.service import settle_heap
from services.credit.settings import CreditSettings
from services.credit.wiring import build, prepare
from shared import audit
from shared.config import StackSettings
from shared.contracts.credit import RecordCreated
from shared.contracts.penalty import PenaltyDecided
from shared.db import connect, create_pool
from shared.envelope import new_envelope
from shared.identifiers import USCC_ALPHABET, uscc_check_character
from shared.topics import TopicSpec, ensure_topics, ingress

CATEGORIES = ("trademarks", "food", "product_quality", "price_fraud", "false_advertising")


def make_code(rng: random.Random, seen: set[str]) -> str:
    while True:
        body = "91610402" + "".join(rng.choice(USCC_ALPHABET) for _ in range(9))
        code = body + uscc_check_character(body)
        if code not in seen:
            seen.add(code)
            return code


def decisions(n: int, tag: str, seed: int = 11) -> list[PenaltyDecided]:
    rng = random.Random(seed)
    seen: set[str] = set()
    codes = [make_code(rng, seen) for _ in range(max(1, n // 2))]
    today = dt.date.today()
    out = []
    for i in range(n):
        code = codes[i % len(codes)]
        out.append(PenaltyDecided.model_validate(dict(
            decision_no=f"咸市监罚〔2025〕{tag}-{i:06d}号",
            party={"kind": "organisation", "credit_code": code, "name": f"咸阳{code[-6:]}商贸有限公司", "legal_representative": "王五"},
            category=CATEGORIES[i % len(CATEGORIES)], violation="销售侵犯注册商标专用权的商品", legal_basis=["《商标法》第六十条第二款"],
            penalty_types=["fine", "confiscation_of_property"], content="没收侵权商品并处罚款",
            fine_amount=Decimal(rng.choice(("5000.00", "50000.00", "300000.00"))),
            decided_on=today - dt.timedelta(days=rng.randrange(0, 300)),
        )))
    return out


async def publish(bootstrap: str, topic: str, items: list[PenaltyDecided]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=5)
    await producer.start()
    try:
        futures = []
        for d in items:
            key = d.party.credit_code or d.decision_no
            env = new_envelope(type=PenaltyDecided.EVENT_TYPE, source="/bench", subject=key)
            futures.append(await producer.send(topic, value=d.model_dump_json().encode(), key=key.encode(),
                                               headers=env.to_headers()))
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def count_type(bootstrap: str, topic: str, event_type: str, n: int, timeout: float) -> int:
    """Read `topic` from the beginning until `n` records of `event_type` arrived (or the timeout)."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest",
                                group_id=None)
    await consumer.start()
    seen = 0
    wanted = event_type.encode()
    deadline = time.perf_counter() + timeout
    try:
        while seen < n and time.perf_counter() < deadline:
            for records in (await consumer.getmany(timeout_ms=200, max_records=2000)).values():
                seen += sum(1 for r in records if dict(r.headers).get("ce_type") == wanted)
        return seen
    finally:
        await consumer.stop()


async def records_committed(pool: Any, n: int, started: float) -> float:
    """Seconds from `started` until the consumer has committed `n` records (the relay may still be publishing)."""
    while await pool.fetchval("SELECT count(*) FROM records") < n:
        await asyncio.sleep(0.1)
    return time.perf_counter() - started


async def main(n: int, batch: int, timeout: float) -> dict[str, Any]:
    stack = StackSettings(dev=True)
    bootstrap = stack.kafka_bootstrap
    tag = uuid.uuid4().hex[:8]
    division = str(100000 + int(tag, 16) % 900000)
    raw_in, raw_out = f"bench.raw.in.{tag}", f"bench.raw.out.{tag}"
    settings = CreditSettings(
        dev=True, schema=f"credit_bench_{tag}", consumer_group=f"credit-bench-{tag}",
        ingress_pattern=r"ingress\.[a-z][a-z0-9_]*-" + re.escape(division),
        referral_topic=f"bench.referral.{tag}", penalty_topic=f"bench.penalty.{tag}", credit_topic=f"bench.credit.{tag}",
        consumer_batch_size=batch, relay_batch_size=1000, consumer_poll_ms=100, relay_poll_seconds=0.2,
    )
    bureau_topic = ingress(f"market_regulation-{division}")
    await ensure_topics(bootstrap, [TopicSpec(raw_in, "key", "bench", partitions=bureau_topic.partitions),
                                    TopicSpec(raw_out, "key", "bench", partitions=bureau_topic.partitions, has_dlq=False),
                                    bureau_topic, TopicSpec(settings.referral_topic, "case id", "bench referrals")])
    await prepare(settings)
    items = decisions(n, tag)
    await preload(bootstrap, raw_in, n, PenaltyDecided.EVENT_TYPE)
    await publish(bootstrap, bureau_topic.name, items)

    raw_rate = await raw_passthrough(bootstrap, raw_in, raw_out, n, f"bench-raw-{tag}")

    pool = await create_pool(settings.dsn, settings.schema, max_size=settings.pool_max_size)
    parts = await build(settings, pool)
    settle_heap()  # what the service's main does once its parts are built (shared.runtime.service)
    stop = asyncio.Event()
    counting = asyncio.create_task(count_type(bootstrap, settings.credit_topic, RecordCreated.EVENT_TYPE, n, timeout))
    launched = time.perf_counter()
    tasks = [asyncio.create_task(loop(stop)) for loop in (parts.consumer.run, parts.relay.run)]
    try:
        while not parts.consumer.ready:  # the group joined and the first fetch returned (raw's clock starts there too)
            await asyncio.sleep(0.005)
        started, cpu_started = time.perf_counter(), time.process_time()
        committed = asyncio.create_task(records_committed(pool, n, started))
        seen = await counting
        committed_s = await committed
        done, cpu_used = time.perf_counter(), time.process_time() - cpu_started
        elapsed, with_join = done - started, done - launched
    finally:
        stop.set()
        await asyncio.gather(*tasks)
        await pool.close()
    conn = await connect(stack.dsn, settings.schema)
    try:
        broken = await audit.verify(conn)
        listings = await conn.fetchval("SELECT count(*) FROM listings")
        audit_rows = await conn.fetchval("SELECT count(*) FROM audit_log")
    finally:
        await conn.close()
    rate = seen / elapsed
    figures = {
        "decisions": n, "batch": batch, "credit_records_created": seen, "listings": listings, "audit_rows": audit_rows,
        "audit_chain_ok": broken is None,
        "raw_per_s": round(raw_rate, 1),
        "credit_decisions_per_s": round(rate, 1),
        "credit_decisions_ratio": round(rate / raw_rate, 3),
        "credit_decisions_per_s_with_group_join": round(seen / with_join, 1),
        # this process's CPU per decision over the window (credit's consumer and relay, and this
        # bench's reader of the credit topic): steadier than the rates on a shared machine
        "process_cpu_ms_per_decision": round(1000 * cpu_used / max(1, seen), 3),
        "records_committed_s": round(committed_s, 2), "last_record_created_s": round(elapsed, 2),
        "rss_mb_max": rss_mb_max(),
    }
    return figures


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--decisions", type=int, default=5000, help="penalty decisions preloaded on the ingress topic")
    parser.add_argument("--batch", type=int, default=500, help="credit's consumer batch size")
    parser.add_argument("--timeout", type=float, default=120, help="give up waiting for records after this many seconds")
    parser.add_argument("--json", action="store_true", help="print one JSON object (the figures) on stdout")
    args = parser.parse_args()
    figures = asyncio.run(main(args.decisions, args.batch, args.timeout))
    if args.json:
        report("credit_decisions", figures)
    else:
        for k, v in figures.items():
            print(f"{k:28} {v}", file=sys.stdout)
