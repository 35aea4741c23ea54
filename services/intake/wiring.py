"""Building intake's parts from settings: the HTTP app, the ingress consumer,
the outbox relay and the housekeeping loop. `__main__` (and the in-process
tests and benchmarks) call these; nothing here runs at import time."""
from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Awaitable, Callable

import asyncpg
from fastapi import FastAPI

from services.intake.adapters.http import HttpDeps, build_app
from services.intake.adapters.postgres import ClientDirectory, prune_idempotency_keys
from shared.clock import Clock
from services.intake.handlers import IngressHandlers
from services.intake.registration import Registrar
from services.intake.settings import IntakeSettings
from shared.db import migrate
from shared.pii import keyring_from_config
from shared.runtime.backoff import sleep_or_stop
from shared.runtime.consumer import EventConsumer
from shared.runtime.relay import OutboxRelay
from shared.topics import CASE_INTAKE, TopicSpec, ensure_topics

log = logging.getLogger(__name__)

SERVICE = "intake"
MIGRATIONS = Path(__file__).resolve().parent / "migrations"


async def prepare(settings: IntakeSettings) -> None:
    """Apply the schema's migrations and create the case topic (both idempotent)."""
    await migrate(settings.dsn, settings.schema, MIGRATIONS)
    spec = CASE_INTAKE if settings.case_topic == CASE_INTAKE.name else TopicSpec(
        settings.case_topic, CASE_INTAKE.key, CASE_INTAKE.description, partitions=CASE_INTAKE.partitions, has_dlq=False)
    await ensure_topics(settings.kafka_bootstrap, [spec])


@dataclass
class Parts:
    app: FastAPI
    consumer: EventConsumer
    relay: OutboxRelay
    registrar: Registrar
    clients: ClientDirectory
    loops: list[Callable[[asyncio.Event], Awaitable[None]]]


def build(settings: IntakeSettings, pool: asyncpg.Pool, clock: Clock | None = None) -> Parts:
    clock = clock or settings.make_clock()
    keyring = keyring_from_config(settings.pii_keys.get_secret_value() if settings.pii_keys else None, dev=settings.dev)
    registrar = Registrar(keyring=keyring, window=timedelta(days=settings.merge_window_days), case_topic=settings.case_topic)
    clients = ClientDirectory(pool, ttl=settings.client_cache_seconds)
    handlers = IngressHandlers(clients=clients, registrar=registrar, clock=clock)
    consumer = EventConsumer(
        service=SERVICE, group=settings.consumer_group, routes=[handlers.route(settings.ingress_pattern)], pool=pool,
        bootstrap=settings.kafka_bootstrap, batch_size=settings.consumer_batch_size, poll_ms=settings.consumer_poll_ms,
        crash_at=settings.crash_at if settings.dev else None,
    )
    relay = OutboxRelay(
        service=SERVICE, schema=settings.schema, dsn=settings.dsn, bootstrap=settings.kafka_bootstrap,
        batch_size=settings.relay_batch_size, poll_seconds=settings.relay_poll_seconds,
        crash_at=settings.crash_at if settings.dev else None,
    )

    async def database_reachable() -> bool:
        return await pool.fetchval("SELECT true") is True

    async def consumer_polling() -> bool:
        return consumer.ready and time.monotonic() - consumer.last_loop_at < 60

    deps = HttpDeps(
        pool=pool, clients=clients, registrar=registrar, clock=clock, batch_max_items=settings.batch_max_items,
        max_command_bytes=settings.max_command_bytes, max_batch_bytes=settings.max_batch_bytes,
        readiness=[database_reachable, consumer_polling],
    )
    app = build_app(deps)

    async def housekeeping(stop: asyncio.Event) -> None:
        """Forget idempotency keys after their time to live (checked every 10 minutes)."""
        while not await sleep_or_stop(stop, 600.0):
            try:
                removed = await prune_idempotency_keys(pool, settings.idempotency_ttl_hours * 3600)
                if removed:
                    log.info("pruned %d idempotency keys", removed)
            except Exception as exc:  # a failed prune waits for the next round
                log.warning("idempotency key pruning failed: %s", exc)

    return Parts(app, consumer, relay, registrar, clients, [consumer.run, relay.run, housekeeping])
