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


async def save_assignees(conn: asyncpg.Connection, rows: Sequence[tuple[str, str, int, dt.datetime]]) -> None:
    """(case id, bureau, assignment no, at), one statement; a lower assignment number never wins."""
    if not rows:
        return
    await conn.execute(
        "INSERT INTO case_assignees (case_id, bureau, assignment_no, assigned_at) "
        "SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::timestamptz[]) "
        "ON CONFLICT (case_id) DO UPDATE SET bureau = excluded.bureau, assignment_no = excluded.assignment_no, "
        "  assigned_at = excluded.assigned_at WHERE excluded.assignment_no > case_assignees.assignment_no",
        [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows], [r[3] for r in rows])
