"""Credit's rules for published random-inspection results (双随机、一公开) in the disclosure feed."""
from __future__ import annotations

import datetime as dt

import pytest

from services.credit.app.disclosure import inspection_row
from services.credit.domain.inspections import BadPublication, accept, party_kind
from services.credit.rules import load_rulebook
from shared.contracts.inspection import PublishedResult

AT = dt.datetime(2026, 5, 6, 2, tzinfo=dt.timezone.utc)
ORG = "91610402MA6XA00028"
TRADER = "92610402MA0000001L"
KINDS = frozenset({"market_regulation", "forestry"})


def result(code: str = ORG, name: str = "咸阳市秦都区华泰商贸有限公司", outcome: str = "no_problem") -> PublishedResult:
    return PublishedResult.model_construct(credit_code=code, name=name, result=outcome, findings="")


def take(*results: PublishedResult, plan: str = "insp_" + "a" * 20, bureau: str = "market_regulation@610402"):
    return accept(plan_id=plan, bureau=bureau, published_at=AT, results=results, bureau_types=KINDS)


def test_a_code_of_registration_department_9_and_category_2_is_an_individual_traders() -> None:
    assert (party_kind(TRADER), party_kind(ORG)) == ("individual_trader", "organisation")


def test_a_publication_is_taken_result_by_result_with_the_plan_bureau_and_date() -> None:
    taken = take(result(), result(TRADER, "张三丰", "problems_found"))
    assert [(t.credit_code, t.party_kind, t.result, t.bureau, t.published_at) for t in taken] == [
        (ORG, "organisation", "no_problem", "market_regulation@610402", AT),
        (TRADER, "individual_trader", "problems_found", "market_regulation@610402", AT)]


def test_a_full_width_credit_code_is_read_as_the_code() -> None:
    full = ORG.translate({ord(c): ord(c) + 0xFEE0 for c in ORG})
    assert take(result(full))[0].credit_code == ORG


def test_a_code_listed_twice_keeps_its_last_result() -> None:
    assert [t.result for t in take(result(), result(outcome="referred_to_case"))] == ["referred_to_case"]


@pytest.mark.parametrize("kwargs, reason, field", [
    ({"plan": "plan-1"}, "invalid_plan_id", "plan_id"),
    ({"bureau": "nobody@610402"}, "unknown_bureau", "bureau"),
    ({"bureau": "market_regulation"}, "unknown_bureau", "bureau"),
])
def test_a_publication_naming_no_plan_or_no_known_bureau_is_refused_whole(kwargs, reason, field) -> None:
    with pytest.raises(BadPublication) as err:
        take(result(), **kwargs)
    assert (err.value.reason, err.value.field) == (reason, field)


@pytest.mark.parametrize("bad, reason, field", [
    (result(ORG[:-1] + "X"), "invalid_credit_code", "results.1.credit_code"),
    (result(outcome="fine"), "unknown_result", "results.1.result"),
    (result(name=" "), "invalid_name", "results.1.name"),
])
def test_one_bad_result_refuses_the_publication_naming_the_result(bad, reason, field) -> None:
    with pytest.raises(BadPublication) as err:
        take(result(TRADER, "张三丰"), bad)
    assert (err.value.reason, err.value.field) == (reason, field)


def test_a_publication_without_results_is_refused() -> None:
    with pytest.raises(BadPublication) as err:
        take()
    assert err.value.reason == "no_results"


def test_the_feed_shows_a_trader_known_by_its_operators_name_by_the_surname_and_a_shop_as_registered() -> None:
    book = load_rulebook()
    rule = book.party_names.at(dt.date(2026, 5, 6))
    labels = book.disclosure.inspection_result_labels
    row = {"plan_id": "insp_" + "a" * 20, "credit_code": TRADER, "bureau": "market_regulation@610402",
           "party_kind": "individual_trader", "name": "张三丰", "result": "problems_found", "published_at": AT}
    person = inspection_row(row, rule, labels)
    shop = inspection_row(row | {"name": "秦都区张三五金店"}, rule, labels)
    org = inspection_row(row | {"party_kind": "organisation", "credit_code": ORG, "name": "咸阳华泰商贸有限公司"}, rule, labels)
    assert (person["party_name"], shop["party_name"], org["party_name"]) == ("张**", "秦都区张三五金店", "咸阳华泰商贸有限公司")
    assert person["bureau"] == "秦都区市场监督管理局" and person["result_label"] == labels["problems_found"]


def test_every_result_has_a_label_and_the_feed_fields_name_the_plan_bureau_date_and_result() -> None:
    d = load_rulebook().disclosure
    assert set(d.inspection_result_labels) == {"no_problem", "problems_found", "referred_to_case"}
    assert {"plan_id", "bureau", "published_at", "result", "party_name", "credit_code"} <= {f.key for f in d.inspection_fields}
