"""A plan's enterprise pool is the registry in its scope, with the bureau's grades and commitments."""
from __future__ import annotations

import pytest

from services.inspection.domain.draw import Commitment, Enterprise, Registered, Scope, digest, jurisdiction, snapshot
from shared.refusals import Refused

COUNTIES = ["610402", "610404", "610423"]
REG = [Registered("C3", "丙苗圃", "610404", ("seedlings",)), Registered("C1", "甲公司", "610402", ("trademarks", "food")),
       Registered("C2", "乙苗圃", "610402", ("seedlings",))]
PROMISE = Commitment("2026-03-01", "不生产经营无证林木种子")


def test_a_countys_bureau_draws_in_its_own_county_whatever_the_scope_left_open() -> None:
    assert jurisdiction(Scope("seedlings"), "610402", COUNTIES) == Scope("seedlings", "610402")


def test_a_countys_bureau_asking_for_another_county_is_refused() -> None:
    with pytest.raises(Refused) as err:
        jurisdiction(Scope(county="610404"), "610402", COUNTIES)
    assert (err.value.field, err.value.reason) == ("scope.county", "outside_division")


def test_a_bureau_above_the_counties_draws_in_the_scope_it_gives() -> None:
    assert jurisdiction(Scope(), "610400", COUNTIES) == Scope()


def test_the_snapshot_holds_the_registry_in_the_scopes_county_and_category_with_the_bureaus_attributes() -> None:
    attrs = [Enterprise("C2", "", "", "", "high", PROMISE), Enterprise("C9", "未登记", "", "", "low", None)]
    pool = snapshot(REG, attrs, Scope("seedlings", "610402"))
    assert pool == [Enterprise("C2", "乙苗圃", "610402", "seedlings", "high", PROMISE)]


def test_without_attributes_an_enterprise_is_of_medium_risk_with_no_commitment_and_its_first_category() -> None:
    pool = snapshot(REG, [], Scope())
    assert [(e.credit_code, e.category, e.risk, e.commitment) for e in pool] == [
        ("C1", "food", "medium", None), ("C2", "seedlings", "medium", None), ("C3", "seedlings", "medium", None)]


def test_the_same_registry_and_attributes_give_the_same_digest_in_any_order() -> None:
    assert digest(snapshot(REG, [], Scope())) == digest(snapshot(list(reversed(REG)), [], Scope()))


def test_the_public_part_shows_a_trader_known_by_its_operators_own_name_by_the_surname() -> None:
    from services.inspection.adapters.http import public_name
    assert public_name("92610402MA0000001L", "张三丰") == "张**"
    assert public_name("92610402MA0000001L", "秦都区张三五金店") == "秦都区张三五金店"
    assert public_name("91610402MA6XA00028", "张三丰") == "张三丰"
    assert public_name("92610402MA0000001L", "张**") == "张**"
