"""The registry's registrations (migration 0009): read a batch's codes, write its changes."""
from __future__ import annotations

import datetime as dt
from typing import Sequence

import asyncpg

from services.credit.domain.registry import Registration


async def registrations(conn: asyncpg.Connection, codes: Sequence[str]) -> dict[str, Registration]:
    rows = await conn.fetch(
        "SELECT credit_code, kind, name, county, categories, status, registered_by, version FROM registrations"
        " WHERE credit_code = ANY($1::text[]) ORDER BY credit_code FOR UPDATE", list(codes))
    return {r["credit_code"]: Registration(r["credit_code"], r["kind"], r["name"], r["county"], tuple(r["categories"]),
                                           r["status"], r["registered_by"], r["version"]) for r in rows}


async def save(conn: asyncpg.Connection, changed: Sequence[Registration], at: dt.datetime) -> None:
    if not changed:
        return
    await conn.execute(
        "INSERT INTO registrations (credit_code, kind, name, county, categories, status, registered_by, version, changed_at)"
        " SELECT c, k, n, co, string_to_array(ca, ' '), s, b, v, $9"
        " FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::int[])"
        "   AS u(c, k, n, co, ca, s, b, v)"
        " ON CONFLICT (credit_code) DO UPDATE SET kind = excluded.kind, name = excluded.name, county = excluded.county,"
        " categories = excluded.categories, status = excluded.status, registered_by = excluded.registered_by,"
        " version = excluded.version, changed_at = excluded.changed_at",
        [r.credit_code for r in changed], [r.kind for r in changed], [r.name for r in changed],
        [r.county for r in changed], [" ".join(r.categories) for r in changed], [r.status for r in changed],
        [r.registered_by for r in changed], [r.version for r in changed], at)
