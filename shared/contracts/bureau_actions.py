"""Commands bureaus send about their cases (topic family ``ingress.<bureau-client>``,
key: case id; also the bodies of routing's HTTP API).

The acting bureau is the authenticated sender — its API key, or the ingress
topic it may write (``ingress.market_regulation-610402`` is
``market_regulation@610402``) — never a field here; unknown fields are refused.
Only the current assignee may act on a case, and only the referral's police
may decide on a referral; anything else is answered with
``case.command-refused`` and a reason.
"""
from __future__ import annotations

from decimal import Decimal
from typing import Annotated, ClassVar, Literal

from pydantic import Field

from shared.contracts import CommandModel, contract
from shared.contracts.referral import DocumentRef, TransferPackage
from shared.text import CaseId

INGRESS_FAMILY = "ingress.<bureau-client>"
_KEY = "case id"

Reason = Annotated[str, Field(min_length=1, max_length=2000)]
OptionalReason = Annotated[str | None, Field(max_length=2000)]
#: ``<bureau_type>@<jurisdiction>``
BureauId = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*@[0-9]{6}$", max_length=80)]


class BureauCommand(CommandModel):
    EVENT_TYPE: ClassVar[str]
    case_id: CaseId


@contract(topic=INGRESS_FAMILY, key=_KEY, kind="command")
class AcknowledgeCase(BureauCommand):
    """Accept the assigned case, or refuse it (不予受理) with a reason."""

    EVENT_TYPE: ClassVar[str] = "shuangda.bureau.acknowledge-case.v1"
    decision: Literal["accept", "refuse"]
    reason: OptionalReason = None


@contract(topic=INGRESS_FAMILY, key=_KEY, kind="command")
class RequestTransfer(BureauCommand):
    """Hand the case to another bureau (the office uses this to direct an escalated case)."""

    EVENT_TYPE: ClassVar[str] = "shuangda.bureau.request-transfer.v1"
    to_bureau: BureauId
    reason: Reason


@contract(topic=INGRESS_FAMILY, key=_KEY, kind="command")
class ProposeReferral(BureauCommand):
    """Propose transferring the case to the police as a suspected crime."""

    EVENT_TYPE: ClassVar[str] = "shuangda.bureau.propose-referral.v1"
    reason: Reason


@contract(topic=INGRESS_FAMILY, key=_KEY, kind="command")
class DecideReferral(BureauCommand):
    """The agency head's decision on a proposed referral (within 3 days)."""

    EVENT_TYPE: ClassVar[str] = "shuangda.bureau.decide-referral.v1"
    approve: bool
    reason: OptionalReason = None


@contract(topic=INGRESS_FAMILY, key=_KEY, kind="command")
class TransferToPolice(BureauCommand):
    """Transfer the approved referral to the same-level police with the package (within 24 h)."""

    EVENT_TYPE: ClassVar[str] = "shuangda.bureau.transfer-to-police.v1"
    package: TransferPackage


@contract(topic=INGRESS_FAMILY, key=_KEY, kind="command")
class DecideCriminalCase(BureauCommand):
    """The police open a criminal case or refuse in writing with reasons (within 3 days)."""

    EVENT_TYPE: ClassVar[str] = "shuangda.bureau.decide-criminal-case.v1"
    decision: Literal["open", "refuse"]
    reason: OptionalReason = None
    police_case_no: str | None = Field(default=None, max_length=100)


@contract(topic=INGRESS_FAMILY, key=_KEY, kind="command")
class RequestReconsideration(BureauCommand):
    """Ask the police to reconsider their refusal (within 3 days of it)."""

    EVENT_TYPE: ClassVar[str] = "shuangda.bureau.request-reconsideration.v1"
    reason: Reason


@contract(topic=INGRESS_FAMILY, key=_KEY, kind="command")
class RequestSupervision(BureauCommand):
    """Ask the same-level procuratorate to supervise the police's refusal."""

    EVENT_TYPE: ClassVar[str] = "shuangda.bureau.request-supervision.v1"
    reason: Reason


@contract(topic=INGRESS_FAMILY, key=_KEY, kind="command")
class HandOver(BureauCommand):
    """Hand the seized goods and the files to the police after they opened a case (within 3 days)."""

    EVENT_TYPE: ClassVar[str] = "shuangda.bureau.hand-over.v1"
    goods_list: DocumentRef | None = None
    files: list[DocumentRef] = Field(default_factory=list, max_length=100)
    note: str = Field(default="", max_length=2000)


@contract(topic=INGRESS_FAMILY, key=_KEY, kind="command")
class RecordOutcome(BureauCommand):
    """Close the case with its outcome."""

    EVENT_TYPE: ClassVar[str] = "shuangda.bureau.record-outcome.v1"
    outcome: Literal["penalty_decided", "no_violation", "mediated", "not_established", "closed_other"]
    decision_no: str | None = Field(default=None, max_length=100, description="行政处罚决定书文号 for a penalty")
    penalty_amount: Decimal | None = Field(default=None, ge=0, max_digits=16, decimal_places=2)
    detail: str = Field(default="", max_length=4000)


COMMANDS: tuple[type[BureauCommand], ...] = (
    AcknowledgeCase, RequestTransfer, ProposeReferral, DecideReferral, TransferToPolice,
    DecideCriminalCase, RequestReconsideration, RequestSupervision, HandOver, RecordOutcome,
)
