"""SQL for personal-information requests and retention (`shuangda pii`, issue 12 §4): find a
complainant's reports, erase their personal data (the sealed complainant and the sealed original
description) while the case, figures and masked summary stay, and record each step in the audit log."""
from __future__ import annotations

import datetime as dt
import json
from typing import Any, AsyncIterator, Sequence

import asyncpg

from shared import audit
from shared.contracts.cases import CaseComplainantCorrected, Sealed
from shared.runtime.uow import UnitOfWork
from shared.topics import lane

_COLUMNS = """report_id, case_id, tracking_no, origin, channel, category, county, summary, complainant,
              description_sealed, received_at, pii_erased_at, pii_erased_why"""


def _row(r: asyncpg.Record) -> dict[str, Any]:
    out = dict(r)
    for key in ("complainant", "description_sealed"):
        if isinstance(out.get(key), str):
            out[key] = json.loads(out[key])
    return out


async def by_tracking_no(conn: asyncpg.Connection, tracking_no: str) -> list[dict[str, Any]]:
    return [_row(r) for r in await conn.fetch(f"SELECT {_COLUMNS} FROM reports WHERE tracking_no = $1", tracking_no)]


async def with_personal_data(conn: asyncpg.Connection, *, batch: int = 2000) -> AsyncIterator[list[dict[str, Any]]]:
    """Every report still holding a sealed complainant, a batch at a time (report id order)."""
    after = ""
    while True:
        rows = await conn.fetch(
            f"SELECT {_COLUMNS} FROM reports WHERE complainant IS NOT NULL AND report_id > $1 ORDER BY report_id LIMIT $2",
            after, batch)
        if not rows:
            return
        yield [_row(r) for r in rows]
        after = rows[-1]["report_id"]


async def retention_candidates(conn: asyncpg.Connection, received_before: dt.datetime, *,
                               chunk: int = 1000) -> AsyncIterator[list[dict[str, Any]]]:
    """Reports received before the instant that still hold personal data, a chunk at a time by keyset on
    (received_at, report_id): memory stays one chunk whatever the table's size, and a caller may erase
    each chunk before reading the next (erased rows drop out of the filter, the keyset moves past them)."""
    after: tuple[dt.datetime, str] | None = None
    while True:
        if after is None:
            rows = await conn.fetch(
                f"SELECT {_COLUMNS} FROM reports WHERE received_at < $1"
                " AND (complainant IS NOT NULL OR description_sealed IS NOT NULL)"
                " ORDER BY received_at, report_id LIMIT $2", received_before, chunk)
        else:
            rows = await conn.fetch(
                f"SELECT {_COLUMNS} FROM reports WHERE received_at < $1"
                " AND (complainant IS NOT NULL OR description_sealed IS NOT NULL)"
                " AND (received_at, report_id) > ($3, $4)"
                " ORDER BY received_at, report_id LIMIT $2", received_before, chunk, after[0], after[1])
        if not rows:
            return
        yield [_row(r) for r in rows]
        after = (rows[-1]["received_at"], rows[-1]["report_id"])


async def erase(conn: asyncpg.Connection, report_ids: Sequence[str], *, why: str, at: dt.datetime, actor: str,
                kind: str, facts: dict[str, Any]) -> int:
    """Remove the personal data of `report_ids` and append one audit entry per report (in one transaction)."""
    async with conn.transaction():
        await audit.lock(conn)
        done = await conn.fetch(
            """UPDATE reports SET complainant = NULL, description_sealed = NULL, pii_erased_at = $2, pii_erased_why = $3
               WHERE report_id = ANY($1::text[]) RETURNING report_id, case_id, tracking_no""",
            list(report_ids), at, why)
        await audit.append_many(conn, [audit.Pending(kind, r["report_id"], {
            "case_id": r["case_id"], "tracking_no": r["tracking_no"], "why": why, **facts}, actor=actor, at=at)
            for r in done])
    return len(done)


async def correct(conn: asyncpg.Connection, complainants: dict[str, dict[str, Any]], *, field: str, why: str,
                  at: dt.datetime, actor: str, facts: dict[str, Any], case_topic: str) -> int:
    """Replace the sealed complainant of each report (`complainants`: report id → the complainant with the
    corrected field sealed again) and append one ``pii.corrected`` audit entry per report — the field and
    the reason, never the value — in one transaction of five round trips, whatever the number. A corrected
    phone is announced (``case.complainant-corrected``, sealed, on the case's own lane of `case_topic`) in the
    same transaction, so notify's next texts — and those not yet sent — go to the corrected number."""
    ids = sorted(complainants)
    async with conn.transaction():
        await audit.lock(conn)
        done = await conn.fetch(
            """UPDATE reports r SET complainant = u.complainant
               FROM unnest($1::text[], $2::jsonb[]) AS u(report_id, complainant)
               WHERE r.report_id = u.report_id AND r.complainant IS NOT NULL
               RETURNING r.report_id, r.case_id, r.tracking_no,
                         (SELECT c.priority_lane FROM cases c WHERE c.case_id = r.case_id) AS priority_lane""",
            ids, [json.dumps(complainants[i]) for i in ids])
        if field == "phone":
            uow = UnitOfWork(conn, source="intake", actor=actor)
            for r in sorted(done, key=lambda r: r["report_id"]):
                if r["tracking_no"] and r["case_id"]:
                    c = complainants[r["report_id"]]
                    uow.emit(lane(case_topic, priority=bool(r["priority_lane"])), CaseComplainantCorrected(
                        case_id=r["case_id"], tracking_no=r["tracking_no"], phone=Sealed.model_validate(c["phone"]),
                        phone_masked=c["phone_masked"], corrected_at=at), key=r["case_id"], subject=r["case_id"],
                        correlationid=r["case_id"], time=at)
            await uow.flush()
        await audit.append_many(conn, [audit.Pending("pii.corrected", r["report_id"], {
            "case_id": r["case_id"], "tracking_no": r["tracking_no"], "field": field, "why": why, **facts},
            actor=actor, at=at) for r in sorted(done, key=lambda r: r["report_id"])])
    return len(done)


async def record_access(conn: asyncpg.Connection, report_ids: Sequence[str], *, at: dt.datetime, actor: str,
                        facts: dict[str, Any]) -> None:
    """An export (access request) is audited too: who read which reports' personal data, and why."""
    async with conn.transaction():
        await audit.lock(conn)
        await audit.append_many(conn, [audit.Pending("pii.exported", rid, facts, actor=actor, at=at) for rid in report_ids])


async def audit_entries(conn: asyncpg.Connection, report_id: str) -> list[audit.AuditEntry]:
    return await audit.entries(conn, report_id)
