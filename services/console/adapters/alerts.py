"""以罚代刑 alerts for the office's overview: the console follows credit's topic (the event
``credit.penalty-substitutes-prosecution``, issue 14 §7) as any subscriber does — no consumer group,
every partition from its beginning, nothing committed — and keeps their number and the newest
`KEPT` in memory. A restart reads the topic again; the overview says "unknown" until the first pass
has reached the end of the topic."""
from __future__ import annotations

import asyncio
import json
import logging
from collections import deque
from typing import Any

from shared.contracts.credit import PenaltySubstitutesProsecution
from shared.kafka import KafkaConnection
from shared.runtime.dlq import TopicPartition, topic_partitions

log = logging.getLogger("console.alerts")
KEPT = 20
ALERT_TYPE = PenaltySubstitutesProsecution.EVENT_TYPE.encode()


class SubstitutionAlerts:
    def __init__(self, kafka: KafkaConnection | str, topic: str) -> None:
        self.kafka = KafkaConnection.of(kafka)
        self.topic = topic
        self.count = 0
        self.newest: deque[dict[str, Any]] = deque(maxlen=KEPT)
        #: true once the first pass reached the end offsets seen at start
        self.caught_up = False

    def summary(self) -> dict[str, Any] | None:
        if not self.caught_up:
            return None
        return {"count": self.count, "newest": list(reversed(self.newest))}

    def take(self, headers: list[tuple[str, bytes]], value: bytes | None) -> None:
        if dict(headers).get("ce_type") != ALERT_TYPE or not value:
            return
        try:
            body = json.loads(value)
        except ValueError:
            return
        self.count += 1
        self.newest.append({k: body.get(k) for k in ("record_id", "decision_no", "bureau", "party_name", "credit_code",
                                                     "category", "case_id", "decided_on", "threshold_zh",
                                                     "threshold_citation", "referral_state", "liability_citation")})

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self._follow(stop)
            except Exception as exc:  # noqa: BLE001 - the broker is away: try again, the overview says unknown
                log.warning("following %s failed: %s", self.topic, exc)
                self.count, self.caught_up = 0, False
                self.newest.clear()
                try:
                    await asyncio.wait_for(stop.wait(), timeout=5.0)
                except asyncio.TimeoutError:
                    pass

    async def _follow(self, stop: asyncio.Event) -> None:
        consumer = self.kafka.consumer(enable_auto_commit=False, auto_offset_reset="earliest")
        await consumer.start()
        try:
            partitions = sorted(await topic_partitions(consumer, self.topic))
            if not partitions:
                self.caught_up = True
                await asyncio.wait_for(stop.wait(), timeout=10.0)
                return
            tps = [TopicPartition(self.topic, p) for p in partitions]
            consumer.assign(tps)
            await consumer.seek_to_beginning(*tps)
            ends = await consumer.end_offsets(tps)
            self.count = 0
            self.newest.clear()
            while not stop.is_set():
                batches = await consumer.getmany(timeout_ms=500, max_records=500)
                for records in batches.values():
                    for r in records:
                        self.take(list(r.headers or []), r.value)
                if not self.caught_up:
                    # awaited one by one: an `await` inside all()'s generator makes an async generator,
                    # which all() cannot iterate (the follower failed on every pass and the overview said unknown)
                    positions = [await consumer.position(tp) for tp in tps]
                    self.caught_up = all(p >= ends[tp] for p, tp in zip(positions, tps))
        except asyncio.TimeoutError:
            return
        finally:
            await consumer.stop()
