"""Read-only operator views of the broker: topics with their sizes, consumer
groups with their lag, and a case's events across every topic (the timeline)."""
from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Iterable

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from shared.runtime.dlq import topic_partitions


@dataclass(frozen=True)
class TopicInfo:
    name: str
    partitions: int
    records: int  # end offset minus start offset, summed over partitions


@dataclass(frozen=True)
class GroupLag:
    group: str
    topic: str
    committed: int
    end: int

    @property
    def lag(self) -> int:
        return max(0, self.end - self.committed)


@dataclass(frozen=True)
class TimelineEntry:
    time: datetime | None
    topic: str
    type: str | None
    event_id: str | None
    source: str | None
    actor: str | None
    causation: str | None
    value: bytes | None


async def _offsets(consumer: AIOKafkaConsumer, tps: list[TopicPartition]) -> tuple[dict[TopicPartition, int], dict[TopicPartition, int]]:
    if not tps:
        return {}, {}
    return await consumer.beginning_offsets(tps), await consumer.end_offsets(tps)


async def describe_topics(bootstrap: str, *, include_internal: bool = False, **kafka: Any) -> list[TopicInfo]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, **kafka)
    await consumer.start()
    try:
        names = sorted(t for t in await consumer.topics() if include_internal or not t.startswith("__"))
        out = []
        for name in names:
            tps = [TopicPartition(name, p) for p in sorted(await topic_partitions(consumer, name))]
            start, end = await _offsets(consumer, tps)
            out.append(TopicInfo(name, len(tps), sum(end[tp] - start[tp] for tp in tps)))
        return out
    finally:
        await consumer.stop()


async def consumer_lag(bootstrap: str, **kafka: Any) -> list[GroupLag]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **kafka)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, **kafka)
    await admin.start()
    await consumer.start()
    try:
        groups = sorted({g[0] for g in await admin.list_consumer_groups()})
        out: list[GroupLag] = []
        for group in groups:
            offsets = await admin.list_consumer_group_offsets(group)
            if not offsets:
                continue
            tps = list(offsets)
            end = await consumer.end_offsets(tps)
            per_topic: dict[str, list[int]] = {}
            for tp, meta in offsets.items():
                acc = per_topic.setdefault(tp.topic, [0, 0])
                acc[0] += max(0, meta.offset)
                acc[1] += end.get(tp, 0)
            out += [GroupLag(group, t, c, e) for t, (c, e) in sorted(per_topic.items())]
        return out
    finally:
        await consumer.stop()
        await admin.close()


def _header(headers: Iterable[tuple[str, bytes]], name: str) -> str | None:
    for k, v in headers:
        if k == name and v is not None:
            return v.decode("utf-8", "replace")
    return None


async def case_timeline(bootstrap: str, case_id: str, topics: list[str], *, timeout: float = 20.0, **kafka: Any) -> list[TimelineEntry]:
    """Every record about `case_id` (record key or correlation id) in `topics`, in event-time order."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest", **kafka)
    await consumer.start()
    try:
        tps: list[TopicPartition] = []
        for topic in topics:
            tps += [TopicPartition(topic, p) for p in sorted(await topic_partitions(consumer, topic))]
        if not tps:
            return []
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        end = await consumer.end_offsets(tps)
        wanted = case_id.encode()
        out: list[TimelineEntry] = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            if all([await consumer.position(tp) >= end[tp] for tp in tps]):
                break
            for records in (await consumer.getmany(timeout_ms=200, max_records=5000)).values():
                for r in records:
                    headers = list(r.headers or ())
                    if r.key != wanted and _header(headers, "ce_correlationid") != case_id:
                        continue
                    t = _header(headers, "ce_time")
                    out.append(TimelineEntry(
                        time=datetime.fromisoformat(t.replace("Z", "+00:00")) if t else None,
                        topic=r.topic, type=_header(headers, "ce_type"), event_id=_header(headers, "ce_id"),
                        source=_header(headers, "ce_source"), actor=_header(headers, "ce_actor"),
                        causation=_header(headers, "ce_causationid"), value=r.value,
                    ))
        return sorted(out, key=lambda e: (e.time is None, e.time or datetime.min))
    finally:
        await consumer.stop()
