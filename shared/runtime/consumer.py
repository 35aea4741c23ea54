"""The effectively-once consumer (DESIGN.md "Processing guarantee").

Per batch: decode every record at the edge; then in ONE Postgres transaction
record the applied event ids in the inbox (a known id is a duplicate and is
skipped), run the handlers, write the events they emit and the dead letters to
the outbox; commit; only then commit the Kafka offsets. A crash anywhere
before the offset commit means redelivery, which the inbox turns into a no-op.

Faults:
- transient (DB or broker down): the same batch is retried in place with
  capped exponential backoff — never skipped;
- poison (undecodable, invalid, or a handler raising `NonRetryableError` or a
  pydantic `ValidationError`; or any other handler exception on its
  `max_handler_attempts`-th try): the record goes to ``<topic>.dlq`` with reason
  headers, through the outbox, in the same transaction; the rest of the batch
  is applied. The transaction is optimistic: when a handler fails, the batch
  is rolled back and re-run with that record set aside, so there is no
  savepoint round trip per record on the happy path.
"""
from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Mapping, Sequence

import asyncpg
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError, KafkaError
from pydantic import ValidationError

from shared.envelope import deterministic_event_id
from shared.kafka import KafkaConnection
from shared.logging import log_context
from shared.metrics import (
    CONSUMER_LAG,
    EVENT_LATENCY,
    EVENTS_CONSUMED,
    EVENTS_DEAD_LETTERED,
    HANDLER_DURATION,
    TRANSIENT_RETRIES,
)
from shared.runtime.backoff import Backoff, sleep_or_stop
from shared.runtime.errors import NonRetryableError, is_transient
from shared.runtime.faults import crash_point
from shared.runtime.routes import Ignored, Poison, TopicRoute, decode, poison_from_validation
from shared.runtime.uow import Message, OutboxRow, UnitOfWork
from shared.topics import dlq_name

log = logging.getLogger(__name__)


class _Restart(Exception):
    """Roll the batch back and run it again."""


class _Rejected(Exception):
    """A record that can never be applied: it goes to the DLQ."""

    def __init__(self, poison: Poison) -> None:
        super().__init__(poison.detail)
        self.poison = poison


@dataclass
class _Item:
    record: ConsumerRecord
    route: TopicRoute | None
    decoded: Message[Any] | Poison | Ignored
    attempts: int = 0

    @property
    def dedupe_id(self) -> str:
        """The inbox key: the event id (scoped by topic on ingress topics, where outsiders choose ids,
        so one client cannot suppress another's records by reusing their ids)."""
        r = self.record
        if isinstance(self.decoded, Message):
            if r.topic.startswith("ingress."):
                return f"{r.topic}/{self.decoded.envelope.id}"
            return self.decoded.envelope.id
        return f"{r.topic}:{r.partition}:{r.offset}"


