"""Custody's HTTP API: the seized goods (lots) of a case with their chain of custody, read with the
person's principal's key — custody decides which lots they may see (``GET /v1/lots?case_id=``)."""
from __future__ import annotations

from services.console.adapters.api import Answer, ApiClient


class CustodyClient(ApiClient):
    name = "custody"

    async def lots_of_case(self, key: str, case_id: str) -> Answer:
        return await self._call("GET", "/v1/lots", key, params={"case_id": case_id})
