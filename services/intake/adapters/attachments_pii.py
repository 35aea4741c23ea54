"""The reporter's files and survey comments in personal-information requests (`shuangda pii`,
issue 12 §4 with issue 15 §4): an access request returns them opened, an erasure (a request or the
retention rule) removes them.

Evidence files are personal data (a photo shows a place, a receipt a name): ``export`` gives each
file's record and its bytes (base64), and each survey answer with its comment opened (a comment is
sealed under the complainant's own data key, so it opens through the key store, ``[erased]`` once
the key is destroyed). ``erase_rows`` deletes the files' rows and the sealed survey comments in the
caller's transaction — the same one that removes the report's personal data and destroys its data
keys — with an audit entry per report; the caller then deletes the blobs no other report uses with
``delete_blobs``, after the commit, so a rollback never leaves a row naming a deleted blob. The
score stays: it is the assessment's figure, not personal data."""
from __future__ import annotations

import base64
import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any, Sequence

import asyncpg

from services.intake.adapters import postgres_attachments as sql
from shared.blobstore import BlobStore
from shared import audit, vault
from shared.contracts.cases import Sealed
from shared.pii import Keyring, PiiError


async def export(conn: asyncpg.Connection, keyring: Keyring, store: BlobStore, report_ids: Sequence[str], *,
                 vault_schema: str = vault.SCHEMA) -> dict[str, Any]:
    files = []
    for row in await sql.of_reports(conn, report_ids):
        data = await store.get(row.sha256)
        files.append({"report_id": row.report_id, "attachment_id": row.attachment_id, "content_type": row.content_type,
                      "sha256": row.sha256, "size_bytes": row.size_bytes, "uploaded_at": row.uploaded_at.isoformat(),
                      "content_base64": base64.b64encode(data).decode("ascii") if data is not None else None})
    rows = await conn.fetch("SELECT report_id, score, resolved, reopen_requested, comment_sealed, answered_at "
                            "FROM surveys WHERE report_id = ANY($1::text[])", list(report_ids))
    sealed = {r["report_id"]: json.loads(r["comment_sealed"]) for r in rows if r["comment_sealed"]}
    opener = await vault.opener(conn, keyring, list(sealed.values()), schema=vault_schema)  # one read of the key store
    surveys = []
    for r in rows:
        comment = None
        if r["report_id"] in sealed:
            try:
                comment = opener.reveal(Sealed.model_validate(sealed[r["report_id"]]), field="survey_comment")
            except PiiError as exc:
                comment = f"<cannot open: {exc}>"
        surveys.append({"report_id": r["report_id"], "score": r["score"], "resolved": r["resolved"],
                        "reopen_requested": r["reopen_requested"], "comment": comment,
                        "answered_at": r["answered_at"].isoformat()})
    return {"attachments": files, "surveys": surveys}


@dataclass
class FilesErased:
    """What `erase_rows` removed; `orphans` are the blobs to delete after the commit."""

    files: int = 0
    survey_comments: int = 0
    orphans: list[str] = field(default_factory=list)

    def add(self, other: "FilesErased") -> None:
        self.files += other.files
        self.survey_comments += other.survey_comments
        self.orphans += other.orphans


async def erase_rows(conn: asyncpg.Connection, report_ids: Sequence[str], *, why: str, at: dt.datetime,
                     actor: str) -> FilesErased:
    """Delete the reports' file rows and survey comments, in the caller's transaction (four statements
    and the audit's three, whatever the number of reports)."""
    ids = list(report_ids)
    await audit.lock(conn)  # the chain first, then rows (shared.audit.lock), as every writer of intake's log
    counted = await conn.fetch("SELECT report_id, count(*) AS n FROM attachments WHERE report_id = ANY($1::text[]) "
                               "GROUP BY report_id", ids)
    orphans = await sql.erase_of_reports(conn, ids)
    comments = await conn.fetch("UPDATE surveys SET comment_sealed = NULL WHERE report_id = ANY($1::text[]) "
                                "AND comment_sealed IS NOT NULL RETURNING report_id", ids)
    files = {r["report_id"]: int(r["n"]) for r in counted}
    commented = {c["report_id"] for c in comments}
    touched = sorted(set(files) | commented)
    if touched:
        await audit.append_many(conn, [audit.Pending("pii.files-erased", rid, {
            "why": why, "files": files.get(rid, 0), "survey_comment": rid in commented},
            actor=actor, at=at) for rid in touched])
    return FilesErased(sum(files.values()), len(commented), orphans)


async def delete_blobs(store: BlobStore, digests: Sequence[str]) -> int:
    """After the commit of `erase_rows`: the blobs it found no other report uses."""
    deleted = 0
    for digest in sorted(set(digests)):
        deleted += await store.delete(digest)
    return deleted


async def erase(conn: asyncpg.Connection, store: BlobStore, report_ids: Sequence[str], *, why: str, at: dt.datetime,
                actor: str) -> dict[str, int]:
    """`erase_rows` in a transaction of its own, then `delete_blobs`."""
    async with conn.transaction():
        done = await erase_rows(conn, report_ids, why=why, at=at, actor=actor)
    return summary(done, await delete_blobs(store, done.orphans))


def summary(done: FilesErased, blobs_deleted: int) -> dict[str, int]:
    return {"files_erased": done.files, "blobs_deleted": blobs_deleted, "survey_comments_erased": done.survey_comments}
