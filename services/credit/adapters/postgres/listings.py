"""The serious-violation list: listings, their triggering records, their ending."""
from __future__ import annotations

import datetime as dt
from typing import Sequence

import asyncpg

from services.credit.domain.model import ListingFacts


async def listings_of(conn: asyncpg.Connection, entity_ids: Sequence[str]) -> list[tuple[str, ListingFacts]]:
    rows = await conn.fetch(
        """
        SELECT l.entity_id, l.listing_id, l.rule_id, l.status, l.listed_at,
               coalesce(array_agg(t.record_id) FILTER (WHERE t.record_id IS NOT NULL), '{}') AS triggering
        FROM listings l LEFT JOIN listing_triggers t USING (listing_id)
        WHERE l.entity_id = ANY($1::text[]) GROUP BY l.listing_id ORDER BY l.listed_at, l.listing_id
        """,
        list(entity_ids),
    )
    return [(r["entity_id"], ListingFacts(r["listing_id"], r["rule_id"], r["status"], r["listed_at"], tuple(r["triggering"])))
            for r in rows]


async def listing_by_id(conn: asyncpg.Connection, listing_id: str, *, lock: bool = False) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM listings WHERE listing_id = $1" + (" FOR UPDATE" if lock else ""), listing_id)


async def delist(conn: asyncpg.Connection, listing_id: str, reason: str, now: dt.datetime, application_id: str | None = None) -> bool:
    done = await conn.fetchval(
        """
        UPDATE listings SET status = 'delisted', delisted_at = $3, delist_reason = $2, application_id = $4,
               changed_at = clock_timestamp(), version = version + 1
        WHERE listing_id = $1 AND status = 'listed' RETURNING true
        """,
        listing_id, reason, now, application_id,
    )
    return bool(done)


async def delist_many(conn: asyncpg.Connection, rows: Sequence[tuple[str, str, dt.datetime, str | None]]) -> None:
    """(listing_id, reason, when, application_id): listings already known to be listed end."""
    if rows:
        await conn.execute(
            "UPDATE listings l SET status = 'delisted', delisted_at = u.at, delist_reason = u.reason, application_id = u.app,"
            " changed_at = clock_timestamp(), version = l.version + 1"
            " FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::text[]) AS u(id, reason, at, app)"
            " WHERE l.listing_id = u.id AND l.status = 'listed'",
            *(list(col) for col in zip(*rows)),
        )


async def insert_listing_triggers(conn: asyncpg.Connection, rows: Sequence[tuple[str, str, str]]) -> None:
    """(listing_id, record_id, rule_id) rows."""
    if rows:
        await conn.execute(
            "INSERT INTO listing_triggers (listing_id, record_id, rule_id) SELECT * FROM unnest($1::text[], $2::text[], $3::text[])",
            *(list(col) for col in zip(*rows)),
        )


async def listings_due_to_end(conn: asyncpg.Connection, now: dt.datetime, limit: int) -> list[asyncpg.Record]:
    return await conn.fetch(
        """
        SELECT l.listing_id, l.entity_id, e.credit_code, l.rule_id
        FROM listings l JOIN entities e USING (entity_id)
        WHERE l.status = 'listed' AND l.expires_at < $1
        ORDER BY l.expires_at LIMIT $2 FOR UPDATE OF l SKIP LOCKED
        """,
        now, limit,
    )
