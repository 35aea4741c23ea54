"""Everything a fresh database and broker need before services start:
each service's schema with the runtime tables and its own migrations, and
the internal topics with their DLQ twins (plus any ingress/egress topics
named in ``SHUANGDA_KAFKA_INGRESS_CLIENTS`` / ``SHUANGDA_KAFKA_EGRESS_BUREAUS``).
Idempotent; `shuangda migrate` and `shuangda up` call it."""
from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from pathlib import Path

from deploy.launcher.settings import SERVICE_NAMES, repo_root
from shared.config import StackSettings
from shared.db import migrate
from shared.topics import INTERNAL, TopicSpec, egress, ensure_topics, ingress


@dataclass(frozen=True)
class MigrationReport:
    applied: dict[str, list[str]]
    topics_created: list[str]


def service_migrations(service: str) -> Path:
    return repo_root() / "services" / service / "migrations"


def _listed(var: str) -> list[str]:
    return [x.strip() for x in os.environ.get(var, "").split(",") if x.strip()]


def topics_to_create() -> list[TopicSpec]:
    specs = list(INTERNAL)
    specs += [ingress(c) for c in _listed("SHUANGDA_KAFKA_INGRESS_CLIENTS")]
    specs += [egress(b) for b in _listed("SHUANGDA_KAFKA_EGRESS_BUREAUS")]
    return specs


async def migrate_all(dsn: str, bootstrap: str, services: tuple[str, ...] = SERVICE_NAMES) -> MigrationReport:
    applied: dict[str, list[str]] = {}
    from shared.identity.store import MIGRATIONS as IDENTITY_MIGRATIONS, SCHEMA as IDENTITY_SCHEMA

    # the identity store first: every service authenticates through it
    applied[IDENTITY_SCHEMA] = await migrate(dsn, IDENTITY_SCHEMA, IDENTITY_MIGRATIONS, runtime=False)
    for service in services:
        applied[service] = await migrate(dsn, service, service_migrations(service))
    kafka = StackSettings(kafka_bootstrap=bootstrap, pg_dsn=dsn)
    created = await ensure_topics(
        bootstrap, topics_to_create(), replication_factor=kafka.kafka_replication_factor, **kafka.kafka_options()
    )
    return MigrationReport(applied, created)


def run_migrations(dsn: str, bootstrap: str, services: tuple[str, ...] = SERVICE_NAMES) -> MigrationReport:
    return asyncio.run(migrate_all(dsn, bootstrap, services))
