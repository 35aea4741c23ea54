"""Appraisal's HTTP API: the appraisal requests of a case with their state and result, read with the
person's principal's key — appraisal decides which they may see (``GET /v1/appraisals?case_id=``) —
and a bureau's request for one (``POST /v1/appraisals``: kind, provider, subject, the lot)."""
from __future__ import annotations

from typing import Any

from services.console.adapters.api import Answer, ApiClient


class AppraisalClient(ApiClient):
    name = "appraisal"

    async def of_case(self, key: str, case_id: str) -> Answer:
        return await self._call("GET", "/v1/appraisals", key, params={"case_id": case_id})

    async def request(self, key: str, asked: dict[str, Any], *, idempotency_key: str | None) -> Answer:
        return await self._post("/v1/appraisals", key, asked, idempotency_key)
