"""What the queries, the public disclosure feed, the platform export and the gauges read."""
from __future__ import annotations

import datetime as dt
from typing import Any, Sequence

import asyncpg

from services.credit.adapters.postgres import _decoded


async def active_records(conn: asyncpg.Connection, entity_id: str) -> list[asyncpg.Record]:
    return await conn.fetch(
        """
        SELECT record_id, kind, decision_no, bureau, category, penalty_types, fine_amount, confiscated_amount, decided_on,
               heavy, heavy_rules, severity, disclosure_due_on, disclosed_at, publicity_min_on, publicity_max_on, case_id
        FROM records WHERE entity_id = $1 AND status = 'active' ORDER BY decided_on DESC, record_id
        """,
        entity_id,
    )


async def active_listings(conn: asyncpg.Connection, entity_id: str) -> list[asyncpg.Record]:
    return await conn.fetch(
        """
        SELECT listing_id, rule_id, rule_version, citation, reason, authority, listed_at, expires_on, early_removal,
               early_removal_on, measures
        FROM listings WHERE entity_id = $1 AND status = 'listed' ORDER BY listed_at
        """,
        entity_id,
    )


async def status_by_codes(conn: asyncpg.Connection, codes: Sequence[str]) -> list[asyncpg.Record]:
    """One row per known code: the entity, its active listing rules and whether it has an active (heavy) record."""
    return await conn.fetch(
        """
        WITH e AS MATERIALIZED (SELECT e.entity_id, e.credit_code, e.name
                                FROM unnest($1::text[]) AS c(code) JOIN entities e ON e.credit_code = c.code),
        l AS (SELECT entity_id, array_agg(rule_id ORDER BY listed_at) AS rules, min(expires_on) AS until
              FROM listings WHERE status = 'listed' AND entity_id IN (SELECT entity_id FROM e) GROUP BY entity_id),
        r AS (SELECT entity_id, bool_or(heavy) AS heavy
              FROM records WHERE status = 'active' AND entity_id IN (SELECT entity_id FROM e) GROUP BY entity_id)
        SELECT e.credit_code, e.entity_id, e.name, coalesce(l.rules, '{}') AS listing_rules, l.until AS listed_until,
               r.entity_id IS NOT NULL AS has_records, coalesce(r.heavy, false) AS has_heavy
        FROM e LEFT JOIN l USING (entity_id) LEFT JOIN r USING (entity_id)
        """,
        list(codes),
    )


async def status_by_entity_ids(conn: asyncpg.Connection, entity_ids: Sequence[str]) -> dict[str, tuple[list[str], bool, bool]]:
    rows = await conn.fetch(
        """
        WITH l AS (SELECT entity_id, array_agg(rule_id) AS rules FROM listings
                   WHERE status = 'listed' AND entity_id = ANY($1::text[]) GROUP BY entity_id),
        r AS (SELECT entity_id, bool_or(heavy) AS heavy FROM records
              WHERE status = 'active' AND entity_id = ANY($1::text[]) GROUP BY entity_id)
        SELECT e AS entity_id, coalesce(l.rules, '{}') AS rules, r.entity_id IS NOT NULL AS has_records,
               coalesce(r.heavy, false) AS has_heavy
        FROM unnest($1::text[]) AS e LEFT JOIN l ON l.entity_id = e LEFT JOIN r ON r.entity_id = e
        """,
        list(entity_ids),
    )
    return {r["entity_id"]: (list(r["rules"]), r["has_records"], r["has_heavy"]) for r in rows}


async def feed_penalties(conn: asyncpg.Connection, after: tuple[dt.datetime, str] | None, limit: int) -> list[dict[str, Any]]:
    return [_decoded(r, "party") for r in await conn.fetch(
        """
        SELECT record_id, decision_no, party, violation, legal_basis, penalty_types, content, fine_amount, confiscated_amount,
               decided_on, bureau, publicity_max_on, disclosed_at
        FROM records
        WHERE disclosed_at IS NOT NULL AND status = 'active' AND kind = 'penalty'
          AND ($1::timestamptz IS NULL OR (disclosed_at, record_id) > ($1, $2))
        ORDER BY disclosed_at, record_id LIMIT $3
        """,
        after[0] if after else None, after[1] if after else "", limit,
    )]


