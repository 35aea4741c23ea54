"""Benchmark: the whole pipeline — intake, routing, notify, credit as processes — on
the real stack, in the same run as the foundation's raw aiokafka pass-through.

(a) raw aiokafka consume → produce (acks=all, idempotent) → commit: the broker's
    ceiling on this machine (`bench.common.raw_passthrough`);
(b) sustained leads/s from the ingress topic to a routed case: N leads published
    at once on a platform's ``ingress.<client>`` topic, each about a new shop,
    counted when its ``case.assigned`` reaches ``case.routing`` (intake validates,
    seals, opens the case; routing places it and sets its deadline; notify fans
    out the webhooks meanwhile);
(c) latency from a hotline's ``POST /v1/complaints`` to the lead bureau's webhook
    (``case.assigned``, signed, verified) arriving at the bureau's gateway: at a
    moderate paced rate, then at saturation (as many concurrent callers as it takes).

The services run in their own namespace (schemas, topics, groups, ports) and
everything made is deleted afterwards. Run on the launched stack (about 3 minutes):

    .venv/bin/python -m bench.pipeline [--leads 2000] [--rate 10] [--seconds 20] [--callers 32]
"""
from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import logging
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from bench.common import percentile, preload, raw_passthrough, report
from deploy.launcher import endpoints
from shared.contracts.intake import SubmitLead
from shared.envelope import new_envelope
from shared.topics import TopicSpec, ensure_topics
from shared.workdays import SHANGHAI
from sim import stackenv
from sim.directory import build_directory, write_directory
from sim.population import credit_code, mobile
from sim.receiver import Receiver
from sim.registration import register_intake_clients
from sim.scenario import stable_random

ASSIGNED = b"shuangda.case.assigned.v1"
COUNTIES = ("610402", "610404", "610422", "610481")


def lead(i: int, tag: str) -> dict[str, Any]:
    return {
        "source_id": f"bench-{tag}-{i:06d}", "channel": "monitoring", "category": "trademarks",
        "county": COUNTIES[i % len(COUNTIES)], "description": "平台监测发现疑似假冒商品",
        "suspect": {"platform": "qinmall", "shop_id": f"b{tag}{i:06d}"},
        "figures": {"amount_involved": "1200.00", "pieces": 3},
    }


async def publish_leads(bootstrap: str, topic: str, n: int, tag: str) -> float:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=5)
    await producer.start()
    try:
        started = time.perf_counter()
        futures = []
        for i in range(n):
            body = lead(i, tag)
            env = new_envelope(type=SubmitLead.EVENT_TYPE, source="/bench/monitor", subject=body["source_id"])
            futures.append(await producer.send(topic, value=json.dumps(body, ensure_ascii=False).encode(),
                                               key=body["source_id"].encode(), headers=env.to_headers()))
        await asyncio.gather(*futures)
        return started
    finally:
        await producer.stop()


