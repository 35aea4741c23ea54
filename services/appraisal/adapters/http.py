"""Appraisal's HTTP API. Callers authenticate through the one identity store: a bureau requests
and withdraws (``cases:act``) and acts for its bureau; a provider — the appraisal centre or a
rights holder's identification service, kind ``appraisal`` — answers, receives samples and
reports (``appraisals:report``) for itself. Writes take an Idempotency-Key; refusals are problem
documents naming the field and the reason (403 when the caller is not the party the rule names,
409 otherwise)."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Awaitable, Callable, Literal

import asyncpg
from fastapi import APIRouter, Depends, FastAPI, Header, Request, Response
from pydantic import Field

from shared import deadline_watch as watch
from shared.http import ProblemError, create_app
from shared.identity.http import Authenticator
from shared.identity.model import Principal
from shared.openapi import install_problem_schema
from shared.refusals import CaseId, LotId, StrictIn, command_responses, write_command
from shared.runtime.uow import UnitOfWork
from shared.text import Ident, SaneDate, Text
from shared.workdays import SHANGHAI

from services.appraisal.adapters import postgres as db
from services.appraisal.app.appraisals import Actor, Appraisals
from services.appraisal.domain.appraisals import Appraisal, Report

SERVICE = "appraisal"
TITLE = "Shuangda appraisal: rapid appraisal of a case's goods (快速维权鉴定)"
AppraisalId = Ident(r"apr_[0-9a-f]{20}", max_len=24, what="appraisal id")
PrincipalId = Ident(r"[a-z0-9][a-z0-9_@.-]{1,99}", max_len=100, what="principal id")

RESPONSES = command_responses("No such appraisal, or not one the caller may see")


class RequestAppraisal(StrictIn):
    case_id: CaseId  # type: ignore[valid-type]
    kind: Literal["authenticity", "quality", "value"]
    provider: PrincipalId  # type: ignore[valid-type]
    subject: Text(500)  # type: ignore[valid-type]
    lot_id: LotId | None = None  # type: ignore[valid-type]
    wanted_by: SaneDate | None = None


class Reason(StrictIn):
    reason: Text(500)  # type: ignore[valid-type]


class SamplesReceived(StrictIn):
    lot_id: LotId | None = None  # type: ignore[valid-type]


class ReportIn(StrictIn):
    doc_no: Text(100)  # type: ignore[valid-type]
    title: Text(200, required=False) | None = None  # type: ignore[valid-type]
    uri: Text(2048, required=False) | None = None  # type: ignore[valid-type]
    sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")


class ResultIn(StrictIn):
    verdict: Literal["genuine", "counterfeit", "conforming", "substandard", "undetermined"] | None = None
    valuation: Decimal | None = Field(default=None, ge=0, max_digits=14, decimal_places=2)
    report: ReportIn
    summary: Text(2000, required=False) = ""  # type: ignore[valid-type]


def actor_of(p: Principal) -> Actor:
    return Actor(party=p.bureau or p.principal_id, person=p.principal_id, is_office=p.kind == "office")


def view(a: Appraisal) -> dict[str, Any]:
    r = a.result
    return {
        "appraisal_id": a.appraisal_id, "case_id": a.case_id, "bureau": a.bureau, "kind": a.kind,
        "provider": a.provider, "provider_kind": a.provider_kind, "subject": a.subject, "lot_id": a.lot_id,
        "wanted_by": a.wanted_by.isoformat() if a.wanted_by else None, "state": a.state,
        "requested_at": a.requested_at.isoformat(),
        "accepted_at": a.accepted_at.isoformat() if a.accepted_at else None,
        "samples_at": a.samples_at.isoformat() if a.samples_at else None,
        "closed_at": a.closed_at.isoformat() if a.closed_at else None, "reason": a.reason,
        "result": None if r is None else {
            "verdict": r.verdict, "valuation": None if r.valuation is None else str(r.valuation),
            "evidential_weight": r.evidential_weight, "summary": r.summary,
            "report": {"doc_no": r.report.doc_no, "title": r.report.title, "uri": r.report.uri, "sha256": r.report.sha256},
            "reported_at": r.reported_at.isoformat()},
    }



def may_see(p: Principal, a: Appraisal) -> bool:
    return p.can("cases:read-all") or (p.bureau or p.principal_id) in {a.bureau, a.provider}


def build_app(*, pool: asyncpg.Pool, appraisals: Appraisals, auth: Authenticator, body_limit: int,
              readiness: list[Callable[[], Awaitable[bool]]]) -> FastAPI:
    app = create_app(SERVICE, title=TITLE, readiness=readiness, body_limit=body_limit,
                     description="A bureau requests an appraisal of a case's goods from the appraisal centre or a "
                                 "rights holder's identification service; the provider answers, receives the samples "
                                 "and reports the result, within deadlines; the office reads the turnaround.")
    api = APIRouter(prefix="/v1", responses=RESPONSES)
    reader = auth.require("cases:read")
    bureau_dep, provider_dep, office = auth.require("cases:act"), auth.require("appraisals:report"), auth.require("cases:read-all")
    Key = Header(default=None, alias="Idempotency-Key")

    async def write(request: Request, caller: Principal, key: str | None, status: int,
                    work: Callable[[UnitOfWork, Actor], Awaitable[Appraisal]]) -> Response:
        actor = actor_of(caller)

        async def run(uow: UnitOfWork, a: Actor) -> dict[str, Any]:
            return view(await work(uow, a))

        return await write_command(pool, request, service=SERVICE, caller_id=caller.principal_id, actor=actor,
                                   party=actor.party, key=key, status=status, work=run)

    @api.post("/appraisals", status_code=201, summary="Request an appraisal of a case's goods")
    async def request_appraisal(request: Request, body: RequestAppraisal, caller: Principal = Depends(bureau_dep),
                                idempotency_key: str | None = Key) -> Response:
        if caller.kind not in ("bureau", "office"):
            raise ProblemError(403, "Forbidden", "a bureau requests appraisals",
                               errors=[{"field": "caller", "reason": "not_a_bureau", "detail": "a bureau requests appraisals"}])
        await appraisals.provider_topic(body.provider)  # outside the transaction: the topic the copy goes to
        return await write(request, caller, idempotency_key, 201, lambda uow, a: appraisals.request(
            uow, a, case_id=body.case_id, kind=body.kind, provider=body.provider, subject=body.subject,
            lot_id=body.lot_id, wanted_by=body.wanted_by))

    @api.get("/appraisals/{appraisal_id}", summary="An appraisal with its deadlines")
    async def read(appraisal_id: AppraisalId, caller: Principal = Depends(reader)) -> dict[str, Any]:  # type: ignore[valid-type]
        async with pool.acquire() as conn:
            a = await db.read(conn, appraisal_id)
            deadlines = await watch.deadlines_of(conn, [appraisal_id]) if a is not None else []
        if a is None or not may_see(caller, a):
            raise ProblemError(404, "Not found", f"no appraisal {appraisal_id} the caller may see")
        return view(a) | {"deadlines": [watch.deadline_view(d) for d in deadlines]}

    @api.get("/appraisals", summary="The appraisals of a case the caller may see")
    async def of_case(case_id: CaseId, caller: Principal = Depends(reader)) -> dict[str, Any]:  # type: ignore[valid-type]
        found = await db.of_case(pool, case_id)
        return {"case_id": case_id, "appraisals": [view(a) for a in found if may_see(caller, a)]}

    @api.post("/appraisals/{appraisal_id}:accept", summary="The provider accepts the request")
    async def accept(request: Request, appraisal_id: AppraisalId, caller: Principal = Depends(provider_dep),  # type: ignore[valid-type]
                     idempotency_key: str | None = Key) -> Response:
        return await write(request, caller, idempotency_key, 200, lambda uow, a: appraisals.accept(uow, a, appraisal_id))

    @api.post("/appraisals/{appraisal_id}:samples-received", summary="The provider has the samples")
    async def samples(request: Request, appraisal_id: AppraisalId, body: SamplesReceived,  # type: ignore[valid-type]
                      caller: Principal = Depends(provider_dep), idempotency_key: str | None = Key) -> Response:
        return await write(request, caller, idempotency_key, 200,
                           lambda uow, a: appraisals.samples_received(uow, a, appraisal_id, lot_id=body.lot_id))

    @api.post("/appraisals/{appraisal_id}/result", summary="The provider reports the result")
    async def result(request: Request, appraisal_id: AppraisalId, body: ResultIn,  # type: ignore[valid-type]
                     caller: Principal = Depends(provider_dep), idempotency_key: str | None = Key) -> Response:
        doc = Report(body.report.doc_no, body.report.title, body.report.uri, body.report.sha256)
        return await write(request, caller, idempotency_key, 200, lambda uow, a: appraisals.report(
            uow, a, appraisal_id, verdict=body.verdict, valuation=body.valuation, report_doc=doc, summary=body.summary))

    @api.post("/appraisals/{appraisal_id}:refuse", summary="The provider refuses, with its reason")
    async def refuse(request: Request, appraisal_id: AppraisalId, body: Reason,  # type: ignore[valid-type]
                     caller: Principal = Depends(provider_dep), idempotency_key: str | None = Key) -> Response:
        return await write(request, caller, idempotency_key, 200,
                           lambda uow, a: appraisals.refuse(uow, a, appraisal_id, reason=body.reason))

    @api.post("/appraisals/{appraisal_id}:withdraw", summary="The requesting bureau withdraws its request")
    async def withdraw(request: Request, appraisal_id: AppraisalId, body: Reason,  # type: ignore[valid-type]
                       caller: Principal = Depends(bureau_dep), idempotency_key: str | None = Key) -> Response:
        return await write(request, caller, idempotency_key, 200,
                           lambda uow, a: appraisals.withdraw(uow, a, appraisal_id, reason=body.reason))

    @api.get("/reports/turnaround", summary="Per provider kind and appraisal kind: requests, results, hours, breaches")
    async def turnaround(since: SaneDate, until: SaneDate, caller: Principal = Depends(office)) -> dict[str, Any]:
        start = dt.datetime.combine(since, dt.time(), SHANGHAI)
        end = dt.datetime.combine(until, dt.time(), SHANGHAI) + dt.timedelta(days=1)
        return {"since": since.isoformat(), "until": until.isoformat(), "rows": await db.turnaround(pool, start, end)}

    app.include_router(api)
    install_problem_schema(app)
    return app


def openapi_document() -> dict[str, Any]:
    """The OpenAPI document, built without any connection (for docs/openapi/appraisal.json)."""
    from shared.clock import WallClock
    from shared.workdays import default_calendar

    async def nobody(_principal_id: str) -> None:
        return None

    appraisals = Appraisals(clock=WallClock(), topic="appraisal", calendar=default_calendar(), principal=nobody)  # type: ignore[arg-type]
    return build_app(pool=None, appraisals=appraisals, auth=Authenticator(None), body_limit=64 * 1024,  # type: ignore[arg-type]
                     readiness=[]).openapi()
