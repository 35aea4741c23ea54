"""Building notify's parts from settings: the consumers (events → deliveries; a second one, group
``<group>-priority``, for the case topics' priority lanes),
the dispatcher and its sweep, the digest assembler, the directory watcher, the
outbox relay (status events) and the HTTP app (operators' API, authenticated
through the identity store, whose pool `build` opens and registers to close). `__main__` (through
shared.runtime.service.main), the in-process tests and the benchmark call
`build`; nothing here runs at import time. `prepare` (migrations and notify's own
topic) is for ``shuangda migrate`` and test harnesses only — never on start."""
from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import asyncpg

from services.notify.adapters import kafka
from services.notify.adapters.directory_file import DirectoryFile
from services.notify.adapters.email import EmailSender
from services.notify.adapters.http import build_app
from services.notify.adapters.sms import SmsGateway
from services.notify.adapters.templates import Renderer
from services.notify.adapters.webhook import WebhookSender
from services.notify.app.admin import Admin
from services.notify.app.digests import DigestAssembler
from services.notify.app.dispatcher import DispatchConfig, Dispatcher
from services.notify.app.notices import NoticePlanner
from services.notify.domain.directory import DirectoryError, is_loopback_url
from services.notify.domain.policy import Breakers, RetryPolicy
from services.notify.metrics import initialise
from services.notify.settings import NotifySettings
from shared.clock import Clock
from shared.db import migrate
from shared.idempotency import pruning_loop
from shared.identity import open_directory
from shared.identity.http import Authenticator
from shared.pii import keyring_from_config
from shared.runtime.consumer import EventConsumer
from shared.runtime.relay import OutboxRelay
from shared.runtime.service import Parts
from shared.topics import NOTIFICATION, ensure_topics, priority_lane

SERVICE = "notify"
SOURCE = f"/shuangda/{SERVICE}"
MIGRATIONS = Path(__file__).resolve().parent / "migrations"


async def prepare(settings: NotifySettings) -> None:
    """Apply notify's migrations and create the topic it produces (both idempotent). The topics it
    consumes belong to their producers (intake, routing, credit)."""
    await migrate(settings.dsn, settings.schema, MIGRATIONS)
    await ensure_topics(settings.kafka, [replace(NOTIFICATION, name=settings.notification_topic)],
                        replication_factor=settings.kafka_replication_factor)


def retry_policy(settings: NotifySettings) -> RetryPolicy:
    return RetryPolicy(tuple(settings.retry_schedule), jitter=settings.retry_jitter,
                       max_retry_after=settings.max_retry_after_seconds)


def consumed_topics(settings: NotifySettings) -> dict[str, str]:
    """Contract family → the topic notify reads it from (adapters.kafka.FAMILIES)."""
    return {"cases": settings.intake_topic, "routing": settings.routing_topic, "referral": settings.referral_topic,
            "alerts": settings.alert_topic, "credit": settings.credit_topic}


def priority_topics(settings: NotifySettings) -> dict[str, str]:
    """Contract family → the priority lane notify's second consumer reads it from: the lanes of the two
    case topics, where the events of the cases a person filed go (issue 11 §4)."""
    return {"cases": priority_lane(settings.intake_topic), "routing": priority_lane(settings.routing_topic)}


def _check_targets(settings: NotifySettings) -> None:
    """A dev stack only talks to loopback receivers unless told otherwise."""
    if not settings.dev or settings.allow_external_targets:
        return
    if not is_loopback_url(f"smtp://{settings.smtp_host}:{settings.smtp_port}"):
        raise DirectoryError("smtp_host must be a loopback address in dev mode (or set SHUANGDA_NOTIFY_ALLOW_EXTERNAL_TARGETS)")
    if settings.sms_gateway_url and not is_loopback_url(settings.sms_gateway_url):
        raise DirectoryError("sms_gateway_url must be a loopback address in dev mode (or set SHUANGDA_NOTIFY_ALLOW_EXTERNAL_TARGETS)")


