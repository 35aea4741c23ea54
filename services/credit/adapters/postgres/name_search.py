"""The name search's tables (migrations 0005, 0006): one row per indexed name (its `slot`) with
the parts scoring compares, the postings (bigram, slot) of its core, the number of names holding
each bigram, and where the refresh got to. Every write is a multi-row statement (a refresh chunk costs a constant
number of round trips); a query costs one (`candidates`, with the bigram counts a process keeps from `gram_counts`)."""
from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Sequence

import asyncpg

from services.credit.domain.names import NameParts, grams
from services.credit.domain.search import IndexedName, QueryPlan

_COLUMNS = ["entity_id", "seq", "version", "credit_code", "registered", "name", "name_kind", "normalised", "core",
            "prefixes", "bracket_region", "suffix"]


async def lock_refresh(conn: asyncpg.Connection) -> None:
    """Serialise refreshes (of every instance) for the rest of this transaction."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext(current_schema() || '.name_search'))")


async def state(conn: asyncpg.Connection) -> asyncpg.Record:
    """(horizon, entities, grams_version) of the name search."""
    return await conn.fetchrow("SELECT horizon, entities, grams_version FROM name_search_state")


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
    """Replace the rows of `entity_ids` by `rows` (each entity's at `versions[entity_id]`) with their
    postings, and keep the bigram counts and the number of indexed entities in step, in at most
    six statements."""
    removed = await conn.fetch(
        "DELETE FROM name_search WHERE entity_id = ANY($1::text[]) RETURNING entity_id, slot, core", list(entity_ids))
    delta: Counter[str] = Counter()
    gone_grams: list[str] = []
    gone_slots: list[int] = []
    for r in removed:
        for g in grams(r["core"]):
            gone_grams.append(g)
            gone_slots.append(r["slot"])
            delta[g] -= 1
    if gone_grams:
        await conn.execute(
            "DELETE FROM name_search_postings p USING unnest($1::text[], $2::int[]) AS d(gram, slot)"
            " WHERE p.gram = d.gram AND p.slot = d.slot", gone_grams, gone_slots)
    seqs: Counter[str] = Counter()
    columns: list[list[object]] = [[] for _ in _COLUMNS]
    for n in rows:
        seq = seqs[n.entity_id]
        seqs[n.entity_id] += 1
        p = n.parts
        for column, value in zip(columns, (n.entity_id, seq, versions[n.entity_id], n.credit_code, n.registered, n.name,
                                           n.name_kind, p.normalised, p.core, _text_array(p.prefixes), p.bracket_region,
                                           p.suffix)):
            column.append(value)
    if rows:
        slots = await conn.fetch(
            f"""
            INSERT INTO name_search ({", ".join(_COLUMNS)})
            SELECT r.entity_id, r.seq, r.version, r.credit_code, r.registered, r.name, r.name_kind, r.normalised, r.core,
                   r.prefixes::text[], r.bracket_region, r.suffix
            FROM unnest($1::text[], $2::smallint[], $3::int[], $4::text[], $5::text[], $6::text[], $7::text[],
                                 $8::text[], $9::text[], $10::text[], $11::text[], $12::text[])
                 AS r(entity_id, seq, version, credit_code, registered, name, name_kind, normalised, core, prefixes,
                      bracket_region, suffix)
            RETURNING slot, core
            """,
            *columns,
        )
        postings = [(g, r["slot"]) for r in slots for g in grams(r["core"])]
        delta.update(g for g, _ in postings)
        await conn.copy_records_to_table("name_search_postings", records=postings, columns=["gram", "slot"])
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
    if entities_delta or changed:
        # a new grams_version: every process reloads its copy of the counts (`gram_counts`)
        await conn.execute("UPDATE name_search_state SET entities = entities + $1, grams_version = grams_version + 1",
                           entities_delta)


def _text_array(items: Sequence[str]) -> str:
    """A text[] literal (one element of a text[] parameter standing for an array of arrays)."""
    return "{" + ",".join('"' + i.replace("\\", "\\\\").replace('"', '\\"') + '"' for i in items) + "}"


async def vacuum(conn: asyncpg.Connection) -> None:
    """After a large refresh (outside a transaction): vacuum and analyse the tables it wrote."""
    await conn.execute("VACUUM (ANALYZE) name_search_postings, name_search, name_search_grams")


async def gram_counts(conn: asyncpg.Connection) -> tuple[int, int, dict[str, int]]:
    """(grams_version, indexed entities, names holding each bigram) as of one snapshot."""
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        version, entities = await conn.fetchrow("SELECT grams_version, entities FROM name_search_state")
        rows = await conn.fetch("SELECT gram, names FROM name_search_grams WHERE names > 0")
    return version, entities, {r["gram"]: r["names"] for r in rows}


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
    with the most rare bigrams plus common bigrams their core holds (ties in slot order). The
    postings are read by index-only scans: no row is visited but the `keep` returned."""
    rows = await conn.fetch(
        """
        WITH pool AS (
            SELECT slot, count(*) AS hits FROM name_search_postings WHERE gram = ANY($1::text[])
            GROUP BY slot ORDER BY hits DESC, slot LIMIT $3
        ), kept AS (
            SELECT p.slot, p.hits + (SELECT count(*) FROM name_search_postings c
                                     WHERE c.gram = ANY($2::text[]) AND c.slot = p.slot) AS hits
            FROM pool p ORDER BY 2 DESC, 1 LIMIT $4
        )
        SELECT s.entity_id, s.credit_code, s.registered, s.name, s.name_kind, s.normalised, s.core, s.prefixes,
               s.bracket_region, s.suffix
        FROM kept k JOIN name_search s USING (slot)
        ORDER BY k.hits DESC, k.slot
        """,
        list(plan.rare), list(plan.common), plan.pool, plan.keep,
    )
    return [
        IndexedName(r["entity_id"], r["credit_code"], r["registered"], r["name"], r["name_kind"],
                    NameParts(r["name"], r["normalised"], r["core"], tuple(r["prefixes"]), r["bracket_region"], r["suffix"]))
        for r in rows
    ]
