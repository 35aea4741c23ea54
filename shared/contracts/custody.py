"""Custody events (topic `custody.lifecycle`, key: lot id), emitted by custody.

A lot of goods seized on a case is registered by a bureau (`LotRegistered`); every change of
custody is a hand-over and its receipt (`CustodyChanged`); the decided outcome is recorded
(`LotOutcomeDecided`) and the lot leaves custody by a disposal that follows it (`LotDisposed`),
destruction only under an approved plan (`DestructionPlanChanged`). Custody's deadlines — the
police hand-over after the police opened the case (Order 310 第十二条) and the local-policy
disposal of perishable goods — raise `CustodyDeadlineApproaching` and `CustodyDeadlineBreached`
once each."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import ClassVar, Literal

from shared.contracts import EventModel, contract
from shared.contracts.deadlines import ServiceDeadline
from shared.topics import CUSTODY
from shared.text import CaseId

_KEY = "lot id"


@contract(topic=CUSTODY.name, key=_KEY)
class LotRegistered(EventModel):
    """A bureau registered goods seized on a case; it holds them."""

    EVENT_TYPE: ClassVar[str] = "shuangda.custody.lot-registered.v1"
    lot_id: str
    case_id: CaseId
    bureau: str
    hazard: Literal["toxic_harmful", "perishable", "ordinary"]
    items_count: int
    declared_value: Decimal
    location: str
    registered_at: datetime


@contract(topic=CUSTODY.name, key=_KEY)
class CustodyChanged(EventModel):
    """The holder handed the goods over, or the receiver confirmed receipt (custody passed)."""

    EVENT_TYPE: ClassVar[str] = "shuangda.custody.changed.v1"
    lot_id: str
    case_id: CaseId
    step: Literal["handed_over", "received"]
    seq: int
    from_party: str
    to_party: str
    purpose: Literal["warehouse", "appraisal", "police", "return_to_bureau"]
    at: datetime


@contract(topic=CUSTODY.name, key=_KEY)
class LotOutcomeDecided(EventModel):
    """The outcome that disposes of the goods was decided (document number and date)."""

    EVENT_TYPE: ClassVar[str] = "shuangda.custody.outcome-decided.v1"
    lot_id: str
    case_id: CaseId
    outcome: Literal["returned", "confiscated_auctioned", "destroyed"]
    document_no: str
    decided_on: date


@contract(topic=CUSTODY.name, key=_KEY)
class LotDisposed(EventModel):
    """The goods left custody as decided (returned, auctioned or destroyed under a plan)."""

    EVENT_TYPE: ClassVar[str] = "shuangda.custody.lot-disposed.v1"
    lot_id: str
    case_id: CaseId
    outcome: Literal["returned", "confiscated_auctioned", "destroyed"]
    plan_id: str | None = None
    at: datetime


@contract(topic=CUSTODY.name, key="plan id")
class DestructionPlanChanged(EventModel):
    """A destruction plan was proposed, approved by the office, or carried out (with its record)."""

    EVENT_TYPE: ClassVar[str] = "shuangda.custody.destruction-plan.v1"
    plan_id: str
    bureau: str
    state: Literal["proposed", "approved", "done"]
    lot_ids: list[str]
    scheduled_on: date
    facility: str
    environmental_cost: Decimal | None = None


@contract(topic=CUSTODY.name, key=_KEY)
class CustodyDeadlineApproaching(EventModel):
    """A custody deadline is near and the act it requires has not happened (once per deadline)."""

    EVENT_TYPE: ClassVar[str] = "shuangda.custody.deadline-approaching.v1"
    lot_id: str
    case_id: CaseId
    deadline: ServiceDeadline
    detected_at: datetime


@contract(topic=CUSTODY.name, key=_KEY)
class CustodyDeadlineBreached(EventModel):
    """A custody deadline passed without the act it requires (once per deadline)."""

    EVENT_TYPE: ClassVar[str] = "shuangda.custody.deadline-breached.v1"
    lot_id: str
    case_id: CaseId
    deadline: ServiceDeadline
    detected_at: datetime
