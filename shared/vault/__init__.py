"""The key store of persons' data keys (crypto-shredding, issue 12 §4; docs/privacy.md).

Intake seals each complainant's personal data with a data key of that person (`shared.pii.DataKey`)
and stores the key here wrapped by the service keyring, in the same transaction as the report. The
services that must open personal data — notify (the complainant's phone, to deliver), the console
(audited unmasking of what routing holds), ``shuangda pii export`` — read the wrapped keys here, a
batch at a time, and open through `shared.pii.Opener`. ``shuangda pii erase`` destroys the keys:
every copy (Kafka's segments, routing's ``cases.complainant``, notify's ``complainants`` and
``deliveries.address``, intake's tables and outbox) is unreadable from that moment on.

Like the identity store it is one schema of its own (``vault``, ``SHUANGDA_VAULT_SCHEMA``) with its
own migrations, not a table of some service's schema: intake may insert and erase, the openers may
only read (deploy/compose/postgres/init-roles.sh). Nothing is cached across calls, so an erasure
holds at once in every service.
"""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Iterable, Sequence

import asyncpg

from shared.db import check_schema, migrate
from shared.pii import DataKey, Keyring, Opener, Sealed, data_key_ids

SCHEMA = "vault"
MIGRATIONS = Path(__file__).resolve().parent / "migrations"

__all__ = ["MIGRATIONS", "SCHEMA", "erase", "opener", "prepare", "store"]


async def prepare(dsn: str, schema: str = SCHEMA) -> list[str]:
    """Apply the key store's migrations (idempotent; intake's `prepare` calls it)."""
    return await migrate(dsn, schema, MIGRATIONS, runtime=False)


async def store(conn: asyncpg.Connection, keys: Sequence[tuple[str, Sealed]], *, schema: str = SCHEMA) -> None:
    """Insert wrapped data keys (one statement), in the caller's transaction."""
    if not keys:
        return
    check_schema(schema)
    await conn.execute(
        f"INSERT INTO {schema}.person_keys (key_id, wrapped) SELECT * FROM unnest($1::text[], $2::jsonb[])",
        [k for k, _ in keys], [w.model_dump_json() for _, w in keys])


async def opener(conn: asyncpg.Connection | asyncpg.Pool, keyring: Keyring, values: Iterable[object], *,
                 schema: str = SCHEMA) -> Opener:
    """An `Opener` for `values` (sealed values, their JSON dicts, or structures holding them): their data
    keys read in one query; values sealed under the service key need none."""
    ids = sorted(data_key_ids(list(values)))
    wrapped: dict[str, Sealed | None] = {}
    if ids:
        check_schema(schema)
        for r in await conn.fetch(f"SELECT key_id, wrapped FROM {schema}.person_keys WHERE key_id = ANY($1::text[])", ids):
            w = r["wrapped"]
            wrapped[r["key_id"]] = None if w is None else Sealed.model_validate(json.loads(w) if isinstance(w, str) else w)
    return Opener(keyring, wrapped)


async def erase(conn: asyncpg.Connection, key_ids: Iterable[str], *, at: dt.datetime, why: str,
                schema: str = SCHEMA) -> int:
    """Destroy data keys (one statement, in the caller's transaction); returns how many were destroyed now."""
    ids = sorted(set(key_ids))
    if not ids:
        return 0
    check_schema(schema)
    return int(await conn.fetchval(
        f"WITH done AS (UPDATE {schema}.person_keys SET wrapped = NULL, erased_at = $2, erased_why = $3"
        " WHERE key_id = ANY($1::text[]) AND wrapped IS NOT NULL RETURNING 1) SELECT count(*) FROM done",
        ids, at, why))
