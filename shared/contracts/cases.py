"""Case intake events (topic `case.intake`, key: case id), emitted by intake.

Routing assigns cases from `CaseOpened`; `CaseMerged` tells that another
report about the same suspect joined an open case (its figures are the
case's running totals, so a consumer never has to add them up itself).
"""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.contracts import EventModel, contract
from shared.topics import CASE_INTAKE
from shared.text import CaseId, TrackingNo

Origin = Literal["complaint", "report", "lead"]
Channel = Literal["hotline", "web", "open311", "platform", "monitoring", "bureau", "kafka"]


class Sealed(BaseModel):
    """A field encrypted with AES-GCM (see shared.pii); only key holders can open it."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    kid: str = Field(description="key id, for rotation")
    nonce: str = Field(description="base64url, 12 bytes")
    ciphertext: str = Field(description="base64url ciphertext + tag")


class Complainant(BaseModel):
    """Who complained: sealed personal data plus masked forms safe to show."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    name: Sealed | None = None
    phone: Sealed | None = None
    id_number: Sealed | None = None
    name_masked: str | None = None
    phone_masked: str | None = Field(default=None, description="last 4 digits only")


class Suspect(BaseModel):
    """Whom the report is about; the merge key is the first of credit code, name+county, shop/listing."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    credit_code: str | None = Field(default=None, description="unified social credit code, validated")
    name: str | None = None
    platform: str | None = None
    shop_id: str | None = None
    listing: str | None = Field(default=None, description="listing URL host + path")


Figures = dict[str, Decimal]
"""Amounts involved (CNY) and counts, by key: illegal_turnover, illegal_gains, sales,
unsold_value, loss, pieces, copies, marks_count, amount_involved."""


@contract(topic=CASE_INTAKE.name, key="case id")
class CaseOpened(EventModel):
    """A new case was opened from a complaint, report or lead."""

    EVENT_TYPE: ClassVar[str] = "shuangda.case.opened.v1"
    case_id: CaseId
    opened_at: datetime
    origin: Origin
    channel: Channel
    client_id: str = Field(description="the authenticated client that filed it")
    category: str = Field(description="category id (shared.reference)")
    county: str = Field(description="current GB/T 2260 code of the county/district")
    counties: list[str] = Field(default_factory=list, description="every county involved so far")
    suspect: Suspect
    figures: Figures = Field(default_factory=dict)
    reports_count: int = 1
    tracking_no: TrackingNo | None = None
    source_id: str | None = None
    summary: str = ""
    complainant: Complainant | None = None


@contract(topic=CASE_INTAKE.name, key="case id")
class CaseMerged(EventModel):
    """Another report about the same suspect and category joined an open case."""

    EVENT_TYPE: ClassVar[str] = "shuangda.case.merged.v1"
    case_id: CaseId
    merged_at: datetime
    origin: Origin
    channel: Channel
    client_id: str
    category: str
    county: str
    counties: list[str] = Field(default_factory=list, description="every county involved so far")
    suspect: Suspect
    figures: Figures = Field(default_factory=dict, description="running totals of the case")
    reports_count: int
    tracking_no: TrackingNo | None = None
    source_id: str | None = None
    complainant: Complainant | None = None


@contract(topic=CASE_INTAKE.name, key="case id")
class CaseSurveyAnswered(EventModel):
    """The complainant rated the handling of a closed case (issue 15 §4); ``reopen`` asks routing to
    send it back (a low score or "not resolved", with a request to reopen, within the window)."""

    EVENT_TYPE: ClassVar[str] = "shuangda.case.survey-answered.v1"
    case_id: CaseId
    tracking_no: TrackingNo
    score: int = Field(ge=1, le=5)
    resolved: bool
    reopen: bool = Field(description="intake's rule asks for a reopening (routing still refuses a police case)")
    comment: str = Field(default="", max_length=500, description="as typed, with personal data masked")
    answered_at: datetime
    rule_version: str


@contract(topic=CASE_INTAKE.name, key="case id")
class CaseComplainantCorrected(EventModel):
    """A complainant's phone number corrected on their request (个人信息保护法 第四十六条, `shuangda pii
    correct`): the new number, sealed under the complainant's own data key as the first was, so the
    notices planned after it — and those not yet sent — reach the corrected number."""

    EVENT_TYPE: ClassVar[str] = "shuangda.case.complainant-corrected.v1"
    case_id: CaseId
    tracking_no: TrackingNo
    phone: Sealed
    phone_masked: str = Field(description="last 4 digits only")
    corrected_at: datetime
