"""Custody's HTTP API. Callers authenticate through the one identity store; a bureau acts for its
bureau (``type@division``), an appraisal centre or other principal for itself. Writes take an
Idempotency-Key (shared/idempotency.py); refusals are problem documents naming the field and the
reason (403 when the caller is not the party the rule names, 409 otherwise)."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Awaitable, Callable, Literal

import asyncpg
from fastapi import APIRouter, Depends, FastAPI, Header, Request, Response
from pydantic import Field

from shared import deadline_watch as watch
from fastapi.responses import JSONResponse

from shared.attachments import HTTP_STATUS
from shared.http import ProblemError, create_app, problem_response, run_in_transaction
from shared.identity.http import Authenticator
from shared.identity.model import Principal
from shared.openapi import install_problem_schema
from shared.refusals import CaseId, LotId, NotFound, Refused, StrictIn, command_responses, write_command
from shared.runtime.uow import UnitOfWork
from shared.text import Ident, SaneDate, Text

from services.custody.adapters import postgres as db
from services.custody.app.lots import Actor, Custody
from services.custody.app.storage import StorageCosts
from services.custody.domain.lots import DestructionPlan, Item, Lot, StoredFile
from services.custody.metrics import FILES

SERVICE = "custody"
TITLE = "Shuangda custody: seized goods (公物仓), chain of custody, disposal"
PlanId = Ident(r"plan_[0-9a-f]{20}", max_len=25, what="plan id")
Party = Ident(r"[a-z0-9][a-z0-9_@.-]{1,99}", max_len=100, what="party")
Money = Field(ge=0, max_digits=14, decimal_places=2)

RESPONSES = command_responses("No such lot or plan, or not one the caller may see")


class ItemIn(StrictIn):
    description: Text(200)  # type: ignore[valid-type]
    quantity: Decimal = Field(gt=0, max_digits=14, decimal_places=3)
    unit: Text(16)  # type: ignore[valid-type]
    declared_value: Decimal = Money


class RegisterLot(StrictIn):
    case_id: CaseId  # type: ignore[valid-type]
    hazard: Literal["toxic_harmful", "perishable", "ordinary"]
    location: Text(200)  # type: ignore[valid-type]
    items: list[ItemIn] = Field(min_length=1, max_length=200)


class HandOver(StrictIn):
    to: Party  # type: ignore[valid-type]
    purpose: Literal["warehouse", "appraisal", "police", "return_to_bureau"]


class DecideOutcome(StrictIn):
    outcome: Literal["returned", "confiscated_auctioned", "destroyed"]
    document_no: Text(64)  # type: ignore[valid-type]
    decided_on: SaneDate


class Release(StrictIn):
    outcome: Literal["returned", "confiscated_auctioned"]


class ProposePlan(StrictIn):
    lot_ids: list[LotId] = Field(min_length=1, max_length=500)  # type: ignore[valid-type]
    scheduled_on: SaneDate
    facility: Text(200)  # type: ignore[valid-type]
    witnesses: list[Text(60)] = Field(min_length=1, max_length=20)  # type: ignore[valid-type]


Sha256 = Ident(r"[0-9a-f]{64}", max_len=64, what="sha256 hex digest")


class RecordDestruction(StrictIn):
    #: the SHA-256 of photos added to the plan (``POST /v1/destruction-plans/{id}/files?kind=photo``)
    photos: list[Sha256] = Field(min_length=1, max_length=50)  # type: ignore[valid-type]
    environmental_cost: Decimal = Money


def actor_of(p: Principal) -> Actor:
    return Actor(party=p.bureau or p.principal_id, person=p.principal_id, is_office=p.kind == "office")


def lot_view(lot: Lot) -> dict[str, Any]:
    return {
        "lot_id": lot.lot_id, "case_id": lot.case_id, "bureau": lot.bureau, "hazard": lot.hazard,
        "location": lot.location, "holder": lot.holder, "state": lot.state,
        "declared_value": str(lot.declared_value), "registered_at": lot.registered_at.isoformat(),
        "items": [{"description": i.description, "quantity": str(i.quantity), "unit": i.unit,
                   "declared_value": str(i.declared_value)} for i in lot.items],
        "chain": [{"seq": h.seq, "from": h.from_party, "to": h.to_party, "purpose": h.purpose,
                   "handed_at": h.handed_at.isoformat(), "handed_by": h.handed_by,
                   "received_at": h.received_at.isoformat() if h.received_at else None,
                   "received_by": h.received_by} for h in lot.handovers],
        "decision": None if lot.decision is None else {
            "outcome": lot.decision.outcome, "document_no": lot.decision.document_no,
            "decided_on": lot.decision.decided_on.isoformat()},
        "disposed": None if lot.disposed_outcome is None else {
            "outcome": lot.disposed_outcome, "at": lot.disposed_at.isoformat() if lot.disposed_at else None,
            "plan_id": lot.plan_id},
    }



def file_view(f: StoredFile) -> dict[str, Any]:
    return {"sha256": f.sha256, "kind": f.kind, "content_type": f.content_type, "size_bytes": f.size_bytes,
            "removed": list(f.removed), "added_by": f.added_by, "added_at": f.added_at.isoformat()}


def plan_view(plan: DestructionPlan) -> dict[str, Any]:
    return {"plan_id": plan.plan_id, "bureau": plan.bureau, "lot_ids": list(plan.lot_ids), "state": plan.state,
            "scheduled_on": plan.scheduled_on.isoformat(), "facility": plan.facility,
            "witnesses": list(plan.witnesses), "approved_by": plan.approved_by,
            "environmental_cost": None if plan.environmental_cost is None else str(plan.environmental_cost),
            "record_photos": list(plan.record_photos)}


def may_see(p: Principal, lot: Lot) -> bool:
    party = p.bureau or p.principal_id
    return p.can("cases:read-all") or party in {lot.bureau, lot.holder} | {h.to_party for h in lot.handovers}


def build_app(*, pool: asyncpg.Pool, custody: Custody, storage: StorageCosts, auth: Authenticator, body_limit: int,
              readiness: list[Callable[[], Awaitable[bool]]]) -> FastAPI:
    def limit_for(path: str) -> int:
        if path.endswith("/files"):  # a file: refused above its own limit with a problem naming it
            return custody.file_limits.max_bytes + 64 * 1024  # beyond: the generic 413 problem
        return body_limit

    app = create_app(SERVICE, title=TITLE, readiness=readiness, body_limit=limit_for,
                     description="Seized goods in custody: registration, hand-overs and receipts, decided outcomes, "
                                 "release, destruction plans approved by the office, and costs per bureau.")
    api = APIRouter(prefix="/v1", responses=RESPONSES)
    reader, actor_dep, office = auth.require("cases:read"), auth.require("cases:act"), auth.require("cases:read-all")

    async def write(request: Request, caller: Principal, key: str | None, status: int,
                    work: Callable[[UnitOfWork, Actor], Awaitable[dict[str, Any]]]) -> Response:
        actor = actor_of(caller)
        return await write_command(pool, request, service=SERVICE, caller_id=caller.principal_id, actor=actor,
                                   party=actor.party, key=key, status=status, work=work)

    Key = Header(default=None, alias="Idempotency-Key")

    @api.post("/lots", status_code=201, summary="Register goods seized on a case (the caller's bureau holds them)")
    async def register(request: Request, body: RegisterLot, caller: Principal = Depends(actor_dep),
                       idempotency_key: str | None = Key) -> Response:
        items = [Item(i.description, i.quantity, i.unit, i.declared_value) for i in body.items]
        return await write(request, caller, idempotency_key, 201, lambda uow, a: _lot(custody.register(
            uow, a, case_id=body.case_id, hazard=body.hazard, items=items, location=body.location)))

    @api.get("/lots/{lot_id}", summary="A lot with its whole chain of custody")
    async def read(lot_id: LotId, caller: Principal = Depends(reader)) -> dict[str, Any]:  # type: ignore[valid-type]
        async with pool.acquire() as conn:
            lot = await db.read_lot(conn, lot_id)
            deadlines = await watch.deadlines_of(conn, [lot_id]) if lot is not None else []
            files = await db.files_of(conn, lot_id) if lot is not None else []
        if lot is None or not may_see(caller, lot):
            raise ProblemError(404, "Not found", f"no lot {lot_id} the caller may see")
        return lot_view(lot) | {"deadlines": [watch.deadline_view(d) for d in deadlines], "storage": storage.of_lot(lot),
                                "files": [file_view(f) for f in files]}

    @api.get("/lots", summary="The lots of a case the caller may see, each with its chain of custody")
    async def of_case(case_id: CaseId, caller: Principal = Depends(reader)) -> dict[str, Any]:  # type: ignore[valid-type]
        async with pool.acquire() as conn:
            lots = await db.read_lots_of_case(conn, case_id)
        return {"case_id": case_id, "lots": [lot_view(lot) for lot in lots if may_see(caller, lot)]}

    @api.post("/lots/{lot_id}/handovers", summary="The holder hands the goods to another party")
    async def hand_over(request: Request, lot_id: LotId, body: HandOver,  # type: ignore[valid-type]
                        caller: Principal = Depends(reader), idempotency_key: str | None = Key) -> Response:
        return await write(request, caller, idempotency_key, 200, lambda uow, a: _lot(custody.hand_over(
            uow, a, lot_id, to_party=body.to, purpose=body.purpose)))

    @api.post("/lots/{lot_id}:receive", summary="The receiver confirms it has the goods (custody passes)")
    async def receive(request: Request, lot_id: LotId, caller: Principal = Depends(reader),  # type: ignore[valid-type]
                      idempotency_key: str | None = Key) -> Response:
        return await write(request, caller, idempotency_key, 200, lambda uow, a: _lot(custody.receive(uow, a, lot_id)))

    @api.post("/lots/{lot_id}/decision", summary="Record the decided outcome (document number and date)")
    async def decide(request: Request, lot_id: LotId, body: DecideOutcome,  # type: ignore[valid-type]
                     caller: Principal = Depends(actor_dep), idempotency_key: str | None = Key) -> Response:
        return await write(request, caller, idempotency_key, 200, lambda uow, a: _lot(custody.decide(
            uow, a, lot_id, outcome=body.outcome, document_no=body.document_no, decided_on=body.decided_on)))

    @api.post("/lots/{lot_id}:release", summary="Return or auction the goods as decided")
    async def release(request: Request, lot_id: LotId, body: Release,  # type: ignore[valid-type]
                      caller: Principal = Depends(actor_dep), idempotency_key: str | None = Key) -> Response:
        return await write(request, caller, idempotency_key, 200,
                           lambda uow, a: _lot(custody.release(uow, a, lot_id, outcome=body.outcome)))

    @api.post("/destruction-plans", status_code=201, summary="Propose the destruction of decided lots")
    async def propose(request: Request, body: ProposePlan, caller: Principal = Depends(actor_dep),
                      idempotency_key: str | None = Key) -> Response:
        return await write(request, caller, idempotency_key, 201, lambda uow, a: _plan(custody.propose_plan(
            uow, a, lot_ids=list(body.lot_ids), scheduled_on=body.scheduled_on, facility=body.facility,
            witnesses=list(body.witnesses))))

    @api.post("/destruction-plans/{plan_id}:approve", summary="The office approves a destruction plan")
    async def approve(request: Request, plan_id: PlanId, caller: Principal = Depends(office),  # type: ignore[valid-type]
                      idempotency_key: str | None = Key) -> Response:
        return await write(request, caller, idempotency_key, 200,
                           lambda uow, a: _plan(custody.approve_plan(uow, a, plan_id)))

    @api.post("/destruction-plans/{plan_id}:record", summary="The destruction record: photos and the environmental cost")
    async def record(request: Request, plan_id: PlanId, body: RecordDestruction,  # type: ignore[valid-type]
                     caller: Principal = Depends(actor_dep), idempotency_key: str | None = Key) -> Response:
        return await write(request, caller, idempotency_key, 200, lambda uow, a: _plan(custody.record_destruction(
            uow, a, plan_id, photos=list(body.photos), environmental_cost=body.environmental_cost)))

    file_body = {"requestBody": {"required": True, "content": {
        t: {"schema": {"type": "string", "format": "binary"}} for t in ("image/jpeg", "image/png", "application/pdf")}}}
    file_responses: dict[int | str, dict[str, Any]] = {
        200: {"description": "the same content again: the first record"},
        413: problem_response("the file is too large"), 415: problem_response("not a JPEG, PNG or PDF (by content)")}

    async def add_file(request: Request, caller: Principal, owner: str, kind: str) -> Response:
        data = await request.body()
        actor = actor_of(caller)

        async def work(uow: UnitOfWork) -> tuple[bool, StoredFile]:
            try:
                return await custody.add_file(uow, actor, owner=owner, kind=kind, data=data)
            except Refused as exc:
                status = 403 if exc.forbidden else HTTP_STATUS.get(exc.reason, 409) if exc.field == "file" else 409
                if exc.reason == "not_a_photo":
                    status = 415
                raise ProblemError(status, "Refused", exc.detail, reason=exc.reason,
                                   errors=[{"field": exc.field, "reason": exc.reason, "detail": exc.detail}]) from None
            except NotFound as exc:
                raise ProblemError(404, "Not found", str(exc)) from None

        fresh, stored = await run_in_transaction(pool, work, source=f"/{SERVICE}", actor=actor.party)
        if fresh:
            FILES.labels("stored", kind).inc()
        return JSONResponse(file_view(stored), status_code=201 if fresh else 200)

    async def serve_file(digest: str, content_type: str) -> Response:
        assert custody.blobs is not None
        data = await custody.blobs.get(digest)
        if data is None:  # a row never names a missing blob; a store that lost it is a fault, said plainly
            raise ProblemError(503, "File unavailable", "the file store does not have this file now")
        FILES.labels("read", "any").inc()
        return Response(data, media_type=content_type, headers={
            "X-Content-Type-Options": "nosniff", "Content-Disposition": f'attachment; filename="{digest[:16]}"',
            "Cache-Control": "private, no-store"})

    @api.post("/lots/{lot_id}/files", status_code=201, openapi_extra=file_body, responses=file_responses,
              summary="Add a photo or document of the goods (the body is the file; its type is sniffed, photo "
                      "metadata stripped)")
    async def lot_file(request: Request, lot_id: LotId, kind: Literal["photo", "document"],  # type: ignore[valid-type]
                       caller: Principal = Depends(reader)) -> Response:
        async with pool.acquire() as conn:
            lot = await db.read_lot(conn, lot_id)
        if lot is None or not may_see(caller, lot):
            raise ProblemError(404, "Not found", f"no lot {lot_id} the caller may see")
        return await add_file(request, caller, lot_id, kind)

    @api.get("/lots/{lot_id}/files/{sha256}", summary="A photo or document of a lot (for those who may see the lot)",
             responses={200: {"content": {"application/octet-stream": {}}, "description": "the file"}})
    async def read_lot_file(lot_id: LotId, sha256: Sha256,  # type: ignore[valid-type]
                            caller: Principal = Depends(reader)) -> Response:
        async with pool.acquire() as conn:
            lot = await db.read_lot(conn, lot_id)
            files = {f.sha256: f for f in await db.files_of(conn, lot_id)} if lot is not None else {}
        if lot is None or not may_see(caller, lot) or sha256 not in files:
            raise ProblemError(404, "Not found", f"no file {sha256} of a lot the caller may see")
        return await serve_file(sha256, files[sha256].content_type)

    @api.post("/destruction-plans/{plan_id}/files", status_code=201, openapi_extra=file_body, responses=file_responses,
              summary="Add a photo of the destruction (the approved plan's bureau; the record names them)")
    async def plan_file(request: Request, plan_id: PlanId, caller: Principal = Depends(actor_dep)  # type: ignore[valid-type]
                        ) -> Response:
        return await add_file(request, caller, plan_id, "photo")

    @api.get("/destruction-plans/{plan_id}/files/{sha256}", summary="A photo of a destruction (its bureau, the office)",
             responses={200: {"content": {"application/octet-stream": {}}, "description": "the file"}})
    async def read_plan_file(plan_id: PlanId, sha256: Sha256,  # type: ignore[valid-type]
                             caller: Principal = Depends(reader)) -> Response:
        async with pool.acquire() as conn:
            plan = await db.read_plan(conn, plan_id)
            files = {f.sha256: f for f in await db.files_of(conn, plan_id)} if plan is not None else {}
        party = caller.bureau or caller.principal_id
        if plan is None or not (caller.can("cases:read-all") or party == plan.bureau) or sha256 not in files:
            raise ProblemError(404, "Not found", f"no file {sha256} of a plan the caller may see")
        return await serve_file(sha256, files[sha256].content_type)

    @api.get("/reports/costs", summary="Per bureau: lots registered and their value, storage days and cost, "
                                       "lots destroyed and the destruction cost, the total")
    async def costs(since: SaneDate, until: SaneDate, caller: Principal = Depends(office)) -> dict[str, Any]:
        from shared.workdays import SHANGHAI

        start = dt.datetime.combine(since, dt.time(), SHANGHAI)
        end = dt.datetime.combine(until, dt.time(), SHANGHAI) + dt.timedelta(days=1)
        if until < since:
            raise ProblemError(422, "Invalid period", "until: on or after since",
                               errors=[{"field": "until", "reason": "before_since", "detail": "on or after since"}])
        async with pool.acquire() as conn:
            return await storage.report(conn, since, until, start, end)

    app.include_router(api)
    install_problem_schema(app)
    return app


async def _lot(lot: Awaitable[Lot]) -> dict[str, Any]:
    return lot_view(await lot)


async def _plan(plan: Awaitable[DestructionPlan]) -> dict[str, Any]:
    return plan_view(await plan)


def openapi_document() -> dict[str, Any]:
    """The OpenAPI document, built without any connection (for docs/openapi/custody.json)."""
    from shared.clock import WallClock

    return build_app(pool=None, custody=Custody(clock=WallClock(), topic="custody"),  # type: ignore[arg-type]
                     storage=StorageCosts(clock=WallClock()),
                     auth=Authenticator(None), body_limit=64 * 1024, readiness=[]).openapi()  # type: ignore[arg-type]
