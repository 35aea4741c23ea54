"""Benchmark: notify delivering webhooks to local receivers, with one dead endpoint present.

(a) throughput: a burst of `case.assigned` events for 100 bureaus (each its own
    webhook endpoint on a local aiohttp receiver running in a separate process)
    plus a share (1 %) for one endpoint that never answers, waiting in Kafka when
    notify starts; deliveries/s at the receivers, from the first arrival to the
    last healthy one;
(b) latency: the same at a fixed moderate rate; p50/p99 from the event's time
    (stamped when it is produced to Kafka) to the webhook arriving.

Notify runs in this process (consumer, dispatcher, relay …) against the launched
Kafka and Postgres with its production settings (15 s webhook timeout, default
retry schedule, circuit breakers), in its own schema and topics.

Run on the launched stack:
    .venv/bin/python -m bench.notify_deliveries [--json] [--events 5000] [--rate 50] [--seconds 10] [--bureaus 100]

`notify_deliveries_per_s` is the burst throughput (first to last healthy arrival) to 100 fast local endpoints
with one dead one beside them (1 %); `rss_mb_max` the largest resident set of this process (notify's parts).
"""
from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import uvloop

from bench.common import percentile, report, rss_mb_max
from deploy.launcher import endpoints
from shared.contracts.routing import CaseAssigned
from shared.envelope import new_envelope
from shared.kafka import KafkaConnection
from shared.runtime.service import settle_heap
from shared.webhooks import generate_secret
from tests.support.notify import NotifyWorld, sample

if TYPE_CHECKING:
    from aiokafka import AIOKafkaProducer

DEAD = "market_regulation@dead"


def bureau(i: int) -> str:
    return f"market_regulation@b{i:03d}"


async def produce(producer: "AIOKafkaProducer", topic: str, bureaus: list[str], start: int) -> list[str]:
    """Produce one case.assigned per bureau in `bureaus`; returns their event ids."""
    futures, ids = [], []
    for n, b in enumerate(bureaus):
        case_id = f"C-{start + n}"
        event = sample(CaseAssigned, case_id=case_id, bureau=b, co_bureaus=[])
        env = new_envelope(type=CaseAssigned.EVENT_TYPE, source="/bench", subject=case_id, correlationid=case_id)
        ids.append(env.id)
        futures.append(await producer.send(topic, value=event.model_dump_json().encode(), key=case_id.encode(),
                                           headers=env.to_headers()))
    await asyncio.gather(*futures)
    return ids


class Sink:
    """The receivers, in their own process (they must not share notify's CPU); arrivals come back as JSON lines."""

    def __init__(self, tmp: Path) -> None:
        self.port_file, self.log_file = tmp / "sink.port", tmp / "sink.jsonl"
        self.log_file.touch()
        code = ("from tests.support.notify import run_sink_process; "
                f"run_sink_process({str(self.port_file)!r}, {str(self.log_file)!r}, '/hooks/dead')")
        self.proc = subprocess.Popen([sys.executable, "-c", code], cwd=Path(__file__).resolve().parent.parent)
        self.ok: list[dict[str, Any]] = []
        self._offset = 0

    async def started(self) -> int:
        for _ in range(200):
            if self.port_file.exists() and self.port_file.read_text():
                return int(self.port_file.read_text())
            await asyncio.sleep(0.05)
        raise SystemExit("the sink did not start")

    def healthy(self) -> list[dict[str, Any]]:
        with self.log_file.open(encoding="utf-8") as fh:
            fh.seek(self._offset)
            chunk = fh.read()
        complete = chunk[: chunk.rfind("\n") + 1]
        self._offset += len(complete.encode("utf-8"))
        for line in complete.splitlines():
            if line and '"/hooks/ok/' in line:
                arrival = json.loads(line)
                if arrival["status"] == 200:
                    self.ok.append(arrival)
        return self.ok

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


