"""Listing proceedings (the Order 44 steps before a listing takes effect) and each routed case's
referral state (from referral.lifecycle)."""
from __future__ import annotations

import datetime as dt
from typing import Any, Sequence

import asyncpg

from services.credit.adapters.postgres import _decoded, _json_text

OPEN = ("review", "weighing", "to_notify", "statement_period", "approval")


async def proceedings_of(conn: asyncpg.Connection, entity_ids: Sequence[str]) -> list[asyncpg.Record]:
    """Every proceeding of the entities (a decision batch's read)."""
    return await conn.fetch(
        "SELECT entity_id, proceeding_id, rule_id, state, opened_at, triggering FROM listing_proceedings"
        " WHERE entity_id = ANY($1::text[]) ORDER BY opened_at, proceeding_id",
        list(entity_ids),
    )


async def proceeding_by_id(conn: asyncpg.Connection, proceeding_id: str, *, lock: bool = False) -> dict[str, Any] | None:
    row = await conn.fetchrow(
        "SELECT p.*, e.credit_code, e.name FROM listing_proceedings p JOIN entities e USING (entity_id)"
        " WHERE p.proceeding_id = $1" + (" FOR UPDATE OF p" if lock else ""), proceeding_id)
    return _decoded(row, "steps")


async def proceedings_of_entity(conn: asyncpg.Connection, entity_id: str) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        "SELECT p.*, e.credit_code, e.name FROM listing_proceedings p JOIN entities e USING (entity_id)"
        " WHERE p.entity_id = $1 ORDER BY p.opened_at, p.proceeding_id", entity_id)
    return [_decoded(r, "steps") for r in rows]  # type: ignore[misc]


async def entity_id_by_code(conn: asyncpg.Connection, code: str) -> str | None:
    return await conn.fetchval("SELECT entity_id FROM entities WHERE credit_code = $1", code)


async def advance(conn: asyncpg.Connection, proceeding_id: str, values: dict[str, Any], step: dict[str, Any]) -> None:
    """Set `values` (columns of listing_proceedings) and append `step` to the proceeding's steps."""
    cols = sorted(values)
    sets = ", ".join(f"{c} = ${i + 3}" for i, c in enumerate(cols))
    await conn.execute(
        f"UPDATE listing_proceedings SET {sets}{', ' if sets else ''}steps = steps || $2::jsonb,"
        " changed_at = clock_timestamp(), version = version + 1 WHERE proceeding_id = $1",
        proceeding_id, _json_text([step]), *(values[c] for c in cols),
    )


async def withdraw_many(conn: asyncpg.Connection, rows: Sequence[tuple[str, dt.datetime, dict[str, Any]]]) -> None:
    """(proceeding_id, when, step): open proceedings whose trigger was revoked end `withdrawn`."""
    if rows:
        await conn.execute(
            "UPDATE listing_proceedings p SET state = 'withdrawn', closed_at = u.at,"
            " steps = p.steps || jsonb_build_array(u.step::jsonb), changed_at = clock_timestamp(), version = p.version + 1"
            " FROM unnest($1::text[], $2::timestamptz[], $3::text[]) AS u(id, at, step)"
            " WHERE p.proceeding_id = u.id AND p.state = ANY($4::text[])",
            [r[0] for r in rows], [r[1] for r in rows], [_json_text(r[2]) for r in rows], list(OPEN),
        )


async def referral_states(conn: asyncpg.Connection, case_ids: Sequence[str]) -> dict[str, str]:
    if not case_ids:
        return {}
    rows = await conn.fetch("SELECT case_id, state FROM case_referrals WHERE case_id = ANY($1::text[])", list(case_ids))
    return {r["case_id"]: r["state"] for r in rows}


async def upsert_referral_states(conn: asyncpg.Connection, rows: Sequence[tuple[str, str, str, str, dt.datetime]]) -> None:
    """(case_id, referral_id, state, agency, at), in the batch's order: the latest step of each case wins
    (an older step arriving late does not overwrite a newer one)."""
    if rows:
        await conn.execute(
            "INSERT INTO case_referrals AS c (case_id, referral_id, state, agency, at)"
            " SELECT DISTINCT ON (u.case_id) u.case_id, u.referral_id, u.state, u.agency, u.at"
            " FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[]) WITH ORDINALITY"
            "   AS u(case_id, referral_id, state, agency, at, n)"
            " ORDER BY u.case_id, u.at DESC, u.n DESC"
            " ON CONFLICT (case_id) DO UPDATE SET referral_id = excluded.referral_id, state = excluded.state,"
            "   agency = excluded.agency, at = excluded.at, changed_at = clock_timestamp()"
            " WHERE c.at <= excluded.at",
            *(list(col) for col in zip(*rows)),
        )


async def gauge_figures(conn: asyncpg.Connection, now: dt.datetime) -> dict[str, Any]:
    """Open proceedings by rule and state, and those whose statement period is over with no decision yet."""
    rows = await conn.fetch(
        "SELECT rule_id, state, count(*) AS n FROM listing_proceedings WHERE state = ANY($1::text[]) GROUP BY 1, 2",
        list(OPEN))
    waiting = await conn.fetchval(
        "SELECT count(*) FROM listing_proceedings WHERE state = 'statement_period' AND statement_due_at < $1", now)
    return {"open": [(r["rule_id"], r["state"], r["n"]) for r in rows], "awaiting_decision": waiting}
