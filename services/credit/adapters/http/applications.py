"""Tag ``applications``: repair (信用修复) and early removal from the list."""
from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Header, Path, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from shared.idempotency import DESCRIPTION as IDEMPOTENCY
from shared.identity.model import Principal
from shared.runtime import UnitOfWork

from services.credit.adapters.hygiene import APPLICATION_ID, TARGET_ID
from services.credit.adapters.http.common import RESPONSES, HttpDeps, any_scope, bureau_of, clean, json_response, write
from services.credit.app import applications
from services.credit.domain.applications import Declaration


class Applicant(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    name: str = Field(min_length=1, max_length=200, description="who applies (the enterprise or its agent)")
    contact: str | None = Field(default=None, max_length=200)


class ApplicationRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["repair", "early_removal"]
    target_id: str = Field(pattern=TARGET_ID, max_length=24, description="record id (repair) or listing id (early removal)")
    obligations_met: bool = Field(description="the legal obligations are performed (fine paid, conduct corrected)")
    commitment_signed: bool = Field(description="a credit commitment (信用承诺书) is signed")
    applicant: Applicant


class ApplicationDecision(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    approve: bool
    reason: str = Field(default="", max_length=2000)


def router(deps: HttpDeps) -> APIRouter:
    r = APIRouter(tags=["applications"], responses=RESPONSES)
    # the portal (credit:public), the office (credit:manage) and bureaus (penalties:write) file applications
    applicants = any_scope(deps.auth, "credit:public", "credit:manage", "penalties:write")

    @r.post("/v1/applications", status_code=201, summary="Apply for repair or early removal")
    async def apply(req: ApplicationRequest, request: Request, caller: Principal = Depends(applicants),
                    idempotency_key: str | None = Header(None, alias="Idempotency-Key", description=IDEMPOTENCY)) -> Response:
        clean(("", req))

        async def work(uow: UnitOfWork) -> tuple[int, object]:
            body = await applications.submit(
                deps.credit, uow, submitted_by=caller.principal_id, kind=req.kind, target_id=req.target_id,
                declaration=Declaration(req.obligations_met, req.commitment_signed), applicant=req.applicant.model_dump())
            return 201, body

        return await write(deps, request, caller, idempotency_key, work)

    @r.post("/v1/applications/{application_id}:decide", summary="The deciding bureau approves or rejects")
    async def decide(req: ApplicationDecision, request: Request,
                     application_id: str = Path(pattern=APPLICATION_ID, max_length=24),
                     caller: Principal = Depends(deps.auth.require("penalties:write")),
                     idempotency_key: str | None = Header(None, alias="Idempotency-Key", description=IDEMPOTENCY)) -> Response:
        clean(("", req))
        bureau = bureau_of(caller)

        async def work(uow: UnitOfWork) -> tuple[int, object]:
            return 200, await applications.decide(deps.credit, uow, bureau, application_id, approve=req.approve,
                                                  reason=req.reason)

        return await write(deps, request, caller, idempotency_key, work, actor=bureau.id)

    @r.get("/v1/applications/{application_id}", summary="An application and its decision")
    async def get_application(application_id: str = Path(pattern=APPLICATION_ID, max_length=24),
                              _: Principal = Depends(any_scope(deps.auth, "credit:read", "credit:public"))) -> JSONResponse:
        async with deps.pool.acquire() as conn:
            return json_response(await applications.application_view(conn, application_id))

    return r
