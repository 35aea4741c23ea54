"""Credit records, the serious-violation list and disclosure (topic `credit.records`,
key: the entity's credit code, or credit's entity id when it has none), emitted by credit.

Lifecycle of a record: `RecordCreated` → `RecordDisclosed` → one of
`RecordExpired` (end of the maximum publicity period, emitted exactly once),
`RecordRepaired` (信用修复 approved by the deciding bureau) or
`RecordWithdrawn` (the decision was revoked).

The list (严重违法失信名单): `Blacklisted` (rule, reason, expiry, measures) →
`Delisted` (expired, early removal, or its trigger revoked).

Applications for repair or early removal: `ApplicationReceived` →
`ApplicationDecided`.

A list rule's match lists nobody by itself (issue 14 §2): `ListingProceedingOpened` →
`ListingProceedingAdvanced` (one per step: Order 44 art. 12 weighing, art. 13 notice,
statements, decision, the level above's consent) → `Blacklisted` when it ends `listed`.

The entity registry (登记): `EntityRegistered` for each registration the registration authority
sends, new or changed (name, county, categories, status) — inspection draws its random-inspection
targets from these (docs/inspection.md).

`PenaltySubstitutesProsecution`: a penalty on figures that cross a criminal threshold with no
referral under way (以罚代刑, Order 310 art. 16), for the procuratorate and the office.
"""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import ClassVar, Literal

from pydantic import Field

from shared.contracts import EventModel, contract
from shared.topics import CREDIT
from shared.text import CaseId

RecordKind = Literal["penalty", "criminal_referral"]
ApplicationKind = Literal["repair", "early_removal"]
ApplicationOutcome = Literal["approved", "rejected", "ineligible"]
DelistReason = Literal["expired", "early_removal", "trigger_revoked"]

_KEY = "credit code (entity id without one)"


@contract(topic=CREDIT.name, key=_KEY)
class EntityIdentified(EventModel):
    """An entity first seen without a credit code was matched by name when its code appeared."""

    EVENT_TYPE: ClassVar[str] = "shuangda.credit.entity-identified.v1"
    entity_id: str
    credit_code: str
    name: str
    matched_on: str = Field(description="what matched: the normalised name")
    identified_at: datetime


@contract(topic=CREDIT.name, key=_KEY)
class EntityRegistered(EventModel):
    """An enterprise's registration in the registry, new or changed (each change a new version)."""

    EVENT_TYPE: ClassVar[str] = "shuangda.credit.entity-registered.v1"
    credit_code: str
    name: str = Field(description="as published: a trader known by its operator's own name by the surname")
    kind: Literal["organisation", "individual_trader"]
    county: str = Field(description="GB/T 2260 code of the county (or the city's code for city-level registrations)")
    categories: list[str] = Field(description="the reference categories of its business (shared.reference.categories)")
    status: Literal["registered", "deregistered"]
    version: int = Field(description="1 for the first registration, one more for each change")
    registered_by: str = Field(description="the registration authority (type@division)")
    changed_at: datetime


@contract(topic=CREDIT.name, key=_KEY)
class RecordCreated(EventModel):
    """A fact entered an entity's credit record (a penalty, or an accepted criminal referral)."""

    EVENT_TYPE: ClassVar[str] = "shuangda.credit.record-created.v1"
    record_id: str
    kind: RecordKind
    entity_id: str
    credit_code: str | None = None
    bureau: str
    category: str
    decided_on: date
    heavy: bool
    severity: str
    disclose: bool = Field(description="whether the record is published in the disclosure feed")
    disclosure_due_on: date | None = None
    publicity_min_until: date
    publicity_max_until: date
    rules_version: str
    created_at: datetime


@contract(topic=CREDIT.name, key=_KEY)
class RecordDisclosed(EventModel):
    """A record was published in the public disclosure feed (双公示)."""

    EVENT_TYPE: ClassVar[str] = "shuangda.credit.record-disclosed.v1"
    record_id: str
    decision_no: str
    entity_id: str
    credit_code: str | None = None
    disclosed_at: datetime
    due_on: date
    on_time: bool


@contract(topic=CREDIT.name, key=_KEY)
class RecordExpired(EventModel):
    """A record reached the end of its maximum publicity period (emitted once per record)."""

    EVENT_TYPE: ClassVar[str] = "shuangda.credit.record-expired.v1"
    record_id: str
    entity_id: str
    credit_code: str | None = None
    publicity_max_until: date
    expired_at: datetime


@contract(topic=CREDIT.name, key=_KEY)
class RecordRepaired(EventModel):
    """Credit repair (信用修复) approved: the record's publication ended early."""

    EVENT_TYPE: ClassVar[str] = "shuangda.credit.record-repaired.v1"
    record_id: str
    application_id: str
    entity_id: str
    credit_code: str | None = None
    decided_by: str
    repaired_at: datetime


@contract(topic=CREDIT.name, key=_KEY)
class RecordWithdrawn(EventModel):
    """A record was withdrawn because its decision was revoked by the decider of record."""

    EVENT_TYPE: ClassVar[str] = "shuangda.credit.record-withdrawn.v1"
    record_id: str
    entity_id: str
    credit_code: str | None = None
    reason: str
    withdrawn_at: datetime


@contract(topic=CREDIT.name, key=_KEY)
class Blacklisted(EventModel):
    """The entity was put on the serious-violation list (严重违法失信名单)."""

    EVENT_TYPE: ClassVar[str] = "shuangda.credit.blacklisted.v1"
    listing_id: str
    entity_id: str
    credit_code: str | None = None
    name: str
    rule_id: str
    rule_version: str
    citation: str
    reason: str
    triggering_records: list[str]
    authority: str = Field(description="the bureau that decides an early-removal application")
    listed_at: datetime
    expires_on: date
    early_removal_from: date
    measures: list[str] = Field(description="joint-punishment measure ids that now apply")


