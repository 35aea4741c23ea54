"""Helpers shared by the benchmarks: the raw aiokafka pass-through baseline,
record generation, counting arrivals and percentiles."""
from __future__ import annotations

import asyncio
import json
import os
import time
from datetime import datetime, timezone
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from shared.envelope import new_envelope


def rss_mb_max() -> float:
    """The largest resident set this process reached, in MiB (Linux reports ru_maxrss in KiB)."""
    import resource

    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[index]


def payload_1kb(i: int) -> bytes:
    body = {"seq": i, "body": "x" * 960}
    return json.dumps(body).encode()


async def preload(bootstrap: str, topic: str, n: int, event_type: str, keys: int = 100) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=5)
    await producer.start()
    try:
        futures = []
        for i in range(n):
            env = new_envelope(type=event_type, source="/bench", subject=f"k{i % keys}")
            futures.append(await producer.send(topic, value=payload_1kb(i), key=f"k{i % keys}".encode(), headers=env.to_headers()))
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def raw_passthrough(bootstrap: str, src: str, dst: str, n: int, group: str) -> float:
    """Baseline: aiokafka consume → produce (acks=all, idempotent) → commit; events/s."""
    consumer = AIOKafkaConsumer(src, bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False,
                                auto_offset_reset="earliest", max_poll_records=500)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=2)
    await consumer.start()
    await producer.start()
    done = 0
    started: float | None = None
    try:
        while done < n:
            batches = await consumer.getmany(timeout_ms=500, max_records=500)
            if started is None and batches:
                started = time.perf_counter()
            futures = []
            for records in batches.values():
                for r in records:
                    futures.append(await producer.send(dst, value=r.value, key=r.key, headers=list(r.headers)))
            await asyncio.gather(*futures)
            await consumer.commit()
            done += len(futures)
        assert started is not None
        return n / (time.perf_counter() - started)
    finally:
        await consumer.stop()
        await producer.stop()


async def count_arrivals(bootstrap: str, topic: str, n: int, *, timeout: float, latencies: list[float] | None = None) -> tuple[int, float]:
    """Read `topic` from the beginning until `n` records arrived; returns (count, seconds from the first)."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest",
                                group_id=None)
    await consumer.start()
    seen = 0
    first: float | None = None
    deadline = time.perf_counter() + timeout
    try:
        while seen < n and time.perf_counter() < deadline:
            for records in (await consumer.getmany(timeout_ms=200, max_records=2000)).values():
                now = datetime.now(timezone.utc)
                for r in records:
                    if first is None:
                        first = time.perf_counter()
                    seen += 1
                    if latencies is not None:
                        t = dict(r.headers).get("ce_time")
                        if t:
                            latencies.append((now - datetime.fromisoformat(t.decode().replace("Z", "+00:00"))).total_seconds())
        return seen, (time.perf_counter() - (first or time.perf_counter()))
    finally:
        await consumer.stop()


def report(name: str, figures: dict[str, Any]) -> None:
    """Print the figures as one JSON object on one line of stdout (a benchmark prints nothing else
    there), and append it to the file SHUANGDA_BENCH_OUT names, if any."""
    line = json.dumps({"bench": name, **figures}, ensure_ascii=False)
    print(line, flush=True)
    out = os.environ.get("SHUANGDA_BENCH_OUT")
    if out:
        with open(out, "a", encoding="utf-8") as fh:
            fh.write(line + "\n")
