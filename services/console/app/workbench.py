"""The case lists and case pages of the office, bureaus, police and procuratorate, and their
commands: acknowledge, transfer with a reason, propose a referral, the agency head's decision on it,
its transfer to the police with the package, the police's decision, the outcome; a penalty decision
sent to credit (as a bureau's system sends one); the procuratorate's supervision requests; a case's
seized goods (custody's API) and appraisal requests (appraisal's API).

Every read and command goes to routing's API with the person's principal's key, so routing decides
what they may see: another bureau's case is a 404 there and here. Custody and appraisal likewise
decide which of a case's lots and appraisals the person's principal sees."""
from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from shared.clock import Clock

from services.console.adapters.appraisal import AppraisalClient
from services.console.adapters.credit import CreditClient
from services.console.adapters.custody import CustodyClient
from services.console.adapters.routing import Answer, RoutingClient, ServiceDown
from services.console.domain.cases import as_datetime, timeline, urgency, worklist_order

#: cases per worklist page (settings.worklist_page_size)
PAGE = 100


@dataclass(frozen=True)
class WorkPage:
    """One page of a worklist; `refusal`: routing refused the cursor (a 400, with its reason)."""

    items: list[dict[str, Any]] = field(default_factory=list)
    next_cursor: str | None = None
    prev_cursor: str | None = None
    refusal: str | None = None


@dataclass(frozen=True)
class CaseGoods:
    """A case's lots and appraisals; None: that service is not configured or did not answer (the page
    says "unknown now", it does not fail)."""

    lots: list[dict[str, Any]] | None = None
    appraisals: list[dict[str, Any]] | None = None


class Workbench:
    def __init__(self, routing: RoutingClient, clock: Clock, credit: CreditClient | None = None, *,
                 page_size: int = PAGE, custody: CustodyClient | None = None,
                 appraisal: AppraisalClient | None = None) -> None:
        self.routing = routing
        self.page_size = page_size
        self.clock = clock
        self.credit = credit
        self.custody = custody
        self.appraisal = appraisal

    async def worklist(self, key: str) -> list[dict[str, Any]]:
        """The first page of `worklist_page`."""
        return (await self.worklist_page(key)).items

    async def worklist_page(self, key: str, cursor: str | None = None) -> WorkPage:
        """A bureau's or the office's cases by next legal deadline, each with its urgency: one call to
        routing's worklist, which orders them by its open deadlines and pages them by keyset."""
        listed = await self.routing.worklist(key, limit=self.page_size, cursor=cursor)
        if listed.status == 400:
            return WorkPage(refusal=listed.refusal)
        if not listed.ok:
            return WorkPage()
        now = self.clock.now()
        items = []
        for i in listed.body["items"]:
            item = {**i, "next_due_at": as_datetime(i.get("next_due_at"))}
            item["urgency"] = urgency(item["next_due_at"], now)
            items.append(item)
        return WorkPage(worklist_order(items), listed.body.get("next_cursor"), listed.body.get("prev_cursor"))

    async def case(self, key: str, case_id: str) -> Answer:
        answer = await self.routing.read_case(key, case_id)
        if answer.ok:
            now = self.clock.now()
            for d in answer.body.get("deadlines", []):
                d["urgency"] = urgency(as_datetime(d["due_at"]), now) if d.get("state") == "open" else "none"
            answer.body["timeline"] = timeline(answer.body)
        return answer

    async def goods(self, key: str, case_id: str) -> CaseGoods:
        """The case's seized goods and appraisal requests, asked of custody and appraisal at once.
        Call it only for a case routing let the person read."""
        async def listed(read: Any, name: str) -> list[dict[str, Any]] | None:
            if read is None:
                return None
            try:
                answer = await read(key, case_id)
            except ServiceDown:
                return None
            if answer.status == 422:
                return []  # an id that service's own shape refuses: no lot or appraisal can carry it
            if not answer.ok or not isinstance(answer.body, dict):
                return None
            return list(answer.body.get(name) or [])

        lots, appraisals = await asyncio.gather(
            listed(self.custody.lots_of_case if self.custody else None, "lots"),
            listed(self.appraisal.of_case if self.appraisal else None, "appraisals"))
        return CaseGoods(lots, appraisals)

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

    async def propose_referral(self, key: str, case_id: str, *, reason: str, idempotency_key: str | None) -> Answer:
        return await self.routing.command(key, case_id, "referral", {"reason": reason}, idempotency_key=idempotency_key)

    async def decide_referral(self, key: str, case_id: str, *, approve: bool, reason: str | None,
                              idempotency_key: str | None) -> Answer:
        body: dict[str, Any] = {"approve": approve}
        if reason:
            body["reason"] = reason
        return await self.routing.command(key, case_id, "referral/decision", body, idempotency_key=idempotency_key)

    async def transfer_to_police(self, key: str, case_id: str, *, package: dict[str, Any],
                                 idempotency_key: str | None) -> Answer:
        return await self.routing.command(key, case_id, "referral/transfer", {"package": package},
                                          idempotency_key=idempotency_key)

    async def record_outcome(self, key: str, case_id: str, *, outcome: dict[str, Any],
                             idempotency_key: str | None) -> Answer:
        return await self.routing.command(key, case_id, "outcome", outcome, idempotency_key=idempotency_key)

    async def decide_penalty(self, key: str, decision: dict[str, Any], *, idempotency_key: str | None) -> Answer:
        """The bureau's penalty decision to credit's ``POST /v1/penalties`` (credit checks it, discloses
        it and raises 以罚代刑 when its figures cross a criminal threshold with no referral under way)."""
        if self.credit is None:
            raise ServiceDown("credit: not configured")
        return await self.credit.decide_penalty(key, decision, idempotency_key=idempotency_key)

    async def referrals(self, key: str) -> list[dict[str, Any]]:
        """The police's worklist: the cases whose referral went to them, by next deadline."""
        return [i for i in await self.worklist(key) if i.get("referral_state")]

    async def supervision(self, key: str) -> Answer:
        return await self.routing.supervision(key)
