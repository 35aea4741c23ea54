"""Tag ``queries``: an entity's record, screening many codes, the name search."""
from __future__ import annotations

import time

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from shared.http import ProblemError, run_in_transaction
from shared.identity.model import Principal
from shared.runtime import UnitOfWork

from services.credit import metrics
from services.credit.adapters.http.common import BODY_RESPONSES, READ_RESPONSES, HttpDeps, any_scope, clean, json_response
from services.credit.app import entities


class UnmaskRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    reason: str = Field(min_length=5, max_length=500, description="why the person must be identified (audited)")


class CheckRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    codes: list[str] = Field(min_length=1, max_length=10_000, description="unified social credit codes (full-width accepted)")


def router(deps: HttpDeps) -> APIRouter:
    r = APIRouter(tags=["queries"], responses=READ_RESPONSES)
    reader = deps.auth.require("credit:read")

    @r.get("/v1/entities:search", summary="Entities by name: scored candidates with an explanation")
    async def search(q: str = Query(min_length=1, max_length=200), limit: int = Query(10, ge=1, le=50),
                     min_score: float = Query(50.0, ge=0, le=100),
                     _: Principal = Depends(any_scope(deps.auth, "credit:read", "credit:public"))) -> JSONResponse:
        clean(("q", q, 200))
        started = time.perf_counter()
        body = await deps.search(deps.pool, q, limit=limit, min_score=min_score)
        metrics.QUERY_DURATION.labels("search").observe(time.perf_counter() - started)
        return JSONResponse(body)  # plain JSON values already: no walk through `jsonable`

    @r.post("/v1/entities:check", responses=BODY_RESPONSES, summary="Screen up to check_max_codes credit codes at once")
    async def check(req: CheckRequest, _: Principal = Depends(reader)) -> JSONResponse:
        clean(*((f"codes[{i}]", c) for i, c in enumerate(req.codes[:deps.check_max_codes + 1])))
        started = time.perf_counter()
        async with deps.pool.acquire() as conn:
            body = await entities.check(deps.credit, conn, [c[:64] for c in req.codes], deps.check_max_codes)
        metrics.QUERY_DURATION.labels("check").observe(time.perf_counter() - started)
        return json_response(body)

    @r.get("/v1/entities/{code}", summary="An entity's record: names, active records and listings, the measures")
    async def entity(code: str = Path(min_length=1, max_length=64, description="credit code or ent-… id"),
                     _: Principal = Depends(reader)) -> JSONResponse:
        clean(("code", code, 64))
        started = time.perf_counter()
        async with deps.pool.acquire() as conn:
            body = await entities.view(deps.credit, conn, code)
        metrics.QUERY_DURATION.labels("entity").observe(time.perf_counter() - started)
        return json_response(body)

    @r.post("/v1/entities/{code}:unmask", responses=BODY_RESPONSES,
            summary="A natural person's name and ID number, for a department holding the unmask role (audited)")
    async def unmask(req: UnmaskRequest, code: str = Path(min_length=1, max_length=64),
                     caller: Principal = Depends(reader)) -> JSONResponse:
        clean(("code", code, 64), ("", req))
        if entities.UNMASK_ROLE not in caller.roles:
            raise ProblemError(403, "Forbidden", f"unmasking a person needs the role {entities.UNMASK_ROLE}")

        async def work(uow: UnitOfWork) -> dict[str, object]:
            return await entities.unmask(deps.credit, uow, code, reason=req.reason, actor=caller.principal_id)

        return json_response(await run_in_transaction(deps.pool, work, source=deps.credit.source,
                                                      actor=caller.principal_id))

    return r
