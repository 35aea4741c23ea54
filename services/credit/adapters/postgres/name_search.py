"""The name search's tables (migration 0005): one row per indexed name with the parts scoring
compares and its core bigrams under a GIN index, the number of names holding each bigram, and
where the refresh got to. Every write is a multi-row statement (a refresh chunk costs a constant
number of round trips); a query costs two."""
from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Sequence

import asyncpg

from services.credit.domain.names import NameParts
from services.credit.domain.search import IndexedName, QueryPlan

_COLUMNS = ["entity_id", "seq", "version", "credit_code", "registered", "name", "name_kind", "normalised", "core",
            "prefixes", "bracket_region", "suffix", "grams"]


async def lock_refresh(conn: asyncpg.Connection) -> None:
    """Serialise refreshes (of every instance) for the rest of this transaction."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext(current_schema() || '.name_search'))")


async def state(conn: asyncpg.Connection) -> asyncpg.Record:
    """(horizon, entities) of the name search."""
    return await conn.fetchrow("SELECT horizon, entities FROM name_search_state")


async def set_horizon(conn: asyncpg.Connection, horizon: dt.datetime) -> None:
    await conn.execute("UPDATE name_search_state SET horizon = greatest(horizon, $1)", horizon)


async def stale_entities(conn: asyncpg.Connection, since: dt.datetime | None, after: str, limit: int) -> list[asyncpg.Record]:
    """Up to `limit` entities after `after` (in id order) changed at or after `since` (all when None)
    whose rows are missing or of another version, with all their names; natural persons, who
    are not searched by name, are included with no names so that any rows they have go."""
    return await conn.fetch(
        """
        SELECT e.entity_id, e.credit_code, e.kind, e.version,
               CASE WHEN e.kind = 'natural_person' THEN '{}'::text[]
                    ELSE (SELECT array_agg(n.name ORDER BY n.id) FROM entity_names n WHERE n.entity_id = e.entity_id) END AS names,
               CASE WHEN e.kind = 'natural_person' THEN '{}'::text[]
                    ELSE (SELECT array_agg(n.name_kind ORDER BY n.id) FROM entity_names n WHERE n.entity_id = e.entity_id) END AS kinds
        FROM entities e
        WHERE ($1::timestamptz IS NULL OR e.changed_at >= $1) AND e.entity_id > $2
          AND NOT EXISTS (SELECT 1 FROM name_search s WHERE s.entity_id = e.entity_id AND s.seq = 0 AND s.version = e.version)
          AND (e.kind <> 'natural_person' OR EXISTS (SELECT 1 FROM name_search s WHERE s.entity_id = e.entity_id))
        ORDER BY e.entity_id LIMIT $3
        """,
        since, after, limit,
    )


async def replace(conn: asyncpg.Connection, entity_ids: Sequence[str], versions: dict[str, int],
                  rows: Sequence[IndexedName]) -> None:
    """Replace the rows of `entity_ids` by `rows` (each entity's at `versions[entity_id]`) and keep
    the bigram counts and the number of indexed entities in step, in four statements."""
    removed = await conn.fetch(
        "DELETE FROM name_search WHERE entity_id = ANY($1::text[]) RETURNING entity_id, grams", list(entity_ids))
    delta: Counter[str] = Counter()
    for r in removed:
        delta.subtract(r["grams"])
    seqs: Counter[str] = Counter()
    records = []
    for n in rows:
        seq = seqs[n.entity_id]
        seqs[n.entity_id] += 1
        gs = sorted(n.grams)
        delta.update(gs)
        p = n.parts
        records.append((n.entity_id, seq, versions[n.entity_id], n.credit_code, n.registered, n.name, n.name_kind,
                        p.normalised, p.core, list(p.prefixes), p.bracket_region, p.suffix, gs))
    if records:
        await conn.copy_records_to_table("name_search", records=records, columns=_COLUMNS)
    changed = sorted(g for g, d in delta.items() if d)
    if changed:
        # in bigram order, so two refreshes could never deadlock (they are serialised anyway)
        await conn.execute(
            """
            INSERT INTO name_search_grams (gram, names) SELECT * FROM unnest($1::text[], $2::int[]) ORDER BY 1
            ON CONFLICT (gram) DO UPDATE SET names = name_search_grams.names + EXCLUDED.names
            """,
            changed, [delta[g] for g in changed],
        )
    entities_delta = len(seqs) - len({r["entity_id"] for r in removed})
    if entities_delta:
        await conn.execute("UPDATE name_search_state SET entities = entities + $1", entities_delta)


async def postings(conn: asyncpg.Connection, grams: Sequence[str]) -> tuple[dict[str, int], int]:
    """(how many names hold each of `grams`, how many entities are indexed), in one round trip."""
    rows = await conn.fetch(
        """
        SELECT g.gram, g.names, s.entities FROM name_search_state s
        LEFT JOIN name_search_grams g ON g.gram = ANY($1::text[]) AND g.names > 0
        """,
        list(grams),
    )
    return {r["gram"]: r["names"] for r in rows if r["gram"] is not None}, (rows[0]["entities"] if rows else 0)


async def candidates(conn: asyncpg.Connection, plan: QueryPlan) -> list[IndexedName]:
    """The `plan.pool` names holding the most of the plan's rare bigrams; of those, the `plan.keep`
    with the most rare bigrams plus common bigrams their core contains (ties in id order)."""
    rows = await conn.fetch(
        """
        WITH pool AS (
            SELECT s.entity_id, s.seq, s.core, (SELECT count(*) FROM unnest(s.grams) g WHERE g = ANY($1::text[])) AS hits
            FROM name_search s WHERE s.grams && $1::text[]
            ORDER BY hits DESC, s.entity_id, s.seq LIMIT $3
        ), kept AS (
            SELECT p.entity_id, p.seq,
                   p.hits + (SELECT count(*) FROM unnest($2::text[]) c WHERE strpos(p.core, c) > 0) AS hits
            FROM pool p ORDER BY 3 DESC, 1, 2 LIMIT $4
        )
        SELECT s.entity_id, s.credit_code, s.registered, s.name, s.name_kind, s.normalised, s.core, s.prefixes,
               s.bracket_region, s.suffix
        FROM kept k JOIN name_search s USING (entity_id, seq)
        ORDER BY k.hits DESC, k.entity_id, k.seq
        """,
        list(plan.rare), list(plan.common), plan.pool, plan.keep,
    )
    return [
        IndexedName(r["entity_id"], r["credit_code"], r["registered"], r["name"], r["name_kind"],
                    NameParts(r["name"], r["normalised"], r["core"], tuple(r["prefixes"]), r["bracket_region"], r["suffix"]))
        for r in rows
    ]