async def feed_listings(conn: asyncpg.Connection, after: tuple[dt.datetime, str] | None, limit: int) -> list[asyncpg.Record]:
    return await conn.fetch(
        """
        SELECT l.listing_id, l.rule_id, l.reason, l.authority, l.listed_at, l.expires_on, e.name, e.credit_code, e.kind
        FROM listings l JOIN entities e USING (entity_id)
        WHERE l.status = 'listed' AND ($1::timestamptz IS NULL OR (l.listed_at, l.listing_id) > ($1, $2))
        ORDER BY l.listed_at, l.listing_id LIMIT $3
        """,
        after[0] if after else None, after[1] if after else "", limit,
    )


async def export_changes(conn: asyncpg.Connection, since: dt.datetime, limit: int) -> list[dict[str, Any]]:
    """Penalty records and listings changed at or after `since` (for the platform export)."""
    return [_decoded(r, "party") for r in await conn.fetch(
        """
        SELECT * FROM (
            SELECT 'penalty' AS item, r.record_id AS id, r.version, r.changed_at, r.status, r.end_reason AS status_reason,
                   r.disclosed_at IS NOT NULL AS published, r.decision_no, r.party, r.violation, r.legal_basis,
                   r.penalty_types, r.content, r.fine_amount, r.confiscated_amount, r.decided_on, r.bureau,
                   r.publicity_max_on, r.disclosed_at, NULL::text AS rule_id, NULL::text AS reason,
                   NULL::timestamptz AS listed_at, NULL::date AS expires_on
            FROM records r WHERE r.kind = 'penalty' AND r.disclosed_at IS NOT NULL AND r.changed_at >= $1
            UNION ALL
            SELECT 'listing', l.listing_id, l.version, l.changed_at, l.status, l.delist_reason,
                   true, NULL, jsonb_build_object('kind', e.kind, 'credit_code', e.credit_code, 'name', e.name),
                   NULL, NULL, NULL, NULL, NULL, NULL, NULL, l.authority, NULL, NULL, l.rule_id, l.reason, l.listed_at,
                   l.expires_on
            FROM listings l JOIN entities e USING (entity_id) WHERE l.changed_at >= $1
        ) x ORDER BY changed_at, id LIMIT $2
        """,
        since, limit,
    )]


async def gauge_figures(conn: asyncpg.Connection, now: dt.datetime) -> dict[str, Any]:
    records = await conn.fetch(
        "SELECT kind, severity, count(*) AS n FROM records WHERE status = 'active' GROUP BY kind, severity"
    )
    disclosures = await conn.fetchrow(
        """
        SELECT count(*) FILTER (WHERE disclosure_due_at >= $1) AS due,
               count(*) FILTER (WHERE disclosure_due_at < $1) AS overdue
        FROM records WHERE disclose AND disclosed_at IS NULL AND status = 'active'
        """,
        now,
    )
    listed = await conn.fetchval("SELECT count(DISTINCT entity_id) FROM listings WHERE status = 'listed'")
    listings = await conn.fetch("SELECT rule_id, count(*) AS n FROM listings WHERE status = 'listed' GROUP BY rule_id")
    applications = await conn.fetch("SELECT kind, status, count(*) AS n FROM applications GROUP BY kind, status")
    return {
        "records": [(r["kind"], r["severity"], r["n"]) for r in records],
        "disclosures_due": disclosures["due"],
        "disclosures_overdue": disclosures["overdue"],
        "blacklisted_entities": listed,
        "listings": [(r["rule_id"], r["n"]) for r in listings],
        "applications": [(r["kind"], r["status"], r["n"]) for r in applications],
    }


async def server_now(conn: asyncpg.Connection) -> dt.datetime:
    """The database's clock (the export's horizon is the database's, not this process's)."""
    return await conn.fetchval("SELECT clock_timestamp()")
