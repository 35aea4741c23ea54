"""Published inspection results (migration 0008): the batch's upsert and the feed's page."""
from __future__ import annotations

import datetime as dt
from typing import Sequence

import asyncpg

from services.credit.domain.inspections import PublishedInspection


async def upsert(conn: asyncpg.Connection, rows: Sequence[tuple[PublishedInspection, str]]) -> int:
    """(result, event id) rows in one statement; a row older than the one kept is ignored (a
    correction published later wins, a stale re-publication does not). Returns the rows written."""
    if not rows:
        return 0
    status = await conn.execute(
        "INSERT INTO inspection_results (plan_id, credit_code, bureau, party_kind, name, result, published_at, event_id)"
        " SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],"
        " $7::timestamptz[], $8::text[])"
        " ON CONFLICT (plan_id, credit_code) DO UPDATE SET bureau = excluded.bureau, party_kind = excluded.party_kind,"
        " name = excluded.name, result = excluded.result, published_at = excluded.published_at, event_id = excluded.event_id"
        " WHERE inspection_results.published_at <= excluded.published_at",
        [r.plan_id for r, _ in rows], [r.credit_code for r, _ in rows], [r.bureau for r, _ in rows],
        [r.party_kind for r, _ in rows], [r.name for r, _ in rows], [r.result for r, _ in rows],
        [r.published_at for r, _ in rows], [e for _, e in rows])
    return int(status.rsplit(" ", 1)[-1])


async def feed(conn: asyncpg.Connection, after: tuple[dt.datetime, str] | None, limit: int) -> list[asyncpg.Record]:
    """Published results, oldest first; the cursor's id is ``plan_id:credit_code``."""
    plan, _, code = (after[1] if after else "").partition(":")
    return await conn.fetch(
        "SELECT plan_id, credit_code, bureau, party_kind, name, result, published_at FROM inspection_results"
        " WHERE $1::timestamptz IS NULL OR (published_at, plan_id, credit_code) > ($1, $2, $3)"
        " ORDER BY published_at, plan_id, credit_code LIMIT $4",
        after[0] if after else None, plan, code, limit)
