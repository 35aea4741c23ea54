"""Random inspection events (双随机、一公开; topic `inspection.lifecycle`, key: plan id), emitted
by inspection.

A bureau's plan is drawn (`InspectionPlanDrawn`: scope, seed, the pool versions and their
digests, the targets — everything needed to re-run the draw); each target's result is recorded
(`InspectionResultRecorded`) and published (`InspectionResultsPublished`) within the
publication period (`InspectionDeadlineApproaching` / `InspectionDeadlineBreached` otherwise).
A result `referred_to_case` also goes to intake as a lead on inspection's own ingress topic
(`shuangda.intake.submit-lead.v1`), which opens a case through intake's normal path."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.contracts import EventModel, contract
from shared.contracts.deadlines import ServiceDeadline
from shared.topics import INSPECTION

_KEY = "plan id"
Result = Literal["no_problem", "problems_found", "referred_to_case"]


class PoolVersion(BaseModel):
    model_config = ConfigDict(frozen=True)
    pool_id: str = Field(description="enterprises:<bureau> or inspectors:<bureau>")
    version: int
    digest: str = Field(description="sha256 of the pool's canonical JSON")


class PlanScope(BaseModel):
    model_config = ConfigDict(frozen=True)
    category: str | None = None
    county: str | None = None
    risks: list[Literal["low", "medium", "high"]] = Field(default_factory=list)
    quality_commitment: bool | None = None


class DrawnTarget(BaseModel):
    model_config = ConfigDict(frozen=True)
    credit_code: str
    name: str
    county: str
    inspectors: list[str]


class PublishedResult(BaseModel):
    model_config = ConfigDict(frozen=True)
    credit_code: str
    name: str
    result: Result
    findings: str


@contract(topic=INSPECTION.name, key=_KEY)
class InspectionPlanDrawn(EventModel):
    """A plan's targets and inspectors were drawn; the seed and pool versions let anyone re-run it."""

    EVENT_TYPE: ClassVar[str] = "shuangda.inspection.plan-drawn.v1"
    plan_id: str
    bureau: str
    title: str
    scope: PlanScope
    sample_size: int | None = None
    sample_rate: Decimal | None = None
    inspectors_per_target: int
    seed: str
    enterprise_pool: PoolVersion
    inspector_roster: PoolVersion
    eligible: int
    targets: list[DrawnTarget]
    drawn_at: datetime


@contract(topic=INSPECTION.name, key=_KEY)
class InspectionResultRecorded(EventModel):
    """A target's inspection result was recorded (not yet public)."""

    EVENT_TYPE: ClassVar[str] = "shuangda.inspection.result-recorded.v1"
    plan_id: str
    bureau: str
    credit_code: str
    result: Result
    recorded_at: datetime
    revision: int = Field(default=1, description="1 for the first result, one more for each correction")
    correction_reason: str | None = None


@contract(topic=INSPECTION.name, key=_KEY)
class InspectionResultsPublished(EventModel):
    """Results were published in the public feed (credit and the disclosure may take them)."""

    EVENT_TYPE: ClassVar[str] = "shuangda.inspection.results-published.v1"
    plan_id: str
    bureau: str
    results: list[PublishedResult]
    published_at: datetime


@contract(topic=INSPECTION.name, key=_KEY)
class InspectionDeadlineApproaching(EventModel):
    """A result's publication is near its deadline (once per deadline)."""

    EVENT_TYPE: ClassVar[str] = "shuangda.inspection.deadline-approaching.v1"
    plan_id: str
    credit_code: str
    deadline: ServiceDeadline
    detected_at: datetime


@contract(topic=INSPECTION.name, key=_KEY)
class InspectionDeadlineBreached(EventModel):
    """A result was not published within its period (once per deadline)."""

    EVENT_TYPE: ClassVar[str] = "shuangda.inspection.deadline-breached.v1"
    plan_id: str
    credit_code: str
    deadline: ServiceDeadline
    detected_at: datetime
