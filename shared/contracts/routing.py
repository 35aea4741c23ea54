"""Routing events (topic `case.routing`, key: case id), emitted by routing.

A case opened by intake is assigned to a lead bureau (``<bureau_type>@<jurisdiction>``,
e.g. ``market_regulation@610402``) with co-operating bureaus and legal
deadlines (`CaseAssigned`). The assignee then acknowledges it, asks for a
transfer, refers it to the police (see `shared.contracts.referral`) or records
the outcome; a command that cannot be honoured is answered with
`CaseCommandRefused`. Deadlines are watched: `DeadlineApproaching`,
`DeadlineBreached` (once per deadline), `CaseDeadlineRevised` (a provisional
deadline recomputed when the year's holiday data arrived).

Every event of a case is also copied onto the current assignee's
``egress.<bureau>`` topic (same type and payload, its own event id).
"""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.contracts import EventModel, contract
from shared.contracts.cases import Complainant, Figures, Origin, Suspect
from shared.topics import CASE_ROUTING
from shared.text import CaseId, TrackingNo

_KEY = "case id"

#: Why a case went to the city-level bureau instead of the county's (bounded).
CityLevelReason = Literal[
    "cross_county", "major_amount", "repeat_suspect", "county_lacks_bureau", "city_level_county", "unknown_county",
    "unknown_category",
]
#: Which legal period a deadline tracks (bounded: it is a metric label).
DeadlineKind = Literal[
    "acknowledgement",           # accept or refuse a complaint / decide on a report
    "referral_head_decision",    # agency head decides on a proposed criminal referral (Order 310 art. 5)
    "referral_transfer",         # transfer to the police within 24 h of approval (art. 5)
    "police_filing_decision",    # police open a case or refuse (art. 8)
    "reconsideration_request",   # agency asks the police to reconsider a refusal (art. 9)
    "reconsideration_decision",  # police decide on the reconsideration (art. 9)
    "handover",                  # goods and files handed to the police (art. 12)
    "reopened",                  # handle again a case the complainant's survey reopened (routing rules: reopening)
]
Outcome = Literal["penalty_decided", "no_violation", "mediated", "not_established", "referred_to_police", "closed_other"]
#: Why a command was refused (bounded: it is a metric label).
RefusalReason = Literal[
    "unknown_case",
    "not_assignee",              # the actor is not the bureau the case is assigned to
    "not_police_of_referral",    # a police decision from a bureau other than the referral's police
    "case_closed",
    "illegal_transition",        # the command does not apply in the case's or referral's current state
    "referral_in_progress",
    "no_active_referral",
    "below_threshold",           # a non-IP referral whose figures do not cross the criminal threshold
    "already_with_police",
    "incomplete_package",        # the transfer package lacks a required document
    "invalid_target",            # a transfer to an unknown bureau, a jurisdiction outside the city, or itself
    "reason_required",
]


class DeadlineInfo(BaseModel):
    """A legal deadline as computed by routing (working days per the official holiday calendar)."""

    model_config = ConfigDict(frozen=True)
    deadline_id: str
    kind: DeadlineKind
    bureau: str = Field(description="who must act by then")
    starts_at: datetime
    due_at: datetime = Field(description="last instant of the period, UTC")
    due_date_local: date = Field(description="the due day in Asia/Shanghai")
    provisional: bool = Field(description="beyond the holiday data: recomputed (case.deadline-revised) when it arrives")
    rule_id: str
    rule_version: str
    citation: str


@contract(topic=CASE_ROUTING.name, key=_KEY)
class CaseAssigned(EventModel):
    """A case was assigned to a lead bureau (first assignment, transfer or escalation)."""

    EVENT_TYPE: ClassVar[str] = "shuangda.case.assigned.v1"
    case_id: CaseId
    assignment_no: int = Field(description="1 for the first assignment, +1 for every re-assignment")
    assigned_at: datetime
    bureau: str = Field(description="lead bureau, <bureau_type>@<jurisdiction>")
    bureau_type: str
    jurisdiction: str = Field(description="GB/T 2260 code: a county, or the city for city-level cases")
    level: Literal["county", "city"]
    reasons: list[CityLevelReason] = Field(default_factory=list, description="why it went to the city level, if it did")
    co_bureaus: list[str] = Field(default_factory=list)
    category: str
    county: str
    counties: list[str]
    origin: Origin
    tracking_no: TrackingNo | None = None
    summary: str = ""
    suspect: Suspect
    figures: Figures = Field(default_factory=dict)
    complainant: Complainant | None = None
    deadlines: list[DeadlineInfo] = Field(default_factory=list)
    transferred_from: str | None = None
    directory_version: str
    rules_version: str


