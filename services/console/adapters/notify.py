"""Notify's operators' API (scope ``notify:admin``, the ops person's key): deliveries with their
attempts, and the endpoints taken out of service — the ops page's webhook message log."""
from __future__ import annotations

from typing import Any

from services.console.adapters.api import Answer, ApiClient


class NotifyClient(ApiClient):
    name = "notify"

    async def deliveries(self, key: str, *, state: str | None = None, recipient: str | None = None,
                         limit: int = 100) -> Answer:
        params: dict[str, Any] = {"limit": limit}
        if state:
            params["state"] = state
        if recipient:
            params["recipient"] = recipient
        return await self._call("GET", "/v1/deliveries", key, params=params)

    async def delivery(self, key: str, ref: str) -> Answer:
        return await self._call("GET", f"/v1/deliveries/{ref}", key)

    async def endpoints(self, key: str) -> Answer:
        return await self._call("GET", "/v1/endpoints", key)
