"""The public status lookup: tracking number + the last 4 digits of the complainant's phone.

One call to routing's ``POST /v1/status`` (adapters/http_overview.py there) with the console's own
reader (principal ``console.public``): routing finds the case by its tracking number (an index),
checks the second factor and answers the masked read-out, or the same 404 for either failure.
Routing rate-limits the endpoint per address and per key — per the citizen's address the console
names in X-Client-Address, since ``console.public`` holds ``clients:relay``; the console limits per
person's address and per tracking number before it calls."""
from __future__ import annotations

from typing import Any

from services.console.adapters.routing import RoutingClient, ServiceDown
from services.console.domain.cases import as_datetime, canonical_tracking_no, valid_last4


class Lookup:
    def __init__(self, routing: RoutingClient) -> None:
        self.routing = routing

    async def status(self, key: str | None, tracking_text: str, last4: str,
                     client_address: str | None = None) -> dict[str, Any] | None:
        """The public read-out, or None (no such tracking number, or the wrong second factor)."""
        tracking_no = canonical_tracking_no(tracking_text)
        last4 = last4.strip()
        if key is None or tracking_no is None or not valid_last4(last4):
            return None
        answer = await self.routing.status(key, tracking_no, last4, client_address)
        if answer.status == 429:
            raise ServiceDown("routing's status lookup is rate-limited")
        if not answer.ok:
            return None
        s = answer.body
        return {"tracking_no": s["tracking_no"], "state": s["state"], "bureau": s["bureau"], "category": s["category"],
                "county": s["county"], "opened_at": s["opened_at"], "next_due_at": as_datetime(s.get("next_due_at")),
                "next_kind": s.get("next_kind"), "citation": s.get("next_citation"),
                "complainant": {"name_masked": s.get("name_masked"), "phone_masked": s.get("phone_masked")}}
