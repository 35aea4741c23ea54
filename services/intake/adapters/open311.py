"""An Open311 GeoReport v2 subset, in JSON: the categories as services, filing a
complaint as a service request, and reading its status back. The API key goes
in a header (as for the rest of the API), never in a query string."""
from __future__ import annotations

from datetime import timezone
from typing import Any

from fastapi import APIRouter, Depends, Header
from fastapi.responses import Response
from pydantic import ValidationError

from services.intake.adapters import postgres as db
from services.intake.adapters.http import (
    AUTH_PROBLEMS,
    IDEMPOTENCY_DESCRIPTION,
    IDEMPOTENCY_HEADER,
    MAX_KEY_LENGTH,
    WRITE_PROBLEMS,
    HttpDeps,
    count_receipts,
    problem_doc,
    require_scope,
    respond,
    validation_problem,
    write_once,
)
from services.intake.adapters.identity import client_context
from services.intake.adapters.schemas import Open311Created, Open311RequestIn, Open311Service, Open311ServiceRequest
from services.intake.domain.errors import FieldError, IntakeValidationError, from_pydantic
from services.intake.domain.readout import readout
from services.intake.domain.tracking import parse_tracking_no
from services.intake.domain.validation import validate_complaint
from services.intake.metrics import REGISTER_DURATION, REJECTED
from shared.contracts.intake import ComplainantInput, SubmitComplaint, SuspectInput
from shared.http import ProblemError
from shared.idempotency import checked_key, request_fingerprint
from shared.identity.model import Principal
from shared.reference import UnknownCode, bureau_type, categories
from shared.runtime import UnitOfWork

#: our field names → the Open311 request's
_FIELD_NAMES = {
    "category": "service_code",
    "county": "attribute.county",
    "description": "description",
    "suspect": "attribute",
    "suspect.name": "attribute.suspect_name",
    "suspect.credit_code": "attribute.credit_code",
    "suspect.platform": "attribute.platform",
    "suspect.shop_id": "attribute.shop_id",
    "suspect.listing_url": "attribute.listing_url",
    "suspect.address": "address_string",
    "complainant": "phone",
    "complainant.name": "last_name",
    "complainant.phone": "phone",
}


def _open311_errors(errors: tuple[FieldError, ...]) -> list[FieldError]:
    return [FieldError(_FIELD_NAMES.get(e.field, e.field), e.reason, e.detail) for e in errors]


def _services() -> list[dict[str, Any]]:
    out = []
    for c in categories():
        try:
            lead = bureau_type(c.lead).name_zh
        except (UnknownCode, AttributeError):
            lead = c.lead
        out.append(Open311Service(
            service_code=c.id, service_name=c.name_zh, description=f"{c.name_en} (lead: {lead})",
            keywords=c.id, group="知识产权" if c.ip else "假冒伪劣",
        ).model_dump(mode="json"))
    return out


def open311_router(deps: HttpDeps) -> APIRouter:
    router = APIRouter(prefix="/open311/v2", tags=["open311"])

    @router.get("/services.json", response_model=list[Open311Service], operation_id="open311_services",
                summary="The categories, as Open311 services")
    async def services() -> list[dict[str, Any]]:
        return _services()

    @router.post(
        "/requests.json", status_code=201, response_model=list[Open311Created],
        responses={201: {"description": "registered", "links": {"ServiceRequest": {
            "operationId": "open311_request", "parameters": {"service_request_id": "$response.body#/0/service_request_id"}}}},
            **WRITE_PROBLEMS},
        summary="File a complaint as an Open311 service request; service_request_id is the tracking number",
    )
    async def create_request(
        body: Open311RequestIn,
        client: Principal = Depends(require_scope(deps, "complaints:write")),
        idempotency_key: str | None = Header(default=None, alias=IDEMPOTENCY_HEADER, max_length=MAX_KEY_LENGTH,
                                             description=IDEMPOTENCY_DESCRIPTION),
    ) -> Response:
        key = checked_key(idempotency_key)
        ctx = client_context(client)
        now = deps.clock.now()
        try:
            report = validate_complaint(_as_complaint(body), client=ctx, channel="open311", now=now)
        except IntakeValidationError as exc:
            REJECTED.labels("open311", "validation_failed").inc()
            raise validation_problem(_open311_errors(exc.errors)) from None

        async def work(uow: UnitOfWork) -> tuple[int, Any]:
            assert deps.registrar is not None
            receipt = await deps.registrar.register(uow, report, now)
            count_receipts(uow, [(receipt, report)])
            assert receipt.tracking_no is not None
            notice = "已受理，请保留受理编号 / registered; keep the tracking number"
            return 201, [Open311Created(service_request_id=receipt.tracking_no, service_notice=notice).model_dump(mode="json")]

        fingerprint = request_fingerprint("POST", "/open311/v2/requests.json", body.model_dump_json())
        with REGISTER_DURATION.labels("open311").time():
            status, out, replayed = await write_once(deps, client, key, fingerprint, work)
        return respond(status, out, replayed)

    @router.get(
        "/requests/{service_request_id}.json", response_model=list[Open311ServiceRequest], operation_id="open311_request",
        responses={**AUTH_PROBLEMS, 404: problem_doc("No request with this id filed by this client")},
        summary="A service request's status (only for the client that filed it)",
    )
    async def get_request(service_request_id: str,
                          client: Principal = Depends(require_scope(deps, "complaints:read"))) -> list[dict[str, Any]]:
        canonical = parse_tracking_no(service_request_id)
        stored = None
        if canonical is not None:
            assert deps.pool is not None
            stored = await db.report_by_tracking_no(deps.pool, canonical)  # the database down → 503 (create_app)
        if stored is None or stored.client_id != client.principal_id or stored.tracking_no is None:
            raise ProblemError(404, "Not found", "no service request with this id was filed by this client")
        text = readout(tracking_no=stored.tracking_no, origin=stored.origin, received_at=stored.received_at,
                       category_id=stored.category, county_code=stored.county, merged=stored.outcome == "merged")
        at = stored.received_at.astimezone(timezone.utc)
        return [Open311ServiceRequest(
            service_request_id=stored.tracking_no, status="open", status_notes=text.readout_zh,
            service_name=text.category_name, service_code=stored.category, description=stored.summary,
            requested_datetime=at, updated_datetime=at, address=text.county_name,
        ).model_dump(mode="json")]

    return router


def _as_complaint(body: Open311RequestIn) -> SubmitComplaint:
    a = body.attribute
    name = "".join(p for p in (body.last_name, body.first_name) if p) or None  # family name first
    try:
        complainant = ComplainantInput(name=name, phone=body.phone) if (name or body.phone) else None
        return SubmitComplaint(
            kind="complaint", category=body.service_code, county=a.county, description=body.description,
            suspect=SuspectInput(name=a.suspect_name, credit_code=a.credit_code, platform=a.platform, shop_id=a.shop_id,
                                 listing_url=a.listing_url, address=body.address_string),
            complainant=complainant,
        )
    except ValidationError as exc:
        raise IntakeValidationError(from_pydantic(exc).errors) from None
