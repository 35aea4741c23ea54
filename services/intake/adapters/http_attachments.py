"""Evidence attachments over HTTP (issue 15 §4).

- ``POST /v1/complaints/{tracking_no}/attachments`` (``complaints:write``): the body is the file
  itself (any ``Content-Type``: the type is sniffed from the bytes, `domain.attachments`). The
  client that filed the complaint adds files with the tracking number alone; any other client (the
  reporter coming back through another channel) also sends ``X-Reporter-Last4``, the last 4 digits
  of the phone the complaint was filed with — never in the URL. 201 with the file's record; the
  same content again → 200 with the first record.
- ``GET /v1/cases/{case_id}/attachments`` and ``…/{attachment_id}`` (``cases:read``): only for the
  bureau the case is assigned to now (routing's latest ``case.assigned``) and the office
  (``cases:read-all``); anyone else gets the same 404 as for no such case. Each file served is
  written to intake's hash-chained audit log (``attachment.read``: who, which file, never the bytes).

Every refusal is a problem document naming the ``file`` and the reason, counted in
``shuangda_intake_attachments_total{outcome="refused"}``.
"""
from __future__ import annotations

import datetime as dt
import hmac
import uuid
from typing import Any

from fastapi import APIRouter, Depends, Header, Path, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from services.intake.adapters import postgres_attachments as sql
from services.intake.adapters.http import AUTH_PROBLEMS, HttpDeps, problem_doc, require_scope, second_factor_checked
from shared.attachments import EXTENSIONS, HTTP_STATUS, Accepted, check
from shared.text import CASE_ID_PATTERN

#: a file id as this service issues it (a uuid4); a NUL, a space or any other byte Postgres or a log
#: would choke on is a 422 naming the parameter, never a query
ATTACHMENT_ID = r"^[0-9a-f-]{36}$"
from services.intake.domain.tracking import parse_tracking_no
from services.intake.metrics import ATTACHMENTS
from shared import audit
from shared.http import ProblemError, run_in_transaction
from shared.identity.model import Principal

TYPE = "https://shuangda.example/problems/attachment"
LAST4_HEADER = "X-Reporter-Last4"
_STATUS = HTTP_STATUS


class AttachmentOut(BaseModel):
    attachment_id: str
    case_id: str
    sha256: str = Field(description="of the bytes kept (after the metadata was stripped)")
    content_type: str = Field(description="as sniffed from the content")
    size_bytes: int
    removed: list[str] = Field(description="metadata stripped: exif, xmp, iptc, comment, text, time")
    uploaded_at: dt.datetime


def _out(row: sql.AttachmentRow) -> AttachmentOut:
    return AttachmentOut(attachment_id=row.attachment_id, case_id=row.case_id, sha256=row.sha256,
                         content_type=row.content_type, size_bytes=row.size_bytes, removed=list(row.removed),
                         uploaded_at=row.uploaded_at)


def refused(status: int, reason: str, detail: str) -> ProblemError:
    ATTACHMENTS.labels("refused", reason).inc()
    return ProblemError(status, "File refused", detail, type_=TYPE,
                        errors=[{"field": "file", "reason": reason, "detail": detail}])


def _last4_matches(complainant: Any, last4: str | None) -> bool:
    import json

    doc = json.loads(complainant) if isinstance(complainant, str) else complainant
    masked = (doc or {}).get("phone_masked")
    if not masked or not last4 or len(last4) != 4 or not last4.isdigit():
        return False
    return hmac.compare_digest(masked[-4:].encode(), last4.encode())


async def attach(uow: Any, deps: HttpDeps, report: Any, data: bytes, *, uploaded_by: str,
                 now: dt.datetime) -> tuple[bool, sql.AttachmentRow]:
    """Add `data` to `report` (a row of `sql.report_for_upload`) in the caller's unit of work: judged
    by its bytes and the limits (`domain.attachments.check`; a refusal raises `refused`), the sealed
    blob stored, the row inserted and counted once committed. True when it is new (not the same
    content again). An upload and Open311's ``media_url`` both come through here."""
    assert deps.blobs is not None
    decided = check(data, already=int(report["files"]), limits=deps.attachment_limits)
    if not isinstance(decided, Accepted):
        raise refused(_STATUS[decided.reason], decided.reason, decided.detail)
    await deps.blobs.put(decided.digest, decided.data)  # before the row: a row never names a missing blob
    new_id = str(uuid.uuid4())
    row = await sql.insert(uow.conn, sql.AttachmentRow(
        attachment_id=new_id, report_id=report["report_id"], case_id=report["case_id"],
        sha256=decided.digest, content_type=decided.content_type, size_bytes=len(decided.data),
        removed=decided.removed, uploaded_by=uploaded_by, uploaded_at=now))
    fresh = row.attachment_id == new_id
    outcome = "stored" if fresh else "duplicate"
    uow.after_commit(lambda: ATTACHMENTS.labels(outcome, decided.content_type).inc())
    return fresh, row