async def wait_for(sink: Sink, n: int, timeout: float) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while len(got := sink.healthy()) < n:
        if time.monotonic() > deadline:
            raise SystemExit(f"only {len(got)} of {n} deliveries arrived within {timeout:.0f}s")
        await asyncio.sleep(0.05)
    return got


async def main(events: int, rate: float, seconds: float, bureaus: int, as_json: bool = False) -> None:
    ep = endpoints()
    tag = uuid.uuid4().hex[:8]
    tmp = Path(tempfile.mkdtemp(prefix="notify-bench-"))
    world = NotifyWorld(f"bench_{tag}", tmp)
    await world.create(ep.pg_dsn, ep.kafka_bootstrap)
    sink = Sink(tmp)
    port = await sink.started()
    secret = generate_secret()
    entries = [{"match": bureau(i), "webhook": {"url": f"http://127.0.0.1:{port}/hooks/ok/{i}", "secret": secret}}
               for i in range(bureaus)]
    entries.append({"match": DEAD, "webhook": {"url": f"http://127.0.0.1:{port}/hooks/dead", "secret": secret}})
    world.write_directory({"version": "bench", "recipients": entries})
    settings = world.settings(
        ep.pg_dsn, ep.kafka_bootstrap,
        # production delivery settings (the harness compresses them for tests)
        retry_schedule=[0, 5, 300, 1800, 7200, 18000, 36000, 36000], retry_jitter=0.2, webhook_timeout_seconds=15.0,
        lease_seconds=60.0, breaker_failure_threshold=5, breaker_open_seconds=30.0, breaker_max_open_seconds=300.0,
        consumer_poll_ms=100, consumer_batch_size=500, dispatch_poll_seconds=0.5, sweep_interval_seconds=5.0,
        pool_max_size=20,
    )
    producer = KafkaConnection.of(ep.kafka_bootstrap).producer(acks="all", enable_idempotence=True, linger_ms=5)
    await producer.start()
    topic = world.topics["routing_topic"]
    try:
        async with world.running(settings):
            # warm-up: consumer group joined, offsets committed, migrations and templates loaded
            await produce(producer, topic, [bureau(i) for i in range(bureaus)], 0)
            await wait_for(sink, bureaus, 60)

        # (a) throughput: a burst, 1 % of it for the dead endpoint, which goes first. It is produced while
        # notify is stopped, so this process's producer does not compete with notify for the CPU; notify then
        # starts with the whole burst waiting in Kafka (as after a pause upstream on 双11).
        dead_share = max(1, events // 100)
        healthy = events - dead_share
        targets = [DEAD] * dead_share + [bureau(i % bureaus) for i in range(healthy)]
        before = len(sink.healthy())
        started = time.monotonic()
        await produce(producer, topic, targets, 1_000_000)
        produced = time.monotonic() - started
        async with world.running(settings) as parts:
            settle_heap()  # what the service's main does once its parts are built (shared.runtime.service)
            started_wall = datetime.now(timezone.utc)
            cpu0, wall0 = time.process_time(), time.monotonic()
            got = await wait_for(sink, before + healthy, 120)
            burst_cpu_s = time.process_time() - cpu0
            burst_cpu = burst_cpu_s / max(1e-9, time.monotonic() - wall0)
            arrivals = sorted(datetime.fromisoformat(a["wall"]) for a in got[before:])
            burst_seconds = (arrivals[-1] - started_wall).total_seconds()
            span = (arrivals[-1] - arrivals[0]).total_seconds()
            throughput = healthy / span if span > 0 else float("nan")
            # where the burst's time went: planning (the consumer's inserts) against sending and recording
            stages = (await world.fetch(ep.pg_dsn, """
                SELECT extract(epoch FROM max(created_at) - min(created_at)) AS planned_s,
                       extract(epoch FROM max(finished_at) - min(created_at)) AS recorded_s
                FROM deliveries WHERE case_id LIKE 'C-1______' AND recipient <> $1""", DEAD))[0]

            # (b) latency at a fixed rate, the dead endpoint still there
            before = len(sink.healthy())
            total = int(rate * seconds)
            sent_ids: list[str] = []
            tick = 0.1
            per_tick = max(1, int(rate * tick))
            next_at = time.monotonic()
            n = 0
            while n < total:
                chunk = [bureau((n + k) % bureaus) for k in range(min(per_tick, total - n))]
                sent_ids += await produce(producer, topic, chunk, 2_000_000 + n)
                n += len(chunk)
                next_at += tick
                await asyncio.sleep(max(0.0, next_at - time.monotonic()))
            got = await wait_for(sink, before + total, 60)
            wanted = set(sent_ids)
            latencies = []
            for a in got[before:]:
                body = json.loads(a["body"])
                if body["data"]["event_id"] in wanted:
                    event_time = datetime.fromisoformat(body["timestamp"].replace("Z", "+00:00"))
                    latencies.append((datetime.fromisoformat(a["wall"]) - event_time).total_seconds())
            dead_rows = await world.fetch(ep.pg_dsn, "SELECT state, attempts FROM deliveries WHERE recipient = $1", DEAD)
            open_circuits = parts.dispatcher.breakers.open_by_channel().get("webhook", 0)
    finally:
        await producer.stop()
        sink.stop()
    figures = {
        "notify_deliveries_per_s": round(throughput, 1),
        "rss_mb_max": rss_mb_max(),
        "endpoints": bureaus, "dead_endpoints": 1,
        "burst_events": events, "burst_healthy_deliveries": healthy, "burst_dead_notices": dead_share,
        "burst_produce_s": round(produced, 2), "burst_to_last_delivery_s": round(burst_seconds, 2),
        "deliveries_per_s": round(throughput, 1),
        "burst_planned_per_s": round(healthy / float(stages["planned_s"]), 1) if stages["planned_s"] else None,
        "burst_cpu_share": round(burst_cpu, 2),  # this process's CPU seconds per second during the burst
        # notify's CPU per delivery in the burst (consume, plan, claim, send, record, relay): robust to the
        # machine's noise, and 1000 / it is the rate one whole core would give
        "burst_cpu_ms_per_delivery": round(burst_cpu_s * 1000 / healthy, 3),
        "one_core_deliveries_per_s": round(healthy / burst_cpu_s, 1) if burst_cpu_s else None,
        "burst_recorded_s": round(float(stages["recorded_s"] or 0), 2),
        "latency_rate_per_s": rate, "latency_events": total,
        "latency_p50_ms": round(percentile(latencies, 50) * 1000, 1),
        "latency_p99_ms": round(percentile(latencies, 99) * 1000, 1),
        "latency_max_ms": round(max(latencies) * 1000, 1) if latencies else None,
        "dead_endpoint_rows": len(dead_rows),
        "dead_endpoint_delivered": sum(1 for r in dead_rows if r["state"] == "delivered"),
        "dead_endpoint_attempts": sum(r["attempts"] for r in dead_rows),
        "open_circuits": open_circuits,
        "at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    if as_json:
        report("notify_deliveries", figures)  # one JSON object, the last line of stdout
        return
    for name, value in figures.items():
        print(f"{name:28} {value}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=5000, help="events in the throughput burst")
    parser.add_argument("--rate", type=float, default=50, help="events/s in the latency phase (well below capacity)")
    parser.add_argument("--seconds", type=float, default=10, help="length of the latency phase")
    parser.add_argument("--bureaus", type=int, default=100, help="healthy webhook endpoints")
    parser.add_argument("--json", action="store_true", help="print one JSON object (the figures) on stdout")
    args = parser.parse_args()
    # the event loop every service runs on in production (shared.runtime.service.main)
    uvloop.run(main(args.events, args.rate, args.seconds, args.bureaus, args.json))
