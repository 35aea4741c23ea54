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
"""
from __future__ import annotations

from datetime import date, datetime
from typing import ClassVar, Literal

from pydantic import Field

from shared.contracts import EventModel, contract
from shared.topics import CREDIT

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
