"""Repair and early-removal applications."""
from __future__ import annotations

import datetime as dt
from typing import Any

import asyncpg

from services.credit.adapters.postgres import _decoded, _json_text


async def insert_application(conn: asyncpg.Connection, values: dict[str, Any]) -> None:
    values = {k: _json_text(v) if k in ("applicant", "declaration") else v for k, v in values.items()}
    cols = list(values)
    await conn.execute(
        f"INSERT INTO applications ({', '.join(cols)}) VALUES ({', '.join(f'${i + 1}' for i in range(len(cols)))})",
        *values.values(),
    )


async def pending_application(conn: asyncpg.Connection, kind: str, target_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM applications WHERE kind = $1 AND target_id = $2 AND status = 'pending'", kind, target_id)


async def application_by_id(conn: asyncpg.Connection, application_id: str, *, lock: bool = False) -> dict[str, Any] | None:
    return _decoded(await conn.fetchrow(
        "SELECT * FROM applications WHERE application_id = $1" + (" FOR UPDATE" if lock else ""), application_id
    ), "applicant", "declaration")


async def decide_application(conn: asyncpg.Connection, application_id: str, status: str, by: str, reason: str,
                             now: dt.datetime) -> None:
    await conn.execute(
        "UPDATE applications SET status = $2, decided_at = $5, decided_by = $3, decision_reason = $4 WHERE application_id = $1",
        application_id, status, by, reason, now,
    )
