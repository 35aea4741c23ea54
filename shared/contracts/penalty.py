"""Penalty decisions (双公示 administrative penalties).

In (from bureau back ends, on their own ``ingress.<client>`` topic or through
credit's HTTP API — the deciding bureau is the authenticated client, never a
payload field):

- `PenaltyDecided` — a bureau decided an administrative penalty;
- `PenaltyRevoked` — a bureau revoked (撤销) one of its decisions.

Out (topic `penalty.decisions`, key: the party's credit code, or credit's
entity id when the party has none), emitted by credit:

- `PenaltyRecorded` — the decision is on the party's credit record;
- `PenaltyRevocationAccepted` — the revocation was applied;
- `PenaltyRefused` — a decision or revocation could not be honoured (reason).
"""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from shared.contracts import CommandModel, EventModel, contract
from shared.contracts.cases import Sealed
from shared.identifiers import IdentifierError, normalise_text, parse_resident_id, parse_uscc
from shared.topics import PENALTY
from shared.text import CaseId

#: 《行政处罚法》(2021) 第九条 penalty kinds, as stable wire ids.
PenaltyType = Literal[
    "warning",                   # 警告
    "circulated_criticism",      # 通报批评
    "fine",                      # 罚款
    "confiscation_of_gains",     # 没收违法所得
    "confiscation_of_property",  # 没收非法财物
    "licence_suspension",        # 暂扣许可证件
    "qualification_downgrade",   # 降低资质等级
    "licence_revocation",        # 吊销许可证件 / 营业执照
    "business_restriction",      # 限制开展生产经营活动
    "production_stop",           # 责令停产停业
    "closure",                   # 责令关闭
    "practice_restriction",      # 限制从业
    "detention",                 # 行政拘留
    "other",                     # 法律、行政法规规定的其他行政处罚
]
PENALTY_TYPES: tuple[str, ...] = PenaltyType.__args__  # type: ignore[attr-defined]

PartyKind = Literal["organisation", "individual_trader", "natural_person"]

#: Why a penalty command was refused (bounded: it is a metric label).
RefusalReason = Literal[
    "not_decider_of_record",     # a revocation from a bureau that did not decide the penalty
    "unknown_decision",          # a revocation of a decision credit has no record of
    "already_revoked",
    "decision_no_taken",         # the number is on record for another bureau or other content
    "not_a_bureau",              # the authenticated client may not decide penalties
]

Money = Decimal


