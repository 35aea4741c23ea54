"""Rapid appraisal events (快速维权鉴定; topic `appraisal.lifecycle`, key: appraisal id,
correlation id: the case), emitted by appraisal.

A bureau requests an appraisal of a case's goods (`AppraisalRequested`) from the appraisal centre
or a rights holder's identification service; the provider accepts, receives the samples or the
bureau withdraws (`AppraisalStepped`), and the provider reports (`AppraisalReported`) or refuses
(`AppraisalRefused`). `AppraisalReported.figures` is what the result says about the case's
figures: routing would add them to the case and re-evaluate the criminal thresholds.
`evidential_weight` tells an independent appraisal opinion from a rights holder's identification."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.contracts import EventModel, contract
from shared.contracts.cases import Figures
from shared.contracts.deadlines import ServiceDeadline
from shared.contracts.referral import DocumentRef
from shared.topics import APPRAISAL
from shared.text import CaseId

_KEY = "appraisal id"
Kind = Literal["authenticity", "quality", "value"]
ProviderKind = Literal["appraisal_centre", "rights_holder"]


class _AppraisalEvent(EventModel):
    appraisal_id: str
    case_id: CaseId
    bureau: str = Field(description="the requesting bureau")
    provider: str = Field(description="the provider's principal id")
    provider_kind: ProviderKind
    kind: Kind


@contract(topic=APPRAISAL.name, key=_KEY)
class AppraisalRequested(_AppraisalEvent):
    """A bureau requested an appraisal of goods of a case."""

    EVENT_TYPE: ClassVar[str] = "shuangda.appraisal.requested.v1"
    lot_id: str | None = None
    wanted_by: date | None = None
    requested_at: datetime
    result_due_at: datetime


@contract(topic=APPRAISAL.name, key=_KEY)
class AppraisalStepped(_AppraisalEvent):
    """The provider accepted the request or received the samples, or the bureau withdrew it."""

    EVENT_TYPE: ClassVar[str] = "shuangda.appraisal.stepped.v1"
    step: Literal["accepted", "samples_received", "withdrawn"]
    lot_id: str | None = None
    reason: str | None = None
    at: datetime


class WeightRuleRef(BaseModel):
    """The evidential-weight rule a result was counted by (versioned data, services/appraisal/rules)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: str
    citation: str
    article: str = ""
    verified: bool
    counts_toward_thresholds: bool


@contract(topic=APPRAISAL.name, key=_KEY)
class AppraisalReported(_AppraisalEvent):
    """The provider reported the result (verdict, valuation and the report document)."""

    EVENT_TYPE: ClassVar[str] = "shuangda.appraisal.reported.v1"
    verdict: Literal["genuine", "counterfeit", "conforming", "substandard", "undetermined"] | None = None
    valuation: Decimal | None = None
    report: DocumentRef
    evidential_weight: Literal["appraisal_opinion", "rights_holder_identification"]
    figures: Figures = Field(default_factory=dict, description="what the result adds to the case's figures")
    withheld_figures: Figures = Field(
        default_factory=dict, description="what the result would add, withheld by the evidential-weight rule (a rights "
                                          "holder's identification alone raises no figure; the centre's opinion does)")
    weight_rule: WeightRuleRef | None = Field(default=None, description="the evidential-weight rule version applied")
    lot_id: str | None = None
    reported_at: datetime


@contract(topic=APPRAISAL.name, key=_KEY)
class AppraisalRefused(_AppraisalEvent):
    """The provider refused the appraisal, with its reason."""

    EVENT_TYPE: ClassVar[str] = "shuangda.appraisal.refused.v1"
    reason: str
    at: datetime


@contract(topic=APPRAISAL.name, key=_KEY)
class AppraisalDeadlineApproaching(EventModel):
    """An appraisal deadline is near and the provider has not acted (once per deadline)."""

    EVENT_TYPE: ClassVar[str] = "shuangda.appraisal.deadline-approaching.v1"
    appraisal_id: str
    case_id: CaseId
    deadline: ServiceDeadline
    detected_at: datetime


@contract(topic=APPRAISAL.name, key=_KEY)
class AppraisalDeadlineBreached(EventModel):
    """An appraisal deadline passed without the provider's act (once per deadline)."""

    EVENT_TYPE: ClassVar[str] = "shuangda.appraisal.deadline-breached.v1"
    appraisal_id: str
    case_id: CaseId
    deadline: ServiceDeadline
    detected_at: datetime
