"""Inspection's public part (一公开, no key needed): the published random-inspection results
(``GET /v1/public/results?bureau&credit_code&limit&offset``) and a bureau's enterprises with a
quality commitment (``GET /v1/public/commitments?bureau``). The console calls it with its public
principal's key (``clients:relay``) and names the citizen's address in X-Client-Address, so
inspection's public rate limit counts each citizen, not the console."""
from __future__ import annotations

from typing import Any

from shared.ratelimit import CLIENT_ADDRESS_HEADER

from services.console.adapters.api import Answer, ApiClient


class InspectionClient(ApiClient):
    name = "inspection"

    @staticmethod
    def _relayed(client_address: str | None) -> dict[str, str]:
        return {CLIENT_ADDRESS_HEADER: client_address} if client_address else {}

    async def results(self, key: str | None, *, bureau: str | None = None, credit_code: str | None = None,
                      limit: int = 200, offset: int = 0, client_address: str | None = None) -> Answer:
        params: dict[str, Any] = {"limit": limit, "offset": offset}
        if bureau:
            params["bureau"] = bureau
        if credit_code:
            params["credit_code"] = credit_code
        return await self._call("GET", "/v1/public/results", key, params=params,
                                headers=self._relayed(client_address))

    async def commitments(self, key: str | None, bureau: str, client_address: str | None = None) -> Answer:
        return await self._call("GET", "/v1/public/commitments", key, params={"bureau": bureau},
                                headers=self._relayed(client_address))
