"""Dead letters through the same shared functions as ``shuangda dlq`` (shared.runtime.dlq), and
their number per topic for the office's overview (offsets only, no record read; cached briefly,
since every overview would otherwise open a Kafka client)."""
from __future__ import annotations

import time
from typing import Any

from shared.kafka import KafkaConnection
# aiokafka's TopicPartition as the dead-letter module uses it (services build no aiokafka client by hand)
from shared.runtime.dlq import TopicPartition, dead_letter_topics, read_dead_letters, replay_selected, topic_partitions

#: how long the overview's dead-letter counts are reused
COUNTS_TTL = 15.0


class DeadLetters:
    def __init__(self, kafka: KafkaConnection | str, prefix: str = "") -> None:
        self.kafka = KafkaConnection.of(kafka)
        self.bootstrap = self.kafka.bootstrap
        self.prefix = prefix
        self._counts: tuple[float, dict[str, int]] | None = None

    def allowed(self, topic: str) -> bool:
        return topic.endswith(".dlq") and topic.startswith(self.prefix)

    async def topics(self) -> list[str]:
        return await dead_letter_topics(self.kafka, self.prefix)

    async def letters(self, topic: str) -> list[dict[str, Any]]:
        return [{**d.summary(), "partition": d.partition} for d in await read_dead_letters(self.kafka, topic)]

    async def replay(self, topic: str, partition: int, offset: int) -> int:
        self._counts = None
        return await replay_selected(self.kafka, topic, positions={(partition, offset)})

    async def counts(self) -> dict[str, int]:
        """Records per dead-letter topic (end − beginning offsets), at most COUNTS_TTL old."""
        now = time.monotonic()
        if self._counts is not None and now - self._counts[0] < COUNTS_TTL:
            return self._counts[1]
        consumer = self.kafka.consumer(enable_auto_commit=False)
        await consumer.start()
        try:
            topics = sorted(t for t in await consumer.topics() if self.allowed(t))
            tps = [TopicPartition(t, p) for t in topics for p in sorted(await topic_partitions(consumer, t))]
            begin = await consumer.beginning_offsets(tps) if tps else {}
            end = await consumer.end_offsets(tps) if tps else {}
        finally:
            await consumer.stop()
        out = {t: 0 for t in topics}
        for tp in tps:
            out[tp.topic] += max(0, end[tp] - begin[tp])
        self._counts = (now, out)
        return out
