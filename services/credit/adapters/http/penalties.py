"""Tag ``penalties``: a bureau records and revokes its penalty decisions and publishes a record."""
from __future__ import annotations

from fastapi import APIRouter, Depends, Header, Path, Request
from fastapi.responses import Response

from shared.contracts.penalty import PenaltyDecided, PenaltyRevoked
from shared.idempotency import DESCRIPTION as IDEMPOTENCY
from shared.identity.model import Principal
from shared.runtime import UnitOfWork

from services.credit.adapters.hygiene import RECORD_ID
from services.credit.adapters.http.common import RESPONSES, HttpDeps, bureau_of, clean, refusal, write
from services.credit.app import decisions, disclosure, revocation


def router(deps: HttpDeps) -> APIRouter:
    r = APIRouter(tags=["penalties"], responses=RESPONSES)
    writer = deps.auth.require("penalties:write")

    @r.post("/v1/penalties", status_code=201, summary="Record a penalty decision (the deciding bureau is the key's)")
    async def decide(cmd: PenaltyDecided, request: Request, caller: Principal = Depends(writer),
                     idempotency_key: str | None = Header(None, alias="Idempotency-Key", description=IDEMPOTENCY)) -> Response:
        clean(("", cmd))
        bureau = bureau_of(caller)

        async def work(uow: UnitOfWork) -> tuple[int, object]:
            outcome = await decisions.decide(deps.credit, uow, bureau, cmd)
            if outcome.status == "refused":
                return refusal(outcome)
            body = {"status": outcome.status, "record_id": outcome.record_id, "entity": outcome.entity_key, **outcome.facts}
            return (201 if outcome.status == "recorded" else 200), body

        return await write(deps, request, caller, idempotency_key, work, actor=bureau.id)

    @r.post("/v1/penalties:revoke", summary="Revoke one of the bureau's decisions")
    async def revoke(cmd: PenaltyRevoked, request: Request, caller: Principal = Depends(writer),
                     idempotency_key: str | None = Header(None, alias="Idempotency-Key", description=IDEMPOTENCY)) -> Response:
        clean(("", cmd))
        bureau = bureau_of(caller)

        async def work(uow: UnitOfWork) -> tuple[int, object]:
            outcome = await revocation.revoke_decision(deps.credit, uow, bureau, cmd)
            if outcome.status == "refused":
                return refusal(outcome)
            return 200, {"status": outcome.status, "record_id": outcome.record_id, "entity": outcome.entity_key}

        return await write(deps, request, caller, idempotency_key, work, actor=bureau.id)

    @r.post("/v1/records/{record_id}:disclose", summary="Publish a record (when auto-disclosure is off)")
    async def disclose(request: Request, record_id: str = Path(pattern=RECORD_ID, max_length=24),
                       caller: Principal = Depends(writer),
                       idempotency_key: str | None = Header(None, alias="Idempotency-Key", description=IDEMPOTENCY)) -> Response:
        bureau = bureau_of(caller)

        async def work(uow: UnitOfWork) -> tuple[int, object]:
            status = await disclosure.disclose_by_bureau(deps.credit, uow, bureau, record_id)
            return 200, {"record_id": record_id, "status": status}

        return await write(deps, request, caller, idempotency_key, work, actor=bureau.id)

    return r
