"""Tag ``public``: the disclosure feed (masked as the publication rules say) and the measures.
No key needed."""
from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse, Response

from services.credit.adapters.http.common import PUBLIC_RESPONSES, HttpDeps, clean, json_response
from services.credit.app import disclosure


#: what the public may call without a key: rate-limited per address (shared.ratelimit)
PUBLIC_PATHS = ("/v1/disclosures", "/v1/measures")
#: the feed is JSON, or CSV with format=csv
FEED_CONTENT: dict[int | str, dict[str, Any]] = {200: {"description": "The page of published items", "content": {
    "application/json": {}, "text/csv": {"schema": {"type": "string"}}}}}


def router(deps: HttpDeps) -> APIRouter:
    r = APIRouter(tags=["public"], responses=PUBLIC_RESPONSES)
    book = deps.credit.book

    @r.get("/v1/measures", summary="The joint-punishment measures and the departments applying them")
    async def measures() -> JSONResponse:
        t = book.measures
        return json_response({"version": t.version, "citation": t.citation,
                              "departments": [d.model_dump() for d in t.departments],
                              "measures": [m.model_dump() for m in t.measures]})

    @r.get("/v1/disclosures", responses=FEED_CONTENT, summary="Published penalties, listings or random-inspection results, oldest first (JSON or CSV)")
    async def disclosures(kind: Literal["penalty", "listing", "inspection"] = "penalty", format: Literal["json", "csv"] = "json",
                          after: str | None = Query(None, max_length=200), limit: int = Query(200, ge=1, le=5000),
                          labels: Literal["keys", "zh"] = "keys") -> Response:
        clean(("after", after, 200))
        async with deps.pool.acquire() as conn:
            published, fields, nxt = await disclosure.feed(deps.credit, conn, kind, after, limit)
        if format == "csv":
            headers = {"content-disposition": f'attachment; filename="shuangda-{kind}-disclosures.csv"'}
            if nxt:
                headers["x-next-cursor"] = nxt
            return Response(disclosure.safe_csv(published, fields, labels=labels == "zh"),
                            media_type="text/csv; charset=utf-8", headers=headers)
        return json_response({"kind": kind, "fields": [f.model_dump() for f in fields], "items": published, "next": nxt})

    return r
