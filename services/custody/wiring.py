"""Custody's composition: `prepare` (migrations and its topic; only ``shuangda migrate`` and test
harnesses call it) and `build` (clock, use cases, outbox relay, identity directory, HTTP app →
`Parts`). Commands come over HTTP; custody consumes `referral.lifecycle` for the police
hand-over deadline, and its deadline watch raises approaching/breached on `custody.lifecycle`."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import asyncpg

from shared import blobstore, case_bureaus
from shared.attachments import AttachmentLimits
from shared.blobstore import open_blobstore
from shared.clock import Clock
from shared.db import migrate
from shared.deadline_watch import DeadlineWatch
from shared.idempotency import pruning_loop
from shared.identity import open_directory
from shared.identity.http import Authenticator
from shared.runtime.consumer import EventConsumer
from shared.runtime.relay import OutboxRelay
from shared.runtime.service import Parts
from shared.topics import CUSTODY, REFERRAL, ensure_topics
from shared.workdays import default_calendar

from services.custody.adapters import kafka as routes
from services.custody.adapters.http import build_app
from services.custody.app.deadlines import RULES_FILE, CustodyDeadlines, count_emitted, deadline_event
from services.custody.app.lots import Custody
from services.custody.app.storage import RATES_FILE, StorageCosts
from services.custody.settings import CustodySettings

SERVICE = "custody"
MIGRATIONS = Path(__file__).resolve().parent / "migrations"


async def prepare(settings: CustodySettings) -> None:
    await migrate(settings.dsn, settings.schema, MIGRATIONS)
    # the referral topic is routing's; custody makes sure it exists so its consumer can subscribe
    await ensure_topics(settings.kafka, [replace(CUSTODY, name=settings.custody_topic),
                                         replace(REFERRAL, name=settings.referral_topic),
                                         *case_bureaus.topic_specs(settings.case_routing_topic)],
                        replication_factor=settings.kafka_replication_factor)
    await blobstore.prepare(settings, prefix=SERVICE)  # the S3 bucket of photos and documents, when on S3


async def build(settings: CustodySettings, pool: asyncpg.Pool, *, clock: Clock | None = None) -> Parts:
    clock = clock or settings.make_clock()
    deadlines = CustodyDeadlines(calendar=default_calendar(), before_hours=settings.deadline_warn_hours,
                                 rules_file=Path(settings.deadline_rules_file) if settings.deadline_rules_file else RULES_FILE)
    custody = Custody(clock=clock, topic=settings.custody_topic, deadlines=deadlines,
                      blobs=open_blobstore(settings, root=settings.files_root(), prefix=SERVICE),
                      file_limits=AttachmentLimits(settings.file_max_bytes, settings.file_max_count))
    storage = StorageCosts(clock=clock, rates_file=Path(settings.storage_cost_file) if settings.storage_cost_file
                           else RATES_FILE)
    storage.rates  # a bad rates file stops the start, not a report
    kafka = settings.kafka
    crash_at = settings.crash_at if settings.dev else None
    consumer = EventConsumer(
        service=SERVICE, group=settings.consumer_group, pool=pool, kafka=kafka, bootstrap=kafka.bootstrap,
        routes=[routes.referrals(settings.referral_topic, deadlines),
                *case_bureaus.routes(settings.case_routing_topic)], batch_size=settings.consumer_batch_size,
        poll_ms=settings.consumer_poll_ms, metadata_max_age_ms=settings.consumer_metadata_max_age_ms, crash_at=crash_at)
    watch = DeadlineWatch(service=SERVICE, schema=settings.schema, dsn=settings.dsn, clock=clock,
                          topic=settings.custody_topic, event=deadline_event, interval=settings.deadline_watch_seconds,
                          on_emitted=count_emitted)
    relay = OutboxRelay(service=SERVICE, schema=settings.schema, dsn=settings.dsn, kafka=kafka, bootstrap=kafka.bootstrap,
                        batch_size=settings.relay_batch_size, poll_seconds=settings.relay_poll_seconds,
                        crash_at=crash_at)

    async def database_reachable() -> bool:
        return await pool.fetchval("SELECT true") is True

    directory = await open_directory(settings)
    app = build_app(pool=pool, custody=custody, storage=storage, auth=Authenticator(directory), body_limit=settings.max_body_bytes,
                    readiness=[database_reachable])
    return Parts(app, [consumer.run, relay.run, watch.run, pruning_loop(pool, settings.idempotency_ttl_hours)],
                 closers=[directory.close, *([custody.blobs.close] if hasattr(custody.blobs, "close") else [])],
                 components={"directory": directory, "custody": custody, "relay": relay, "consumer": consumer,
                             "watch": watch})