def attachments_router(deps: HttpDeps) -> APIRouter:
    router = APIRouter(tags=["attachments"])
    not_found = "no complaint with this tracking number (or the reporter check failed)"

    @router.post(
        "/v1/complaints/{tracking_no}/attachments", status_code=201, response_model=AttachmentOut,
        openapi_extra={"requestBody": {"required": True, "content": {
            "image/jpeg": {"schema": {"type": "string", "format": "binary"}},
            "image/png": {"schema": {"type": "string", "format": "binary"}},
            "application/pdf": {"schema": {"type": "string", "format": "binary"}}}}},
        responses={**AUTH_PROBLEMS, 200: {"model": AttachmentOut, "description": "the same content again: the first record"},
                   404: problem_doc(not_found), 409: problem_doc("the complaint has its maximum number of files"),
                   413: problem_doc("the file is too large"), 415: problem_doc("not a JPEG, PNG or PDF (by content)"),
                   429: problem_doc("too many failed checks of this tracking number or from this address")},
        summary="Add an evidence file (photo, receipt, screenshot) to a complaint",
    )
    async def upload(request: Request, tracking_no: str = Path(max_length=32),
                     client: Principal = Depends(require_scope(deps, "complaints:write")),
                     last4: str | None = Header(default=None, alias=LAST4_HEADER, max_length=8,
                                                description="the last 4 digits of the complaint's phone (another client)"),
                     ) -> Response:
        assert deps.pool is not None and deps.blobs is not None
        canonical = parse_tracking_no(tracking_no)
        data = await request.body()
        now = deps.clock.now()
        pool = deps.pool
        filed = await sql.report_for_upload(pool, canonical) if canonical else None
        if filed is None or filed["client_id"] != client.principal_id:  # another client: the reporter's digits

            async def reporter() -> bool:
                return filed is not None and _last4_matches(filed["complainant"], last4)

            if not await second_factor_checked(deps, request, canonical or tracking_no, reporter):
                raise refused(404, "not_found", not_found)

        async def work(uow: Any) -> tuple[int, sql.AttachmentRow]:
            conn = uow.conn
            report = await sql.report_for_upload(conn, canonical) if canonical else None
            if report is None or (report["client_id"] != client.principal_id
                                  and not _last4_matches(report["complainant"], last4)):
                raise refused(404, "not_found", not_found)
            fresh, row = await attach(uow, deps, report, data, uploaded_by=client.principal_id, now=now)
            return (201 if fresh else 200), row

        status, row = await run_in_transaction(deps.pool, work, source="/shuangda/intake", actor=client.principal_id)
        return Response(_out(row).model_dump_json(), status_code=status, media_type="application/json",
                        headers={"Location": f"/v1/cases/{row.case_id}/attachments/{row.attachment_id}"})

    async def viewable(caller: Principal, case_id: str) -> None:
        assert deps.pool is not None
        if caller.can("cases:read-all"):
            return
        bureau = await sql.assignee(deps.pool, case_id)
        if bureau is None or caller.bureau != bureau:
            raise refused(404, "not_found", f"no evidence files of case {case_id!r} for this caller")

    @router.get("/v1/cases/{case_id}/attachments", response_model=list[AttachmentOut],
                responses={**AUTH_PROBLEMS, 404: problem_doc("no such case, or not the caller's")},
                summary="The evidence files of a case (its assigned bureau and the office only)")
    async def listing(case_id: str = Path(pattern=CASE_ID_PATTERN, max_length=64),
                      caller: Principal = Depends(require_scope(deps, "cases:read"))) -> list[AttachmentOut]:
        await viewable(caller, case_id)
        assert deps.pool is not None
        return [_out(r) for r in await sql.of_case(deps.pool, case_id)]

    @router.get("/v1/cases/{case_id}/attachments/{attachment_id}",
                responses={**AUTH_PROBLEMS, 200: {"content": {t: {} for t in EXTENSIONS}},
                           404: problem_doc("no such file, or not the caller's")},
                summary="One evidence file (its assigned bureau and the office only; each read is audited)")
    async def download(case_id: str = Path(pattern=CASE_ID_PATTERN, max_length=64),
                       attachment_id: str = Path(pattern=ATTACHMENT_ID, max_length=36),
                       caller: Principal = Depends(require_scope(deps, "cases:read"))) -> Response:
        await viewable(caller, case_id)
        assert deps.pool is not None and deps.blobs is not None
        rows = {r.attachment_id: r for r in await sql.of_case(deps.pool, case_id)}
        row = rows.get(attachment_id)
        data = await deps.blobs.get(row.sha256) if row is not None else None
        if row is None or data is None:
            raise refused(404, "not_found", f"no evidence file {attachment_id!r} of case {case_id!r}")
        async with deps.pool.acquire() as conn, conn.transaction():
            await audit.append(conn, "attachment.read", case_id, {"attachment_id": attachment_id, "sha256": row.sha256},
                               actor=caller.principal_id, at=deps.clock.now())
        ATTACHMENTS.labels("read", row.content_type).inc()
        return Response(data, media_type=row.content_type, headers={
            "Content-Disposition": f'attachment; filename="{attachment_id}.{EXTENSIONS[row.content_type]}"',
            "X-Content-Type-Options": "nosniff", "Cache-Control": "private, no-store"})

    return router
