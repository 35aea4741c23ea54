"""The outbox relay: publishes committed outbox rows to Kafka, in order.

One leader per service: the relay holds a session-level advisory lock on its
own connection, and LISTENs on that connection for the ``<schema>_outbox``
notification the insert trigger sends at commit (with a slow poll as a
safety net). Rows of priority-lane topics (``<topic>.priority``) go out first,
then the rest; within each, rows go out in id order through an idempotent producer with
``acks=all``; only after the broker acknowledged them are they marked sent,
so a crash in between re-sends them with the same event ids, which consumers
deduplicate. Transient faults (DB or broker down) drop leadership and retry
with backoff; nothing is skipped.
"""
from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Mapping

import asyncpg
from aiokafka import AIOKafkaProducer

from shared.kafka import KafkaConnection
from shared.metrics import EVENTS_EMITTED, OUTBOX_BACKLOG, OUTBOX_OLDEST_AGE
from shared.runtime.backoff import wait_any
from shared.runtime.consumer import topic_label
from shared.runtime.faults import crash_point
from shared.runtime.leader import Leadership

log = logging.getLogger(__name__)


class OutboxRelay:
    def __init__(
        self,
        *,
        service: str,
        schema: str,
        dsn: str,
        bootstrap: str | None = None,
        batch_size: int = 500,
        poll_seconds: float = 1.0,
        keep_sent_seconds: float = 24 * 3600,
        keep_inbox_seconds: float = 30 * 24 * 3600,
        crash_at: str | None = None,
        kafka_options: Mapping[str, Any] | None = None,
        kafka: KafkaConnection | None = None,
    ) -> None:
        self.service = service
        self.schema = schema
        self.dsn = dsn
        if kafka is None and bootstrap is None:
            raise ValueError("a relay needs kafka= (a KafkaConnection) or bootstrap=")
        self.batch_size = batch_size
        self.poll_seconds = poll_seconds
        self.keep_sent_seconds = keep_sent_seconds
        # the dedupe window: longer than any topic's retention, so no redelivery outlives its inbox row
        self.keep_inbox_seconds = keep_inbox_seconds
        self.crash_at = crash_at
        self.kafka = kafka if kafka is not None else KafkaConnection.of(bootstrap or "", kafka_options)
        self.bootstrap = self.kafka.bootstrap
        self._leadership = Leadership(service=service, name="outbox-relay", dsn=dsn, schema=schema)
        self._last_housekeeping = 0.0
        self._last_prune = 0.0

    async def run(self, stop: asyncio.Event) -> None:
        await self._leadership.run(stop, self._lead)

    @property
    def is_leader(self) -> bool:
        return self._leadership.is_leader

    async def _lead(self, conn: asyncpg.Connection, stop: asyncio.Event) -> None:
        wake = asyncio.Event()
        await conn.add_listener(f"{self.schema}_outbox", lambda *_: wake.set())
        producer = self.kafka.producer(
            client_id=f"{self.service}-relay",
            acks="all",
            enable_idempotence=True,
            # many sends in flight, batched per partition: a relay batch of 1 KB events goes out in a few
            # requests instead of one per 16 records; 5 ms of linger is well inside a complaint's latency budget
            linger_ms=5,
            max_batch_size=256 * 1024,  # within the smallest max.message.bytes of any topic (ingress: 256 KiB)
            request_timeout_ms=15_000,
        )
        await producer.start()
        try:
            while not stop.is_set():
                wake.clear()
                published = await self._publish_batch(conn, producer)
                await self._housekeeping(conn)
                if published >= self.batch_size:
                    continue
                if published == 0:
                    await wait_any(stop, wake, self.poll_seconds)
        finally:
            await producer.stop()

    async def _publish_batch(self, conn: asyncpg.Connection, producer: AIOKafkaProducer) -> int:
        # priority-lane rows first (a partial index finds them), then the rest, each in id order: one
        # round trip. Rows of one topic keep their order, and a case's events all go to one topic (the
        # lane it started on), so moving lane rows ahead never reorders a case.
        rows = await conn.fetch(
            """
            (SELECT id, event_id, topic, record_key, header_keys, header_values, payload, event_type, 0 AS lane
             FROM outbox WHERE sent_at IS NULL AND topic LIKE '%.priority' ORDER BY id LIMIT $1)
            UNION ALL
            (SELECT id, event_id, topic, record_key, header_keys, header_values, payload, event_type, 1 AS lane
             FROM outbox WHERE sent_at IS NULL AND topic NOT LIKE '%.priority' ORDER BY id LIMIT $1)
            ORDER BY lane, id LIMIT $1
            """,
            self.batch_size,
        )
        if not rows:
            return 0
        futures = []
        for row in rows:
            headers = list(zip(row["header_keys"], row["header_values"]))
            futures.append(
                await producer.send(row["topic"], value=row["payload"], key=row["record_key"], headers=headers)
            )
        await asyncio.gather(*futures)
        crash_point("relay.after_produce", self.crash_at)
        await conn.execute("UPDATE outbox SET sent_at = now() WHERE id = ANY($1::bigint[])", [r["id"] for r in rows])
        # counted per (topic label, type): one labels() lookup per kind in the batch, not per row
        emitted: dict[tuple[str, str], int] = {}
        for row in rows:
            kind = (row["topic"], row["event_type"])
            emitted[kind] = emitted.get(kind, 0) + 1
        by_label: dict[tuple[str, str], int] = {}
        for (topic, event_type), n in emitted.items():
            kind = (topic_label(topic), event_type)
            by_label[kind] = by_label.get(kind, 0) + n
        for (label, event_type), n in by_label.items():
            EVENTS_EMITTED.labels(self.service, label, event_type).inc(n)
        return len(rows)

    async def _housekeeping(self, conn: asyncpg.Connection) -> None:
        now = time.monotonic()
        if now - self._last_housekeeping < max(self.poll_seconds, 1.0):
            return
        self._last_housekeeping = now
        backlog: Any = await conn.fetchrow(
            "SELECT count(*) AS n, coalesce(extract(epoch FROM now() - min(created_at)), 0) AS age"
            " FROM outbox WHERE sent_at IS NULL"
        )
        OUTBOX_BACKLOG.labels(self.service).set(backlog["n"])
        OUTBOX_OLDEST_AGE.labels(self.service).set(float(backlog["age"]))
        if now - self._last_prune < 60.0:
            return
        self._last_prune = now
        await conn.execute(
            "DELETE FROM outbox WHERE sent_at IS NOT NULL AND sent_at < now() - make_interval(secs => $1)",
            float(self.keep_sent_seconds),
        )
        await conn.execute(
            "DELETE FROM inbox WHERE received_at < now() - make_interval(secs => $1)", float(self.keep_inbox_seconds)
        )
