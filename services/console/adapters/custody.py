"""Custody's HTTP API: the seized goods (lots) of a case with their chain of custody, read with the
person's principal's key — custody decides which lots they may see (``GET /v1/lots?case_id=``) —
and the bureau's commands on them: register a lot, hand it over, receive it (custody's rules decide
who may; its refusal is a problem document the case page shows). A lot id is one quoted path segment."""
from __future__ import annotations

from typing import Any

from services.console.adapters.api import Answer, ApiClient, path_part


class CustodyClient(ApiClient):
    name = "custody"

    async def lots_of_case(self, key: str, case_id: str) -> Answer:
        return await self._call("GET", "/v1/lots", key, params={"case_id": case_id})

    async def register(self, key: str, lot: dict[str, Any], *, idempotency_key: str | None) -> Answer:
        """``POST /v1/lots``: goods seized on a case, held by the caller's bureau from now on."""
        return await self._post("/v1/lots", key, lot, idempotency_key)

    async def hand_over(self, key: str, lot_id: str, *, to: str, purpose: str, idempotency_key: str | None) -> Answer:
        """``POST /v1/lots/{id}/handovers``: the holder hands the goods to another party."""
        return await self._post(f"/v1/lots/{path_part(lot_id)}/handovers", key, {"to": to, "purpose": purpose},
                                idempotency_key)

    async def receive(self, key: str, lot_id: str, *, idempotency_key: str | None) -> Answer:
        """``POST /v1/lots/{id}:receive``: the receiver confirms it has the goods."""
        return await self._post(f"/v1/lots/{path_part(lot_id)}:receive", key, {}, idempotency_key)
