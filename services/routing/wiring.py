"""Routing's composition: `prepare` (migrations and internal topics; only ``shuangda migrate``
and test harnesses call it, never a service start) and `build` (rules and reference data,
validated → clock → `Router` → consumer, relay, deadline watch, gauges, the early-warning
faust app when embedded, the identity directory, HTTP app → `Parts`). Nothing connects while building: the egress
topics are listed by a loop as the service starts. Every Kafka client comes from
``settings.kafka``."""
from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg

from shared.clock import Clock
from shared.db import migrate
from shared.idempotency import pruning_loop
from shared.identity import open_directory
from shared.identity.http import Authenticator, holds_scope
from shared.runtime.consumer import EventConsumer
from shared.runtime.relay import OutboxRelay
from shared.runtime.service import Parts
from shared.topics import ensure_topics

from shared.egress import EgressTopics
from services.routing.adapters.http import build_app
from services.routing.adapters.http_overview import PUBLIC_PATHS, RELAY_SCOPE
from services.routing.adapters.kafka import priority_routes, routes
from services.routing.adapters.rules_file import load_checked
from services.routing.adapters.watch import DeadlineWatch, Gauges, calendar_factory
from services.routing.app.router import Router, Topics
from services.routing.settings import RoutingSettings

SERVICE = "routing"
SOURCE = f"/shuangda/{SERVICE}"
MIGRATIONS = Path(__file__).resolve().parent / "migrations"


async def prepare(settings: RoutingSettings) -> None:
    """Apply the migrations to the service schema and create the internal topics (idempotent)."""
    await migrate(settings.dsn, settings.schema, MIGRATIONS)
    await ensure_topics(settings.kafka, settings.internal_topics(), replication_factor=settings.kafka_replication_factor)


def make_router(settings: RoutingSettings, *, clock: Clock | None = None) -> Router:
    """The application over the validated rules and reference data (also what the CLI's recheck uses)."""
    rules, ref = load_checked(settings.rules_path, bureau_directory_path=settings.bureau_directory_path,
                              holidays_dirs=settings.holidays_dirs)
    return Router(
        ref=ref, rules=rules, clock=clock or settings.make_clock(),
        egress=EgressTopics(settings.kafka, prefix=settings.egress_prefix,
                            replication_factor=settings.kafka_replication_factor),
        topics=Topics(routing=settings.routing_topic, referral=settings.referral_topic), source=SOURCE,
    )


async def build(settings: RoutingSettings, pool: asyncpg.Pool, *, clock: Clock | None = None) -> Parts:
    clock = clock or settings.make_clock()
    router = make_router(settings, clock=clock)
    kafka = settings.kafka
    crash_at = settings.crash_at if settings.dev else None
    consumer = EventConsumer(
        service=SERVICE, group=settings.consumer_group, pool=pool, kafka=kafka, bootstrap=kafka.bootstrap,
        source=SOURCE, routes=routes(router, intake_topic=settings.intake_topic, ingress_pattern=settings.ingress_pattern,
                                          appraisal_topic=settings.appraisal_topic),
        batch_size=settings.consumer_batch_size, poll_ms=settings.consumer_poll_ms,
        metadata_max_age_ms=settings.consumer_metadata_max_age_ms, crash_at=crash_at,
    )
    # the priority lane (issue 11 §4): a consumer group of its own reads intake's lane through the same
    # handling, so a case a person filed is assigned without waiting behind the bulk topic's partitions
    priority = EventConsumer(
        service=SERVICE, group=f"{settings.consumer_group}-priority", pool=pool, kafka=kafka, bootstrap=kafka.bootstrap,
        source=SOURCE, routes=priority_routes(router, intake_topic=settings.intake_topic),
        batch_size=settings.consumer_batch_size, poll_ms=settings.consumer_poll_ms,
        metadata_max_age_ms=settings.consumer_metadata_max_age_ms, crash_at=crash_at,
    )
    relay = OutboxRelay(
        service=SERVICE, schema=settings.schema, dsn=settings.dsn, kafka=kafka, bootstrap=kafka.bootstrap,
        batch_size=settings.relay_batch_size, poll_seconds=settings.relay_poll_seconds, crash_at=crash_at,
    )
    calendars = calendar_factory(settings.holidays_dirs)
    watch = DeadlineWatch(
        router=router, dsn=settings.dsn, schema=settings.schema, interval=settings.watch_interval_seconds,
        batch_size=settings.watch_batch_size, recheck_interval=settings.recheck_interval_seconds,
        calendar_factory=calendars, crash_at=crash_at,
    )
    gauges = Gauges(pool=pool, router=router, interval=settings.gauges_interval_seconds, calendar_factory=calendars,
                    calendar_interval=settings.recheck_interval_seconds)

    async def consumer_ready() -> bool:
        return consumer.ready and priority.ready

    async def database_ready() -> bool:
        return bool(await pool.fetchval("SELECT 1"))

    directory = await open_directory(settings)
    app = build_app(pool=pool, router=router, auth=Authenticator(directory), source=SOURCE,
                    list_limit_max=settings.list_limit_max, body_limit=settings.max_body_bytes,
                    readiness=[consumer_ready, database_ready],
                    rate_limits=settings.public_rate_limits(PUBLIC_PATHS,
                                                            relay=holds_scope(directory, RELAY_SCOPE)),
                    second_factor=settings.second_factor_limits())
    loops = [router.egress.warm_loop, consumer.run, priority.run, relay.run, watch.run, gauges.run,
             pruning_loop(pool, settings.idempotency_ttl_hours)]
    components = {"router": router, "consumer": consumer, "priority_consumer": priority, "relay": relay, "watch": watch, "gauges": gauges,
                  "pool": pool, "directory": directory}
    if settings.warnings_embedded:
        from services.routing.warnings import worker

        warnings = worker.build_app(settings, loop=asyncio.get_running_loop(), clock=clock)
        loops.append(worker.running_loop(warnings))
        components["warnings"] = warnings
    return Parts(app, loops, closers=[directory.close], components=components)
