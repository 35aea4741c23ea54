"""Appraisal's HTTP API: the appraisal requests of a case with their state and result, read with the
person's principal's key — appraisal decides which they may see (``GET /v1/appraisals?case_id=``)."""
from __future__ import annotations

from services.console.adapters.api import Answer, ApiClient


class AppraisalClient(ApiClient):
    name = "appraisal"

    async def of_case(self, key: str, case_id: str) -> Answer:
        return await self._call("GET", "/v1/appraisals", key, params={"case_id": case_id})
