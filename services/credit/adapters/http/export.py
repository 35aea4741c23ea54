"""Tag ``export``: the platform export (docs/credit-export-format.md), NDJSON or CSV."""
from __future__ import annotations

import datetime as dt
import json
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from shared.http import ProblemError
from shared.identity.model import Principal

from services.credit.adapters.http.common import READ_RESPONSES, VALIDATION, HttpDeps, clean, jsonable
from services.credit.app import disclosure


#: NDJSON, or CSV with format=csv (docs/credit-export-format.md)
EXPORT_CONTENT: dict[int | str, dict[str, Any]] = {200: {"description": "Changed penalties and listings", "content": {
    "application/x-ndjson": {"schema": {"type": "string"}}, "text/csv": {"schema": {"type": "string"}}}}}


def router(deps: HttpDeps) -> APIRouter:
    r = APIRouter(tags=["export"], responses=READ_RESPONSES)

    async def exporter(caller: Principal = Depends(deps.auth.principal)) -> Principal:
        """The office (credit:manage), or a platform holding credit:read that is not a department."""
        platform = caller.kind == "platform" and caller.can("credit:read") and "credit:department" not in caller.roles
        if not (caller.can("credit:manage") or platform):
            raise ProblemError(403, "Forbidden", "the export is for platforms and the office")
        return caller

    @r.get("/v1/exports/platform", response_class=Response, responses=EXPORT_CONTENT, summary="Penalties and listings changed since an instant")
    async def export(since: dt.datetime = Query(description="ISO 8601 instant; the `next_since` of the previous page"),
                     format: Literal["ndjson", "csv"] = "ndjson", limit: int = Query(1000, ge=1, le=10_000),
                     _: Principal = Depends(exporter)) -> Response:
        if since.tzinfo is None:
            raise ProblemError(422, "Request failed validation", "1 invalid field(s)", type_=VALIDATION,
                               errors=[{"field": "since", "reason": "no_offset",
                                        "detail": "give a UTC offset (e.g. 2025-01-01T00:00:00Z)"}])
        clean(("since", since))
        async with deps.pool.acquire() as conn:
            lines, next_since = await disclosure.export(conn, since, limit, disclosure.party_rule(deps.credit))
        headers = {"x-next-since": next_since.isoformat()}
        if format == "csv":
            return Response(disclosure.export_csv(lines), media_type="text/csv; charset=utf-8", headers=headers)
        body = "".join(json.dumps(jsonable(line), ensure_ascii=False) + "\n" for line in lines)
        return Response(body, media_type="application/x-ndjson", headers=headers)

    return r
