"""What is published of a natural person (issue 12 §5) comes from rules/party_names.yaml: every worked
example of the file, and each rule — per party kind and field — on its own, including the version's
boundaries and what a stored party looks like when it is read again."""
from __future__ import annotations

import datetime as dt

import pytest

from services.credit.domain.disclosure import public_party, published_name, published_party
from services.credit.rules import load_rulebook
from services.credit.rules.register import credit_figures

BOOK = load_rulebook()
RULES = BOOK.party_names
TODAY = dt.date(2026, 1, 5)
ID = "11010519491231002X"


def shown(kind: str, name: str, *, representative: str | None = None, resident_id: str | None = None,
          day: dt.date = TODAY) -> dict:
    party = public_party(kind=kind, credit_code=None, name=name, legal_representative=representative,
                         resident_id=resident_id, rule=RULES.at(day))
    return {k: party[k] for k in ("name", "legal_representative", "resident_id_masked")}


@pytest.mark.parametrize("example", RULES.examples, ids=lambda e: f"{e.day}-{e.kind}-{e.name}")
def test_every_worked_example_of_the_rules_file_comes_out_as_the_file_says(example) -> None:
    assert shown(example.kind, example.name, representative=example.legal_representative,
                 resident_id=example.resident_id, day=example.day) == example.shown


def test_the_rule_cites_order_45_article_6_and_says_it_is_not_verified() -> None:
    rule = RULES.at(TODAY)
    assert "总局令第45号" in rule.citation and rule.article == "第六条"
    assert rule.verified is False and rule.verified_note


def test_the_version_is_in_force_from_its_effective_date_and_an_earlier_day_falls_back_to_it() -> None:
    first = RULES.versions[0]
    assert RULES.at(first.effective_from) is first
    assert RULES.at(first.effective_from - dt.timedelta(days=1)) is first


def test_a_natural_person_is_published_by_surname_with_no_id_number() -> None:
    assert shown("natural_person", "张三丰", resident_id=ID) == {
        "name": "张**", "legal_representative": None, "resident_id_masked": None}


def test_a_trader_known_by_its_operator_s_own_name_is_published_by_surname_and_a_shop_name_as_registered() -> None:
    assert shown("individual_trader", "张三")["name"] == "张*"
    assert shown("individual_trader", "老张面馆")["name"] == "老张面馆"


def test_an_organisation_keeps_its_name_and_its_representative_is_shown_by_surname() -> None:
    assert shown("organisation", "华泰商贸有限公司", representative="李四") == {
        "name": "华泰商贸有限公司", "legal_representative": "李*", "resident_id_masked": None}


def test_no_party_kind_ever_publishes_an_id_number() -> None:
    for kind in ("natural_person", "individual_trader", "organisation"):
        assert shown(kind, "张三", resident_id=ID)["resident_id_masked"] is None


def test_a_party_stored_under_an_older_looser_form_is_read_again_under_the_rule_in_force() -> None:
    stored = {"kind": "natural_person", "credit_code": None, "name": "张**", "legal_representative": "王五",
              "resident_id_masked": "**************002X"}
    again = published_party(stored, RULES.at(TODAY))
    assert again == {**stored, "legal_representative": "王*", "resident_id_masked": None}
    assert published_party(again, RULES.at(TODAY)) == again, "reading again changes nothing more"


def test_a_department_s_view_of_an_entity_shows_a_person_by_surname_and_an_organisation_by_name() -> None:
    assert published_name("natural_person", "张三丰", RULES.at(TODAY)) == "张**"
    assert published_name("natural_person", "张**", RULES.at(TODAY)) == "张**"
    assert published_name("organisation", "华泰商贸有限公司", RULES.at(TODAY)) == "华泰商贸有限公司"


def test_the_legal_register_lists_the_publication_form_of_each_party_kind_as_unverified() -> None:
    rows = [f for f in credit_figures(TODAY, BOOK) if f.area == "credit.party_names"]
    assert {f.id for f in rows} == {"natural_person", "individual_trader", "organisation"}
    assert all(not f.verified and f.article == "第六条" for f in rows)
