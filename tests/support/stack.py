"""Helpers for tests on the real stack: endpoints, producing and reading records,
and polling for async effects with a deadline."""
from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Awaitable, Callable, Iterable, TypeVar

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from pydantic import BaseModel

from shared.config import REPO_ROOT, StackSettings
from shared.envelope import Envelope, new_envelope
from shared.runtime.dlq import topic_partitions

T = TypeVar("T")


def settings() -> StackSettings:
    """Stack settings pointing at what the launcher runs (honours SHUANGDA_*_PORT overrides)."""
    from deploy.launcher import endpoints

    ep = endpoints()
    return StackSettings(dev=True, kafka_bootstrap=ep.kafka_bootstrap, pg_dsn=ep.pg_dsn)


def bootstrap() -> str:
    return settings().kafka_bootstrap


def dsn() -> str:
    return settings().dsn


def local_kafka_data() -> Path | None:
    """The launcher's own broker's data directory (``<state>/kafka/data``), for a test that searches its
    segment files; None when the environment names another broker (the local address exported by hand
    is still the launcher's own)."""
    from deploy.launcher import settings as launcher

    kafka = launcher.external_kafka()
    if kafka is not None and kafka != launcher.local_kafka_bootstrap():
        return None
    return launcher.state_dir() / "kafka" / "data"


def local_pg_data() -> Path | None:
    """The launcher's own Postgres's data directory (``<state>/pg/data``); None when the DSN names
    another server."""
    from urllib.parse import urlsplit

    from deploy.launcher import settings as launcher

    pg = launcher.external_pg()
    if pg is not None and (urlsplit(pg).hostname, urlsplit(pg).port) not in {
            (host, launcher.port("pg")) for host in (launcher.HOST, "localhost")}:
        return None
    return launcher.state_dir() / "pg" / "data"


def service_env() -> dict[str, str]:
    """Environment for a service process or settings object talking to the test stack."""
    return {"SHUANGDA_KAFKA_BOOTSTRAP": bootstrap(), "SHUANGDA_PG_DSN": dsn(), "SHUANGDA_DEV": "true"}


async def eventually(probe: Callable[[], Awaitable[T]], *, until: Callable[[T], bool], timeout: float = 30.0, interval: float = 0.2, what: str = "condition") -> T:
    """Poll `probe` until `until(value)` holds; fail with the last value after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    value = await probe()
    while not until(value):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}; last value: {value!r}")
        await asyncio.sleep(interval)
        value = await probe()
    return value


async def ready(port: int, host: str = "127.0.0.1") -> bool:
    """Whether the process serving `port` answers 200 on /readyz (False while it is down or starting)."""
    try:
        async with httpx.AsyncClient(trust_env=False) as client:
            return (await client.get(f"http://{host}:{port}/readyz", timeout=2)).status_code == 200
    except httpx.HTTPError:
        return False


async def produce(topic: str, records: Iterable[tuple[str | None, list[tuple[str, bytes]], bytes]]) -> int:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap(), acks="all", enable_idempotence=True)
    await producer.start()
    n = 0
    try:
        futures = []
        for key, headers, value in records:
            futures.append(await producer.send(topic, value=value, key=key.encode() if key else None, headers=headers))
            n += 1
        await asyncio.gather(*futures)
    finally:
        await producer.stop()
    return n


def event_record(data: BaseModel, *, type: str, key: str | None, envelope: Envelope | None = None) -> tuple[str | None, list[tuple[str, bytes]], bytes]:
    env = envelope or new_envelope(type=type, source="/tests", subject=key, correlationid=key)
    return key, env.to_headers(), data.model_dump_json().encode()


async def read_all(topic: str, *, timeout: float = 5.0, expect: int | None = None) -> list[Any]:
    """Every record currently in `topic` (all partitions), read from the beginning."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap(), enable_auto_commit=False, auto_offset_reset="earliest")
    await consumer.start()
    try:
        partitions = await topic_partitions(consumer, topic)
        if not partitions:
            return []
        tps = [TopicPartition(topic, p) for p in partitions]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        end = await consumer.end_offsets(tps)
        out: list[Any] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            positions = {tp: await consumer.position(tp) for tp in tps}
            if all(positions[tp] >= end[tp] for tp in tps) and (expect is None or len(out) >= expect):
                break
            batch = await consumer.getmany(timeout_ms=200)
            for recs in batch.values():
                out.extend(recs)
            if expect is not None and len(out) < expect:
                end = await consumer.end_offsets(tps)
        return out
    finally:
        await consumer.stop()


async def read_lanes(topic: str, *, timeout: float = 5.0, expect: int | None = None) -> list[Any]:
    """Every record in case topic `topic` and in its priority lane (``<topic>.priority``, where the events
    of a case a person filed go): the topic's records, then the lane's, each in the order read (one case's
    events are all on one of the two, so each case's stay in order)."""
    from shared.topics import priority_lane

    bulk = await read_all(topic, timeout=timeout)
    lane = await read_all(priority_lane(topic), timeout=timeout,
                          expect=None if expect is None else max(0, expect - len(bulk)))
    return bulk + lane


def header(record: Any, name: str) -> str | None:
    for k, v in record.headers or ():
        if k == name:
            return v.decode()
    return None


def spawn(module: str, env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    """Start `python -m module` as a separate process (its log to `log_path`)."""
    full_env = {**os.environ, **service_env(), **env, "PYTHONPATH": str(REPO_ROOT)}
    log_path.parent.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen(
        [sys.executable, "-m", module], env=full_env, cwd=REPO_ROOT,
        stdout=log_path.open("ab"), stderr=subprocess.STDOUT,
    )
