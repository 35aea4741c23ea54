"""Intake's composition: `prepare` (migrations and the case topic; only ``shuangda migrate`` and
test harnesses call it, never a service start) and `build` (keyring, use cases, the identity
directory that callers and ingress topics are authenticated through, ingress consumer, outbox
relay, HTTP app, Idempotency-Key pruning → `Parts`). Nothing runs at import time."""
from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

import asyncpg

from services.intake.adapters.http import HttpDeps, build_app
from shared import blobstore
from shared.blobstore import open_blobstore
from services.intake.adapters.kafka import IngressRoutes, assignee_route
from shared.attachments import AttachmentLimits
from services.intake.app.ingress import Ingress
from services.intake.app.registration import Registrar
from services.intake.settings import IntakeSettings
from shared.clock import Clock
from shared.db import migrate
from shared.guarded_fetch import FetchPolicy, GuardedFetcher
from shared.idempotency import pruning_loop
from shared.identity import open_directory
from shared.identity.http import Authenticator
from shared import vault
from shared.pii import keyring_from_config
from shared.runtime.consumer import EventConsumer
from shared.runtime.relay import OutboxRelay
from shared.runtime.service import Parts, service_role
from shared.second_factor import SecondFactorGuard
from shared.topics import CASE_INTAKE, CASE_ROUTING, TopicSpec, both_lanes, ensure_topics, with_lanes

SERVICE = "intake"
MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def case_topic(settings: IntakeSettings) -> TopicSpec:
    if settings.case_topic == CASE_INTAKE.name:
        return CASE_INTAKE
    return TopicSpec(settings.case_topic, CASE_INTAKE.key, CASE_INTAKE.description, partitions=CASE_INTAKE.partitions,
                     has_dlq=False)


async def prepare(settings: IntakeSettings) -> None:
    """Apply the schema's and the key store's migrations and create the case topic (all idempotent)."""
    await migrate(settings.dsn, settings.schema, MIGRATIONS)
    await vault.prepare(settings.dsn, settings.vault_schema)  # the key store of persons' data keys
    await blobstore.prepare(settings, prefix="intake")  # the S3 bucket of evidence files, when on S3
    routing = CASE_ROUTING if settings.routing_topic == CASE_ROUTING.name else TopicSpec(
        settings.routing_topic, CASE_ROUTING.key, CASE_ROUTING.description, partitions=CASE_ROUTING.partitions)
    # the routing topic too: intake reads each case's assignee from it (routing creates it as well); each
    # with its priority lane, where the cases a person filed go (issue 11 §4)
    await ensure_topics(settings.kafka, with_lanes([case_topic(settings), routing]),
                        replication_factor=settings.kafka_replication_factor)


async def build(settings: IntakeSettings, pool: asyncpg.Pool, *, clock: Clock | None = None) -> Parts:
    clock = clock or settings.make_clock()
    keyring = keyring_from_config(settings.pii_keys.get_secret_value() if settings.pii_keys else None, dev=settings.dev)
    registrar = Registrar(keyring=keyring, window=timedelta(days=settings.merge_window_days), case_topic=settings.case_topic,
                          vault_schema=settings.vault_schema)
    directory = await open_directory(settings)
    routes = IngressRoutes(directory=directory, ingress=Ingress(registrar), clock=clock)
    crash_at = settings.crash_at if settings.dev else None
    kafka = settings.kafka
    consumer = EventConsumer(
        service=SERVICE, group=settings.consumer_group, routes=[routes.route(settings.ingress_pattern),
                                                    *(assignee_route(t) for t in both_lanes(settings.routing_topic))],
        pool=pool,
        kafka=kafka, batch_size=settings.consumer_batch_size, poll_ms=settings.consumer_poll_ms,
        metadata_max_age_ms=settings.consumer_metadata_max_age_ms,
        crash_at=crash_at,
    )
    relay = OutboxRelay(
        service=SERVICE, schema=settings.schema, dsn=settings.dsn, kafka=kafka,
        batch_size=settings.relay_batch_size, poll_seconds=settings.relay_poll_seconds, crash_at=crash_at,
    )

    async def database_reachable() -> bool:
        return await pool.fetchval("SELECT true") is True

    async def consumer_polling() -> bool:
        return consumer.ready and time.monotonic() - consumer.last_loop_at < 60

    # an API process (role api) is ready without a consumer; the worker answers for its own
    app = build_app(HttpDeps(
        pool=pool, auth=Authenticator(directory), registrar=registrar, clock=clock, batch_max_items=settings.batch_max_items,
        max_command_bytes=settings.max_body_bytes, max_batch_bytes=settings.max_batch_bytes,
        blobs=open_blobstore(settings, root=settings.attachments_root(), prefix="intake", keyring=keyring),
        attachment_limits=AttachmentLimits(settings.attachment_max_bytes, settings.attachment_max_count),
        media=GuardedFetcher(FetchPolicy(
            max_bytes=settings.attachment_max_bytes, timeout_seconds=settings.media_url_timeout_seconds,
            allowed_hosts=frozenset(h.strip().lower() for h in settings.media_url_allowed_hosts.split(",") if h.strip()),
            allow_http=settings.media_url_allow_http)) if settings.media_url_fetch else None,
        second_factor=SecondFactorGuard(pool, service="intake", limits=settings.second_factor_limits()),
        readiness=[database_reachable] if service_role(settings) == "api" else [database_reachable, consumer_polling],
    ))

    # the relay runs in both processes of a split (one leads, by advisory lock): the API process's
    # loop is not busy with ingress batches, so a complaint's case.opened goes out at once
    return Parts(app, [consumer.run, relay.run], closers=[directory.close],
                 api_loops=[relay.run, pruning_loop(pool, settings.idempotency_ttl_hours)],
                 worker_readiness=[database_reachable, consumer_polling],
                 components={"consumer": consumer, "relay": relay, "registrar": registrar, "directory": directory})
