"""The entity registry's registrations: what is a change, and who registers where."""
from __future__ import annotations

from services.credit.domain.registry import Registration, changes, in_division

ORG = "91610402MA6XA00028"
TRADER = "92610402MA0000001L"


def reg(code: str = ORG, name: str = "咸阳华泰商贸有限公司", **kw) -> Registration:
    return Registration(code, kw.pop("kind", ""), name, kw.pop("county", "610402"), kw.pop("categories", ("trademarks",)), **kw)


def test_a_new_registration_is_version_one_with_the_kind_its_code_says() -> None:
    out, same = changes([reg(), reg(TRADER, "张三丰")], {})
    assert [(r.credit_code, r.kind, r.version) for r in out] == [(ORG, "organisation", 1), (TRADER, "individual_trader", 1)]
    assert same == 0


def test_the_same_registration_again_changes_nothing_and_a_rename_is_the_next_version() -> None:
    kept = {ORG: reg(kind="organisation", version=3)}
    assert changes([reg()], kept) == ([], 1)
    out, _ = changes([reg(name="咸阳华泰新商贸有限公司")], kept)
    assert [(r.name, r.version) for r in out] == [("咸阳华泰新商贸有限公司", 4)]


def test_a_deregistration_is_a_change() -> None:
    out, _ = changes([reg(status="deregistered")], {ORG: reg(kind="organisation", version=1)})
    assert [(r.status, r.version) for r in out] == [("deregistered", 2)]


def test_a_code_given_twice_keeps_the_last() -> None:
    out, _ = changes([reg(name="甲"), reg(name="乙")], {})
    assert [r.name for r in out] == ["乙"]


def test_a_countys_bureau_registers_its_own_county_and_the_citys_anywhere() -> None:
    codes = ("610400", "610401")
    assert in_division("610402", "610402", city_codes=codes) and not in_division("610404", "610402", city_codes=codes)
    assert in_division("610404", "610400", city_codes=codes)
