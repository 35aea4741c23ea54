"""Benchmark: intake over HTTP, on the launched stack.

(a) complaints/s through ``POST /v1/complaints`` (auth, validation, one
    transaction: merge slot, case, report, outbox) against a no-op endpoint of
    the same app (same middleware, same body model, no auth and no database);
(c) latency from POST to ``case.opened`` arriving on Kafka, at a moderate fixed rate.

The server runs as its own process (``python -m bench.intake_http serve``,
started by this script) so the load generator does not share its event loop.

    .venv/bin/python -m bench.intake_http [--seconds 15] [--concurrency 16] [--rate 50] [--latency-seconds 15] [--json]

Prints one JSON object on stdout (its last line).
"""
from __future__ import annotations

import argparse
import asyncio
import os
import random
import socket
import subprocess
import sys
import time
import uuid
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer

from bench.common import percentile, report
from fastapi.responses import JSONResponse
from shared.config import REPO_ROOT
from shared.contracts.intake import SubmitComplaint
from shared.identifiers import USCC_ALPHABET, uscc_check_character
from shared.topics import both_lanes

COUNTIES = ["610402", "610403", "610404", "610422", "610423", "610424", "610481", "610482"]


def credit_codes(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        body = "91" + rng.choice(["610402", "610404", "610481"]) + "".join(rng.choice(USCC_ALPHABET) for _ in range(9))
        out.append(body + uscc_check_character(body))
    return out


def complaint(i: int, codes: list[str]) -> dict[str, Any]:
    return {
        "category": "trademarks", "county": COUNTIES[i % len(COUNTIES)], "description": f"第{i}号投诉：买到假冒商品",
        "suspect": {"credit_code": codes[i % len(codes)]},
        "complainant": {"name": "张三", "phone": f"139{i % 100_000_000:08d}"}, "figures": {"sales": f"{i % 500}.50"},
    }


# -- the server process -------------------------------------------------------------------------------


async def serve() -> None:
    from services.intake.settings import IntakeSettings
    from services.intake.wiring import SERVICE, build
    from shared.db import create_pool
    from shared.logging import configure_logging
    from shared.runtime.service import run_service

    settings = IntakeSettings()
    configure_logging(SERVICE, "WARNING")
    pool = await create_pool(settings.dsn, settings.schema, max_size=settings.pool_max_size)
    parts = await build(settings, pool)

    @parts.app.post("/bench/noop", status_code=201, include_in_schema=False)
    async def noop(command: SubmitComplaint) -> JSONResponse:
        return JSONResponse({"tracking_no": "SD000000-00000000", "case_id": "noop", "outcome": "opened"}, status_code=201)

    running = parts.for_role(SERVICE, "all")
    try:
        await run_service(SERVICE, app=running.app, host="127.0.0.1", port=settings.http_port, loops=running.loops)
    finally:
        for close in parts.closers:  # the identity directory's pool
            await close()
        await pool.close()


# -- the load generator ------------------------------------------------------------------------------


async def closed_loop(url: str, path: str, key: str, seconds: float, concurrency: int, codes: list[str]) -> dict[str, Any]:
    """`concurrency` clients posting back to back for `seconds`; completed requests per second."""
    counter = iter(range(10**9))
    statuses: dict[int, int] = {}
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as client:
        async def worker() -> None:
            while time.perf_counter() < deadline:
                i = next(counter)
                started = time.perf_counter()
                r = await client.post(path, json=complaint(i, codes), headers={"X-API-Key": key})
                latencies.append(time.perf_counter() - started)
                statuses[r.status_code] = statuses.get(r.status_code, 0) + 1

        started = time.perf_counter()
        await asyncio.gather(*[worker() for _ in range(concurrency)])
        elapsed = time.perf_counter() - started
    done = sum(statuses.values())
    return {"per_s": done / elapsed, "statuses": statuses, "p50_ms": percentile(latencies, 50) * 1000,
            "p99_ms": percentile(latencies, 99) * 1000}


async def post_to_kafka(url: str, key: str, bootstrap: str, topic: str, rate: float, seconds: float) -> dict[str, Any]:
    """POST new complaints (each a new suspect, so each opens a case) at `rate`/s; time until its case.opened arrives."""
    codes = credit_codes(int(rate * seconds) + 10, seed=7)
    sent_at: dict[bytes, float] = {}
    arrived: dict[bytes, float] = {}
    # complaints filed over HTTP open cases on the case topic's priority lane
    consumer = AIOKafkaConsumer(*both_lanes(topic), bootstrap_servers=bootstrap, auto_offset_reset="latest",
                                enable_auto_commit=False)
    await consumer.start()
    await asyncio.sleep(2)  # partitions assigned and positioned before the first POST

    async def collect(stop: asyncio.Event) -> None:
        while not stop.is_set():
            for records in (await consumer.getmany(timeout_ms=100)).values():
                now = time.perf_counter()
                for r in records:
                    if r.key is not None:
                        arrived.setdefault(r.key, now)

    stop = asyncio.Event()
    collector = asyncio.create_task(collect(stop))
    errors = 0
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        async def one(i: int) -> None:
            nonlocal errors
            started = time.perf_counter()
            r = await client.post("/v1/complaints", json=complaint(i, codes), headers={"X-API-Key": key})
            if r.status_code == 201:
                sent_at[r.json()["case_id"].encode()] = started
            else:
                errors += 1

        tasks = []
        begin = time.perf_counter()
        i = 0
        while (elapsed := time.perf_counter() - begin) < seconds:
            while i < int(elapsed * rate) + 1:
                tasks.append(asyncio.create_task(one(i)))
                i += 1
            await asyncio.sleep(0.002)
        await asyncio.gather(*tasks)
    deadline = time.perf_counter() + 30
    while time.perf_counter() < deadline and not set(sent_at) <= set(arrived):
        await asyncio.sleep(0.1)
    stop.set()
    await collector
    await consumer.stop()
    lat = [arrived[k] - t for k, t in sent_at.items() if k in arrived]
    return {"sent": i, "errors": errors, "received": len(lat), "p50_ms": percentile(lat, 50) * 1000,
            "p99_ms": percentile(lat, 99) * 1000, "max_ms": max(lat) * 1000 if lat else float("nan")}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def main(seconds: float, concurrency: int, rate: float, latency_seconds: float) -> None:
    from tests.support.intake import IntakeWorld
    from shared.config import StackSettings

    stack = StackSettings(dev=True)
    world = IntakeWorld("bh" + uuid.uuid4().hex[:8])
    await world.create()
    key = await world.add_client("bench", "hotline", ["complaints:write", "complaints:read"], topic=False)
    port = _free_port()
    log = stack.state_dir / "logs" / "bench-intake-http.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, **world.env(SHUANGDA_INTAKE_HTTP_PORT=str(port), SHUANGDA_INTAKE_IDENTITY_CACHE_SECONDS="5",
                                     SHUANGDA_INTAKE_POOL_MAX_SIZE="20"),
           "SHUANGDA_DEV": "true", "PYTHONPATH": str(REPO_ROOT)}
    server = subprocess.Popen([sys.executable, "-m", "bench.intake_http", "serve"], env=env, cwd=REPO_ROOT,
                              stdout=log.open("ab"), stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient() as client:
            for _ in range(300):
                try:
                    if (await client.get(f"{url}/readyz")).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.2)
            else:
                raise SystemExit(f"intake did not get ready; see {log}")
        codes = credit_codes(2000, seed=1)
        await closed_loop(url, "/bench/noop", key, 2, concurrency, codes)  # warm up
        noop = await closed_loop(url, "/bench/noop", key, seconds, concurrency, codes)
        await closed_loop(url, "/v1/complaints", key, 2, concurrency, codes)
        real = await closed_loop(url, "/v1/complaints", key, seconds, concurrency, codes)
        await asyncio.sleep(3)  # let the relay drain what the throughput run queued
        latency = await post_to_kafka(url, key, stack.kafka_bootstrap, world.case_topic, rate, latency_seconds)
    finally:
        server.terminate()
        server.wait(30)
    report("intake_http", {
        "seconds": seconds, "concurrency": concurrency,
        "noop_per_s": round(noop["per_s"], 1), "complaints_per_s": round(real["per_s"], 1),
        "ratio_complaints_to_noop": round(real["per_s"] / noop["per_s"], 3),
        "complaint_statuses": real["statuses"], "noop_statuses": noop["statuses"],
        "complaint_http_p50_ms": round(real["p50_ms"], 1), "complaint_http_p99_ms": round(real["p99_ms"], 1),
        "latency_rate_per_s": rate, "latency_sent": latency["sent"], "latency_received": latency["received"],
        "latency_errors": latency["errors"],
        "post_to_case_opened_p50_ms": round(latency["p50_ms"], 1), "post_to_case_opened_p99_ms": round(latency["p99_ms"], 1),
        "post_to_case_opened_max_ms": round(latency["max_ms"], 1),
    })


if __name__ == "__main__":
    if sys.argv[1:2] == ["serve"]:
        asyncio.run(serve())
        sys.exit(0)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=15.0, help="each throughput run")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rate", type=float, default=50.0, help="POSTs per second for the latency run")
    parser.add_argument("--latency-seconds", type=float, default=15.0)
    parser.add_argument("--json", action="store_true",
                        help="machine-readable: one JSON object on stdout (the default output is that object too)")
    args = parser.parse_args()
    asyncio.run(main(args.seconds, args.concurrency, args.rate, args.latency_seconds))
