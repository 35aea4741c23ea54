"""Administrative → criminal referral events (两法衔接; topic `referral.lifecycle`,
key: case id), emitted by routing.

The steps follow State Council Order 310 (rev. 2020)::

    proposed ──approve──▶ approved ──transfer (package)──▶ transferred ──open──▶ accepted ──hand over──▶ handed_over
       │ reject                                              │ refuse
       ▼                                                     ▼
    rejected                  refused ──reconsider──▶ reconsideration_requested ──refuse──▶ reconsideration_refused
                                 │ supervise                 │ open → accepted              │ supervise
                                 ▼                                                          ▼
                          supervision_requested ──open──▶ accepted               supervision_requested

Each event names the step's deadline (`next_deadline`) when the next step has one.
Credit consumes `ReferralAccepted`: it carries the party (suspect) and category.
"""
from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.contracts import EventModel, contract
from shared.contracts.cases import Figures, Suspect
from shared.contracts.routing import DeadlineInfo
from shared.topics import REFERRAL
from shared.text import CaseId

_KEY = "case id"

ReferralState = Literal[
    "proposed", "approved", "rejected", "transferred", "accepted", "refused",
    "reconsideration_requested", "reconsideration_refused", "supervision_requested", "handed_over",
]


class DocumentRef(BaseModel):
    """A document of the transfer package, by reference (the file stays in the bureau's system)."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)
    doc_no: str = Field(min_length=1, max_length=100, description="文号 or the bureau's document id")
    title: str | None = Field(default=None, max_length=200)
    uri: str | None = Field(default=None, max_length=2048)
    sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")


class TransferPackage(BaseModel):
    """What Order 310 art. 6 requires with a transfer: letter, investigation report,
    list of seized goods and the test or appraisal reports."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    transfer_letter: DocumentRef | None = None
    investigation_report: DocumentRef | None = None
    seized_goods_list: DocumentRef | None = None
    test_reports: list[DocumentRef] = Field(default_factory=list, max_length=50)


class ThresholdBasis(BaseModel):
    """Why a referral was proposed: the threshold crossed, or an IP case's reasonable suspicion."""

    model_config = ConfigDict(frozen=True)
    kind: Literal["threshold_crossed", "ip_reasonable_suspicion", "bureau_judgement"]
    family: str | None = None
    rule_id: str | None = None
    rule_version: str | None = None
    condition: str | None = None
    citation: str | None = None
    reason: str | None = None


class _ReferralEvent(EventModel):
    case_id: CaseId
    referral_id: str
    state: ReferralState
    agency: str = Field(description="the administrative bureau referring the case")
    police: str = Field(description="the same-level police, public_security@<jurisdiction>")
    at: datetime
    next_deadline: DeadlineInfo | None = None


@contract(topic=REFERRAL.name, key=_KEY)
class ReferralProposed(_ReferralEvent):
    """A criminal referral was proposed (by the assignee, or by routing when the figures crossed the threshold)."""

    EVENT_TYPE: ClassVar[str] = "shuangda.referral.proposed.v1"
    proposed_by: str = Field(description="the bureau, or 'routing' for an automatic proposal")
    basis: ThresholdBasis
    category: str
    figures: Figures = Field(default_factory=dict)
    suspect: Suspect


@contract(topic=REFERRAL.name, key=_KEY)
class ReferralApproved(_ReferralEvent):
    """The agency head approved the transfer to the police."""

    EVENT_TYPE: ClassVar[str] = "shuangda.referral.approved.v1"
    reason: str | None = None


@contract(topic=REFERRAL.name, key=_KEY)
class ReferralRejected(_ReferralEvent):
    """The agency head decided not to transfer; the case stays administrative."""

    EVENT_TYPE: ClassVar[str] = "shuangda.referral.rejected.v1"
    reason: str


@contract(topic=REFERRAL.name, key=_KEY)
class ReferralTransferred(_ReferralEvent):
    """The case went to the same-level police with the complete package."""

    EVENT_TYPE: ClassVar[str] = "shuangda.referral.transferred.v1"
    package: TransferPackage
    category: str
    suspect: Suspect


@contract(topic=REFERRAL.name, key=_KEY)
class ReferralAccepted(_ReferralEvent):
    """The police opened a criminal case (立案). Credit records it against the party."""

    EVENT_TYPE: ClassVar[str] = "shuangda.referral.accepted.v1"
    police_case_no: str | None = None
    category: str
    suspect: Suspect = Field(description="the party: credit code and/or name")
    figures: Figures = Field(default_factory=dict)
    after: Literal["transfer", "reconsideration", "supervision"]


@contract(topic=REFERRAL.name, key=_KEY)
class ReferralRefused(_ReferralEvent):
    """The police refused to open a case, in writing with reasons."""

    EVENT_TYPE: ClassVar[str] = "shuangda.referral.refused.v1"
    reason: str


@contract(topic=REFERRAL.name, key=_KEY)
class ReferralReconsiderationRequested(_ReferralEvent):
    """The agency asked the police to reconsider their refusal."""

    EVENT_TYPE: ClassVar[str] = "shuangda.referral.reconsideration-requested.v1"
    reason: str


@contract(topic=REFERRAL.name, key=_KEY)
class ReferralReconsiderationRefused(_ReferralEvent):
    """The police upheld their refusal on reconsideration."""

    EVENT_TYPE: ClassVar[str] = "shuangda.referral.reconsideration-refused.v1"
    reason: str


@contract(topic=REFERRAL.name, key=_KEY)
class ReferralSupervisionRequested(_ReferralEvent):
    """The agency asked the procuratorate to supervise the police's refusal (立案监督)."""

    EVENT_TYPE: ClassVar[str] = "shuangda.referral.supervision-requested.v1"
    procuratorate: str
    reason: str


@contract(topic=REFERRAL.name, key=_KEY)
class ReferralHandedOver(_ReferralEvent):
    """The agency handed the seized goods and the files to the police; the administrative case closes."""

    EVENT_TYPE: ClassVar[str] = "shuangda.referral.handed-over.v1"
    goods_list: DocumentRef | None = None
    files: list[DocumentRef] = Field(default_factory=list)
    note: str = ""
