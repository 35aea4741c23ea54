"""Routing's HTTP API, called with the API key of the person's principal (never routing's schema)."""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import httpx


class ServiceDown(Exception):
    """The service did not answer (or answered 5xx)."""


@dataclass(frozen=True)
class Answer:
    status: int
    body: Any

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def refusal(self) -> str:
        """A problem document's reason, for people."""
        if isinstance(self.body, dict):
            return str(self.body.get("detail") or self.body.get("title") or self.status)
        return str(self.status)


class RoutingClient:
    def __init__(self, base_url: str, *, timeout: float = 10.0, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self._http = httpx.AsyncClient(base_url=base_url, timeout=timeout, transport=transport)

    async def close(self) -> None:
        await self._http.aclose()

    async def _call(self, method: str, path: str, key: str, **kwargs: Any) -> Answer:
        headers = {"Authorization": f"Bearer {key}", **kwargs.pop("headers", {})}
        try:
            r = await self._http.request(method, path, headers=headers, **kwargs)
        except httpx.HTTPError as exc:
            raise ServiceDown(f"routing: {type(exc).__name__}") from None
        if r.status_code >= 500:
            raise ServiceDown(f"routing answered {r.status_code}")
        try:
            body = r.json()
        except ValueError:
            body = None
        return Answer(r.status_code, body)

    async def list_cases(self, key: str, *, limit: int = 200, offset: int = 0, state: str | None = None) -> Answer:
        params: dict[str, Any] = {"limit": limit, "offset": offset}
        if state:
            params["state"] = state
        return await self._call("GET", "/v1/cases", key, params=params)

    async def read_case(self, key: str, case_id: str) -> Answer:
        return await self._call("GET", f"/v1/cases/{case_id}", key)

    async def acknowledge(self, key: str, case_id: str, *, decision: str, reason: str | None,
                          idempotency_key: str | None = None) -> Answer:
        body: dict[str, Any] = {"decision": decision}
        if reason:
            body["reason"] = reason
        return await self._call("POST", f"/v1/cases/{case_id}/acknowledge", key, json=body,
                                headers={"Idempotency-Key": idempotency_key or str(uuid.uuid4())})

    # -- the office's reads and the public status (routing's adapters/http_overview.py) --

    async def overview(self, key: str) -> Answer:
        return await self._call("GET", "/v1/overview", key)

    async def assessment(self, key: str, start: str, end: str) -> Answer:
        return await self._call("GET", "/v1/overview/assessment", key, params={"start": start, "end": end})

    async def status(self, key: str, tracking_no: str, last4: str, client_address: str | None = None) -> Answer:
        """The public status; the second factor goes in the body, never in a URL. `client_address` (the
        citizen's, the console's own peer) goes in X-Client-Address: routing limits each citizen, not our key."""
        headers = {"X-Client-Address": client_address} if client_address else {}
        return await self._call("POST", "/v1/status", key, json={"tracking_no": tracking_no, "last4": last4},
                                headers=headers)

    async def supervision(self, key: str) -> Answer:
        return await self._call("GET", "/v1/supervision", key)

    async def command(self, key: str, case_id: str, path: str, body: dict[str, Any], *,
                      idempotency_key: str | None = None) -> Answer:
        """One of routing's case commands (``transfer``, ``referral/police-decision`` …)."""
        return await self._call("POST", f"/v1/cases/{case_id}/{path}", key, json=body,
                                headers={"Idempotency-Key": idempotency_key or str(uuid.uuid4())})

    async def sealed_complainant(self, key: str, case_id: str) -> Answer:
        return await self._call("GET", f"/v1/cases/{case_id}/complainant", key)

    async def worklist(self, key: str, *, limit: int = 100) -> Answer:
        """The caller's cases by next open legal deadline (routing's GET /v1/worklist)."""
        return await self._call("GET", "/v1/worklist", key, params={"limit": limit})
