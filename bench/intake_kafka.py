"""Benchmark: leads through intake's Kafka ingress against a raw aiokafka
pass-through of the same records on the same broker, in the same run.

(a) raw: aiokafka consume → produce (acks=all, idempotent) → offset commit
    (`bench.common.raw_passthrough`);
(b) intake: the effectively-once consumer on ``ingress.<client>`` — decode,
    validate, lock the suspect's merge slot, open or merge a case, store the
    report, write ``case.opened``/``case.merged`` to the outbox, one transaction
    per batch — and the relay publishing them; timed until every event arrived.

The leads name 3,000 shops, so about a third open cases and the rest merge.

    .venv/bin/python -m bench.intake_kafka [--leads 10000] [--shops 3000] [--partitions 3] [--json]

Prints one JSON object on stdout (its last line): ``raw_per_s``,
``intake_leads_per_s``, ``intake_leads_ratio`` (intake ÷ raw, the figure to
compare across runs on a noisy machine; both timed from the first batch taken, so neither
includes the consumer group's join), ``intake_leads_with_startup_per_s``/``_ratio`` (intake timed
from before it started, as earlier runs measured; ``ratio_intake_to_raw`` keeps that meaning), ``rss_mb_max`` (this process, which
runs intake's consumer and relay), and the counts behind them. The default
sizes run in about 15 s.
"""
from __future__ import annotations

import argparse
import asyncio
import time
import uuid

from aiokafka import AIOKafkaProducer

from bench.common import count_arrivals, raw_passthrough, report, rss_mb_max
from shared.runtime.service import settle_heap
from tests.support.intake import IntakeWorld, running_intake
from shared.config import StackSettings
from shared.contracts.intake import SubmitLead
from shared.envelope import new_envelope
from shared.topics import TopicSpec, ensure_topics

COUNTIES = ["610402", "610403", "610404", "610422", "610423", "610424", "610481", "610482"]


def lead(i: int, shops: int) -> SubmitLead:
    return SubmitLead.model_validate({
        "source_id": f"mon-{i}", "channel": "monitoring", "category": "online_piracy",
        "county": COUNTIES[i % len(COUNTIES)], "description": f"监测线索 {i}：疑似盗版电子书批量销售",
        "suspect": {"platform": "example-mall", "shop_id": f"s{i % shops}",
                    "listing_url": f"https://shop.example.com/item/{i % shops}"},
        "figures": {"amount_involved": f"{(i % 997) * 10}.00", "copies": i % 50},
    })


async def preload_leads(bootstrap: str, topics: list[str], n: int, shops: int) -> int:
    """The same n lead records onto each topic; returns the average record size."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=5)
    await producer.start()
    size = 0
    try:
        futures = []
        for i in range(n):
            value = lead(i, shops).model_dump_json(exclude_none=True).encode()
            size += len(value)
            headers = new_envelope(type=SubmitLead.EVENT_TYPE, source="/bench/monitoring", subject=f"mon-{i}").to_headers()
            for topic in topics:
                futures.append(await producer.send(topic, value=value, key=f"mon-{i}".encode(), headers=headers))
        await asyncio.gather(*futures)
    finally:
        await producer.stop()
    return size // max(n, 1)


async def main(n: int, shops: int, partitions: int) -> None:
    settings = StackSettings(dev=True)
    bootstrap = settings.kafka_bootstrap
    world = IntakeWorld("bk" + uuid.uuid4().hex[:8], consumer_batch_size=500, relay_batch_size=1000,
                        consumer_poll_ms=50, relay_poll_seconds=0.2)
    await world.create()
    await world.add_client("monitor", "platform", ["leads:write"], topic=False)
    ingress_topic = world.ingress_topic("monitor")
    raw_in, raw_out = f"bench.raw_in.{world.unique}", f"bench.raw_out.{world.unique}"
    await ensure_topics(bootstrap, [
        TopicSpec(ingress_topic, "source id", "bench ingress", partitions=partitions),
        TopicSpec(raw_in, "key", "bench", partitions=partitions), TopicSpec(raw_out, "key", "bench", partitions=partitions, has_dlq=False),
    ])
    avg_size = await preload_leads(bootstrap, [ingress_topic, raw_in], n, shops)

    raw_rate = await raw_passthrough(bootstrap, raw_in, raw_out, n, f"bench-raw-{world.unique}")

    arrivals = asyncio.create_task(count_arrivals(bootstrap, world.case_topic, n, timeout=600))
    started = time.perf_counter()
    async with running_intake(world):
        settle_heap()  # what the service's main does once its parts are built (shared.runtime.service)
        seen, _ = await arrivals
        elapsed = time.perf_counter() - started
        finished_at = time.time()
    cases = await world.fetch("SELECT count(*) AS n, sum(reports_count) AS reports FROM cases")
    # like the raw figure, timed from the first batch taken (the start of the transaction that
    # recorded its ids in the inbox; same host, same clock), so the consumer group's join is in neither
    [first] = await world.fetch("SELECT extract(epoch FROM min(received_at))::float8 AS t FROM inbox")
    intake_rate = seen / (finished_at - first["t"])
    with_startup = seen / elapsed
    report("intake_kafka", {
        "leads": n, "shops": shops, "partitions": partitions, "avg_record_bytes": avg_size,
        "raw_per_s": round(raw_rate, 1), "intake_leads_per_s": round(intake_rate, 1),
        "intake_leads_ratio": round(intake_rate / raw_rate, 3),
        # the same timed from before intake started (pool, wiring, group join included)
        "intake_leads_with_startup_per_s": round(with_startup, 1),
        "intake_leads_with_startup_ratio": round(with_startup / raw_rate, 3),
        # the names earlier runs used, kept so their figures stay comparable
        "raw_passthrough_per_s": round(raw_rate, 1), "ratio_intake_to_raw": round(with_startup / raw_rate, 3),
        "events_delivered": seen, "cases_opened": cases[0]["n"], "reports_on_cases": cases[0]["reports"],
        "rss_mb_max": rss_mb_max(),
    })

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--leads", type=int, default=10_000)
    parser.add_argument("--shops", type=int, default=3_000)
    parser.add_argument("--partitions", type=int, default=3)
    parser.add_argument("--json", action="store_true",
                        help="machine-readable: one JSON object on stdout (the default output is that object too)")
    args = parser.parse_args()
    asyncio.run(main(args.leads, args.shops, args.partitions))
