"""Everything a fresh database and broker need before services start.

``migrate_all`` runs the identity store's migrations, then each service's own
``wiring.prepare(settings)`` (its schema with the runtime tables and its
migrations, and the topics it owns with their DLQ twins), then
``shared.identity.store.import_legacy_keys`` so keys issued by the former
per-service stores keep working, and registers the principals of services that submit to
intake on Kafka (:data:`KAFKA_SUBMITTERS`: ``inspection``, kind platform, ``leads:write``, no API
key) so intake accepts their leads on every profile and in compose without a manual
``shuangda keys create``. Operator-declared ingress/egress topics
(``SHUANGDA_KAFKA_INGRESS_CLIENTS`` / ``SHUANGDA_KAFKA_EGRESS_BUREAUS``) are
created too. Idempotent; `shuangda migrate` and `shuangda up` call it — a
service never migrates on start."""
from __future__ import annotations

import asyncio
import importlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deploy.launcher.settings import SERVICE_NAMES, repo_root
from shared.config import StackSettings
from shared.topics import TopicSpec, egress, ensure_topics, ingress



#: services that publish on an ``ingress.<service>`` topic of their own, and so need a principal in the
#: identity store for intake to accept what they send: service -> (kind, scopes)
KAFKA_SUBMITTERS: dict[str, tuple[str, tuple[str, ...]]] = {"inspection": ("platform", ("leads:write",))}


@dataclass(frozen=True)
class MigrationReport:
    applied: dict[str, list[str]]
    topics_created: list[str]
    legacy_keys_imported: dict[str, int] | None = None
    #: service principals this run registered (KAFKA_SUBMITTERS)
    principals_registered: tuple[str, ...] = ()


def service_migrations(service: str) -> Path:
    return repo_root() / "services" / service / "migrations"


def _dev() -> bool:
    """The launcher's stack is a development one unless SHUANGDA_DEV says otherwise (as its services)."""
    return os.environ.get("SHUANGDA_DEV", "true").strip().lower() in ("1", "true", "yes")


def service_settings(service: str, dsn: str, bootstrap: str) -> Any:
    """The service's own settings class (``services.<name>.settings.<Name>Settings``, environment
    included: schema, topic names, Kafka security, replication factor) pointed at this database and
    broker, for its ``wiring.prepare``.

    Built in dev mode only so that the secrets a running service needs and a migration never reads
    (PII keys, credit's person-hash key, the console's secret key) are not required of the migrate
    role; ``prepare`` reads the schema, the topic names and the Kafka connection, which dev mode
    does not change."""
    cls = getattr(importlib.import_module(f"services.{service}.settings"), f"{service.capitalize()}Settings")
    return cls(kafka_bootstrap=bootstrap, pg_dsn=dsn, dev=True)


def _listed(var: str) -> list[str]:
    return [x.strip() for x in os.environ.get(var, "").split(",") if x.strip()]


def declared_topics() -> list[TopicSpec]:
    """Ingress/egress topics the operator declared in the environment (the services own the rest)."""
    return [ingress(c) for c in _listed("SHUANGDA_KAFKA_INGRESS_CLIENTS")] + [
        egress(b) for b in _listed("SHUANGDA_KAFKA_EGRESS_BUREAUS")]


async def _versions(dsn: str, schema: str) -> set[str]:
    from shared.db import connect

    conn = await connect(dsn, schema)
    try:
        if not await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", f"{schema}.schema_migrations"):
            return set()
        return {r["version"] for r in await conn.fetch(f"SELECT version FROM {schema}.schema_migrations")}
    finally:
        await conn.close()


async def _topics(stack: StackSettings) -> set[str]:
    admin = stack.kafka.admin(client_id="shuangda-migrate")
    await admin.start()
    try:
        return set(await admin.list_topics())
    finally:
        await admin.close()


async def migrate_all(dsn: str, bootstrap: str, services: tuple[str, ...] = SERVICE_NAMES) -> MigrationReport:
    from shared.db import connect, migrate
    from shared.identity.store import MIGRATIONS as IDENTITY_MIGRATIONS
    from shared.identity.store import ensure_keyless_principal, import_legacy_keys

    stack = StackSettings(kafka_bootstrap=bootstrap, pg_dsn=dsn, dev=_dev())
    applied: dict[str, list[str]] = {}
    topics_before = await _topics(stack)
    # the identity store first: every service authenticates through it
    applied[stack.identity_schema] = await migrate(dsn, stack.identity_schema, IDENTITY_MIGRATIONS, runtime=False)
    prepared: dict[str, Any] = {}
    for service in services:
        settings = service_settings(service, dsn, bootstrap)
        before = await _versions(dsn, settings.schema)
        await importlib.import_module(f"services.{service}.wiring").prepare(settings)
        applied[service] = sorted((await _versions(dsn, settings.schema)) - before)
        prepared[service] = settings
    declared = declared_topics()
    if declared:
        await ensure_topics(stack.kafka, declared, replication_factor=stack.kafka_replication_factor)
    created = sorted((await _topics(stack)) - topics_before)
    legacy = {s: prepared[s].schema for s in ("intake", "routing", "credit") if s in prepared}
    conn = await connect(dsn, stack.identity_schema)
    try:
        imported = await import_legacy_keys(conn, legacy)
        registered = []
        for service, (kind, scopes) in KAFKA_SUBMITTERS.items():
            if service in services and await ensure_keyless_principal(
                    conn, service, kind, scopes, display_name=f"the {service} service (Kafka only)"):
                registered.append(service)
    finally:
        await conn.close()
    return MigrationReport(applied, created, imported, tuple(registered))


def run_migrations(dsn: str, bootstrap: str, services: tuple[str, ...] = SERVICE_NAMES) -> MigrationReport:
    """:func:`migrate_all`; on the launcher's secure profile Kafka is reached as the ``migrate``
    principal (:func:`deploy.launcher.settings.migrate_client_env`), not the super user."""
    from deploy.launcher.settings import migrate_client_env

    env = migrate_client_env()
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        return asyncio.run(migrate_all(dsn, env.get("SHUANGDA_KAFKA_BOOTSTRAP", bootstrap), services))
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