class EventConsumer:
    """Consumes `routes` as consumer group `group` and applies them effectively once."""

    def __init__(
        self,
        *,
        service: str,
        group: str,
        routes: Sequence[TopicRoute],
        pool: asyncpg.Pool,
        bootstrap: str | None = None,
        source: str | None = None,
        batch_size: int = 500,
        poll_ms: int = 200,
        max_handler_attempts: int = 3,
        crash_at: str | None = None,
        metadata_max_age_ms: int = 5_000,
        client_id: str | None = None,
        kafka_options: Mapping[str, Any] | None = None,
        kafka: KafkaConnection | None = None,
    ) -> None:
        if not routes:
            raise ValueError("a consumer needs at least one route")
        self.service = service
        self.group = group
        self.routes = list(routes)
        self.pool = pool
        if kafka is None and bootstrap is None:
            raise ValueError("a consumer needs kafka= (a KafkaConnection) or bootstrap=")
        self.source = source or f"/shuangda/{service}"
        self.batch_size = batch_size
        self.poll_ms = poll_ms
        self.max_handler_attempts = max_handler_attempts
        self.crash_at = crash_at
        self.metadata_max_age_ms = metadata_max_age_ms
        self.client_id = client_id or f"{service}-{group}"
        self.kafka = kafka if kafka is not None else KafkaConnection.of(bootstrap or "", kafka_options)
        self.bootstrap = self.kafka.bootstrap
        self.ready = False
        self._routes_by_topic: dict[str, TopicRoute | None] = {}
        self.last_loop_at = time.monotonic()
        self._lag_checked = 0.0

    # -- lifecycle ---------------------------------------------------------
    def _make_consumer(self) -> AIOKafkaConsumer:
        return self.kafka.consumer(
            group_id=self.group,
            client_id=self.client_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=self.batch_size,
            metadata_max_age_ms=self.metadata_max_age_ms,
            session_timeout_ms=30_000,
            heartbeat_interval_ms=3_000,
        )

    def _subscribe(self, consumer: AIOKafkaConsumer) -> None:
        if all(r.topic is not None for r in self.routes):
            consumer.subscribe(topics=[r.topic for r in self.routes if r.topic])
        else:
            consumer.subscribe(pattern="^(?:" + "|".join(r.subscription_regex for r in self.routes) + ")$")

    async def run(self, stop: asyncio.Event) -> None:
        """Consume until `stop` is set; survives broker and database outages."""
        backoff = Backoff()
        while not stop.is_set():
            consumer = self._make_consumer()
            try:
                await consumer.start()
                self._subscribe(consumer)
                backoff.reset()
                await self._loop(consumer, stop)
            except Exception as exc:
                if not is_transient(exc) and not isinstance(exc, KafkaError):
                    log.exception("consumer %s stopped by an unexpected error; restarting", self.group)
                TRANSIENT_RETRIES.labels(self.service, "consume").inc()
                self.ready = False
                delay = backoff.next()
                log.warning("consumer %s: %s; retrying in %.1fs", self.group, exc, delay)
                await sleep_or_stop(stop, delay)
            finally:
                self.ready = False
                try:
                    await consumer.stop()
                except Exception:  # stopping a half-started client may fail; nothing to keep
                    log.debug("consumer stop failed", exc_info=True)

    async def _loop(self, consumer: AIOKafkaConsumer, stop: asyncio.Event) -> None:
        # the offset commit of batch N (a broker round trip) runs while batch N+1 is fetched and
        # applied; commits stay in batch order (N's is awaited before N+1's starts) and each still
        # follows its batch's database commit
        committing: asyncio.Task[None] | None = None
        try:
            while not stop.is_set():
                self.last_loop_at = time.monotonic()
                batches = await consumer.getmany(timeout_ms=self.poll_ms, max_records=self.batch_size)
                self.ready = True
                records = [r for tp in sorted(batches, key=lambda t: (t.topic, t.partition)) for r in batches[tp]]
                if records:
                    applied = await self.process(records, stop)
                    if not applied:
                        return  # stopping mid-retry: leave the offsets uncommitted
                    crash_point("consumer.after_db_commit", self.crash_at)
                    offsets = {
                        TopicPartition(tp.topic, tp.partition): recs[-1].offset + 1 for tp, recs in batches.items() if recs
                    }
                    if committing is not None:
                        await committing
                    committing = asyncio.create_task(self._commit(consumer, offsets, stop))
                elif committing is not None and committing.done():
                    await committing
                    committing = None
                await self._update_lag(consumer)
            if committing is not None:
                await committing
                committing = None
        finally:
            if committing is not None:
                if not committing.done():
                    await asyncio.wait([committing])
                if not committing.cancelled() and committing.exception() is not None:
                    log.debug("offset commit failed while the consumer stopped", exc_info=committing.exception())

    async def _commit(self, consumer: AIOKafkaConsumer, offsets: dict[TopicPartition, int], stop: asyncio.Event) -> None:
        backoff = Backoff()
        while not stop.is_set():
            try:
                await consumer.commit(offsets)
                return
            except (CommitFailedError, IllegalStateError) as exc:
                # the group rebalanced: another member re-reads these records and the inbox skips them
                log.info("offset commit after rebalance failed (%s); records will be redelivered and deduplicated", exc)
                return
            except Exception as exc:
                if not is_transient(exc):
                    raise
                TRANSIENT_RETRIES.labels(self.service, "offset_commit").inc()
                await sleep_or_stop(stop, backoff.next())

    async def _update_lag(self, consumer: AIOKafkaConsumer) -> None:
        now = time.monotonic()
        if now - self._lag_checked < 2.0:
            return
        self._lag_checked = now
        per_topic: dict[str, int] = {}
        for tp in consumer.assignment():
            highwater = consumer.highwater(tp)
            if highwater is None:
                continue
            try:
                position = await consumer.position(tp)
            except Exception:
                continue
            per_topic[tp.topic] = per_topic.get(tp.topic, 0) + max(0, highwater - position)
        for topic, lag in per_topic.items():
            CONSUMER_LAG.labels(self.service, topic_label(topic)).set(lag)

    # -- one batch -----------------------------------------------------------
    def _route_for(self, topic: str) -> TopicRoute | None:
        # one regex match per topic, not per record (a consumer sees a bounded set of topics)
        try:
            return self._routes_by_topic[topic]
        except KeyError:
            route = next((r for r in self.routes if r.matches(topic)), None)
            if len(self._routes_by_topic) < 10_000:
                self._routes_by_topic[topic] = route
            return route

    def _decode(self, record: ConsumerRecord) -> _Item:
        route = self._route_for(record.topic)
        if route is None:
            return _Item(record, None, Poison("unknown_topic", f"topic: no route for {record.topic}", "topic"))
        return _Item(record, route, decode(route, record.topic, record.key, record.headers, record.value,
                                            record.timestamp))

    async def process(self, records: Sequence[ConsumerRecord], stop: asyncio.Event | None = None) -> bool:
        """Apply one batch effectively once; False if `stop` was set before it could be applied."""
        items = [self._decode(r) for r in records]
        backoff = Backoff()
        careful = False
        while True:
            if stop is not None and stop.is_set():
                return False  # offsets stay uncommitted: the batch is redelivered and deduplicated
            try:
                outcome = await self._apply(items, careful)
            except _Restart:
                # a handler failed: run the batch again with a savepoint around each record, so
                # many bad records cost one pass, not one pass each
                careful = True
                continue
            except Exception as exc:
                if not is_transient(exc):
                    raise
                TRANSIENT_RETRIES.labels(self.service, "apply").inc()
                delay = backoff.next()
                log.warning("batch of %d not applied (%s: %s); retrying in %.1fs", len(items), type(exc).__name__, exc, delay)
                if stop is not None and await sleep_or_stop(stop, delay):
                    return False
                continue
            self._observe(items, outcome)
            return True

    async def _apply(self, items: list[_Item], careful: bool) -> dict[str, Any]:
        outcome: dict[str, Any] = {"applied": [], "duplicate": [], "dead": [], "ignored": [], "durations": []}
        async with self.pool.acquire() as conn:
            async with conn.transaction():
                candidates = [it for it in items if isinstance(it.decoded, Message)]
                fresh: set[str] = set()
                if candidates:
                    rows = await conn.fetch(
                        """
                        INSERT INTO inbox (consumer, event_id, topic, kafka_partition, kafka_offset)
                        SELECT $1, e, t, p, o FROM unnest($2::text[], $3::text[], $4::int[], $5::bigint[]) AS u(e, t, p, o)
                        ON CONFLICT DO NOTHING
                        RETURNING event_id
                        """,
                        self.group,
                        [it.dedupe_id for it in candidates],
                        [it.record.topic for it in candidates],
                        [it.record.partition for it in candidates],
                        [it.record.offset for it in candidates],
                    )
                    fresh = {r["event_id"] for r in rows}
                uow = UnitOfWork(conn, source=self.source)
                seen: set[str] = set()
                grouped: dict[int, tuple[TopicRoute, list[_Item]]] = {}
                for item in items:
                    decoded = item.decoded
                    if isinstance(decoded, Poison):
                        await self._dead_letter_into(conn, uow, item, decoded, outcome)
                        continue
                    if isinstance(decoded, Ignored):
                        outcome["ignored"].append(item)
                        continue
                    dedupe_id = item.dedupe_id
                    if dedupe_id not in fresh or dedupe_id in seen:
                        outcome["duplicate"].append(item)
                        continue
                    seen.add(dedupe_id)
                    assert item.route is not None
                    if item.route.batch is not None:
                        grouped.setdefault(id(item.route), (item.route, []))[1].append(item)
                        continue
                    if not careful:
                        try:
                            await self._handle(item, decoded, uow, outcome)
                        except _Rejected as rejected:
                            item.decoded = rejected.poison
                            raise _Restart() from rejected
                        continue
                    await self._careful(conn, uow, item, outcome, self._handle)
                for route, group in grouped.values():
                    if careful:
                        for item in group:
                            await self._careful(conn, uow, item, outcome, self._handle_one_of_batch)
                    else:
                        await self._handle_batch(conn, uow, route, group, outcome)
                await uow.flush()
        uow.run_after_commit()
        return outcome

    async def _dead_letter_into(self, conn: asyncpg.Connection, uow: UnitOfWork, item: _Item, poison: Poison,
                                outcome: dict[str, Any]) -> None:
        if await self._dead_letter(conn, uow, item, poison):
            outcome["dead"].append((item, poison))
        else:
            outcome["duplicate"].append(item)

    async def _careful(self, conn: asyncpg.Connection, uow: UnitOfWork, item: _Item, outcome: dict[str, Any],
                       handle: Any) -> None:
        """Apply one record inside a savepoint; a rejected record is rolled back, forgotten and dead-lettered."""
        assert isinstance(item.decoded, Message)
        emitted, hooks = len(uow.pending), len(uow._after_commit)
        try:
            async with conn.transaction():  # a savepoint
                await handle(item, item.decoded, uow, outcome)
        except _Rejected as rejected:
            del uow.pending[emitted:]
            del uow._after_commit[hooks:]
            # not applied: forget the id, so a replay after a fix is applied
            await conn.execute("DELETE FROM inbox WHERE consumer = $1 AND event_id = $2", self.group, item.dedupe_id)
            item.decoded = rejected.poison
            await self._dead_letter_into(conn, uow, item, rejected.poison, outcome)

    async def _handle_batch(self, conn: asyncpg.Connection, uow: UnitOfWork, route: TopicRoute, group: list[_Item],
                            outcome: dict[str, Any]) -> None:
        """A route's new records in one set-based call; the records it refuses go to the DLQ."""
        assert route.batch is not None
        messages = [it.decoded for it in group]
        uow.cause, uow.actor = None, None
        started = time.perf_counter()
        try:
            refused = await route.batch(messages, uow) or {}  # type: ignore[arg-type]
        except Exception as exc:
            if is_transient(exc):
                raise
            # which record failed is unknown: run the batch again a record at a time, in savepoints
            log.warning("batch handler failed on %d records; re-running them one by one", len(group), exc_info=True)
            raise _Restart() from exc
        elapsed = (time.perf_counter() - started) / max(1, len(group))
        rejected: list[tuple[_Item, Poison]] = []
        for index, item in enumerate(group):
            error = refused.get(index)
            if error is None:
                message = item.decoded
                assert isinstance(message, Message)
                outcome["applied"].append(item)
                outcome["durations"].append((message.envelope.type, elapsed, message.envelope.time))
            else:
                rejected.append((item, _poison_of(error)))
        if rejected:
            # not applied: forget their ids, so a replay after a fix is applied
            await conn.execute("DELETE FROM inbox WHERE consumer = $1 AND event_id = ANY($2::text[])",
                               self.group, [it.dedupe_id for it, _ in rejected])
            for item, poison in rejected:
                item.decoded = poison
                await self._dead_letter_into(conn, uow, item, poison, outcome)

    async def _handle_one_of_batch(self, item: _Item, message: Message[Any], uow: UnitOfWork,
                                   outcome: dict[str, Any]) -> None:
        """One record through its route's batch handler (the careful re-run after a batch failed)."""
        assert item.route is not None and item.route.batch is not None
        uow.cause, uow.actor = None, None
        started = time.perf_counter()
        with log_context(event_id=message.envelope.id, case_id=message.envelope.correlationid, event_type=message.envelope.type):
            try:
                refused = await item.route.batch([message], uow) or {}
            except Exception as exc:
                self._failed(item, exc)
            if 0 in refused:
                raise _Rejected(_poison_of(refused[0]))
        outcome["applied"].append(item)
        outcome["durations"].append((message.envelope.type, time.perf_counter() - started, message.envelope.time))

    def _failed(self, item: _Item, exc: Exception) -> None:
        """Classify a handler's exception: re-raise transient faults, reject what can never apply, else retry."""
        if isinstance(exc, (NonRetryableError, ValidationError)):
            raise _Rejected(_poison_of(exc)) from exc
        if is_transient(exc):
            raise exc
        item.attempts += 1
        log.warning("handler failed (attempt %d/%d)", item.attempts, self.max_handler_attempts, exc_info=exc)
        if item.attempts >= self.max_handler_attempts:
            raise _Rejected(Poison("handler_error", f"{type(exc).__name__}: {exc}"[:2000])) from exc
        raise _Restart() from exc

    async def _handle(self, item: _Item, message: Message[Any], uow: UnitOfWork, outcome: dict[str, Any]) -> None:
        """Run the record's handler; `_Rejected` when it can never be applied, `_Restart` to try the batch again."""
        assert item.route is not None
        binding = item.route.bindings[message.envelope.type]
        uow.cause = message.envelope
        uow.actor = message.envelope.actor
        started = time.perf_counter()
        with log_context(event_id=message.envelope.id, case_id=message.envelope.correlationid, event_type=message.envelope.type):
            try:
                assert binding.handler is not None
                await binding.handler(message, uow)
            except Exception as exc:
                self._failed(item, exc)
        outcome["applied"].append(item)
        outcome["durations"].append((message.envelope.type, time.perf_counter() - started, message.envelope.time))

    async def _dead_letter(self, conn: asyncpg.Connection, uow: UnitOfWork, item: _Item, poison: Poison) -> bool:
        """Record the poison record and queue its DLQ copy; False if this delivery was dead-lettered before."""
        r = item.record
        event_id = None
        for k, v in r.headers or ():
            if k == "ce_id" and v:
                event_id = v.decode("utf-8", "replace")[:200]
        inserted = await conn.fetchval(
            """
            INSERT INTO dead_letters (consumer, topic, kafka_partition, kafka_offset, event_id, reason, detail)
            VALUES ($1, $2, $3, $4, $5, $6, $7)
            ON CONFLICT DO NOTHING
            RETURNING true
            """,
            self.group, r.topic, r.partition, r.offset, event_id, poison.reason, poison.detail[:4000],
        )
        if not inserted:
            return False
        original = [(k, v) for k, v in (r.headers or ()) if not k.startswith("dlq-") and v is not None]
        extra = [
            ("dlq-reason", poison.reason),
            ("dlq-detail", poison.detail[:4000]),
            ("dlq-field", poison.field or ""),
            ("dlq-origin-topic", r.topic),
            ("dlq-origin-partition", str(r.partition)),
            ("dlq-origin-offset", str(r.offset)),
            ("dlq-group", self.group),
            ("dlq-service", self.service),
            ("dlq-failed-at", datetime.now(timezone.utc).isoformat()),
        ]
        headers = original + [(k, v.encode()) for k, v in extra]
        uow.emit_raw(
            OutboxRow(
                event_id=deterministic_event_id("dlq", self.group, r.topic, str(r.partition), str(r.offset)),
                topic=dlq_name(r.topic),
                key=r.key,
                header_keys=[k for k, _ in headers],
                header_values=[v for _, v in headers],
                payload=r.value or b"",
                event_type="dlq:" + poison.reason,
            )
        )
        log.warning(
            "dead-lettered %s[%d]@%d: %s",
            r.topic, r.partition, r.offset, poison.detail[:500],
            extra={"dlq_reason": poison.reason, "dlq_field": poison.field, "event_id": event_id},
        )
        return True

    def _observe(self, items: list[_Item], outcome: dict[str, Any]) -> None:
        # counted per (topic label, type, result) first: one labels() lookup per kind, not per record
        consumed: dict[tuple[str, str, str], int] = {}
        for item in outcome["applied"]:
            assert isinstance(item.decoded, Message)
            key = (topic_label(item.record.topic), item.decoded.envelope.type, "applied")
            consumed[key] = consumed.get(key, 0) + 1
        for item in outcome["duplicate"]:
            etype = item.decoded.envelope.type if isinstance(item.decoded, Message) else "unknown"
            key = (topic_label(item.record.topic), etype, "duplicate")
            consumed[key] = consumed.get(key, 0) + 1
        dead: dict[tuple[str, str], int] = {}
        for item, poison in outcome["dead"]:
            key = (topic_label(item.record.topic), "unknown", "dead_lettered")
            consumed[key] = consumed.get(key, 0) + 1
            dkey = (topic_label(item.record.topic), poison.reason)
            dead[dkey] = dead.get(dkey, 0) + 1
        for item in outcome["ignored"]:
            key = (topic_label(item.record.topic), "other", "ignored")
            consumed[key] = consumed.get(key, 0) + 1
        for (topic, etype, result), n in consumed.items():
            EVENTS_CONSUMED.labels(self.service, topic, etype, result).inc(n)
        for (topic, reason), n in dead.items():
            EVENTS_DEAD_LETTERED.labels(self.service, topic, reason).inc(n)
        now = datetime.now(timezone.utc)
        by_type: dict[str, tuple[Any, Any]] = {}
        for etype, seconds, event_time in outcome["durations"]:
            metrics = by_type.get(etype)
            if metrics is None:
                metrics = by_type[etype] = (HANDLER_DURATION.labels(self.service, etype),
                                            EVENT_LATENCY.labels(self.service, etype))
            metrics[0].observe(seconds)
            metrics[1].observe(max(0.0, (now - event_time).total_seconds()))


def _poison_of(error: Exception) -> Poison:
    if isinstance(error, NonRetryableError):
        return Poison(error.reason, error.detail, error.field)
    if isinstance(error, ValidationError):
        return poison_from_validation(error)
    return Poison("handler_rejected", f"{type(error).__name__}: {error}"[:2000])


def topic_label(topic: str) -> str:
    """Bounded topic label: per-client ingress topics fold into ``ingress.*``."""
    if topic.startswith("ingress."):
        return "ingress.*.dlq" if topic.endswith(".dlq") else "ingress.*"
    return topic
