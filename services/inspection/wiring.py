"""Inspection's composition: `prepare` (migrations, its topic and its lead topic; only ``shuangda
migrate`` and test harnesses call it) and `build` (clock, use cases, outbox relay, deadline watch,
identity directory, HTTP app with the public part rate-limited, and the consumer of credit's
`entity-registered` events — inspection's copy of the registry → `Parts`). Its commands come over
HTTP."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import asyncpg

from shared.clock import Clock
from shared.db import migrate
from shared.deadline_watch import DeadlineWatch
from shared.idempotency import pruning_loop
from shared.identity import open_directory
from shared.identity.http import Authenticator, holds_scope
from shared.runtime.consumer import EventConsumer
from shared.runtime.relay import OutboxRelay
from shared.runtime.service import Parts
from shared.topics import CREDIT, INSPECTION, TopicSpec, ensure_topics
from shared.workdays import default_calendar

from services.inspection.adapters import kafka as routes
from services.inspection.adapters.http import PUBLIC_PATHS, build_app
from services.inspection.app.inspections import RULES_FILE, Inspections, count_emitted, deadline_event
from services.inspection.settings import InspectionSettings

#: a caller holding it (the console's public principal) relays citizens: the public limit counts the
#: address it names in X-Client-Address (shared.ratelimit), not the console's own
RELAY_SCOPE = "clients:relay"
SERVICE = "inspection"
MIGRATIONS = Path(__file__).resolve().parent / "migrations"


async def prepare(settings: InspectionSettings) -> None:
    await migrate(settings.dsn, settings.schema, MIGRATIONS)
    # credit.records is credit's; inspection makes sure it exists so its consumer can subscribe
    await ensure_topics(settings.kafka, [replace(INSPECTION, name=settings.inspection_topic),
                                         TopicSpec(settings.lead_topic, "source id", "leads from random inspections"),
                                         replace(CREDIT, name=settings.credit_topic)],
                        replication_factor=settings.kafka_replication_factor)


async def build(settings: InspectionSettings, pool: asyncpg.Pool, *, clock: Clock | None = None) -> Parts:
    clock = clock or settings.make_clock()
    inspections = Inspections(clock=clock, topic=settings.inspection_topic, lead_topic=settings.lead_topic,
                              calendar=default_calendar(), before_hours=settings.deadline_warn_hours,
                              rules_file=Path(settings.deadline_rules_file) if settings.deadline_rules_file else RULES_FILE)
    kafka = settings.kafka
    crash_at = settings.crash_at if settings.dev else None
    relay = OutboxRelay(service=SERVICE, schema=settings.schema, dsn=settings.dsn, kafka=kafka, bootstrap=kafka.bootstrap,
                        batch_size=settings.relay_batch_size, poll_seconds=settings.relay_poll_seconds, crash_at=crash_at)
    consumer = EventConsumer(
        service=SERVICE, group=settings.consumer_group, pool=pool, kafka=kafka, bootstrap=kafka.bootstrap,
        routes=[routes.registrations(settings.credit_topic)], batch_size=settings.consumer_batch_size,
        poll_ms=settings.consumer_poll_ms, metadata_max_age_ms=settings.consumer_metadata_max_age_ms, crash_at=crash_at)
    watch = DeadlineWatch(service=SERVICE, schema=settings.schema, dsn=settings.dsn, clock=clock,
                          topic=settings.inspection_topic, event=deadline_event, interval=settings.deadline_watch_seconds,
                          on_emitted=count_emitted)

    async def database_reachable() -> bool:
        return await pool.fetchval("SELECT true") is True

    def body_limit(path: str) -> int:
        return settings.pool_max_body_bytes if path.startswith("/v1/pools/") else settings.max_body_bytes

    directory = await open_directory(settings)
    app = build_app(pool=pool, inspections=inspections, auth=Authenticator(directory), body_limit=body_limit,
                    rate_limits=settings.public_rate_limits(PUBLIC_PATHS, relay=holds_scope(directory, RELAY_SCOPE)),
                    readiness=[database_reachable])
    return Parts(app, [consumer.run, relay.run, watch.run, pruning_loop(pool, settings.idempotency_ttl_hours)],
                 closers=[directory.close],
                 components={"directory": directory, "inspections": inspections, "relay": relay, "watch": watch,
                             "consumer": consumer})
