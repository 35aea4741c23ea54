"""Composition root of routing: ``python -m services.routing``.

settings → logging → rules and reference data (validated) → migrations and
topics (when ``migrate_on_start``) → pool → consumer, relay, deadline watch,
gauges, HTTP app → `run_service`. `build` is what tests and benchmarks use to
run the same parts inside their own process.
"""
from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Awaitable, Callable

import asyncpg
from fastapi import FastAPI

from shared.clock import Clock
from shared.db import create_pool, migrate
from shared.http import create_app
from shared.logging import configure_logging
from shared.runtime.consumer import EventConsumer
from shared.runtime.relay import OutboxRelay
from shared.runtime.service import run_service
from shared.topics import ensure_topics
from services.routing.adapters.egress import EgressTopics
from services.routing.adapters.http import build_router
from services.routing.adapters.rules_file import load_checked
from services.routing.adapters.watch import DeadlineWatch, Gauges, calendar_factory
from services.routing.core import Router, Topics
from services.routing.handlers import routes
from services.routing.settings import RoutingSettings

SERVICE = "routing"
MIGRATIONS = Path(__file__).resolve().parent / "migrations"


@dataclass
class RoutingService:
    settings: RoutingSettings
    pool: asyncpg.Pool
    router: Router
    consumer: EventConsumer
    relay: OutboxRelay
    watch: DeadlineWatch
    gauges: Gauges
    app: FastAPI

    @property
    def loops(self) -> list[Callable[[asyncio.Event], Awaitable[None]]]:
        return [self.consumer.run, self.relay.run, self.watch.run, self.gauges.run]


async def prepare(settings: RoutingSettings) -> None:
    """Apply the migrations to the service schema and create the topics (idempotent)."""
    await migrate(settings.dsn, settings.schema, MIGRATIONS)
    await ensure_topics(settings.kafka_bootstrap, settings.internal_topics(),
                        replication_factor=settings.kafka_replication_factor, **settings.kafka_options())


async def build(settings: RoutingSettings, *, clock: Clock | None = None) -> RoutingService:
    rules, ref = load_checked(settings.rules_path, bureau_directory_path=settings.bureau_directory_path,
                              holidays_dirs=settings.holidays_dirs)
    if settings.migrate_on_start:
        await prepare(settings)
    pool = await create_pool(settings.dsn, settings.schema, max_size=settings.pool_max_size)
    source = f"/shuangda/{SERVICE}"
    router = Router(
        ref=ref, rules=rules, clock=clock or settings.make_clock(),
        egress=EgressTopics(settings.kafka_bootstrap, prefix=settings.egress_prefix,
                            replication_factor=settings.kafka_replication_factor, kafka_options=settings.kafka_options()),
        topics=Topics(routing=settings.routing_topic, referral=settings.referral_topic), source=source,
    )
    await router.egress.warm()  # list the bureaus' egress topics once, before any transaction needs them
    consumer = EventConsumer(
        service=SERVICE, group=settings.consumer_group, pool=pool, bootstrap=settings.kafka_bootstrap, source=source,
        routes=routes(router, intake_topic=settings.intake_topic, ingress_pattern=settings.ingress_pattern),
        batch_size=settings.consumer_batch_size, poll_ms=settings.consumer_poll_ms, crash_at=settings.crash_at,
        kafka_options=settings.kafka_options(),
    )
    relay = OutboxRelay(
        service=SERVICE, schema=settings.schema, dsn=settings.dsn, bootstrap=settings.kafka_bootstrap,
        batch_size=settings.relay_batch_size, poll_seconds=settings.relay_poll_seconds, crash_at=settings.crash_at,
        kafka_options=settings.kafka_options(),
    )
    calendars = calendar_factory(settings.holidays_dirs)
    watch = DeadlineWatch(
        router=router, dsn=settings.dsn, schema=settings.schema, interval=settings.watch_interval_seconds,
        batch_size=settings.watch_batch_size, recheck_interval=settings.recheck_interval_seconds,
        calendar_factory=calendars, crash_at=settings.crash_at,
    )
    gauges = Gauges(pool=pool, router=router, interval=settings.gauges_interval_seconds, calendar_factory=calendars,
                    calendar_interval=settings.recheck_interval_seconds)

    async def consumer_ready() -> bool:
        return consumer.ready

    async def database_ready() -> bool:
        return bool(await pool.fetchval("SELECT 1"))

    app = create_app(SERVICE, title="Shuangda routing", readiness=[consumer_ready, database_ready])
    app.include_router(build_router(pool=pool, router=router, source=source, list_limit_max=settings.list_limit_max))
    return RoutingService(settings, pool, router, consumer, relay, watch, gauges, app)


async def main() -> None:
    settings = RoutingSettings()
    configure_logging(SERVICE, settings.log_level)
    service = await build(settings)
    loops = service.loops
    if settings.warnings_embedded:
        from services.routing.warnings.worker import embedded_loop

        loops.append(embedded_loop(settings))
    try:
        await run_service(SERVICE, app=service.app, host=settings.http_host, port=settings.http_port, loops=loops)
    finally:
        await service.pool.close()


if __name__ == "__main__":
    asyncio.run(main())
