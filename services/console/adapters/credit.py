"""Credit's HTTP API: its public disclosure feed (no key: what the public sees) for the office's
blacklistings and the public penalty and blacklist search, and a bureau's penalty decision
(``POST /v1/penalties`` with the person's principal's key, as any bureau's system sends one)."""
from __future__ import annotations

from typing import Any

from services.console.adapters.api import Answer, ApiClient


class CreditClient(ApiClient):
    name = "credit"

    async def listings(self, limit: int = 1000) -> Answer:
        """Published listings (blacklistings), oldest first, at most `limit`."""
        return await self.disclosures("listing", limit=limit)

    async def disclosures(self, kind: str, *, after: str | None = None, limit: int = 200) -> Answer:
        """One page of the public feed (``penalty``, ``listing`` or ``inspection``), oldest first; ``next`` is the cursor."""
        params: dict[str, Any] = {"kind": kind, "limit": limit}
        if after:
            params["after"] = after
        return await self._call("GET", "/v1/disclosures", None, params=params)

    async def decide_penalty(self, key: str, decision: dict[str, Any], *, idempotency_key: str | None) -> Answer:
        return await self._post("/v1/penalties", key, decision, idempotency_key)
