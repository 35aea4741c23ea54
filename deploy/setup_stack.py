"""Everything a fresh database and broker need before services start:
each service's schema with the runtime tables and its own migrations, and
the internal topics with their DLQ twins. Idempotent; `shuangda migrate`
and `shuangda up` call it."""
from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

from deploy.launcher.settings import SERVICE_NAMES, repo_root
from shared.db import migrate
from shared.topics import INTERNAL, ensure_topics


@dataclass(frozen=True)
class MigrationReport:
    applied: dict[str, list[str]]
    topics_created: list[str]


def service_migrations(service: str) -> Path:
    return repo_root() / "services" / service / "migrations"


async def migrate_all(dsn: str, bootstrap: str, services: tuple[str, ...] = SERVICE_NAMES) -> MigrationReport:
    applied: dict[str, list[str]] = {}
    for service in services:
        applied[service] = await migrate(dsn, service, service_migrations(service))
    created = await ensure_topics(bootstrap, INTERNAL)
    return MigrationReport(applied, created)


def run_migrations(dsn: str, bootstrap: str, services: tuple[str, ...] = SERVICE_NAMES) -> MigrationReport:
    return asyncio.run(migrate_all(dsn, bootstrap, services))
