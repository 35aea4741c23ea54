"""A minimal real service for the runtime tests: consumes ``echo.v1`` records
from one topic, records each application in a table, and re-emits each one on
an output topic through the outbox. It runs the real runtime against the real
broker and database, in its own process, so tests can SIGKILL it.

Configuration (env): ECHO_SCHEMA, ECHO_IN, ECHO_OUT, ECHO_GROUP, ECHO_MODE
(``record``: a handler per record; ``batch``: one set-based handler per batch),
plus the usual SHUANGDA_* settings (SHUANGDA_ECHO_CRASH_AT for fault injection; the
SHUANGDA_KAFKA_* security settings reach the consumer and relay through ``settings.kafka``).
"""
from __future__ import annotations

import asyncio
import os
from typing import ClassVar, Mapping, Sequence

from pydantic import BaseModel, ConfigDict
from pydantic_settings import SettingsConfigDict

from shared.config import ServiceSettings
from shared.db import create_pool, migrate
from shared.logging import configure_logging
from shared.runtime import Message, NonRetryableError, UnitOfWork
from shared.runtime.consumer import EventConsumer
from shared.runtime.relay import OutboxRelay
from shared.runtime.routes import Binding, TopicRoute
from shared.runtime.service import run_service

ECHO_TYPE = "shuangda.test.echo.v1"

MIGRATION = """
CREATE TABLE IF NOT EXISTS echo_applied (
    n bigserial PRIMARY KEY,
    event_id text NOT NULL,
    record_key text,
    seq integer NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
);
-- seqs whose rejection an operator has "fixed" (for the DLQ replay test)
CREATE TABLE IF NOT EXISTS echo_allow (seq integer PRIMARY KEY);
"""


class Echo(BaseModel):
    model_config = ConfigDict(extra="forbid")
    EVENT_TYPE: ClassVar[str] = ECHO_TYPE
    seq: int
    body: str = ""
    reject: bool = False
    #: makes the batch handler fail with an unexpected error (a bug) while this record is in its batch
    explode: bool = False


class EchoSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SHUANGDA_ECHO_", extra="ignore")


def make_handler(out_topic: str):
    async def handle(message: Message[Echo], uow: UnitOfWork) -> None:
        # state change and event first, then the check: a rejection must undo both
        await uow.conn.execute(
            "INSERT INTO echo_applied (event_id, record_key, seq) VALUES ($1, $2, $3)",
            message.envelope.id, message.key, message.data.seq,
        )
        uow.emit(out_topic, message.data, key=message.key)
        if message.data.reject and not await uow.conn.fetchval(
            "SELECT true FROM echo_allow WHERE seq = $1", message.data.seq
        ):
            raise NonRetryableError("echo_rejected", "reject: the test asked for a rejection", field="reject")

    return handle


def make_batch_handler(out_topic: str):
    """The same behaviour, set-based: one query for the allow list and one insert for the whole batch."""

    async def handle_batch(messages: Sequence[Message[Echo]], uow: UnitOfWork) -> Mapping[int, Exception]:
        if any(m.data.explode for m in messages) and len(messages) > 1:
            raise RuntimeError("the test asked the batch handler to fail")
        wanted = [m.data.seq for m in messages if m.data.reject]
        allowed = {r["seq"] for r in await uow.conn.fetch("SELECT seq FROM echo_allow WHERE seq = ANY($1::int[])", wanted)}
        refused: dict[int, Exception] = {}
        for i, m in enumerate(messages):
            if m.data.explode:
                refused[i] = NonRetryableError("echo_exploded", "explode: the record the batch failed on", field="explode")
            elif m.data.reject and m.data.seq not in allowed:
                refused[i] = NonRetryableError("echo_rejected", "reject: the test asked for a rejection", field="reject")
        applied = [m for i, m in enumerate(messages) if i not in refused]
        await uow.conn.execute(
            "INSERT INTO echo_applied (event_id, record_key, seq) SELECT * FROM unnest($1::text[], $2::text[], $3::int[])",
            [m.envelope.id for m in applied], [m.key for m in applied], [m.data.seq for m in applied],
        )
        for m in applied:
            uow.emit(out_topic, m.data, key=m.key, cause=m)
        return refused

    return handle_batch


def build(settings: EchoSettings, pool, schema: str, in_topic: str, out_topic: str, group: str, mode: str = "record"):
    if mode == "batch":
        route = TopicRoute(topic=in_topic, bindings={ECHO_TYPE: Binding(Echo)}, on_unknown="dead_letter",
                           batch=make_batch_handler(out_topic))
    else:
        route = TopicRoute(topic=in_topic, bindings={ECHO_TYPE: Binding(Echo, make_handler(out_topic))}, on_unknown="dead_letter")
    consumer = EventConsumer(
        service="echo",
        group=group,
        routes=[route],
        pool=pool,
        bootstrap=settings.kafka_bootstrap,
        kafka=settings.kafka,
        batch_size=settings.consumer_batch_size,
        poll_ms=settings.consumer_poll_ms,
        crash_at=settings.crash_at,
    )
    relay = OutboxRelay(
        service="echo",
        schema=schema,
        dsn=settings.dsn,
        bootstrap=settings.kafka_bootstrap,
        kafka=settings.kafka,
        batch_size=settings.relay_batch_size,
        poll_seconds=settings.relay_poll_seconds,
        crash_at=settings.crash_at,
    )
    return consumer, relay


async def prepare_schema(dsn: str, schema: str) -> None:
    await migrate(dsn, schema)
    from shared.db import connect

    conn = await connect(dsn, schema)
    try:
        await conn.execute(MIGRATION)
    finally:
        await conn.close()


async def main() -> None:
    settings = EchoSettings()
    configure_logging("echo", settings.log_level)
    schema, in_topic, out_topic = os.environ["ECHO_SCHEMA"], os.environ["ECHO_IN"], os.environ["ECHO_OUT"]
    group = os.environ.get("ECHO_GROUP", f"echo-{schema}")
    await prepare_schema(settings.dsn, schema)
    pool = await create_pool(settings.dsn, schema)
    consumer, relay = build(settings, pool, schema, in_topic, out_topic, group, os.environ.get("ECHO_MODE", "record"))
    try:
        await run_service("echo", app=None, host="127.0.0.1", port=0, loops=[consumer.run, relay.run])
    finally:
        await pool.close()


if __name__ == "__main__":
    asyncio.run(main())
