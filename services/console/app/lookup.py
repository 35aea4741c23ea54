"""The public status lookup: tracking number + the last 4 digits of the complainant's phone.

Gap (docs/console.md): neither intake nor routing answers a status by tracking number for the
public — intake's read-out answers only the client that filed the complaint, and routing has no
lookup by tracking number. Until one of them does, the console's own reader (principal
``console.public``, scopes cases:read + cases:read-all) pages routing's case list from the newest
back to the day the tracking number was issued, and checks the second factor against the masked
phone routing keeps. Either failure gives the same refusal."""
from __future__ import annotations

from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from services.console.adapters.routing import RoutingClient
from services.console.domain.cases import (
    as_datetime, canonical_tracking_no, next_deadline, second_factor_matches, tracking_date, valid_last4,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
PAGE = 500


class Lookup:
    def __init__(self, routing: RoutingClient, scan_max: int) -> None:
        self.routing = routing
        self.scan_max = scan_max

    async def status(self, key: str | None, tracking_text: str, last4: str) -> dict[str, Any] | None:
        """The public read-out, or None (no such tracking number, or the wrong second factor)."""
        tracking_no = canonical_tracking_no(tracking_text)
        if key is None or tracking_no is None or not valid_last4(last4.strip()):
            return None
        case_id = await self._find(key, tracking_no)
        if case_id is None:
            return None
        detail = await self.routing.read_case(key, case_id)
        if not detail.ok:
            return None
        case = detail.body
        complainant = case.get("complainant") or {}
        if not second_factor_matches(complainant.get("phone_masked"), last4.strip()):
            return None
        nd = next_deadline(case.get("deadlines", []))
        return {"tracking_no": tracking_no, "state": case["state"], "bureau": case["bureau"],
                "category": case["category"], "county": case["county"], "opened_at": case["opened_at"],
                "next_due_at": nd.due_at if nd else None, "next_kind": nd.kind if nd else None,
                "citation": nd.citation if nd else None,
                "complainant": {"name_masked": complainant.get("name_masked"),
                                "phone_masked": complainant.get("phone_masked")}}

    async def _find(self, key: str, tracking_no: str) -> str | None:
        issued = tracking_date(tracking_no)
        if issued is None:
            return None
        offset = 0
        while offset < self.scan_max:
            page = await self.routing.list_cases(key, limit=PAGE, offset=offset)
            if not page.ok:
                return None
            items = page.body["items"]
            for item in items:
                if item.get("tracking_no") == tracking_no:
                    return str(item["case_id"])
            if len(items) < PAGE:
                return None
            oldest = as_datetime(items[-1]["opened_at"])
            if oldest is not None and (oldest.astimezone(SHANGHAI).date() < issued - timedelta(days=1)):
                return None
            offset += PAGE
        return None
