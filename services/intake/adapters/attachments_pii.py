"""The reporter's files and survey comments in personal-information requests (`shuangda pii`,
issue 12 §4 with issue 15 §4): an access request returns them opened, an erasure removes them.

Evidence files are personal data (a photo shows a place, a receipt a name): ``export`` gives each
file's record and its bytes (base64), and each survey answer with its comment opened; ``erase``
deletes the files' rows and the sealed survey comments in one transaction (an audit entry per
report), then the blobs no other report uses (after the commit, so a rollback never leaves a row
naming a deleted blob). The score stays: it is the assessment's figure, not personal data."""
from __future__ import annotations

import base64
import datetime as dt
import json
from typing import Any, Sequence

import asyncpg

from services.intake.adapters import postgres_attachments as sql
from services.intake.adapters.blobstore import BlobStore
from shared import audit
from shared.contracts.cases import Sealed
from shared.pii import Keyring, PiiError


async def export(conn: asyncpg.Connection, keyring: Keyring, store: BlobStore, report_ids: Sequence[str]) -> dict[str, Any]:
    files = []
    for row in await sql.of_reports(conn, report_ids):
        data = await store.get(row.sha256)
        files.append({"report_id": row.report_id, "attachment_id": row.attachment_id, "content_type": row.content_type,
                      "sha256": row.sha256, "size_bytes": row.size_bytes, "uploaded_at": row.uploaded_at.isoformat(),
                      "content_base64": base64.b64encode(data).decode("ascii") if data is not None else None})
    surveys = []
    for r in await conn.fetch("SELECT report_id, score, resolved, reopen_requested, comment_sealed, answered_at "
                              "FROM surveys WHERE report_id = ANY($1::text[])", list(report_ids)):
        comment = None
        if r["comment_sealed"]:
            try:
                comment = keyring.open(Sealed.model_validate(json.loads(r["comment_sealed"])), field="survey_comment")
            except PiiError as exc:
                comment = f"<cannot open: {exc}>"
        surveys.append({"report_id": r["report_id"], "score": r["score"], "resolved": r["resolved"],
                        "reopen_requested": r["reopen_requested"], "comment": comment,
                        "answered_at": r["answered_at"].isoformat()})
    return {"attachments": files, "surveys": surveys}


async def erase(conn: asyncpg.Connection, store: BlobStore, report_ids: Sequence[str], *, why: str, at: dt.datetime,
                actor: str) -> dict[str, int]:
    async with conn.transaction():
        counted = await conn.fetch("SELECT report_id, count(*) AS n FROM attachments WHERE report_id = ANY($1::text[]) "
                                   "GROUP BY report_id", list(report_ids))
        orphans = await sql.erase_of_reports(conn, report_ids)
        comments = await conn.fetch("UPDATE surveys SET comment_sealed = NULL WHERE report_id = ANY($1::text[]) "
                                    "AND comment_sealed IS NOT NULL RETURNING report_id", list(report_ids))
        touched = sorted({r["report_id"] for r in counted} | {r["report_id"] for r in comments})
        if touched:
            await audit.lock(conn)
            files = {r["report_id"]: int(r["n"]) for r in counted}
            await audit.append_many(conn, [audit.Pending("pii.files-erased", rid, {
                "why": why, "files": files.get(rid, 0), "survey_comment": rid in {c["report_id"] for c in comments}},
                actor=actor, at=at) for rid in touched])
    blobs = 0
    for digest in orphans:
        blobs += await store.delete(digest)
    return {"files_erased": sum(int(r["n"]) for r in counted), "blobs_deleted": blobs,
            "survey_comments_erased": len(comments)}
