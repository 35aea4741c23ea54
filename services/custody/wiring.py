"""Custody's composition: `prepare` (migrations and its topic; only ``shuangda migrate`` and test
harnesses call it) and `build` (clock, use cases, outbox relay, identity directory, HTTP app →
`Parts`). Custody consumes no topic yet: its commands come over HTTP."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import asyncpg

from shared.clock import Clock
from shared.db import migrate
from shared.idempotency import pruning_loop
from shared.identity import open_directory
from shared.identity.http import Authenticator
from shared.runtime.relay import OutboxRelay
from shared.runtime.service import Parts
from shared.topics import CUSTODY, ensure_topics

from services.custody.adapters.http import build_app
from services.custody.app.lots import Custody
from services.custody.settings import CustodySettings

SERVICE = "custody"
MIGRATIONS = Path(__file__).resolve().parent / "migrations"


async def prepare(settings: CustodySettings) -> None:
    await migrate(settings.dsn, settings.schema, MIGRATIONS)
    await ensure_topics(settings.kafka, [replace(CUSTODY, name=settings.custody_topic)],
                        replication_factor=settings.kafka_replication_factor)


async def build(settings: CustodySettings, pool: asyncpg.Pool, *, clock: Clock | None = None) -> Parts:
    clock = clock or settings.make_clock()
    custody = Custody(clock=clock, topic=settings.custody_topic)
    kafka = settings.kafka
    relay = OutboxRelay(service=SERVICE, schema=settings.schema, dsn=settings.dsn, kafka=kafka, bootstrap=kafka.bootstrap,
                        batch_size=settings.relay_batch_size, poll_seconds=settings.relay_poll_seconds,
                        crash_at=settings.crash_at if settings.dev else None)

    async def database_reachable() -> bool:
        return await pool.fetchval("SELECT true") is True

    directory = await open_directory(settings)
    app = build_app(pool=pool, custody=custody, auth=Authenticator(directory), body_limit=settings.max_body_bytes,
                    readiness=[database_reachable])
    return Parts(app, [relay.run, pruning_loop(pool, settings.idempotency_ttl_hours)], closers=[directory.close],
                 components={"directory": directory, "custody": custody, "relay": relay})
