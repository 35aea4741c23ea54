"""Tag ``records``: one credit record."""
from __future__ import annotations

from fastapi import APIRouter, Depends, Path
from fastapi.responses import JSONResponse

from shared.identity.model import Principal

from services.credit.adapters.hygiene import RECORD_ID
from services.credit.adapters.http.common import READ_RESPONSES, HttpDeps, json_response
from services.credit.app import disclosure, records


def router(deps: HttpDeps) -> APIRouter:
    r = APIRouter(tags=["records"], responses=READ_RESPONSES)

    @r.get("/v1/records/{record_id}", summary="One record: its periods, status and the masked party")
    async def get_record(record_id: str = Path(pattern=RECORD_ID, max_length=24),
                         _: Principal = Depends(deps.auth.require("credit:read"))) -> JSONResponse:
        async with deps.pool.acquire() as conn:
            return json_response(await records.record_view(conn, record_id, disclosure.party_rule(deps.credit)))

    return r
