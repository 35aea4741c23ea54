"""Credit's public disclosure feed (no key: what the public sees), for the office's blacklistings."""
from __future__ import annotations

from typing import Any

import httpx

from services.console.adapters.routing import Answer, ServiceDown


class CreditClient:
    def __init__(self, base_url: str, *, timeout: float = 10.0, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self._http = httpx.AsyncClient(base_url=base_url, timeout=timeout, transport=transport)

    async def close(self) -> None:
        await self._http.aclose()

    async def listings(self, limit: int = 1000) -> Answer:
        """Published listings (blacklistings), oldest first, at most `limit`."""
        try:
            r = await self._http.get("/v1/disclosures", params={"kind": "listing", "limit": limit})
        except httpx.HTTPError as exc:
            raise ServiceDown(f"credit: {type(exc).__name__}") from None
        if r.status_code >= 500:
            raise ServiceDown(f"credit answered {r.status_code}")
        try:
            body: Any = r.json()
        except ValueError:
            body = None
        return Answer(r.status_code, body)