@contract(topic=CREDIT.name, key=_KEY)
class Delisted(EventModel):
    """The entity left the serious-violation list."""

    EVENT_TYPE: ClassVar[str] = "shuangda.credit.delisted.v1"
    listing_id: str
    entity_id: str
    credit_code: str | None = None
    rule_id: str
    reason: DelistReason
    application_id: str | None = None
    delisted_at: datetime


@contract(topic=CREDIT.name, key=_KEY)
class ApplicationReceived(EventModel):
    """An application for credit repair or early removal was received and checked."""

    EVENT_TYPE: ClassVar[str] = "shuangda.credit.application-received.v1"
    application_id: str
    kind: ApplicationKind
    target_id: str = Field(description="the record (repair) or listing (early removal)")
    entity_id: str
    credit_code: str | None = None
    eligible: bool
    reasons: list[str] = Field(default_factory=list, description="unmet conditions, when not eligible")
    authority: str = Field(description="the bureau that decides")
    received_at: datetime


@contract(topic=CREDIT.name, key=_KEY)
class ApplicationDecided(EventModel):
    """An application was decided (or found ineligible on receipt)."""

    EVENT_TYPE: ClassVar[str] = "shuangda.credit.application-decided.v1"
    application_id: str
    kind: ApplicationKind
    target_id: str
    entity_id: str
    credit_code: str | None = None
    outcome: ApplicationOutcome
    reasons: list[str] = Field(default_factory=list)
    decided_by: str
    decided_at: datetime


# -- the steps before a listing takes effect (SAMR Order 44; issue 14 §2) ------------------------

ProceedingState = Literal["review", "weighing", "to_notify", "statement_period", "approval", "listed", "not_listed",
                          "withdrawn"]
ProceedingAction = Literal["open", "dismiss", "weigh", "notify", "statement", "decide", "approve", "withdraw"]


@contract(topic=CREDIT.name, key=_KEY)
class ListingProceedingOpened(EventModel):
    """A list rule matched: a proceeding opens. Nothing is listed yet. An Order 44 ground starts at the
    art. 12 weighing (`weighing`); a local-policy rule only raises a flag a person decides (`review`)."""

    EVENT_TYPE: ClassVar[str] = "shuangda.credit.listing-proceeding-opened.v1"
    proceeding_id: str
    entity_id: str
    credit_code: str | None = None
    name: str
    rule_id: str
    rule_version: str
    basis: Literal["order44", "local_policy"]
    citation: str
    reason: str
    triggering_records: list[str]
    state: ProceedingState
    authority: str = Field(description="the bureau that takes the steps (of the newest trigger)")
    approver: str | None = Field(default=None, description="the level above whose consent the listing needs, if any")
    opened_at: datetime


@contract(topic=CREDIT.name, key=_KEY)
class ListingProceedingAdvanced(EventModel):
    """A step of a listing proceeding was taken (by a person, or `withdraw` when its trigger was revoked).
    `state` `listed` comes with a `credit.blacklisted` event for `listing_id`."""

    EVENT_TYPE: ClassVar[str] = "shuangda.credit.listing-proceeding-advanced.v1"
    proceeding_id: str
    entity_id: str
    credit_code: str | None = None
    rule_id: str
    action: ProceedingAction
    from_state: ProceedingState
    state: ProceedingState
    by: str
    reason: str = ""
    outcome: str | None = Field(default=None, description="e.g. no_intent, not_serious, serious, approved, refused")
    citation: str
    statement_due_on: date | None = Field(default=None, description="the party may state its case until this day")
    hearing_request_due_on: date | None = Field(default=None, description="the party may ask for a hearing until this day")
    approver: str | None = None
    listing_id: str | None = None
    at: datetime


# -- 以罚代刑 (issue 14 §7) -------------------------------------------------------------------------

@contract(topic=CREDIT.name, key=_KEY)
class PenaltySubstitutesProsecution(EventModel):
    """A penalty was recorded on figures that cross a criminal threshold while no referral to the police is
    under way for its case: what State Council Order 310 art. 16 holds the agency head liable for
    (以行政处罚代替移送). For the procuratorate (its supervision) and the leading-group office."""

    EVENT_TYPE: ClassVar[str] = "shuangda.credit.penalty-substitutes-prosecution.v1"
    record_id: str
    decision_no: str
    bureau: str = Field(description="the bureau that decided the penalty")
    entity_id: str
    credit_code: str | None = None
    party_name: str
    category: str
    case_id: CaseId | None = None
    decided_on: date
    figures: dict[str, Decimal] = Field(description="the figures evaluated (the decision's, plus prior_penalties_2y from credit's record)")
    family: str = Field(description="the threshold family crossed (shared reference thresholds)")
    threshold_rule: str = Field(description="<family>.<condition>: the condition that holds")
    threshold_version: str
    threshold: str = Field(description="the condition in words")
    threshold_zh: str
    threshold_citation: str
    threshold_article: str = ""
    threshold_verified: bool
    referral_state: str = Field(description="none (no referral known for the case) or the agency's last step, e.g. rejected")
    liability_citation: str = Field(description="the rule that makes this a breach (Order 310 art. 16)")
    procuratorate: str = Field(description="procuratorate@<division> of the deciding bureau")
    office: str = Field(description="office@<division> of the deciding bureau")
    detected_at: datetime
