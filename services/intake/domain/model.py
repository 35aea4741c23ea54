"""What intake works with once input is validated: a normalised report, the
suspect it names, and the state of a case."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Literal, Mapping

from shared.identifiers import mask_name, mask_phone, mask_resident_id

Origin = Literal["complaint", "report", "lead"]
Channel = Literal["hotline", "web", "open311", "platform", "monitoring", "bureau", "kafka"]
ClientKind = Literal["hotline", "platform", "bureau"]
Outcome = Literal["opened", "merged", "duplicate"]


@dataclass(frozen=True)
class ClientContext:
    """The authenticated caller (the principal of its API key or of its ingress topic): hotline,
    platform, or bureau for every kind that reports for a bureau."""

    client_id: str
    kind: ClientKind


@dataclass(frozen=True)
class Suspect:
    """The normalised suspect; `merge_key` says which identity the case is about."""

    credit_code: str | None = None
    name: str | None = None
    platform: str | None = None
    shop_id: str | None = None
    listing: str | None = None  # host + path
    address: str | None = None

    def enriched_by(self, other: "Suspect") -> "Suspect":
        """Fields this suspect lacks, taken from a later report about the same suspect."""
        return Suspect(
            credit_code=self.credit_code or other.credit_code,
            name=self.name or other.name,
            platform=self.platform or other.platform,
            shop_id=self.shop_id or other.shop_id,
            listing=self.listing or other.listing,
            address=self.address or other.address,
        )


@dataclass(frozen=True)
class Complainant:
    """Personal data in clear — only ever in memory; adapters seal it before it is stored or sent."""

    name: str | None = None
    phone: str | None = None
    id_number: str | None = None

    @property
    def name_masked(self) -> str | None:
        return mask_name(self.name) if self.name else None

    @property
    def phone_masked(self) -> str | None:
        return mask_phone(self.phone) if self.phone else None

    @property
    def id_number_masked(self) -> str | None:
        return mask_resident_id(self.id_number) if self.id_number else None

    def __repr__(self) -> str:  # a stray log line shows masked forms only
        return f"Complainant(name={self.name_masked!r}, phone={self.phone_masked!r}, id_number={self.id_number_masked!r})"

    __str__ = __repr__


@dataclass(frozen=True)
class Report:
    """A validated complaint, report or lead, normalised."""

    origin: Origin
    channel: Channel
    client_id: str
    source_id: str | None
    category: str
    county: str
    suspect: Suspect
    merge_key: str
    summary: str
    figures: Mapping[str, Decimal] = field(default_factory=dict)
    complainant: Complainant | None = None
    occurred_on: date | None = None
    observed_at: datetime | None = None
    evidence_urls: tuple[str, ...] = ()
    #: the description as given, in clear — only when the readable `summary` differs from it (a personal
    #: number masked, or the text cut); only ever in memory: the registrar seals it before it is stored,
    #: and it is never published (a bureau and the public read `summary`)
    original_description: str | None = field(default=None, repr=False)

    @property
    def is_complaint(self) -> bool:
        """Complaints and reports from people get a tracking number; leads do not."""
        return self.origin != "lead"


@dataclass(frozen=True)
class CaseState:
    """What intake keeps about a case: identity, where, and the running totals."""

    case_id: str
    merge_key: str
    category: str
    county: str
    counties: tuple[str, ...]
    suspect: Suspect
    figures: Mapping[str, Decimal]
    reports_count: int
    opened_at: datetime
    last_report_at: datetime
    #: on the priority lane: decided when the case opened (a person filed it), never changed after
    priority_lane: bool = False