class Party(BaseModel):
    """Who was penalised. Organisations are keyed by their unified social credit code;
    an individual trader or person may be identified by resident ID instead."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    kind: PartyKind
    credit_code: str | None = Field(default=None, description="unified social credit code (GB 32100-2015); full-width accepted")
    name: str = Field(min_length=1, max_length=200, description="registered name (organisation/trader) or the person's name")
    legal_representative: str | None = Field(default=None, max_length=100)
    resident_id: str | None = Field(
        default=None, description="resident identity number of an individual trader or person; credit keeps it only hashed and sealed"
    )

    @field_validator("credit_code")
    @classmethod
    def _uscc(cls, v: str | None) -> str | None:
        if v is None or not v.strip():
            return None
        try:
            return parse_uscc(v)
        except IdentifierError as exc:
            raise ValueError(exc.message) from None

    @field_validator("name", "legal_representative")
    @classmethod
    def _normalised(cls, v: str | None) -> str | None:
        return normalise_text(v) if v is not None else None

    @model_validator(mode="after")
    def _identifiable(self) -> "Party":
        if self.kind == "organisation" and self.resident_id is not None:
            raise ValueError("resident_id: an organisation is identified by its credit code, not a resident ID")
        if self.kind == "natural_person" and self.resident_id is None:
            raise ValueError("resident_id: required for a natural person")
        if self.kind == "natural_person" and self.credit_code is not None:
            raise ValueError("credit_code: a natural person has none (use individual_trader for a registered trader)")
        return self

    @field_validator("resident_id")
    @classmethod
    def _resident_id(cls, v: str | None) -> str | None:
        if v is None or not v.strip():
            return None
        try:
            return parse_resident_id(v)
        except IdentifierError as exc:
            raise ValueError(exc.message) from None


@contract(topic="ingress.<bureau-client>", key="credit code or decision number", kind="command")
class PenaltyDecided(CommandModel):
    """A bureau decided an administrative penalty (its own decision; the bureau is the sender)."""

    EVENT_TYPE: ClassVar[str] = "shuangda.penalty.decided.v1"
    decision_no: str = Field(min_length=1, max_length=100, description="行政处罚决定书文号, unique")
    party: Party
    category: str = Field(description="violation category id (shared.reference categories)")
    violation: str = Field(min_length=1, max_length=4000, description="违法事实 / 违法行为类型, as published")
    legal_basis: list[str] = Field(min_length=1, max_length=20, description="处罚依据: articles applied")
    penalty_types: list[PenaltyType] = Field(min_length=1, max_length=len(PENALTY_TYPES))
    content: str = Field(default="", max_length=4000, description="处罚内容, as published")
    fine_amount: Money | None = Field(default=None, ge=0, max_digits=16, decimal_places=2, description="CNY")
    confiscated_amount: Money | None = Field(default=None, ge=0, max_digits=16, decimal_places=2, description="CNY, gains and property")
    decided_on: date = Field(description="处罚决定日期 (Asia/Shanghai)")
    aggravated: bool = Field(default=False, description="从重处罚 under the discretion benchmark")
    intentional: bool = Field(default=False, description="the decision finds the infringement intentional (故意)")
    case_id: CaseId | None = Field(default=None, description="the routed case this decision closes")
    figures: dict[str, Money] = Field(
        default_factory=dict, max_length=20,
        description="the figures the decision found (shared reference threshold figures: illegal_turnover, "
                    "illegal_gains, sales, unsold_value, pieces, copies, loss, marks_count, patents_count, …; "
                    "conduct: the 刑法 article of the conduct, e.g. 213, which chooses the threshold family); credit "
                    "checks them against the criminal thresholds (以罚代刑, issue 14 §7)")
    conduct_on: date | None = Field(
        default=None, description="the date of the conduct (违法行为发生日期): earlier penalties count for the "
                                  "repeat-conduct amounts when decided in the two years before it; the decision date when absent")

    @field_validator("figures")
    @classmethod
    def _known_figures(cls, v: dict[str, Decimal]) -> dict[str, Decimal]:
        from shared.reference import load_thresholds

        known = load_thresholds().figures
        for name, amount in v.items():
            if name not in known:
                raise ValueError(f"figures.{name}: not a threshold figure (one of {sorted(known)})")
            if not amount.is_finite() or amount < 0:
                raise ValueError(f"figures.{name}: must be a finite amount >= 0")
        conduct = v.get("conduct")
        if conduct is not None:
            conducts = load_thresholds().conducts
            if conduct != conduct.to_integral_value() or int(conduct) not in conducts:
                raise ValueError(f"figures.conduct: not a conduct article of the thresholds (one of {sorted(conducts)})")
        return v

    @field_validator("decision_no", "violation", "content")
    @classmethod
    def _norm(cls, v: str) -> str:
        return normalise_text(v)

    @field_validator("penalty_types")
    @classmethod
    def _unique(cls, v: list[str]) -> list[str]:
        return sorted(set(v), key=PENALTY_TYPES.index)

    @field_validator("category")
    @classmethod
    def _known_category(cls, v: str) -> str:
        from shared.reference import UnknownCode, category

        try:
            return category(v).id
        except UnknownCode as exc:
            raise ValueError(str(exc)) from None

    @model_validator(mode="after")
    def _amounts_match_types(self) -> "PenaltyDecided":
        if "fine" in self.penalty_types and self.fine_amount is None:
            raise ValueError("fine_amount: required when penalty_types has fine")
        if self.fine_amount is not None and "fine" not in self.penalty_types:
            raise ValueError("fine_amount: given but penalty_types has no fine")
        if self.conduct_on is not None and self.conduct_on > self.decided_on:
            raise ValueError("conduct_on: the conduct cannot come after the decision")
        return self


@contract(topic="ingress.<bureau-client>", key="credit code or decision number", kind="command")
class PenaltyRevoked(CommandModel):
    """A bureau revoked (撤销) one of its penalty decisions; only the decider of record may."""

    EVENT_TYPE: ClassVar[str] = "shuangda.penalty.revoked.v1"
    decision_no: str = Field(min_length=1, max_length=100)
    revoked_on: date
    reason: str = Field(min_length=1, max_length=2000, description="e.g. the reconsideration or court decision")

    @field_validator("decision_no", "reason")
    @classmethod
    def _norm(cls, v: str) -> str:
        return normalise_text(v)


class PublicParty(BaseModel):
    """The party as it may be shown: organisations in full, persons masked."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    kind: PartyKind
    credit_code: str | None = None
    name: str = Field(description="masked for individual traders' and persons' own names")
    legal_representative: str | None = Field(default=None, description="masked")
    resident_id_masked: str | None = Field(default=None, description="last 4 characters only")
    resident_id_sealed: Sealed | None = Field(default=None, description="AES-GCM, for key holders")


@contract(topic=PENALTY.name, key="credit code (entity id without one)")
class PenaltyRecorded(EventModel):
    """A bureau's penalty decision is on the party's credit record."""

    EVENT_TYPE: ClassVar[str] = "shuangda.penalty.recorded.v1"
    record_id: str
    decision_no: str
    bureau: str = Field(description="the deciding bureau: <bureau type>@<division code>")
    bureau_type: str
    entity_id: str
    party: PublicParty
    category: str
    penalty_types: list[str]
    fine_amount: Money | None = None
    confiscated_amount: Money | None = None
    decided_on: date
    heavy: bool = Field(description="较重行政处罚 under the heavy-penalty rules")
    heavy_rules: list[str] = Field(default_factory=list, description="ids of the heavy-penalty rules that matched")
    severity: str = Field(description="publicity type id (rules data)")
    disclosure_due_on: date | None = Field(default=None, description="None when the record is not published")
    disclosure_due_provisional: bool = False
    publicity_min_until: date
    publicity_max_until: date
    rules_version: str
    case_id: CaseId | None = None
    recorded_at: datetime


@contract(topic=PENALTY.name, key="credit code (entity id without one)")
class PenaltyRevocationAccepted(EventModel):
    """A revocation by the decider of record was applied: the record is withdrawn."""

    EVENT_TYPE: ClassVar[str] = "shuangda.penalty.revocation-accepted.v1"
    record_id: str
    decision_no: str
    bureau: str
    entity_id: str
    credit_code: str | None = None
    revoked_on: date
    reason: str
    accepted_at: datetime


@contract(topic=PENALTY.name, key="credit code, entity id or decision number")
class PenaltyRefused(EventModel):
    """A penalty decision or revocation could not be honoured; says why."""

    EVENT_TYPE: ClassVar[str] = "shuangda.penalty.refused.v1"
    refused_type: str = Field(description="the event type that was refused")
    refused_event_id: str | None = None
    decision_no: str
    bureau: str = Field(description="the authenticated sender")
    reason: RefusalReason
    detail: str
    refused_at: datetime
