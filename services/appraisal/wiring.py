"""Appraisal's composition: `prepare` (migrations and its topic; only ``shuangda migrate`` and test
harnesses call it) and `build` (clock, use cases, consumer of custody's events, outbox relay,
deadline watch, identity directory, HTTP app → `Parts`)."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import asyncpg

from shared import case_bureaus
from shared.clock import Clock
from shared.db import migrate
from shared.deadline_watch import DeadlineWatch
from shared.egress import EgressTopics
from shared.idempotency import pruning_loop
from shared.identity import open_directory
from shared.identity.http import Authenticator
from shared.runtime.consumer import EventConsumer
from shared.runtime.relay import OutboxRelay
from shared.runtime.service import Parts
from shared.topics import APPRAISAL, CUSTODY, ensure_topics, provider_egress
from shared.workdays import default_calendar

from services.appraisal.adapters import kafka as routes
from services.appraisal.adapters.http import build_app
from services.appraisal.app.appraisals import RULES_FILE, Appraisals, count_emitted, deadline_event
from services.appraisal.settings import AppraisalSettings

SERVICE = "appraisal"
MIGRATIONS = Path(__file__).resolve().parent / "migrations"


async def prepare(settings: AppraisalSettings) -> None:
    await migrate(settings.dsn, settings.schema, MIGRATIONS)
    # custody's topic is custody's; appraisal makes sure it exists so its consumer can subscribe
    await ensure_topics(settings.kafka, [replace(APPRAISAL, name=settings.appraisal_topic),
                                         replace(CUSTODY, name=settings.custody_topic),
                                         *case_bureaus.topic_specs(settings.case_routing_topic)],
                        replication_factor=settings.kafka_replication_factor)


async def build(settings: AppraisalSettings, pool: asyncpg.Pool, *, clock: Clock | None = None) -> Parts:
    clock = clock or settings.make_clock()
    directory = await open_directory(settings)
    kafka = settings.kafka
    egress = EgressTopics(kafka, prefix=settings.egress_prefix, replication_factor=settings.kafka_replication_factor,
                          service=SERVICE, spec_of=provider_egress)
    appraisals = Appraisals(clock=clock, topic=settings.appraisal_topic, calendar=default_calendar(), egress=egress,
                            principal=directory.principal, before_hours=settings.deadline_warn_hours,
                            rules_file=Path(settings.deadline_rules_file) if settings.deadline_rules_file else RULES_FILE)
    crash_at = settings.crash_at if settings.dev else None
    consumer = EventConsumer(
        service=SERVICE, group=settings.consumer_group, pool=pool, kafka=kafka, bootstrap=kafka.bootstrap,
        routes=[routes.custody(settings.custody_topic, appraisals),
                *case_bureaus.routes(settings.case_routing_topic)], batch_size=settings.consumer_batch_size,
        poll_ms=settings.consumer_poll_ms, metadata_max_age_ms=settings.consumer_metadata_max_age_ms, crash_at=crash_at)
    relay = OutboxRelay(service=SERVICE, schema=settings.schema, dsn=settings.dsn, kafka=kafka, bootstrap=kafka.bootstrap,
                        batch_size=settings.relay_batch_size, poll_seconds=settings.relay_poll_seconds, crash_at=crash_at)
    watch = DeadlineWatch(service=SERVICE, schema=settings.schema, dsn=settings.dsn, clock=clock,
                          topic=settings.appraisal_topic, event=deadline_event, interval=settings.deadline_watch_seconds,
                          on_emitted=count_emitted)

    async def database_reachable() -> bool:
        return await pool.fetchval("SELECT true") is True

    app = build_app(pool=pool, appraisals=appraisals, auth=Authenticator(directory), body_limit=settings.max_body_bytes,
                    readiness=[database_reachable])
    return Parts(app, [egress.warm_loop, consumer.run, relay.run, watch.run, pruning_loop(pool, settings.idempotency_ttl_hours)],
                 closers=[directory.close],
                 components={"directory": directory, "appraisals": appraisals, "consumer": consumer, "relay": relay,
                             "watch": watch})
