"""Credit's Kafka routes: penalty decisions and revocations on the bureaus' ingress topics (the
topic names the acting bureau), and accepted criminal referrals from routing. Both are set-based:
one `app.decisions.run_batch` per consumer batch.

Refusals are events (``penalty.refused``) with a reason, never exceptions; `NonRetryableError` is
raised only for a record that can never be applied (an ingress topic that names no bureau, a
referral without any party, hostile text)."""
from __future__ import annotations

import dataclasses
from typing import Any, Sequence

from shared.contracts.penalty import PenaltyDecided, PenaltyRevoked
from shared.contracts import referral as referral_contracts
from shared.contracts.referral import ReferralAccepted
from shared.reference import load_bureau_types
from shared.runtime import Message, NonRetryableError, UnitOfWork
from shared.runtime.routes import INGRESS_PREFIX, Binding, TopicRoute
from shared.topics import ingress_bureau

from services.credit.adapters.hygiene import first_hostile_field
from services.credit.app.context import Credit, Item
from services.credit.app.decisions import run_batch
from services.credit.app.referrals import record_referral_states
from services.credit.domain.model import Bureau


#: every event of the referral family (referral.lifecycle)
REFERRAL_EVENTS = tuple(
    m for m in vars(referral_contracts).values()
    if isinstance(m, type) and getattr(m, "EVENT_TYPE", "").startswith("shuangda.referral.") and hasattr(m, "model_fields")
    and "state" in m.model_fields
)


def bureau_from_topic(topic: str) -> Bureau:
    """``ingress.market_regulation-610402`` → market_regulation@610402 (the topic names the actor)."""
    client = topic.removeprefix(INGRESS_PREFIX)
    found = ingress_bureau(client) if topic.startswith(INGRESS_PREFIX) else None
    if found is None:
        raise NonRetryableError("unknown_client", f"topic: {topic} does not name a bureau (ingress.<type>-<division>)", field="topic")
    bureau_type, division = found
    if bureau_type not in load_bureau_types().ids:
        raise NonRetryableError("unknown_client", f"topic: {bureau_type!r} is not a bureau type", field="topic")
    return Bureau(client, bureau_type, division)


def _hostile(data: Any) -> NonRetryableError | None:
    found = first_hostile_field(data)
    if found is None:
        return None
    field, reason, detail = found
    return NonRetryableError(reason, f"{field}: {detail}", field=field)


class CreditRoutes:
    def __init__(self, credit: Credit) -> None:
        self.credit = credit

    def ingress(self, pattern: str) -> TopicRoute:
        """Bureau ingress topics: penalty decisions and revocations; routing's commands on the same
        topics are not credit's and are skipped."""
        return TopicRoute(
            pattern=pattern,
            bindings={PenaltyDecided.EVENT_TYPE: Binding(PenaltyDecided), PenaltyRevoked.EVENT_TYPE: Binding(PenaltyRevoked)},
            on_unknown="ignore",
            batch=self.on_ingress_batch,
        )

    def referrals(self, topic: str) -> TopicRoute:
        """Every referral step: each case's referral state is kept (is a referral under way when a penalty
        on crossing figures is recorded? issue 14 §7); an accepted referral is also recorded against the suspect."""
        bindings = {m.EVENT_TYPE: Binding(m) for m in REFERRAL_EVENTS}
        return TopicRoute(topic=topic, bindings=bindings, batch=self.on_referral_batch)

    async def on_ingress_batch(self, messages: Sequence[Message[Any]], uow: UnitOfWork) -> dict[int, Exception]:
        refused: dict[int, Exception] = {}
        bureaus: dict[str, Bureau | NonRetryableError] = {}
        items: list[tuple[int, Item]] = []
        for i, m in enumerate(messages):
            if m.topic not in bureaus:
                try:
                    bureaus[m.topic] = bureau_from_topic(m.topic)
                except NonRetryableError as exc:
                    bureaus[m.topic] = exc
            bureau = bureaus[m.topic]
            if isinstance(bureau, NonRetryableError):
                refused[i] = bureau
                continue
            if (bad := _hostile(m.data)) is not None:
                refused[i] = bad
                continue
            # the topic names the actor; a header saying otherwise is ignored
            cause = dataclasses.replace(m, envelope=m.envelope.model_copy(update={"actor": bureau.id}))
            kind = "revoke" if isinstance(m.data, PenaltyRevoked) else "decide"
            items.append((i, Item(kind, m.data, bureau, m.envelope.id, bureau.id, cause)))
        return refused | await self._run(items, uow)

    async def on_referral_batch(self, messages: Sequence[Message[Any]], uow: UnitOfWork) -> dict[int, Exception]:
        refused: dict[int, Exception] = {}
        items: list[tuple[int, Item]] = []
        steps: list[tuple[int, tuple[str, str, str, str, Any]]] = []
        for i, m in enumerate(messages):
            if (bad := _hostile(m.data)) is not None:
                refused[i] = bad
                continue
            d = m.data
            steps.append((i, (d.case_id, d.referral_id, d.state, d.agency, d.at)))
            if isinstance(d, ReferralAccepted):
                items.append((i, Item("referral", d, None, m.envelope.id, m.envelope.actor, m)))
        refused |= await self._run(items, uow)  # (its audit lock first: one lock order)
        # only the steps actually applied: a step refused here (dead-lettered) never becomes the case's state
        await record_referral_states(uow, [step for i, step in steps if i not in refused])
        return refused

    async def _run(self, items: list[tuple[int, Item]], uow: UnitOfWork) -> dict[int, Exception]:
        outcomes = await run_batch(self.credit, uow, [it for _, it in items])
        return {i: o for (i, _), o in zip(items, outcomes) if isinstance(o, Exception)}
