"""Records (penalty decisions and criminal referrals): reading, ending, revoking, disclosing."""
from __future__ import annotations

import datetime as dt
from typing import Any, Sequence

import asyncpg

from services.credit.adapters.postgres import _decoded
from services.credit.domain.model import RecordFacts


async def record_by_id(conn: asyncpg.Connection, record_id: str, *, lock: bool = False) -> dict[str, Any] | None:
    return _decoded(await conn.fetchrow("SELECT * FROM records WHERE record_id = $1" + (" FOR UPDATE" if lock else ""),
                                        record_id), "party")


async def records_by_decision_nos(conn: asyncpg.Connection, decision_nos: Sequence[str]) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT * FROM records WHERE decision_no = ANY($1::text[]) ORDER BY decision_no FOR UPDATE", list(decision_nos)
    )


def facts(row: asyncpg.Record) -> RecordFacts:
    label = row["decision_no"].removeprefix("referral:")
    return RecordFacts(row["record_id"], row["kind"], row["category"], row["decided_on"], row["heavy"], row["intentional"],
                       row["status"], row["bureau"], label, row["conduct"])


async def entity_record_facts(conn: asyncpg.Connection, entity_id: str) -> list[RecordFacts]:
    rows = await conn.fetch(
        "SELECT record_id, kind, category, decided_on, heavy, intentional, status, bureau, decision_no, conduct"
        " FROM records WHERE entity_id = $1 ORDER BY decided_on, record_id",
        entity_id,
    )
    return [facts(r) for r in rows]


async def record_facts_of(conn: asyncpg.Connection, entity_ids: Sequence[str]) -> list[tuple[str, RecordFacts]]:
    rows = await conn.fetch(
        "SELECT entity_id, record_id, kind, category, decided_on, heavy, intentional, status, bureau, decision_no, conduct"
        " FROM records WHERE entity_id = ANY($1::text[]) ORDER BY decided_on, record_id",
        list(entity_ids),
    )
    return [(r["entity_id"], facts(r)) for r in rows]


async def end_record(conn: asyncpg.Connection, record_id: str, status: str, reason: str, now: dt.datetime) -> bool:
    """active → expired | repaired | revoked; False when it was no longer active."""
    done = await conn.fetchval(
        """
        UPDATE records SET status = $2, ended_at = $4, end_reason = $3, changed_at = clock_timestamp(), version = version + 1
        WHERE record_id = $1 AND status = 'active' RETURNING true
        """,
        record_id, status, reason, now,
    )
    return bool(done)


async def mark_disclosed(conn: asyncpg.Connection, record_id: str, now: dt.datetime) -> bool:
    done = await conn.fetchval(
        "UPDATE records SET disclosed_at = $2, changed_at = clock_timestamp(), version = version + 1"
        " WHERE record_id = $1 AND disclosed_at IS NULL AND status = 'active' RETURNING true",
        record_id, now,
    )
    return bool(done)


async def revoke_records(conn: asyncpg.Connection, rows: Sequence[tuple[str, dt.datetime, str]]) -> None:
    """(record_id, when, reason): the records are revoked."""
    if rows:
        await conn.execute(
            "UPDATE records r SET status = 'revoked', ended_at = u.at, end_reason = u.reason, changed_at = clock_timestamp(),"
            " version = r.version + 1 FROM unnest($1::text[], $2::timestamptz[], $3::text[]) AS u(id, at, reason)"
            " WHERE r.record_id = u.id",
            *(list(col) for col in zip(*rows)),
        )


async def due_for_disclosure(conn: asyncpg.Connection, limit: int) -> list[asyncpg.Record]:
    return await conn.fetch(
        """
        SELECT r.record_id, r.decision_no, r.entity_id, e.credit_code, r.disclosure_due_at, r.disclosure_due_on
        FROM records r JOIN entities e USING (entity_id)
        WHERE r.disclose AND r.disclosed_at IS NULL AND r.status = 'active'
        ORDER BY r.disclosure_due_at LIMIT $1 FOR UPDATE OF r SKIP LOCKED
        """,
        limit,
    )


async def due_for_expiry(conn: asyncpg.Connection, now: dt.datetime, limit: int) -> list[asyncpg.Record]:
    return await conn.fetch(
        """
        SELECT r.record_id, r.entity_id, e.credit_code, r.publicity_max_on, r.decision_no
        FROM records r JOIN entities e USING (entity_id)
        WHERE r.status = 'active' AND r.publicity_max_until < $1
        ORDER BY r.publicity_max_until LIMIT $2 FOR UPDATE OF r SKIP LOCKED
        """,
        now, limit,
    )
