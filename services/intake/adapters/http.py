"""Intake's HTTP API: complaints, lead batches, complaint status and an Open311
subset; API-key authentication with scopes; Idempotency-Key; body limits;
RFC 9457 problems naming every bad field.

A route turns the request into a domain command, validates it (pure), then
registers it in one transaction (`shared.http.run_in_transaction`) with its
Idempotency-Key (`shared.idempotency`), counts it once that commits, and
answers. Nothing here connects at import time; `build_app` only wires routes.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable

import asyncpg
from fastapi import APIRouter, Depends, FastAPI, Header, Request
from fastapi.openapi.utils import get_openapi
from fastapi.responses import Response

from services.intake.adapters import postgres as db
from shared.blobstore import BlobStore
from shared.guarded_fetch import GuardedFetcher
from shared.second_factor import Limited, SecondFactorGuard, client_address, limited_problem
from shared.attachments import AttachmentLimits
from services.intake.adapters.identity import client_context
from services.intake.adapters.schemas import (
    EXTRA_SCHEMAS,
    ComplainantMasked,
    ComplaintReceipt,
    ComplaintStatus,
    LeadBatchResult,
    LeadResult,
    ProblemField,
)
from shared.clock import Clock
from services.intake.domain.errors import FieldError, IntakeValidationError, metric_field
from services.intake.domain.model import Report
from services.intake.domain.readout import readout
from services.intake.domain.tracking import parse_tracking_no
from services.intake.domain.validation import channel_for, is_printable_key, parse_lead, validate_complaint, validate_lead
from services.intake.metrics import CASES, REGISTER_DURATION, REJECTED
from services.intake.app.registration import Receipt, Registrar
from shared.contracts.intake import SubmitComplaint
from shared.http import PROBLEM_JSON, ProblemError, create_app, run_in_transaction
from shared.idempotency import DESCRIPTION as IDEMPOTENCY_DESCRIPTION
from shared.idempotency import HEADER as IDEMPOTENCY_HEADER
from shared.idempotency import MAX_KEY_LENGTH, checked_key, idempotent, replay_response, request_fingerprint
from shared.identity.http import Authenticator
from shared.identity.model import Principal
from shared.metrics import VALIDATION_FAILURES
from shared.runtime import UnitOfWork

log = logging.getLogger(__name__)

SERVICE = "intake"
SOURCE = "/shuangda/intake"
VALIDATION_TYPE = "https://shuangda.example/problems/validation"
COMPLAINTS_PATH = "/v1/complaints"
BATCH_PATH = "/v1/leads:batch"


@dataclass
class HttpDeps:
    """What the routes use; `pool` is None when the app is built only for its OpenAPI document."""

    pool: asyncpg.Pool | None
    auth: Authenticator | None
    registrar: Registrar | None
    clock: Clock
    batch_max_items: int = 1000
    max_command_bytes: int = 64 * 1024
    max_batch_bytes: int = 8 * 1024 * 1024
    readiness: list[Callable[[], Awaitable[bool]]] = field(default_factory=list)
    #: evidence files (adapters/blobstore.py) and their limits
    blobs: "BlobStore | None" = None
    attachment_limits: AttachmentLimits = field(default_factory=AttachmentLimits)
    #: Open311's media_url fetcher (None: the link is only kept)
    media: "GuardedFetcher | None" = None
    #: attempt limits on the reporter's second factor (survey, another client's upload): shared.second_factor
    second_factor: "SecondFactorGuard | None" = None


#: a caller holding it (the console's survey principal) relays citizens: their address is the one it names
RELAY_SCOPE = "clients:relay"


async def second_factor_checked(deps: HttpDeps, request: Any, tracking_no: str,
                                verify: Callable[[], Awaitable[bool]], caller: Principal | None = None) -> bool:
    """Whether the reporter's second factor matched (`verify`), under the attempt limits per tracking
    number and per address (shared.second_factor: 429 with Retry-After once a limit is reached). The
    address is the peer's, or the citizen's a `caller` holding ``clients:relay`` names in X-Client-Address
    (so one citizen's failures through the console do not lock out every other citizen using it)."""
    if deps.second_factor is None:
        return await verify()
    relayed = caller is not None and caller.can(RELAY_SCOPE)
    try:
        return await deps.second_factor.check(tracking_no=tracking_no, verify=verify,
                                              address=client_address(request, relayed=relayed))
    except Limited as exc:
        raise limited_problem(exc) from None


# -- problems ---------------------------------------------------------------------------------


def problem_doc(description: str) -> dict[str, Any]:
    return {"description": description,
            "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}}


AUTH_PROBLEMS: dict[int | str, dict[str, Any]] = {
    401: problem_doc("No valid API key (send Authorization: Bearer <key> or X-API-Key)"),
    403: problem_doc("The key lacks the scope this operation needs"),
    422: problem_doc("Invalid parameters, each named with the reason"),
    503: problem_doc("Database unavailable; retry later"),
}
WRITE_PROBLEMS: dict[int | str, dict[str, Any]] = {
    **AUTH_PROBLEMS,
    409: problem_doc("Idempotency-Key already used with a different request"),
    413: problem_doc("Request body too large"),
    422: problem_doc("Invalid fields, each named with the reason"),
    503: problem_doc("Database unavailable; retry later with the same Idempotency-Key"),
}


def validation_problem(errors: list[FieldError] | tuple[FieldError, ...]) -> ProblemError:
    for e in errors:
        VALIDATION_FAILURES.labels(SERVICE, metric_field(e), e.reason).inc()
    return ProblemError(422, "Request failed validation", f"{len(errors)} invalid field(s)",
                        errors=[e.as_dict() for e in errors], type_=VALIDATION_TYPE)


# -- authentication -----------------------------------------------------------------------------

def require_scope(deps: HttpDeps, scope: str) -> Callable[..., Awaitable[Principal]]:
    """The caller, authenticated through the one identity store (401/403 problem documents)."""
    return (deps.auth or Authenticator(None)).require(scope)  # type: ignore[arg-type] - None: the OpenAPI document only


async def write_once(deps: HttpDeps, caller: Principal, key: str | None, fingerprint: bytes,
                     work: Callable[[UnitOfWork], Awaitable[tuple[int, Any]]]) -> tuple[int, str, bool]:
    """One request, one transaction (`run_in_transaction`: deadlocks, serialisation failures and a
    tracking-number collision retried; the database down → 503), with the Idempotency-Key claimed
    inside it (`shared.idempotency`): the same request again gets the first answer byte for byte
    (third value True), another request with the key is a 409. Returns the status and JSON text."""
    assert deps.pool is not None

    async def once(uow: UnitOfWork) -> tuple[int, str, bool]:
        return await idempotent(uow, caller.principal_id, key, fingerprint, work)

    return await run_in_transaction(deps.pool, once, source=SOURCE, actor=caller.principal_id)


def respond(status: int, body: str, replayed: bool) -> Response:
    headers = {}
    if status == 201:
        doc = json.loads(body)
        if isinstance(doc, dict) and isinstance(doc.get("status_url"), str):
            headers["Location"] = doc["status_url"]
    return replay_response(status, body, replayed, headers=headers)


def count_receipts(uow: UnitOfWork, receipts: list[tuple[Receipt, Report]]) -> None:
    """Count the registered reports once the transaction commits (never for a rolled-back try)."""
    outcomes = [(receipt.outcome, report.channel) for receipt, report in receipts]

    def count() -> None:
        for outcome, channel in outcomes:
            CASES.labels(outcome, channel).inc()

    uow.after_commit(count)


# -- routes ----------------------------------------------------------------------------------------


def complaints_router(deps: HttpDeps) -> APIRouter:
    router = APIRouter(tags=["complaints"])

    @router.post(
        COMPLAINTS_PATH, status_code=201, response_model=ComplaintReceipt,
        responses={
            200: {"model": ComplaintReceipt, "description": "a re-submission (same source_id): the first receipt"},
            201: {"description": "registered", "links": {"ComplaintStatus": {
                "operationId": "complaint_status", "parameters": {"tracking_no": "$response.body#/tracking_no"}}}},
            **WRITE_PROBLEMS},
        summary="File a complaint or report; answers at once with a tracking number",
    )
    async def file_complaint(
        command: SubmitComplaint,
        client: Principal = Depends(require_scope(deps, "complaints:write")),
        idempotency_key: str | None = Header(default=None, alias=IDEMPOTENCY_HEADER, max_length=MAX_KEY_LENGTH,
                                             description=IDEMPOTENCY_DESCRIPTION),
    ) -> Response:
        key = checked_key(idempotency_key)
        assert deps.registrar is not None
        ctx = client_context(client)
        now = deps.clock.now()
        try:
            report = validate_complaint(command, client=ctx, channel=channel_for(ctx, "http", command.channel), now=now)
        except IntakeValidationError as exc:
            REJECTED.labels(channel_for(ctx, "http", command.channel), "validation_failed").inc()
            raise validation_problem(exc.errors) from None

        async def work(uow: UnitOfWork) -> tuple[int, Any]:
            assert deps.registrar is not None
            receipt = await deps.registrar.register(uow, report, now)
            if receipt.tracking_no is None:  # the source_id was used for a lead
                raise ProblemError(409, "source_id already used", "this source_id was used for a lead, not a complaint")
            count_receipts(uow, [(receipt, report)])
            return (200 if receipt.outcome == "duplicate" else 201), _receipt(receipt)

        fingerprint = request_fingerprint("POST", COMPLAINTS_PATH, command.model_dump_json())
        with REGISTER_DURATION.labels("http").time():
            status, body, replayed = await write_once(deps, client, key, fingerprint, work)
        return respond(status, body, replayed)

    @router.get(
        "/v1/complaints/{tracking_no}", response_model=ComplaintStatus, operation_id="complaint_status",
        responses={**AUTH_PROBLEMS, 404: problem_doc("No complaint with this number filed by this client")},
        summary="Status of a complaint, to read out to the caller (only for the client that filed it)",
    )
    async def complaint_status(tracking_no: str, client: Principal = Depends(require_scope(deps, "complaints:read"))) -> ComplaintStatus:
        canonical = parse_tracking_no(tracking_no)
        stored = None
        if canonical is not None:
            assert deps.pool is not None
            stored = await db.report_by_tracking_no(deps.pool, canonical)  # the database down → 503 (create_app)
        if stored is None or stored.client_id != client.principal_id or stored.tracking_no is None:
            # another client's complaint is indistinguishable from none at all
            raise ProblemError(404, "Not found", "no complaint with this tracking number was filed by this client")
        text = readout(tracking_no=stored.tracking_no, origin=stored.origin, received_at=stored.received_at,
                       category_id=stored.category, county_code=stored.county, merged=stored.outcome == "merged")
        masked = None
        if stored.complainant:
            masked = ComplainantMasked(name_masked=stored.complainant.get("name_masked"),
                                       phone_masked=stored.complainant.get("phone_masked"))
        return ComplaintStatus(
            tracking_no=stored.tracking_no, case_id=stored.case_id,
            kind="report" if stored.origin == "report" else "complaint", status=text.status,
            joined_existing_case=stored.outcome == "merged", reports_on_case=stored.reports_count,
            received_at=stored.received_at, category=stored.category, category_name=text.category_name,
            county=stored.county, county_name=text.county_name, complainant=masked,
            readout_zh=text.readout_zh, readout_en=text.readout_en,
        )

    return router


def _receipt(receipt: Receipt) -> dict[str, Any]:
    assert receipt.tracking_no is not None
    return ComplaintReceipt(
        tracking_no=receipt.tracking_no, case_id=receipt.case_id, outcome=receipt.outcome,
        received_at=receipt.received_at, status_url=f"/v1/complaints/{receipt.tracking_no}",
    ).model_dump(mode="json")


def leads_router(deps: HttpDeps) -> APIRouter:
    router = APIRouter(tags=["leads"])

    @router.post(
        BATCH_PATH, response_model=LeadBatchResult,
        openapi_extra={"requestBody": {"required": True, "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/LeadBatch"}}}}},
        responses=WRITE_PROBLEMS,
        summary="Submit up to 1,000 leads; each is validated on its own and answered with its outcome",
    )
    async def submit_leads(
        request: Request,
        client: Principal = Depends(require_scope(deps, "leads:write")),
        idempotency_key: str | None = Header(default=None, alias=IDEMPOTENCY_HEADER, max_length=MAX_KEY_LENGTH,
                                             description=IDEMPOTENCY_DESCRIPTION),
    ) -> Response:
        key = checked_key(idempotency_key)
        raw = await request.body()
        items = _batch_items(raw, deps.batch_max_items)
        ctx = client_context(client)
        now = deps.clock.now()
        results: dict[int, LeadResult] = {}
        valid: list[tuple[int, Report]] = []
        for index, item in enumerate(items):
            source_id = item.get("source_id") if isinstance(item, dict) else None
            source_id = source_id[:128] if isinstance(source_id, str) and is_printable_key(source_id[:128]) else None
            try:
                command = parse_lead(item, prefix=f"leads.{index}")
                try:
                    report = validate_lead(command, client=ctx, channel=channel_for(ctx, "http", command.channel), now=now)
                except IntakeValidationError as exc:
                    raise IntakeValidationError([e.prefixed(f"leads.{index}") for e in exc.errors]) from None
            except IntakeValidationError as exc:
                for e in exc.errors:
                    VALIDATION_FAILURES.labels(SERVICE, metric_field(e), e.reason).inc()
                REJECTED.labels(channel_for(ctx, "http"), "validation_failed").inc()
                results[index] = LeadResult(index=index, source_id=source_id, outcome="rejected",
                                            errors=[ProblemField(**e.as_dict()) for e in exc.errors])
                continue
            valid.append((index, report))

        async def work(uow: UnitOfWork) -> tuple[int, Any]:
            assert deps.registrar is not None
            done = dict(results)
            # the whole batch in one set-based step (it locks the suspects' slots in one order, so
            # concurrent batches cannot deadlock each other)
            receipts = await deps.registrar.register_many(uow, [report for _, report in valid], now)
            count_receipts(uow, [(receipt, report) for (_, report), receipt in zip(valid, receipts)])
            for (index, report), receipt in zip(valid, receipts):
                done[index] = LeadResult(index=index, source_id=report.source_id, outcome=receipt.outcome,
                                         case_id=receipt.case_id)
            ordered = [done[i] for i in sorted(done)]
            body = LeadBatchResult(
                accepted=sum(1 for r in ordered if r.outcome in ("opened", "merged")),
                duplicates=sum(1 for r in ordered if r.outcome == "duplicate"),
                rejected=sum(1 for r in ordered if r.outcome == "rejected"),
                results=ordered,
            )
            return 200, body.model_dump(mode="json", exclude_none=True)

        canonical = json.dumps(items, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        with REGISTER_DURATION.labels("http").time():
            status, body, replayed = await write_once(deps, client, key, request_fingerprint("POST", BATCH_PATH, canonical),
                                                      work)
        return respond(status, body, replayed)

    return router


def _batch_items(raw: bytes, max_items: int) -> list[Any]:
    try:
        doc = json.loads(raw)
    except (ValueError, RecursionError):
        raise validation_problem([FieldError("body", "json_invalid", "the body is not valid JSON")]) from None
    if not isinstance(doc, dict):
        raise validation_problem([FieldError("body", "model_type", 'expected an object {"leads": [...]}')])
    errors = [FieldError(str(k)[:64], "extra_forbidden", "unknown field (only leads)") for k in doc if k != "leads"][:5]
    leads = doc.get("leads")
    if leads is None:
        errors.append(FieldError("leads", "missing", "required"))
    elif not isinstance(leads, list):
        errors.append(FieldError("leads", "list_type", "must be a list of leads"))
    elif not leads:
        errors.append(FieldError("leads", "too_short", "at least one lead"))
    elif len(leads) > max_items:
        errors.append(FieldError("leads", "too_long", f"at most {max_items} leads per batch, got {len(leads)}"))
    if errors:
        raise validation_problem(errors)
    assert isinstance(leads, list)
    return leads


# -- the app ---------------------------------------------------------------------------------------


def build_app(deps: HttpDeps) -> FastAPI:
    from services.intake.adapters.http_attachments import attachments_router
    from services.intake.adapters.http_survey import survey_router
    from services.intake.adapters.open311 import open311_router

    def limit_for(path: str) -> int:
        if path == BATCH_PATH:
            return deps.max_batch_bytes
        if path.endswith("/attachments"):  # a file: refused above its own limit with a problem naming it
            return deps.attachment_limits.max_bytes + 64 * 1024  # beyond: the generic 413 problem
        return deps.max_command_bytes

    app = create_app(
        SERVICE, title="Shuangda intake", readiness=deps.readiness, version="1", body_limit=limit_for,
        description="Complaints from hotlines, leads from platforms and monitoring, and an Open311 GeoReport v2 subset. "
                    "Authenticate with `Authorization: Bearer <key>` or `X-API-Key: <key>`; errors are RFC 9457 problem "
                    "documents.",
    )
    app.include_router(complaints_router(deps))
    app.include_router(leads_router(deps))
    app.include_router(open311_router(deps))
    app.include_router(attachments_router(deps))
    app.include_router(survey_router(deps))
    _with_extra_schemas(app)
    return app


def _with_extra_schemas(app: FastAPI) -> None:
    """Add models referenced by hand (problems, the lead batch) to the OpenAPI components."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        for model in EXTRA_SCHEMAS:
            generated = model.model_json_schema(ref_template="#/components/schemas/{model}")
            for name, sub in generated.pop("$defs", {}).items():
                components.setdefault(name, sub)
            components.setdefault(model.__name__, generated)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def openapi_document() -> dict[str, Any]:
    """The OpenAPI document, built without any connection (for docs/openapi/intake.json)."""
    from shared.clock import WallClock

    return build_app(HttpDeps(pool=None, auth=None, registrar=None, clock=WallClock())).openapi()
