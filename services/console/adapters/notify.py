"""Notify's operators' API (scope ``notify:admin``, the ops person's key): deliveries with their
attempts, the endpoints with their circuits — the ops page's webhook message log — and, with
``notify:resend``, resending one delivery or recovering an endpoint since a time. Every part of a
path is quoted (a reference typed into the address bar never reaches notify as another path)."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from services.console.adapters.api import Answer, ApiClient, path_part as _part


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
        return await self._call("GET", f"/v1/deliveries/{_part(ref)}", key)

    async def endpoints(self, key: str) -> Answer:
        return await self._call("GET", "/v1/endpoints", key)

    async def resend(self, key: str, ref: str, *, idempotency_key: str | None) -> Answer:
        return await self._post(f"/v1/deliveries/{_part(ref)}:resend", key, {}, idempotency_key)

    async def recover(self, key: str, endpoint_id: str, since: datetime, *, idempotency_key: str | None) -> Answer:
        return await self._post(f"/v1/endpoints/{_part(endpoint_id)}:recover", key, {"since": since.isoformat()},
                                idempotency_key)
