"""Routing's HTTP API, called with the API key of the person's principal (never routing's schema).
A case id is put into a path only as one quoted segment (`path_part`)."""
from __future__ import annotations

from typing import Any

from services.console.adapters.api import Answer, ApiClient, ServiceDown, path_part

__all__ = ["Answer", "RoutingClient", "ServiceDown"]


class RoutingClient(ApiClient):
    name = "routing"

    async def list_cases(self, key: str, *, limit: int = 200, offset: int = 0, state: str | None = None) -> Answer:
        params: dict[str, Any] = {"limit": limit, "offset": offset}
        if state:
            params["state"] = state
        return await self._call("GET", "/v1/cases", key, params=params)

    async def read_case(self, key: str, case_id: str) -> Answer:
        return await self._call("GET", f"/v1/cases/{path_part(case_id)}", key)

    async def acknowledge(self, key: str, case_id: str, *, decision: str, reason: str | None,
                          idempotency_key: str | None = None) -> Answer:
        body: dict[str, Any] = {"decision": decision}
        if reason:
            body["reason"] = reason
        return await self._post(f"/v1/cases/{path_part(case_id)}/acknowledge", key, body, idempotency_key)

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
        """One of routing's case commands (``transfer``, ``referral/police-decision`` …): `path` is the
        console's own constant, the case id the only part that came from outside."""
        return await self._post(f"/v1/cases/{path_part(case_id)}/{path}", key, body, idempotency_key)

    async def sealed_complainant(self, key: str, case_id: str) -> Answer:
        return await self._call("GET", f"/v1/cases/{path_part(case_id)}/complainant", key)

    async def worklist(self, key: str, *, limit: int = 100, cursor: str | None = None) -> Answer:
        """The caller's cases by next open legal deadline (routing's GET /v1/worklist), one page from
        `cursor` (a next/prev cursor routing issued)."""
        params: dict[str, Any] = {"limit": limit, **({"cursor": cursor} if cursor else {})}
        return await self._call("GET", "/v1/worklist", key, params=params)

    # -- the office's joint meetings (联席会议; routing's GET /v1/joint-meetings, POST …/joint-meeting) --

    async def joint_meetings(self, key: str, *, limit: int = 100) -> Answer:
        """The cases with a joint meeting proposed, undecided first, with the office's decision if taken."""
        return await self._call("GET", "/v1/joint-meetings", key, params={"limit": limit})

    async def decide_joint_meeting(self, key: str, case_id: str, *, decision: str, reason: str | None,
                                   idempotency_key: str | None) -> Answer:
        body: dict[str, Any] = {"decision": decision}
        if reason is not None:
            body["reason"] = reason
        return await self._post(f"/v1/cases/{path_part(case_id)}/joint-meeting", key, body, idempotency_key)
