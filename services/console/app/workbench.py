"""The case lists and case pages of the office, bureaus, police and procuratorate, and their
commands: acknowledge, transfer with a reason, the police's decision on a referral; the
procuratorate's supervision requests.

Every read and command goes to routing's API with the person's principal's key, so routing decides
what they may see: another bureau's case is a 404 there and here."""
from __future__ import annotations

import asyncio
from typing import Any

from shared.clock import Clock

from services.console.adapters.routing import Answer, RoutingClient
from services.console.domain.cases import as_datetime, next_deadline, timeline, urgency, worklist_order

#: cases read per list page
PAGE = 100
#: concurrent case reads while building a worklist
FAN_OUT = 8


class Workbench:
    def __init__(self, routing: RoutingClient, clock: Clock) -> None:
        self.routing = routing
        self.clock = clock

    async def worklist(self, key: str, *, offset: int = 0) -> list[dict[str, Any]]:
        """The caller's cases (the office: all), by next legal deadline, each with its urgency."""
        listed = await self.routing.list_cases(key, limit=PAGE, offset=offset)
        if not listed.ok:
            return []
        items = [dict(i) for i in listed.body["items"]]
        gate = asyncio.Semaphore(FAN_OUT)

        async def due_of(item: dict[str, Any]) -> None:
            if item["state"] == "assigned":
                item["next_due_at"] = as_datetime(item.get("acknowledgement_due_at"))
                item["next_kind"] = "acknowledgement"
                return
            if item["state"] != "accepted" and not item.get("referral_state"):
                item["next_due_at"] = None
                return
            async with gate:
                detail = await self.routing.read_case(key, item["case_id"])
            nd = next_deadline(detail.body.get("deadlines", [])) if detail.ok else None
            item["next_due_at"] = nd.due_at if nd else None
            item["next_kind"] = nd.kind if nd else None

        await asyncio.gather(*(due_of(i) for i in items))
        now = self.clock.now()
        for i in items:
            i["urgency"] = urgency(i.get("next_due_at"), now)
        return worklist_order(items)

    async def case(self, key: str, case_id: str) -> Answer:
        answer = await self.routing.read_case(key, case_id)
        if answer.ok:
            now = self.clock.now()
            for d in answer.body.get("deadlines", []):
                d["urgency"] = urgency(as_datetime(d["due_at"]), now) if d.get("state") == "open" else "none"
            answer.body["timeline"] = timeline(answer.body)
        return answer

    async def acknowledge(self, key: str, case_id: str, *, decision: str, reason: str | None,
                          idempotency_key: str | None) -> Answer:
        return await self.routing.acknowledge(key, case_id, decision=decision, reason=reason,
                                              idempotency_key=idempotency_key)

    async def transfer(self, key: str, case_id: str, *, to_bureau: str, reason: str,
                       idempotency_key: str | None) -> Answer:
        return await self.routing.command(key, case_id, "transfer", {"to_bureau": to_bureau, "reason": reason},
                                          idempotency_key=idempotency_key)

    async def police_decision(self, key: str, case_id: str, *, decision: str, reason: str | None,
                              police_case_no: str | None, idempotency_key: str | None) -> Answer:
        body: dict[str, Any] = {"decision": decision}
        if reason:
            body["reason"] = reason
        if police_case_no:
            body["police_case_no"] = police_case_no
        return await self.routing.command(key, case_id, "referral/police-decision", body,
                                          idempotency_key=idempotency_key)

    async def referrals(self, key: str) -> list[dict[str, Any]]:
        """The police's worklist: the cases whose referral went to them, by next deadline."""
        return [i for i in await self.worklist(key) if i.get("referral_state")]

    async def supervision(self, key: str) -> Answer:
        return await self.routing.supervision(key)
