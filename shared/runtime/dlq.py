"""Reading and replaying dead letters.

A dead letter is the original record (key, value and headers, so its CloudEvents
id is kept) plus ``dlq-*`` headers saying why it failed, where it came from and
which group failed it. Replaying publishes the original record again on its
origin topic, without the ``dlq-*`` headers; the consumer then applies it if the
cause was fixed, or dead-letters it again with a new reason.
"""
from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from shared.kafka import KafkaConnection

DLQ_HEADER_PREFIX = "dlq-"


@dataclass(frozen=True)
class DeadLetter:
    dlq_topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...]

    def header(self, name: str) -> str | None:
        for k, v in self.headers:
            if k == name:
                return v.decode("utf-8", "replace")
        return None

    @property
    def event_id(self) -> str | None:
        return self.header("ce_id")

    @property
    def reason(self) -> str | None:
        return self.header("dlq-reason")

    @property
    def origin_topic(self) -> str | None:
        return self.header("dlq-origin-topic")

    def summary(self) -> dict[str, Any]:
        return {
            "offset": self.offset,
            "event_id": self.event_id,
            "type": self.header("ce_type"),
            "reason": self.reason,
            "field": self.header("dlq-field"),
            "detail": self.header("dlq-detail"),
            "origin": f"{self.origin_topic}[{self.header('dlq-origin-partition')}]@{self.header('dlq-origin-offset')}",
            "group": self.header("dlq-group"),
            "failed_at": self.header("dlq-failed-at"),
        }


async def topic_partitions(consumer: AIOKafkaConsumer, topic: str) -> set[int]:
    """The partitions of `topic` (empty if it does not exist), refreshing metadata when unknown.

    aiokafka has no public call that refreshes the metadata a manually assigned
    consumer looks topics up in, hence the one private call.
    """
    partitions = consumer.partitions_for_topic(topic)
    if not partitions:
        await consumer._client.force_metadata_update()  # noqa: SLF001
        partitions = consumer.partitions_for_topic(topic)
    return set(partitions or ())


async def read_dead_letters(kafka: KafkaConnection | str, dlq_topic: str, *, timeout: float = 5.0) -> list[DeadLetter]:
    """Every record in `dlq_topic`, oldest first. ``kafka``: the connection (security included), or
    a bare bootstrap for a PLAINTEXT broker."""
    consumer = KafkaConnection.of(kafka).consumer(enable_auto_commit=False, auto_offset_reset="earliest")
    await consumer.start()
    try:
        partitions = await topic_partitions(consumer, dlq_topic)
        if not partitions:
            raise LookupError(f"topic {dlq_topic} does not exist")
        tps = [TopicPartition(dlq_topic, p) for p in sorted(partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        end = await consumer.end_offsets(tps)
        out: list[DeadLetter] = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            if all([await consumer.position(tp) >= end[tp] for tp in tps]):
                break
            for tp, records in (await consumer.getmany(timeout_ms=200)).items():
                for r in records:
                    out.append(DeadLetter(dlq_topic, r.partition, r.offset, r.key, r.value, tuple(r.headers or ())))
        return sorted(out, key=lambda d: (d.partition, d.offset))
    finally:
        await consumer.stop()


async def replay(kafka: KafkaConnection | str, letters: list[DeadLetter]) -> int:
    """Publish each dead letter's original record on its origin topic; return how many."""
    producer = KafkaConnection.of(kafka).producer(acks="all", enable_idempotence=True)
    await producer.start()
    try:
        futures = []
        for letter in letters:
            origin = letter.origin_topic
            if not origin:
                raise ValueError(f"dead letter at offset {letter.offset} has no dlq-origin-topic header")
            headers = [(k, v) for k, v in letter.headers if not k.startswith(DLQ_HEADER_PREFIX)]
            futures.append(await producer.send(origin, value=letter.value, key=letter.key, headers=headers))
        await asyncio.gather(*futures)
        return len(futures)
    finally:
        await producer.stop()


async def dead_letter_topics(kafka: KafkaConnection | str, prefix: str = "") -> list[str]:
    """The DLQ topics (``*.dlq``) in the cluster whose names start with `prefix`, sorted."""
    consumer = KafkaConnection.of(kafka).consumer(enable_auto_commit=False)
    await consumer.start()
    try:
        return sorted(t for t in await consumer.topics() if t.endswith(".dlq") and t.startswith(prefix))
    finally:
        await consumer.stop()


def select(letters: list[DeadLetter], *, offsets: set[int] | None = None, event_ids: set[str] | None = None,
           positions: set[tuple[int, int]] | None = None) -> list[DeadLetter]:
    """The dead letters at these offsets, with these CloudEvents ids, or at these (partition, offset)
    positions (all of them when none is given)."""
    if offsets:
        return [d for d in letters if d.offset in offsets]
    if event_ids:
        return [d for d in letters if d.event_id in event_ids]
    if positions:
        return [d for d in letters if (d.partition, d.offset) in positions]
    return list(letters)


async def replay_selected(kafka: KafkaConnection | str, dlq_topic: str, **selection: Any) -> int:
    """Read `dlq_topic`, pick the dead letters `select(**selection)` names and replay them; how many.
    What ``shuangda dlq replay`` and the console's replay button both do."""
    return await replay(kafka, select(await read_dead_letters(kafka, dlq_topic), **selection))
