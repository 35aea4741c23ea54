"""Benchmark: the effectively-once runtime against raw aiokafka, same broker, same run.

(a) raw aiokafka consume → produce (acks=all, idempotent) → offset commit;
(b) the same pass-through through the runtime: inbox + handler + outbox in one
    Postgres transaction, offset commit, relay publishing the outbox;
(c) end-to-end latency of (b) at a fixed moderate rate (produce → arrival on the output topic).

Run on the launched stack:  .venv/bin/python -m bench.runtime_passthrough [--events 20000] [--rate 300] [--seconds 15] [--json]
"""
from __future__ import annotations

import argparse
import asyncio
import json
import time
import uuid
from typing import ClassVar

from aiokafka import AIOKafkaProducer
from pydantic import BaseModel, ConfigDict

from bench.common import count_arrivals, percentile, preload, raw_passthrough, report, rss_mb_max
from deploy.launcher import endpoints
from shared.config import StackSettings
from shared.db import create_pool, migrate
from shared.envelope import new_envelope
from shared.runtime import Message, UnitOfWork
from shared.runtime.consumer import EventConsumer
from shared.runtime.relay import OutboxRelay
from shared.runtime.routes import Binding, TopicRoute
from shared.topics import TopicSpec, ensure_topics

EVENT_TYPE = "shuangda.bench.passthrough.v1"


class Payload(BaseModel):
    model_config = ConfigDict(extra="allow")
    EVENT_TYPE: ClassVar[str] = EVENT_TYPE
    seq: int
    body: str = ""
    sent_at: float | None = None


def passthrough(out_topic: str):
    async def handle(message: Message[Payload], uow: UnitOfWork) -> None:
        uow.emit(out_topic, message.data, key=message.key)

    return handle


class RuntimePipe:
    def __init__(self, settings: StackSettings, tag: str, src: str, dst: str) -> None:
        self.settings, self.schema, self.src, self.dst = settings, f"bench_{tag}", src, dst
        self.stop = asyncio.Event()

    async def start(self) -> None:
        await migrate(self.settings.dsn, self.schema)
        self.pool = await create_pool(self.settings.dsn, self.schema, max_size=4)
        self.consumer = EventConsumer(
            service="bench", group=f"bench-{self.schema}", pool=self.pool, bootstrap=self.settings.kafka_bootstrap,
            routes=[TopicRoute(topic=self.src, bindings={EVENT_TYPE: Binding(Payload, passthrough(self.dst))})],
            batch_size=500, poll_ms=50,
        )
        self.relay = OutboxRelay(service="bench", schema=self.schema, dsn=self.settings.dsn,
                                 bootstrap=self.settings.kafka_bootstrap, batch_size=1000, poll_seconds=0.5)
        self.tasks = [asyncio.create_task(self.consumer.run(self.stop)), asyncio.create_task(self.relay.run(self.stop))]

    async def close(self) -> None:
        self.stop.set()
        await asyncio.gather(*self.tasks)
        await self.pool.close()


async def paced_producer(bootstrap: str, topic: str, rate: float, seconds: float) -> int:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=1)
    await producer.start()
    sent = 0
    try:
        started = time.perf_counter()
        while (elapsed := time.perf_counter() - started) < seconds:
            due = int(elapsed * rate) + 1
            while sent < due:
                env = new_envelope(type=EVENT_TYPE, source="/bench", subject=f"k{sent % 100}")
                body = json.dumps({"seq": sent, "body": "x" * 940, "sent_at": time.time()}).encode()
                await producer.send(topic, value=body, key=f"k{sent % 100}".encode(), headers=env.to_headers())
                sent += 1
            await asyncio.sleep(0.002)
        await producer.flush()
        return sent
    finally:
        await producer.stop()


async def latency_run(bootstrap: str, topic: str, expected: int, timeout: float) -> list[float]:
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    out: list[float] = []
    deadline = time.perf_counter() + timeout
    try:
        while len(out) < expected and time.perf_counter() < deadline:
            for records in (await consumer.getmany(timeout_ms=100)).values():
                now = time.time()
                for r in records:
                    out.append(now - json.loads(r.value)["sent_at"])
        return out
    finally:
        await consumer.stop()


async def main(events: int, rate: float, seconds: float) -> None:
    ep = endpoints()
    settings = StackSettings(dev=True, kafka_bootstrap=ep.kafka_bootstrap, pg_dsn=ep.pg_dsn)
    bootstrap = settings.kafka_bootstrap
    tag = uuid.uuid4().hex[:8]
    names = {k: f"bench.{k}.{tag}" for k in ("raw_in", "raw_out", "rt_in", "rt_out", "lat_in", "lat_out")}
    await ensure_topics(bootstrap, [TopicSpec(n, "key", "bench", partitions=3, has_dlq=k.endswith("_in")) for k, n in names.items()])
    await preload(bootstrap, names["raw_in"], events, EVENT_TYPE)
    await preload(bootstrap, names["rt_in"], events, EVENT_TYPE)

    raw_rate = await raw_passthrough(bootstrap, names["raw_in"], names["raw_out"], events, f"bench-raw-{tag}")

    pipe = RuntimePipe(settings, tag, names["rt_in"], names["rt_out"])
    arrivals = asyncio.create_task(count_arrivals(bootstrap, names["rt_out"], events, timeout=600))
    started = time.perf_counter()
    await pipe.start()
    seen, _ = await arrivals
    runtime_seconds = time.perf_counter() - started
    await pipe.close()
    runtime_rate = seen / runtime_seconds

    lat_pipe = RuntimePipe(settings, tag + "l", names["lat_in"], names["lat_out"])
    await lat_pipe.start()
    await asyncio.sleep(3)  # group join before the paced run
    collector = asyncio.create_task(latency_run(bootstrap, names["lat_out"], int(rate * seconds), seconds + 60))
    sent = await paced_producer(bootstrap, names["lat_in"], rate, seconds)
    latencies = await collector
    await lat_pipe.close()

    report("runtime_passthrough", {
        "events": events,
        "raw_per_s": round(raw_rate, 1),
        "runtime_per_s": round(runtime_rate, 1),
        "runtime_ratio": round(runtime_rate / raw_rate, 3),
        "runtime_delivered": seen,
        "latency_rate_per_s": rate,
        "latency_sent": sent,
        "latency_received": len(latencies),
        "latency_p50_ms": round(percentile(latencies, 50) * 1000, 1),
        "latency_p99_ms": round(percentile(latencies, 99) * 1000, 1),
        "rss_mb_max": rss_mb_max(),
    })


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--rate", type=float, default=300.0)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--json", action="store_true", help="print only the JSON object of figures (the default output too)")
    args = parser.parse_args()
    asyncio.run(main(args.events, args.rate, args.seconds))
