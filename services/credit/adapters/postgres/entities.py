"""The entity registry: entities (organisations, traders, persons) and their name history."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Sequence

import asyncpg


@dataclass
class EntityChange:
    """What a batch changed on one existing (or new) entity: a code taken, renames in order."""

    entity_id: str
    credit_code: str | None = None
    name: str | None = None
    name_key: str | None = None
    updated_at: dt.datetime | None = None
    bumps: int = 0


async def entities_matching(conn: asyncpg.Connection, *, codes: Sequence[str], person_hashes: Sequence[str],
                            name_keys: Sequence[str], entity_ids: Sequence[str]) -> list[asyncpg.Record]:
    """Every entity a batch may resolve a party to (by code, by person, codeless by name, by id),
    locked in entity-id order."""
    return await conn.fetch(
        """
        SELECT entity_id, credit_code, kind, name, name_key, person_hash, first_seen_at FROM entities
        WHERE credit_code = ANY($1::text[]) OR person_hash = ANY($2::text[])
           OR (credit_code IS NULL AND name_key = ANY($3::text[])) OR entity_id = ANY($4::text[])
        ORDER BY entity_id FOR UPDATE
        """,
        list(codes), list(person_hashes), list(name_keys), list(entity_ids),
    )


async def insert_entity_names(conn: asyncpg.Connection, rows: Sequence[tuple[str, str, str, dt.datetime, dt.datetime | None, str]]) -> None:
    """(entity_id, name, name_kind, valid_from, valid_to, source) rows, in order."""
    if rows:
        await conn.execute(
            "INSERT INTO entity_names (entity_id, name, name_kind, valid_from, valid_to, source)"
            " SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::timestamptz[], $6::text[])",
            *(list(col) for col in zip(*rows)),
        )


async def retire_registered_names(conn: asyncpg.Connection, retired: Sequence[tuple[str, dt.datetime]]) -> None:
    """The registered name of each (entity, when) becomes a former name from `when` (a rename)."""
    if retired:
        await conn.execute(
            "UPDATE entity_names n SET name_kind = 'former', valid_to = u.at FROM unnest($1::text[], $2::timestamptz[]) AS u(e, at)"
            " WHERE n.entity_id = u.e AND n.name_kind = 'registered'",
            [e for e, _ in retired], [at for _, at in retired],
        )


async def apply_entity_changes(conn: asyncpg.Connection, changes: Sequence[EntityChange]) -> None:
    if changes:
        await conn.execute(
            """
            UPDATE entities e SET credit_code = coalesce(u.code, e.credit_code), name = coalesce(u.name, e.name),
                   name_key = coalesce(u.name_key, e.name_key), updated_at = u.at, changed_at = clock_timestamp(),
                   version = e.version + u.bumps
            FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::int[]) AS u(id, code, name, name_key, at, bumps)
            WHERE e.entity_id = u.id
            """,
            [c.entity_id for c in changes], [c.credit_code for c in changes], [c.name for c in changes],
            [c.name_key for c in changes], [c.updated_at for c in changes], [c.bumps for c in changes],
        )


async def entity_by_key(conn: asyncpg.Connection, key: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT entity_id, credit_code, kind, name, first_seen_at, updated_at FROM entities WHERE credit_code = $1 OR entity_id = $1"
        " LIMIT 1",
        key,
    )


async def entity_names(conn: asyncpg.Connection, entity_id: str) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT name, name_kind, valid_from, valid_to FROM entity_names WHERE entity_id = $1 ORDER BY valid_from, id", entity_id
    )


async def change_horizon(conn: asyncpg.Connection) -> dt.datetime:
    """A time before which every row not yet visible was written: now, or the start of the
    oldest transaction still open (a row it writes gets a later `changed_at`)."""
    return await conn.fetchval(
        """
        SELECT least(clock_timestamp(), coalesce(min(xact_start), clock_timestamp()))
        FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND xact_start IS NOT NULL
        """
    )


async def changed_entity_versions(conn: asyncpg.Connection, since: dt.datetime | None) -> list[asyncpg.Record]:
    """(entity id, version, changed_at) of the entities changed at or after `since` (all when None)."""
    return await conn.fetch(
        "SELECT entity_id, version, changed_at FROM entities WHERE $1::timestamptz IS NULL OR changed_at >= $1",
        since,
    )


async def entities_with_names(conn: asyncpg.Connection, entity_ids: Sequence[str]) -> list[asyncpg.Record]:
    """The entities with all their names, for the name index."""
    return await conn.fetch(
        """
        SELECT e.entity_id, e.credit_code, e.kind, e.version,
               array_agg(n.name ORDER BY n.id) AS names, array_agg(n.name_kind ORDER BY n.id) AS kinds
        FROM entities e JOIN entity_names n USING (entity_id)
        WHERE e.entity_id = ANY($1::text[])
        GROUP BY e.entity_id
        """,
        list(entity_ids),
    )


async def person_of(conn: asyncpg.Connection, key: str) -> asyncpg.Record | None:
    """The entity's sealed person (name, resident id) for an audited unmasking; None if no such entity."""
    return await conn.fetchrow(
        "SELECT entity_id, credit_code, kind, name, person_sealed, person_masked FROM entities"
        " WHERE credit_code = $1 OR entity_id = $1 LIMIT 1", key)
