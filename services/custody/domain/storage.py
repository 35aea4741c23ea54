"""What keeping a lot in custody costs (公物仓 storage). Pure.

A lot is charged one rate per **local day** (Asia/Shanghai) it is in custody, the day it is
registered and the day it leaves both included: it leaves custody when it is disposed of, or when
the police confirm receipt of it (from then on the police keep it). Each day is priced by the
rate version in force that day, by the lot's hazard class. The rates are versioned local-policy
data (`services/custody/rules/storage_costs.yaml`). The registering bureau answers for the cost.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Iterable, Mapping

from shared.workdays import SHANGHAI

from services.custody.domain.lots import HAZARDS, Lot


@dataclass(frozen=True)
class StorageRate:
    version: str
    effective_from: dt.date
    currency: str
    per_lot_per_day: Mapping[str, Decimal]
    citation: str
    verified: bool

    @property
    def local_policy(self) -> bool:
        return self.citation.startswith("local policy")


@dataclass(frozen=True)
class StorageRates:
    versions: tuple[StorageRate, ...]   # in effective_from order

    def __post_init__(self) -> None:
        if not self.versions:
            raise ValueError("storage rates: at least one version")
        days = [v.effective_from for v in self.versions]
        if days != sorted(days) or len(set(days)) != len(days):
            raise ValueError("storage rates: versions in increasing effective_from order")
        for v in self.versions:
            missing = [h for h in HAZARDS if h not in v.per_lot_per_day]
            if missing:
                raise ValueError(f"storage rates {v.version}: no rate for {', '.join(missing)}")
            if any(r < 0 for r in v.per_lot_per_day.values()):
                raise ValueError(f"storage rates {v.version}: a rate is 0 or more")

    def in_force(self, day: dt.date) -> StorageRate | None:
        found = None
        for v in self.versions:
            if v.effective_from <= day:
                found = v
        return found


@dataclass(frozen=True)
class Accrual:
    """A lot's storage in a period: days charged, their cost and the rate versions that priced them."""

    days: int
    cost: Decimal
    versions: tuple[str, ...]
    unpriced_days: int = 0   # days before the first rate version (not charged)


def local_day(at: dt.datetime) -> dt.date:
    return at.astimezone(SHANGHAI).date()


def left_custody(lot: Lot) -> dt.datetime | None:
    """When the lot stopped being custody's to keep: its disposal or the police's receipt."""
    ends = [lot.disposed_at] if lot.disposed_at is not None else []
    ends += [h.received_at for h in lot.handovers if h.purpose == "police" and h.received_at is not None]
    return min(ends) if ends else None


def accrued(lot: Lot, rates: StorageRates, *, since: dt.date, until: dt.date, today: dt.date) -> Accrual:
    """The lot's storage days and cost within [since, until] (local days, both included), counting
    a lot still in custody up to `today`."""
    first = max(local_day(lot.registered_at), since)
    end = left_custody(lot)
    last = min(local_day(end) if end is not None else today, until)
    days, unpriced, cost, versions = 0, 0, Decimal(0), []
    day = first
    while day <= last:
        rate = rates.in_force(day)
        if rate is None:
            unpriced += 1
        else:
            # the days up to the next version (or the period's end) share this rate
            following = [v.effective_from for v in rates.versions if v.effective_from > day]
            stop = min([last, *(d - dt.timedelta(days=1) for d in following)])
            n = (stop - day).days + 1
            days += n
            cost += rate.per_lot_per_day[lot.hazard] * n
            if rate.version not in versions:
                versions.append(rate.version)
            day = stop
        day += dt.timedelta(days=1)
    return Accrual(days, cost, tuple(versions), unpriced)


def per_bureau(lots: Iterable[Lot], rates: StorageRates, *, since: dt.date, until: dt.date,
               today: dt.date) -> dict[str, tuple[int, int, Decimal]]:
    """Per registering bureau: lots charged, storage days and storage cost in the period."""
    out: dict[str, tuple[int, int, Decimal]] = {}
    for lot in lots:
        a = accrued(lot, rates, since=since, until=until, today=today)
        if a.days == 0:
            continue
        n, days, cost = out.get(lot.bureau, (0, 0, Decimal(0)))
        out[lot.bureau] = (n + 1, days + a.days, cost + a.cost)
    return out
