"""A bureau's commands on its case's seized goods and appraisals, from the case page: register a lot
(custody's ``POST /v1/lots``), hand it over and receive it (``…/handovers``, ``…:receive``), request an
appraisal (appraisal's ``POST /v1/appraisals``) — with the person's principal's key, each under the
form's Idempotency-Key. Routing is asked first whether the person may read the case (the console's
one rule of who sees a case; another bureau's case is a 404 and nothing is sent); custody and
appraisal then decide the command itself."""
from __future__ import annotations

from typing import Any, Awaitable, Callable

from services.console.adapters.api import Answer, ServiceDown
from services.console.adapters.appraisal import AppraisalClient
from services.console.adapters.custody import CustodyClient
from services.console.domain import goods as rules


class GoodsActions:
    def __init__(self, read_case: Callable[[str, str], Awaitable[Answer]], custody: CustodyClient | None,
                 appraisal: AppraisalClient | None) -> None:
        self.read_case = read_case
        self.custody = custody
        self.appraisal = appraisal

    @staticmethod
    def _decided(answer: Answer) -> Answer:
        """The service's answer, its 404 (an unknown case or lot *there*: custody learns a case's bureau
        from routing's topic, so just after the assignment it may not know it yet) shown on the case
        page with its reason like any refusal — routing has already let the person read the case."""
        return Answer(409, answer.body) if answer.status == 404 else answer

    async def _visible(self, key: str, case_id: str) -> Answer | None:
        """None when routing lets the person read the case, else the answer to give (a 404)."""
        case = await self.read_case(key, case_id)
        return None if case.ok else Answer(404, case.body)

    def _custody(self) -> CustodyClient:
        if self.custody is None:
            raise ServiceDown("custody: not configured")
        return self.custody

    async def register(self, key: str, case_id: str, fields: dict[str, str], idempotency_key: str | None) -> Answer:
        custody = self._custody()
        return await self._visible(key, case_id) or self._decided(await custody.register(
            key, rules.register_body(case_id, fields), idempotency_key=idempotency_key))

    async def hand_over(self, key: str, case_id: str, lot_id: str, fields: dict[str, str],
                        idempotency_key: str | None) -> Answer:
        custody = self._custody()
        body = rules.handover_body(fields)
        return await self._visible(key, case_id) or self._decided(await custody.hand_over(
            key, lot_id, to=body["to"], purpose=body["purpose"], idempotency_key=idempotency_key))

    async def receive(self, key: str, case_id: str, lot_id: str, idempotency_key: str | None) -> Answer:
        custody = self._custody()
        return await self._visible(key, case_id) or self._decided(
            await custody.receive(key, lot_id, idempotency_key=idempotency_key))

    async def request_appraisal(self, key: str, case_id: str, fields: dict[str, str],
                                idempotency_key: str | None) -> Answer:
        if self.appraisal is None:
            raise ServiceDown("appraisal: not configured")
        appraisal = self.appraisal
        return await self._visible(key, case_id) or self._decided(await appraisal.request(
            key, rules.appraisal_body(case_id, fields), idempotency_key=idempotency_key))


def lots_with_actions(lots: list[dict[str, Any]] | None, party: str | None) -> list[dict[str, Any]] | None:
    """The lots as the page lists them, each with the commands it offers `party`."""
    if lots is None:
        return None
    return [{**lot, "actions": rules.lot_actions(lot, party)} for lot in lots]