@contract(topic=CASE_ROUTING.name, key=_KEY)
class CaseAcknowledged(EventModel):
    """The assignee accepted the case, or refused it (不予受理) with a reason."""

    EVENT_TYPE: ClassVar[str] = "shuangda.case.acknowledged.v1"
    case_id: CaseId
    bureau: str
    decision: Literal["accept", "refuse"]
    reason: str | None = None
    acknowledged_at: datetime
    seconds_to_acknowledge: float
    late: bool = Field(description="after the acknowledgement deadline")


@contract(topic=CASE_ROUTING.name, key=_KEY)
class CaseTransferred(EventModel):
    """The case moved from one bureau to another (on request, or escalated to the office)."""

    EVENT_TYPE: ClassVar[str] = "shuangda.case.transferred.v1"
    case_id: CaseId
    from_bureau: str
    to_bureau: str
    requested_bureau: str = Field(description="what the transfer asked for (differs when escalated or redirected by a merge)")
    reason: str
    transfers: int = Field(description="transfers between bureaus since the office last directed the case")
    escalated: bool
    transferred_at: datetime


@contract(topic=CASE_ROUTING.name, key=_KEY)
class CaseEscalated(EventModel):
    """The case was sent to the leading-group office (bounced too often)."""

    EVENT_TYPE: ClassVar[str] = "shuangda.case.escalated.v1"
    case_id: CaseId
    office: str
    reason: Literal["too_many_transfers"]
    detail: str
    transfers: int
    escalated_at: datetime


@contract(topic=CASE_ROUTING.name, key=_KEY)
class CaseFiguresUpdated(EventModel):
    """Another report joined the case: its running figures and counties changed."""

    EVENT_TYPE: ClassVar[str] = "shuangda.case.figures-updated.v1"
    case_id: CaseId
    bureau: str
    figures: Figures
    counties: list[str]
    reports_count: int
    threshold_crossed: bool
    threshold_rule: str | None = None
    updated_at: datetime


@contract(topic=CASE_ROUTING.name, key=_KEY)
class CasePenaltyOverThreshold(EventModel):
    """The assignee closed the case with a penalty while its figures cross a criminal threshold and no
    referral to the police was made (none, or the agency head rejected it): 以行政处罚代替移送, what State
    Council Order 310 art. 11 para. 1 forbids and art. 16 para. 2 holds the agency head liable for. For the
    procuratorate (its supervision) and the leading-group office. Routing's side of issue 14 §7: credit
    raises `PenaltySubstitutesProsecution` when the bureau's decision itself reaches it."""

    EVENT_TYPE: ClassVar[str] = "shuangda.case.penalty-over-threshold.v1"
    case_id: CaseId
    bureau: str = Field(description="the assignee that recorded the penalty outcome")
    category: str
    decision_no: str | None = None
    figures: Figures = Field(description="the case's running figures")
    family: str = Field(description="the threshold family crossed (shared reference thresholds)")
    threshold_rule: str
    threshold_version: str
    threshold_zh: str
    threshold_citation: str
    threshold_article: str = ""
    threshold_verified: bool
    referral_state: str = Field(description="none, or the referral's last state (rejected)")
    liability_citation: str
    procuratorate: str
    office: str
    detected_at: datetime


