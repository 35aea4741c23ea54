"""Credit's composition: `prepare` (migrations and output topics; only ``shuangda migrate`` and
test harnesses call it, never a service start) and `build` (rules, clock, use cases, consumer,
relay, scheduler, name index, identity directory and HTTP app → `Parts`). Nothing runs at import
time."""
from __future__ import annotations

import datetime as dt
import time
from dataclasses import replace
from pathlib import Path

import asyncpg

from shared.clock import Clock
from shared.db import migrate
from shared.idempotency import pruning_loop
from shared.identity import open_directory
from shared.identity.http import Authenticator
from shared.pii import keyring_from_config
from shared.runtime.consumer import EventConsumer
from shared.runtime.relay import OutboxRelay
from shared.runtime.service import Parts
from shared.topics import CREDIT, INSPECTION, PENALTY, TopicSpec, ensure_topics
from shared.workdays import default_calendar

from services.credit.adapters.http import HttpDeps, build_app
from services.credit.adapters.http.disclosure import PUBLIC_PATHS
from services.credit.adapters.http.registry import REGISTRY_PATH
from services.credit.adapters.kafka import CreditRoutes
from services.credit.adapters.kafka_inspection import inspection_results
from services.credit.adapters.search import IndexRefresher
from services.credit.app.context import Credit, PersonHasher, Topics
from services.credit.domain.search import NameIndex
from services.credit.rules import load_rulebook
from services.credit.scheduler import Scheduler, gauges_loop
from services.credit.settings import CreditSettings

SERVICE = "credit"
MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def output_topics(settings: CreditSettings) -> list[TopicSpec]:
    specs = []
    for name, base in ((settings.penalty_topic, PENALTY), (settings.credit_topic, CREDIT)):
        specs.append(base if name == base.name else TopicSpec(name, base.key, base.description, partitions=base.partitions,
                                                              has_dlq=False))
    return specs


async def prepare(settings: CreditSettings) -> None:
    """Apply the schema's migrations and create the output topics (both idempotent)."""
    await migrate(settings.dsn, settings.schema, MIGRATIONS)
    # inspection.lifecycle is inspection's; credit consumes it (and dead-letters to its .dlq) even when started first
    consumed = [replace(INSPECTION, name=settings.inspection_topic)]
    await ensure_topics(settings.kafka, output_topics(settings) + consumed, replication_factor=settings.kafka_replication_factor)


async def build(settings: CreditSettings, pool: asyncpg.Pool, *, clock: Clock | None = None) -> Parts:
    clock = clock or settings.make_clock()
    book = load_rulebook(settings.rules_dir)
    keyring = keyring_from_config(settings.pii_keys.get_secret_value() if settings.pii_keys else None, dev=settings.dev)
    assert settings.person_hash_key is not None
    credit = Credit(
        book=book, calendar=default_calendar(), clock=clock, keyring=keyring,
        hasher=PersonHasher(settings.person_hash_key.get_secret_value()),
        topics=Topics(penalty=settings.penalty_topic, credit=settings.credit_topic),
        auto_disclose=settings.auto_disclose,
        substitution_grace=dt.timedelta(seconds=settings.substitution_grace_seconds),
    )
    routes = CreditRoutes(credit)
    crash_at = settings.crash_at if settings.dev else None
    kafka = settings.kafka
    consumer = EventConsumer(
        service=SERVICE, group=settings.consumer_group, pool=pool, kafka=kafka, bootstrap=kafka.bootstrap,
        routes=[routes.ingress(settings.ingress_pattern), routes.referrals(settings.referral_topic),
                inspection_results(settings.inspection_topic)],
        batch_size=settings.consumer_batch_size, poll_ms=settings.consumer_poll_ms,
        metadata_max_age_ms=settings.consumer_metadata_max_age_ms, crash_at=crash_at,
    )
    relay = OutboxRelay(
        service=SERVICE, schema=settings.schema, dsn=settings.dsn, kafka=kafka, bootstrap=kafka.bootstrap,
        batch_size=settings.relay_batch_size, poll_seconds=settings.relay_poll_seconds, crash_at=crash_at,
    )
    scheduler = Scheduler(pool=pool, dsn=settings.dsn, schema=settings.schema, credit=credit, clock=clock,
                          interval=settings.scheduler_interval_seconds, batch=settings.scheduler_batch,
                          auto_disclose=settings.auto_disclose)
    index = NameIndex(credit.analyser)
    refresher = IndexRefresher(pool, index, settings.index_refresh_seconds)

    async def database_reachable() -> bool:
        return await pool.fetchval("SELECT true") is True

    async def consumer_polling() -> bool:
        return consumer.ready and time.monotonic() - consumer.last_loop_at < 60

    async def name_index_loaded() -> bool:
        return refresher.loaded

    directory = await open_directory(settings)
    app = build_app(HttpDeps(
        pool=pool, credit=credit, index=index, refresher=refresher, auth=Authenticator(directory), clock=clock,
        check_max_codes=settings.check_max_codes,
        body_limit=lambda path: settings.registry_max_body_bytes if path == REGISTRY_PATH else settings.max_body_bytes,
        rate_limits=settings.public_rate_limits(PUBLIC_PATHS),
        readiness=[database_reachable, consumer_polling, name_index_loaded],
    ))
    loops = [consumer.run, relay.run, scheduler.run, refresher.run, gauges_loop(pool, clock, settings.gauges_interval_seconds),
             pruning_loop(pool, settings.idempotency_ttl_hours)]
    return Parts(app, loops, closers=[directory.close], components={"directory": directory, "credit": credit, "consumer": consumer, "relay": relay, "scheduler": scheduler,
                                         "refresher": refresher, "index": index})
