"""Storage costs (公物仓): the versioned local-policy rates, a lot's accrual and the costs report
per bureau (storage and destruction). Reads only; the figures come from the pure domain."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

import asyncpg
import yaml

from shared.clock import Clock

from services.custody.adapters import postgres as db
from services.custody.domain import storage
from services.custody.domain.lots import Lot
from services.custody.domain.storage import StorageRate, StorageRates

RATES_FILE = Path(__file__).resolve().parent.parent / "rules" / "storage_costs.yaml"


@lru_cache(maxsize=8)
def load_rates(path: Path = RATES_FILE) -> StorageRates:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    try:
        return StorageRates(tuple(StorageRate(
            version=str(v["version"]), effective_from=dt.date.fromisoformat(str(v["effective_from"])),
            currency=str(v["currency"]), per_lot_per_day={k: Decimal(str(r)) for k, r in v["per_lot_per_day"].items()},
            citation=str(v["citation"]), verified=bool(v.get("verified", False))) for v in data["versions"]))
    except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
        raise ValueError(f"{path}: invalid storage rates: {exc}") from exc


def _rate_view(rate: StorageRate | None) -> dict[str, Any] | None:
    if rate is None:
        return None
    return {"version": rate.version, "effective_from": rate.effective_from.isoformat(), "currency": rate.currency,
            "per_lot_per_day": {k: str(v) for k, v in rate.per_lot_per_day.items()}, "citation": rate.citation,
            "local_policy": rate.local_policy, "verified": rate.verified}


@dataclass(frozen=True)
class StorageCosts:
    clock: Clock
    rates_file: Path = RATES_FILE

    @property
    def rates(self) -> StorageRates:
        return load_rates(self.rates_file)

    def of_lot(self, lot: Lot) -> dict[str, Any]:
        """The lot's storage so far (or until it left custody)."""
        today = storage.local_day(self.clock.now())
        a = storage.accrued(lot, self.rates, since=storage.local_day(lot.registered_at), until=today, today=today)
        left = storage.left_custody(lot)
        return {"days": a.days, "cost": str(a.cost), "rate_versions": list(a.versions),
                "until": left.isoformat() if left else None,
                "rate": _rate_view(self.rates.in_force(storage.local_day(left) if left else today))}

    async def report(self, conn: asyncpg.Connection, since: dt.date, until: dt.date,
                     start: dt.datetime, end: dt.datetime) -> dict[str, Any]:
        """Per bureau: lots registered and their value, lots kept and their storage days and cost,
        lots destroyed and the destruction cost, and the total (three round trips)."""
        rows = {r["bureau"]: r for r in await db.costs_by_bureau(conn, start, end)}
        kept = await db.lots_kept_during(conn, start, end)
        today = storage.local_day(self.clock.now())
        stored = storage.per_bureau(kept, self.rates, since=since, until=until, today=today)
        out = []
        for bureau in sorted(set(rows) | set(stored)):
            r = rows.get(bureau, {})
            lots_kept, days, cost = stored.get(bureau, (0, 0, Decimal(0)))
            destruction = Decimal(r.get("destruction_cost", 0))
            out.append({"bureau": bureau, "lots": r.get("lots", 0), "declared_value": str(r.get("declared_value", 0)),
                        "lots_kept": lots_kept, "storage_days": days, "storage_cost": str(cost),
                        "destroyed": r.get("destroyed", 0), "destruction_cost": str(destruction),
                        "total_cost": str(cost + destruction)})
        return {"since": since.isoformat(), "until": until.isoformat(), "bureaus": out,
                "storage_rates": [_rate_view(v) for v in self.rates.versions
                                  if v.effective_from <= until]}