async def build(settings: NotifySettings, pool: asyncpg.Pool, *, clock: Clock | None = None) -> Parts:
    _check_targets(settings)
    initialise()
    clock = clock or settings.make_clock()
    directory = DirectoryFile(settings.directory_file, dev=settings.dev,
                              allow_external_targets=settings.allow_external_targets,
                              check_seconds=settings.directory_check_seconds)
    renderer = Renderer(console_public_url=settings.console_public_url)
    policy = retry_policy(settings)
    keyring = keyring_from_config(settings.pii_keys.get_secret_value() if settings.pii_keys else None, dev=settings.dev)
    planner = NoticePlanner(directory=directory, render=renderer, policy=policy)
    crash_at = settings.crash_at if settings.dev else None
    connection = settings.kafka
    consumer = EventConsumer(
        service=SERVICE, group=settings.consumer_group, routes=kafka.routes(planner, consumed_topics(settings)),
        pool=pool, bootstrap=connection.bootstrap, kafka=connection, source=SOURCE,
        batch_size=settings.consumer_batch_size, poll_ms=settings.consumer_poll_ms,
        metadata_max_age_ms=settings.consumer_metadata_max_age_ms, crash_at=crash_at,
    )
    # the priority lane: a consumer group of its own reads the lanes through the same routes and planner, so a
    # complaint's notice is planned without waiting behind the bulk topics' partitions
    priority = EventConsumer(
        service=SERVICE, group=f"{settings.consumer_group}-priority",
        routes=kafka.routes(planner, priority_topics(settings)),
        pool=pool, bootstrap=connection.bootstrap, kafka=connection, source=SOURCE,
        batch_size=settings.consumer_batch_size, poll_ms=settings.consumer_poll_ms,
        metadata_max_age_ms=settings.consumer_metadata_max_age_ms, crash_at=crash_at,
    )
    relay = OutboxRelay(
        service=SERVICE, schema=settings.schema, dsn=settings.dsn, bootstrap=connection.bootstrap, kafka=connection,
        batch_size=settings.relay_batch_size, poll_seconds=settings.relay_poll_seconds, crash_at=crash_at,
    )
    webhook = WebhookSender(timeout=settings.webhook_timeout_seconds, connections_per_endpoint=settings.endpoint_concurrency)
    email = EmailSender(
        host=settings.smtp_host, port=settings.smtp_port, sender=settings.smtp_from, username=settings.smtp_username,
        password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
        starttls=settings.smtp_starttls, tls=settings.smtp_tls, timeout=settings.smtp_timeout_seconds,
    )
    sms = SmsGateway(url=settings.sms_gateway_url,
                     api_key=settings.sms_api_key.get_secret_value() if settings.sms_api_key else None,
                     timeout=settings.sms_timeout_seconds)
    breakers = Breakers(settings.breaker_failure_threshold, settings.breaker_open_seconds,
                        settings.breaker_max_open_seconds)
    dispatcher = Dispatcher(
        pool=pool,
        config=DispatchConfig(
            schema=settings.schema, dsn=settings.dsn, notification_topic=settings.notification_topic, source=SOURCE,
            endpoint_concurrency=settings.endpoint_concurrency, max_in_flight=settings.max_in_flight,
            priority_reserve=settings.priority_reserve,
            max_unrecorded=settings.max_unrecorded,
            claim_batch_size=settings.claim_batch_size, poll_seconds=settings.dispatch_poll_seconds,
            lease_seconds=settings.lease_seconds, sweep_interval_seconds=settings.sweep_interval_seconds,
            keep_finished_seconds=settings.keep_finished_days * 86400,
            webhook_timeout_seconds=settings.webhook_timeout_seconds, vault_schema=settings.vault_schema,
        ),
        directory=directory, policy=policy,
        breakers=breakers,
        webhook=webhook, email=email, sms=sms, keyring=keyring, clock=clock,
    )
    digests = DigestAssembler(pool=pool, directory=directory, render=renderer, policy=policy,
                              interval=settings.digest_check_seconds, source=SOURCE)

    async def database_reachable() -> bool:
        return await pool.fetchval("SELECT true") is True

    async def consumer_polling() -> bool:
        return all(c.ready and time.monotonic() - c.last_loop_at < 60 for c in (consumer, priority))

    async def dispatcher_listening() -> bool:
        return dispatcher.listening

    identities = await open_directory(settings)
    # the HTTP app reads the dispatcher's breakers (circuit state) and re-queues resends with its policy's window
    admin = Admin(pool=pool, directory=directory, breakers=breakers, policy=policy, wall=dispatcher.wall)
    app = build_app(admin=admin, auth=Authenticator(identities),
                    readiness=[database_reachable, consumer_polling, dispatcher_listening])
    return Parts(
        app=app,
        loops=[consumer.run, priority.run, relay.run, dispatcher.run, dispatcher.sweep, digests.run, directory.watch,
               pruning_loop(pool, settings.idempotency_ttl_hours)],
        closers=[webhook.close, sms.close, identities.close],
        components={"consumer": consumer, "priority_consumer": priority, "relay": relay, "dispatcher": dispatcher, "digests": digests,
                    "directory": directory, "planner": planner},
    )
