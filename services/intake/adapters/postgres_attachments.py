"""SQL for evidence attachments and the case assignees they are shown to (migration 0006)."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Sequence

import asyncpg


@dataclass(frozen=True)
class AttachmentRow:
    attachment_id: str
    report_id: str
    case_id: str
    sha256: str
    content_type: str
    size_bytes: int
    removed: tuple[str, ...]
    uploaded_by: str
    uploaded_at: dt.datetime


_COLUMNS = "attachment_id, report_id, case_id, sha256, content_type, size_bytes, removed, uploaded_by, uploaded_at"


def _row(r: Any) -> AttachmentRow:
    return AttachmentRow(**{**dict(r), "removed": tuple(r["removed"])})


async def report_for_upload(conn: asyncpg.Connection, tracking_no: str) -> Any:
    """The report of a tracking number, locked (uploads to one complaint serialise, so the count
    limit holds), with how many files it has."""
    return await conn.fetchrow(
        "SELECT r.report_id, r.case_id, r.client_id, r.complainant, "
        "       (SELECT count(*) FROM attachments a WHERE a.report_id = r.report_id) AS files "
        "FROM reports r WHERE r.tracking_no = $1 FOR UPDATE", tracking_no)


async def insert(conn: asyncpg.Connection, row: AttachmentRow) -> AttachmentRow:
    """Insert, or the row already kept for the same report and content (a re-upload)."""
    got = await conn.fetchrow(
        f"INSERT INTO attachments ({_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) "
        f"ON CONFLICT (report_id, sha256) DO NOTHING RETURNING {_COLUMNS}",
        row.attachment_id, row.report_id, row.case_id, row.sha256, row.content_type, row.size_bytes,
        list(row.removed), row.uploaded_by, row.uploaded_at)
    if got is None:
        got = await conn.fetchrow(f"SELECT {_COLUMNS} FROM attachments WHERE report_id = $1 AND sha256 = $2",
                                  row.report_id, row.sha256)
        return _row(got)
    return _row(got)


async def of_case(conn: asyncpg.Connection | asyncpg.Pool, case_id: str) -> list[AttachmentRow]:
    rows = await conn.fetch(f"SELECT {_COLUMNS} FROM attachments WHERE case_id = $1 ORDER BY uploaded_at, attachment_id",
                            case_id)
    return [_row(r) for r in rows]


async def of_reports(conn: asyncpg.Connection, report_ids: Sequence[str]) -> list[AttachmentRow]:
    """For ``shuangda pii export``: every file of these reports."""
    rows = await conn.fetch(f"SELECT {_COLUMNS} FROM attachments WHERE report_id = ANY($1::text[]) ORDER BY uploaded_at",
                            list(report_ids))
    return [_row(r) for r in rows]


async def erase_of_reports(conn: asyncpg.Connection, report_ids: Sequence[str]) -> list[str]:
    """For ``shuangda pii erase``: delete the rows; returns the digests no other report still uses
    (the caller deletes those blobs after the commit)."""
    rows = await conn.fetch("DELETE FROM attachments WHERE report_id = ANY($1::text[]) RETURNING sha256",
                            list(report_ids))
    digests = sorted({r["sha256"] for r in rows})
    still = {r["sha256"] for r in await conn.fetch(
        "SELECT DISTINCT sha256 FROM attachments WHERE sha256 = ANY($1::text[])", digests)}
    return [d for d in digests if d not in still]


async def assignee(conn: asyncpg.Connection | asyncpg.Pool, case_id: str) -> str | None:
    value = await conn.fetchval("SELECT bureau FROM case_assignees WHERE case_id = $1", case_id)
    return str(value) if value is not None else None


_PROGRESS = "case_id, bureau, assignment_no, assigned_at, closed_at, outcome"


async def progress_of(conn: asyncpg.Connection | asyncpg.Pool, case_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    rows = await conn.fetch(f"SELECT {_PROGRESS} FROM case_assignees WHERE case_id = ANY($1::text[])", list(case_ids))
    return {r["case_id"]: dict(r) for r in rows}


async def save_progress(conn: asyncpg.Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Each case's progress as folded from a batch of routing's events, one statement."""
    if not rows:
        return
    cols = ["case_id", "bureau", "assignment_no", "assigned_at", "closed_at", "outcome"]
    await conn.execute(
        f"INSERT INTO case_assignees ({_PROGRESS}) "
        "SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::timestamptz[], $5::timestamptz[], $6::text[]) "
        "ON CONFLICT (case_id) DO UPDATE SET bureau = excluded.bureau, assignment_no = excluded.assignment_no, "
        "  assigned_at = excluded.assigned_at, closed_at = excluded.closed_at, outcome = excluded.outcome",
        *[[r[c] for r in rows] for c in cols])


async def survey_target(conn: asyncpg.Connection, tracking_no: str) -> Any:
    """The report of a tracking number (locked: two answers at once are decided one after the other),
    its case's progress and lane, and whether it was answered."""
    return await conn.fetchrow(
        "SELECT r.report_id, r.case_id, r.complainant, p.closed_at, p.outcome, c.priority_lane, "
        "       EXISTS (SELECT 1 FROM surveys s WHERE s.report_id = r.report_id) AS answered "
        "FROM reports r JOIN cases c ON c.case_id = r.case_id LEFT JOIN case_assignees p ON p.case_id = r.case_id "
        "WHERE r.tracking_no = $1 FOR UPDATE OF r",
        tracking_no)


async def insert_survey(conn: asyncpg.Connection, row: dict[str, Any]) -> bool:
    cols = list(row)
    done = await conn.fetchval(
        f"INSERT INTO surveys ({', '.join(cols)}) VALUES ({', '.join(f'${i + 1}' for i in range(len(cols)))}) "
        "ON CONFLICT (report_id) DO NOTHING RETURNING true", *row.values())
    return bool(done)
