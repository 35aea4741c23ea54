"""Value objects shared by the domain modules."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True)
class Bureau:
    """An authenticated bureau: its type (shared reference id) and division (GB/T 2260)."""

    client_id: str
    bureau_type: str
    division: str

    @property
    def id(self) -> str:
        return f"{self.bureau_type}@{self.division}"


@dataclass(frozen=True)
class RecordFacts:
    """What the list rules need to know of one record."""

    record_id: str
    kind: str  # penalty | criminal_referral
    category: str
    decided_on: dt.date
    heavy: bool
    intentional: bool
    status: str  # active | expired | repaired | revoked
    bureau: str
    label: str  # decision number, or the case id of a referral
    conduct: int | None = None  # the 刑法 article of the conduct, when the decision's figures named it


@dataclass(frozen=True)
class ListingFacts:
    """What the list rules need to know of one listing."""

    listing_id: str
    rule_id: str
    status: str  # listed | delisted
    listed_at: dt.datetime
    triggering: tuple[str, ...]
