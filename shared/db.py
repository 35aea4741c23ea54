"""Postgres access: connection pools bound to one service schema, and the
plain-SQL migration runner (runtime tables first, then the service's own).

A service touches only its own schema: every pooled connection has
``search_path`` set to it, and migrations run with the same search path.
"""
from __future__ import annotations

import hashlib
import logging
import re
from pathlib import Path
from typing import Any

import asyncpg

log = logging.getLogger(__name__)

RUNTIME_MIGRATIONS = Path(__file__).resolve().parent / "migrations"
_SCHEMA = re.compile(r"^[a-z][a-z0-9_]{0,62}$")

TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    ConnectionError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    asyncpg.SerializationError,
    asyncpg.DeadlockDetectedError,
)


def check_schema(schema: str) -> str:
    if not _SCHEMA.match(schema):
        raise ValueError(f"schema {schema!r}: lower-case letters, digits and '_' only")
    return schema


async def create_pool(dsn: str, schema: str, *, min_size: int = 1, max_size: int = 10, **kwargs: Any) -> asyncpg.Pool:
    check_schema(schema)
    pool = await asyncpg.create_pool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        server_settings={"search_path": schema, "application_name": f"shuangda-{schema}"},
        **kwargs,
    )
    assert pool is not None
    return pool


async def connect(dsn: str, schema: str) -> asyncpg.Connection:
    check_schema(schema)
    return await asyncpg.connect(dsn, server_settings={"search_path": schema, "application_name": f"shuangda-{schema}"})


def _migration_files(directory: Path, prefix: str) -> list[tuple[str, Path]]:
    if not directory.is_dir():
        return []
    return [(f"{prefix}/{p.name}", p) for p in sorted(directory.glob("*.sql"))]


async def migrate(dsn: str, schema: str, service_migrations: Path | None = None, *, runtime: bool = True) -> list[str]:
    """Apply pending migrations to `schema`; return the versions applied.

    Each file runs in its own transaction and is recorded in
    ``<schema>.schema_migrations`` with its checksum; a changed applied file is
    an error (write a new migration instead). `runtime`: also the effectively-once
    runtime's tables (inbox, outbox, dead letters), which every service schema has.
    """
    check_schema(schema)
    files = _migration_files(RUNTIME_MIGRATIONS, "runtime") if runtime else []
    if service_migrations is not None:
        files += _migration_files(service_migrations, schema)
    conn = await asyncpg.connect(dsn)
    applied_now: list[str] = []
    try:
        await conn.execute("SELECT pg_advisory_lock(hashtext($1))", f"migrate:{schema}")
        await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        await conn.execute(
            f"CREATE TABLE IF NOT EXISTS {schema}.schema_migrations ("
            " version text PRIMARY KEY, checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        done = {r["version"]: r["checksum"] for r in await conn.fetch(f"SELECT version, checksum FROM {schema}.schema_migrations")}
        for version, path in files:
            sql = path.read_text(encoding="utf-8")
            checksum = hashlib.sha256(sql.encode()).hexdigest()
            if version in done:
                if done[version] != checksum:
                    raise RuntimeError(f"migration {version} changed after it was applied to {schema}; add a new file instead")
                continue
            async with conn.transaction():
                await conn.execute(f"SET LOCAL search_path TO {schema}")
                await conn.execute(sql)
                await conn.execute(
                    f"INSERT INTO {schema}.schema_migrations (version, checksum) VALUES ($1, $2)", version, checksum
                )
            applied_now.append(version)
            log.info("migration applied", extra={"schema": schema, "version": version})
    finally:
        try:
            await conn.execute("SELECT pg_advisory_unlock(hashtext($1))", f"migrate:{schema}")
        finally:
            await conn.close()
    return applied_now