async def count_routed(bootstrap: str, topic: str, n: int, timeout: float) -> tuple[int, float | None]:
    """Read case.routing until `n` case.assigned arrived; returns (count, perf_counter of the last)."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    seen, last = 0, None
    deadline = time.perf_counter() + timeout
    try:
        while seen < n and time.perf_counter() < deadline:
            for records in (await consumer.getmany(timeout_ms=200, max_records=2000)).values():
                for r in records:
                    if dict(r.headers).get("ce_type") == ASSIGNED:
                        seen += 1
                        last = time.perf_counter()
        return seen, last
    finally:
        await consumer.stop()


class Hotline:
    """Complaints about fresh businesses; remembers when each was posted (wall clock)."""

    def __init__(self, url: str, key: str, tag: str) -> None:
        self.http = httpx.AsyncClient(base_url=url, trust_env=False, timeout=60,
                                      limits=httpx.Limits(max_connections=64, max_keepalive_connections=64))
        self.key, self.tag = key, tag
        self.rng = stable_random("bench", tag)
        self.posted: dict[str, float] = {}
        self.errors = 0
        self.n = 0

    async def post(self) -> None:
        self.n += 1
        county = COUNTIES[self.n % len(COUNTIES)]
        body = {
            "source_id": f"bench-{self.tag}-c{self.n:06d}", "kind": "complaint", "channel": "hotline",
            "category": "trademarks", "county": county, "description": "买到疑似假冒的运动鞋",
            "suspect": {"credit_code": credit_code(self.rng, county), "name": f"咸阳压测{self.n}商贸有限公司"},
            "complainant": {"name": "王五", "phone": mobile(self.rng)}, "figures": {"sales": "399.00", "pieces": 1},
        }
        t0 = time.time()
        try:
            response = await self.http.post("/v1/complaints", json=body, headers={"authorization": f"Bearer {self.key}"})
        except httpx.HTTPError:
            self.errors += 1
            return
        if response.status_code == 201:
            self.posted[response.json()["case_id"]] = t0
        else:
            self.errors += 1

    async def paced(self, rate: float, seconds: float) -> None:
        tasks: set[asyncio.Task[None]] = set()
        started = time.perf_counter()
        sent = 0
        while (elapsed := time.perf_counter() - started) < seconds:
            while sent < int(elapsed * rate) + 1:
                task = asyncio.create_task(self.post())
                tasks.add(task)
                task.add_done_callback(tasks.discard)
                sent += 1
            await asyncio.sleep(0.005)
        if tasks:
            await asyncio.wait(set(tasks))

    async def flat_out(self, callers: int, seconds: float) -> None:
        deadline = time.perf_counter() + seconds

        async def caller() -> None:
            while time.perf_counter() < deadline:
                await self.post()

        await asyncio.gather(*(caller() for _ in range(callers)))


def webhook_latencies(receiver: Receiver, posted: dict[str, float]) -> list[float]:
    first: dict[str, float] = {}
    for a in receiver.arrivals:
        if a.type == ASSIGNED.decode() and a.case_id in posted and a.case_id not in first:
            event = (a.body.get("data") or {}).get("event") or {}
            if event.get("bureau") == a.recipient:
                first[a.case_id] = a.arrived
    return [first[c] - posted[c] for c in first]


async def wait_for_webhooks(receiver: Receiver, posted: dict[str, float], timeout: float) -> list[float]:
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        got = webhook_latencies(receiver, posted)
        if len(got) >= len(posted):
            return got
        await asyncio.sleep(0.5)
    return webhook_latencies(receiver, posted)


async def notify_drained(dsn: str, schema: str, timeout: float) -> tuple[float, int]:
    """Wait until notify has nothing pending; returns (perf_counter then, deliveries delivered)."""
    import asyncpg

    conn = await asyncpg.connect(dsn)
    deadline = time.perf_counter() + timeout
    try:
        while True:
            row = await conn.fetchrow(
                f"SELECT count(*) FILTER (WHERE state IN ('pending', 'in_flight')) AS waiting,"
                f" count(*) FILTER (WHERE state = 'delivered') AS delivered FROM \"{schema}\".deliveries")
            if row["waiting"] == 0 or time.perf_counter() > deadline:
                return time.perf_counter(), int(row["delivered"])
            await asyncio.sleep(0.5)
    finally:
        await conn.close()


def summary(latencies: list[float]) -> dict[str, float]:
    return {"p50_ms": round(percentile(latencies, 50) * 1000, 1), "p99_ms": round(percentile(latencies, 99) * 1000, 1)}


async def main(args: argparse.Namespace) -> None:
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)  # "topic not in metadata yet" while topics are made
    ep = endpoints()
    bootstrap, dsn = ep.kafka_bootstrap, ep.pg_dsn
    iso = stackenv.Isolated.make(stackenv.new_unique("b"))
    tag = iso.unique
    work = Path(tempfile.mkdtemp(prefix=f"shuangda-bench-{tag}-"))
    receiver = Receiver(secrets={}, keep=True)
    services: stackenv.Services | None = None
    t_start = time.perf_counter()
    try:
        await stackenv.prepare(iso, dsn, bootstrap)
        port = await receiver.start()
        today = dt.datetime.now(SHANGHAI).date()
        document, secrets = build_directory(f"http://127.0.0.1:{port}", today, version=f"bench-{tag}", concurrency=16)
        receiver.secrets.update(secrets)
        hotline_id, monitor_id = f"hotline-{tag}", f"monitor-{tag}"
        keys = await register_intake_clients(dsn, iso.schemas.intake, bootstrap,
                                             {hotline_id: "hotline", monitor_id: "platform"}, [monitor_id])
        env = iso.env(directory_path=write_directory(work / "directory.yaml", document),
                      sms_url=f"http://127.0.0.1:{port}/sms")
        services = stackenv.Services(iso, env, work / "logs")
        services.start()

        # (a) the raw baseline, while the services start
        raw_src, raw_dst = iso.topic("bench.raw.in"), iso.topic("bench.raw.out")
        await ensure_topics(bootstrap, [TopicSpec(raw_src, "key", "bench", partitions=3, has_dlq=False),
                                        TopicSpec(raw_dst, "key", "bench", partitions=3, has_dlq=False)])
        await preload(bootstrap, raw_src, args.raw_events, "shuangda.bench.passthrough.v1")
        await services.wait_ready(timeout=180)
        raw_rate = await raw_passthrough(bootstrap, raw_src, raw_dst, args.raw_events, f"bench-raw-{tag}")

        # (b) sustained leads/s, ingress → routed case
        counter = asyncio.create_task(count_routed(bootstrap, iso.topic("case.routing"), args.leads, timeout=300))
        await asyncio.sleep(2)
        produce_started = await publish_leads(bootstrap, f"ingress.{monitor_id}", args.leads, tag)
        routed, last = await counter
        leads_rate = routed / (last - produce_started) if last else 0.0

        # notify fans out the leads' webhooks behind routing: measure how long it takes to drain them,
        # so the latency runs below start from an idle pipeline
        drained_after = await notify_drained(dsn, iso.schemas.notify, timeout=240)
        deliveries_rate = drained_after[1] / (drained_after[0] - produce_started) if drained_after[1] else 0.0

        # (c) hotline POST → bureau webhook, moderate then saturated
        moderate = Hotline(iso.url("intake"), keys[hotline_id], tag + "m")
        await moderate.paced(args.rate, args.seconds)
        moderate_lat = await wait_for_webhooks(receiver, moderate.posted, timeout=60)
        saturated = Hotline(iso.url("intake"), keys[hotline_id], tag + "s")
        sat_started = time.perf_counter()
        await saturated.flat_out(args.callers, args.seconds)
        sat_posted_rate = len(saturated.posted) / (time.perf_counter() - sat_started)
        sat_lat = await wait_for_webhooks(receiver, saturated.posted, timeout=120)

        report("pipeline", {
            "raw_events": args.raw_events,
            "raw_events_per_s": round(raw_rate, 1),
            "leads": args.leads,
            "leads_routed": routed,
            "leads_per_s_ingress_to_routed": round(leads_rate, 1),
            "ratio_leads_to_raw": round(leads_rate / raw_rate, 3) if raw_rate else None,
            "lead_notices_delivered": drained_after[1],
            "notices_per_s_ingress_to_delivered": round(deliveries_rate, 1),
            "moderate_rate_per_s": args.rate,
            "moderate_posted": len(moderate.posted),
            "moderate_webhooks": len(moderate_lat),
            **{f"moderate_post_to_webhook_{k}": v for k, v in summary(moderate_lat).items()},
            "saturation_callers": args.callers,
            "saturation_complaints_per_s": round(sat_posted_rate, 1),
            "saturation_posted": len(saturated.posted),
            "saturation_webhooks": len(sat_lat),
            **{f"saturation_post_to_webhook_{k}": v for k, v in summary(sat_lat).items()},
            "http_errors": moderate.errors + saturated.errors,
            "webhook_signatures_rejected": receiver.stats.rejected_signatures,
            "seconds": round(time.perf_counter() - t_start, 1),
        })
        await moderate.http.aclose()
        await saturated.http.aclose()
    finally:
        if services is not None:
            await asyncio.to_thread(services.stop)
        await receiver.stop()
        await stackenv.cleanup(iso, dsn, bootstrap)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--raw-events", type=int, default=10_000, help="records for the raw pass-through baseline")
    parser.add_argument("--leads", type=int, default=2000, help="leads published at once on the ingress topic")
    parser.add_argument("--rate", type=float, default=10.0, help="complaints per second in the moderate run")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of the moderate and the saturated run")
    parser.add_argument("--callers", type=int, default=32, help="concurrent callers at saturation")
    asyncio.run(main(parser.parse_args()))
