"""Storage costs of seized goods (services/custody/domain/storage.py): one rate per local day in
custody, both ends included, priced by the version in force that day, until disposal or the
police's receipt; per registering bureau."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pytest

from services.custody.app.storage import load_rates
from services.custody.domain.lots import Handover, Item, Lot
from services.custody.domain.storage import StorageRate, StorageRates, accrued, per_bureau

UTC = dt.timezone.utc


def rate(version: str, on: dt.date, ordinary: str) -> StorageRate:
    return StorageRate(version, on, "CNY", {"ordinary": D(ordinary), "perishable": D("30"), "toxic_harmful": D("50")},
                       "local policy: test", False)


RATES = StorageRates((rate("v1", dt.date(2026, 1, 1), "10"), rate("v2", dt.date(2026, 3, 1), "12")))


def lot(registered: dt.datetime, *, disposed: dt.datetime | None = None, police: dt.datetime | None = None,
        bureau: str = "market_regulation@610402", hazard: str = "ordinary") -> Lot:
    handovers = () if police is None else (Handover(1, bureau, "public_security@610402", "police", police, "x",
                                                    police, "y"),)
    return Lot("lot_1", "case-1", bureau, hazard, (Item("鞋", D(1), "双", D(1)),), "A-1", bureau,  # type: ignore[arg-type]
               "disposed" if disposed else "in_custody", registered, handovers, None,
               "destroyed" if disposed else None, disposed)


def test_the_day_of_registration_and_the_day_of_disposal_both_count() -> None:
    kept = lot(dt.datetime(2026, 2, 1, 2, tzinfo=UTC), disposed=dt.datetime(2026, 2, 3, 2, tzinfo=UTC))
    a = accrued(kept, RATES, since=dt.date(2026, 1, 1), until=dt.date(2026, 12, 31), today=dt.date(2026, 12, 31))
    assert (a.days, a.cost, a.versions) == (3, D(30), ("v1",))


def test_days_are_shanghai_days_so_a_utc_evening_is_the_next_local_day() -> None:
    evening = dt.datetime(2026, 2, 1, 16, 30, tzinfo=UTC)   # 00:30 on 2 February in Shanghai
    a = accrued(lot(evening), RATES, since=dt.date(2026, 2, 1), until=dt.date(2026, 2, 1), today=dt.date(2026, 2, 5))
    assert a.days == 0
    a = accrued(lot(evening), RATES, since=dt.date(2026, 2, 2), until=dt.date(2026, 2, 2), today=dt.date(2026, 2, 5))
    assert (a.days, a.cost) == (1, D(10))


def test_each_day_is_priced_by_the_version_in_force_that_day() -> None:
    kept = lot(dt.datetime(2026, 2, 27, 2, tzinfo=UTC))
    a = accrued(kept, RATES, since=dt.date(2026, 1, 1), until=dt.date(2026, 3, 2), today=dt.date(2026, 3, 10))
    assert (a.days, a.cost, a.versions) == (4, D(10) * 2 + D(12) * 2, ("v1", "v2"))  # 27, 28 Feb; 1, 2 Mar


def test_a_lot_still_in_custody_counts_up_to_today_and_the_period_clips_it() -> None:
    kept = lot(dt.datetime(2026, 2, 1, 2, tzinfo=UTC))
    assert accrued(kept, RATES, since=dt.date(2026, 2, 1), until=dt.date(2026, 12, 31), today=dt.date(2026, 2, 10)).days == 10
    assert accrued(kept, RATES, since=dt.date(2026, 2, 5), until=dt.date(2026, 2, 6), today=dt.date(2026, 2, 10)).days == 2


def test_custody_stops_counting_when_the_police_confirm_receipt() -> None:
    kept = lot(dt.datetime(2026, 2, 1, 2, tzinfo=UTC), police=dt.datetime(2026, 2, 2, 2, tzinfo=UTC))
    a = accrued(kept, RATES, since=dt.date(2026, 1, 1), until=dt.date(2026, 12, 31), today=dt.date(2026, 6, 1))
    assert (a.days, a.cost) == (2, D(20))


def test_days_before_the_first_rate_version_are_not_charged_but_counted_apart() -> None:
    kept = lot(dt.datetime(2025, 12, 30, 2, tzinfo=UTC), disposed=dt.datetime(2026, 1, 2, 2, tzinfo=UTC))
    a = accrued(kept, RATES, since=dt.date(2025, 1, 1), until=dt.date(2026, 12, 31), today=dt.date(2026, 6, 1))
    assert (a.days, a.unpriced_days, a.cost) == (2, 2, D(20))


def test_the_hazard_class_sets_the_rate_and_costs_add_up_per_registering_bureau() -> None:
    at = dt.datetime(2026, 2, 1, 2, tzinfo=UTC)
    lots = [lot(at, hazard="toxic_harmful"), lot(at, hazard="perishable"),
            lot(at, bureau="culture@610404")]
    got = per_bureau(lots, RATES, since=dt.date(2026, 2, 1), until=dt.date(2026, 2, 2), today=dt.date(2026, 2, 2))
    assert got == {"market_regulation@610402": (2, 4, D(160)), "culture@610404": (1, 2, D(20))}


def test_rates_must_price_every_hazard_and_come_in_date_order() -> None:
    with pytest.raises(ValueError, match="no rate for"):
        StorageRates((StorageRate("x", dt.date(2026, 1, 1), "CNY", {"ordinary": D(1)}, "local policy", False),))
    with pytest.raises(ValueError, match="order"):
        StorageRates((RATES.versions[1], RATES.versions[0]))


def test_the_packaged_rates_are_labelled_local_policy_and_unverified() -> None:
    rates = load_rates()
    assert rates.versions and all(v.local_policy and not v.verified for v in rates.versions)