@contract(topic=CASE_ROUTING.name, key=_KEY)
class CaseOutcomeRecorded(EventModel):
    """The assignee closed the case with an outcome (or the referral's handover closed it)."""

    EVENT_TYPE: ClassVar[str] = "shuangda.case.outcome-recorded.v1"
    case_id: CaseId
    bureau: str
    outcome: Outcome
    decision_no: str | None = None
    penalty_amount: Decimal | None = None
    detail: str = ""
    category: str
    suspect: Suspect
    recorded_at: datetime


@contract(topic=CASE_ROUTING.name, key=_KEY)
class CaseReopened(EventModel):
    """A closed case went back to its bureau after the complainant's survey (low score or not resolved)."""

    EVENT_TYPE: ClassVar[str] = "shuangda.case.reopened.v1"
    case_id: CaseId
    bureau: str = Field(description="the bureau that handles it again")
    state: Literal["assigned", "accepted"] = Field(description="accepted again, or back to be acknowledged (a refused case)")
    previous_outcome: str
    score: int
    resolved: bool
    comment: str = ""
    tracking_no: TrackingNo | None = None
    reopened_at: datetime
    deadline: DeadlineInfo | None = Field(default=None, description=(
        "the period the bureau has again: to acknowledge a refused case anew, or to handle an accepted one"))


@contract(topic=CASE_ROUTING.name, key=_KEY)
class CaseCommandRefused(EventModel):
    """A bureau's command could not be honoured; the reason says why."""

    EVENT_TYPE: ClassVar[str] = "shuangda.case.command-refused.v1"
    case_id: CaseId
    command: str = Field(description="the command's type")
    command_id: str | None = Field(default=None, description="the command's event id or idempotency key")
    actor: str = Field(description="the authenticated bureau that sent it")
    reason: RefusalReason
    detail: str
    refused_at: datetime


@contract(topic=CASE_ROUTING.name, key=_KEY)
class CaseDeadlineRevised(EventModel):
    """A provisional deadline was recomputed once the holiday data for its year arrived."""

    EVENT_TYPE: ClassVar[str] = "shuangda.case.deadline-revised.v1"
    case_id: CaseId
    previous_due_at: datetime
    previous_provisional: bool
    deadline: DeadlineInfo
    revised_at: datetime


@contract(topic=CASE_ROUTING.name, key=_KEY)
class DeadlineApproaching(EventModel):
    """A deadline is near and the bureau has not acted (emitted once per deadline)."""

    EVENT_TYPE: ClassVar[str] = "shuangda.deadline.approaching.v1"
    case_id: CaseId
    deadline: DeadlineInfo
    detected_at: datetime


@contract(topic=CASE_ROUTING.name, key=_KEY)
class DeadlineBreached(EventModel):
    """A deadline passed without the act it requires (emitted once per deadline; the office is told)."""

    EVENT_TYPE: ClassVar[str] = "shuangda.deadline.breached.v1"
    case_id: CaseId
    deadline: DeadlineInfo
    escalated_to: str = Field(description="the leading-group office")
    detected_at: datetime


@contract(topic=CASE_ROUTING.name, key=_KEY)
class JointMeetingProposed(EventModel):
    """A major case needs a joint enforcement meeting convened by the office."""

    EVENT_TYPE: ClassVar[str] = "shuangda.case.joint-meeting-proposed.v1"
    case_id: CaseId
    office: str
    bureaus: list[str] = Field(description="lead and co-operating bureaus to invite")
    reasons: list[Literal["several_bureaus", "cross_county", "major_amount", "repeat_suspect"]]
    category: str
    counties: list[str]
    proposed_at: datetime


@contract(topic=CASE_ROUTING.name, key=_KEY)
class JointMeetingDecided(EventModel):
    """The office convened a proposed joint enforcement meeting, or dismissed the proposal with a reason
    (once per case: a decision is final). The bureaus concerned are told."""

    EVENT_TYPE: ClassVar[str] = "shuangda.case.joint-meeting-decided.v1"
    case_id: CaseId
    office: str
    decision: Literal["convene", "dismiss"]
    reason: str | None = Field(default=None, description="why it was dismissed (required then), or a note")
    bureaus: list[str] = Field(description="the lead and co-operating bureaus concerned")
    decided_by: str = Field(description="the principal that decided")
    decided_at: datetime
