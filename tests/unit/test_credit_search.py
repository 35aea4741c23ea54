"""Enterprise names, the in-memory name search and the masked disclosure rows (issue #5)."""
from __future__ import annotations

from decimal import Decimal

from services.credit.domain.disclosure import project, public_party, to_csv
from services.credit.domain.names import NameAnalyser
from services.credit.domain.search import NameIndex
from services.credit.rules import load_rulebook

BOOK = load_rulebook()
ANALYSER = NameAnalyser(BOOK.region_prefixes(), BOOK.names.legal_form_suffixes)


def test_a_name_is_split_into_region_core_and_legal_form() -> None:
    parts = ANALYSER.analyse("陕西省咸阳市华泰商贸有限公司")
    assert parts.prefixes == ("陕西省", "咸阳市")
    assert parts.core == "华泰商贸"
    assert parts.suffix == "有限公司"


def test_short_region_forms_full_width_brackets_and_bracketed_regions_are_understood() -> None:
    parts = ANALYSER.analyse("华为技术（咸阳）有限责任公司")
    assert parts.core == "华为技术" and parts.bracket_region == "咸阳市" and parts.suffix == "有限责任公司"
    assert ANALYSER.analyse("咸阳 秦都 华泰商贸").prefixes == ("咸阳市", "秦都区")


def test_a_one_character_county_name_is_never_taken_for_a_prefix() -> None:
    assert ANALYSER.analyse("乾坤商贸有限公司").core == "乾坤商贸"


def index_of(*entities: tuple[str, str | None, list[tuple[str, str]]]) -> NameIndex:
    index = NameIndex(ANALYSER)
    for entity_id, code, names in entities:
        index.upsert(entity_id, code, names)
    return index


INDEX = index_of(
    ("e1", "91610400MA6XUN0001", [("陕西省咸阳市华泰商贸有限公司", "registered")]),
    ("e2", None, [("西安华泰商贸有限公司", "registered")]),
    ("e3", "91610400MA6XUN0002", [("咸阳秦都新天地食品有限公司", "registered"), ("咸阳秦都天地副食店", "former")]),
    ("e4", "91610400MA6XUN0003", [("渭城区永兴建材经营部", "registered"), ("永兴建材", "alias")]),
)


def test_the_search_finds_an_enterprise_without_its_region_and_legal_form_and_says_why() -> None:
    [best, *rest] = INDEX.search("咸阳华泰商贸")
    assert best.entity_id == "e1" and best.score >= 95
    assert any("core name '华泰商贸'" in line for line in best.explanation)
    assert any("region agrees" in line for line in best.explanation)
    assert any("legal form set aside" in line for line in best.explanation)
    other = next(c for c in rest if c.entity_id == "e2")
    assert other.score < best.score and any("region differs" in line for line in other.explanation)


def test_a_former_name_is_found_and_labelled_as_such() -> None:
    [best, *_] = INDEX.search("天地副食店")
    assert best.entity_id == "e3" and best.matched_name_kind == "former"
    assert best.name == "咸阳秦都新天地食品有限公司"


def test_an_alias_is_found() -> None:
    assert INDEX.search("永兴建材")[0].entity_id == "e4"


def test_a_query_with_a_typo_still_ranks_the_right_enterprise_first() -> None:
    assert INDEX.search("咸阳华秦商贸有限公司")[0].entity_id in {"e1", "e2"}


def test_an_updated_entity_is_searched_by_its_new_names_only() -> None:
    index = index_of(("e1", None, [("甲乙商贸有限公司", "registered")]))
    index.upsert("e1", None, [("丙丁科技有限公司", "registered"), ("甲乙商贸有限公司", "former")])
    assert index.search("甲乙商贸")[0].matched_name_kind == "former"
    index.upsert("e1", None, [("丙丁科技有限公司", "registered")])
    assert index.search("甲乙商贸") == []
    assert len(index) == 1


def test_a_persons_name_and_id_number_are_masked_for_the_public() -> None:
    party = public_party(kind="natural_person", credit_code=None, name="张三丰", legal_representative=None,
                         resident_id="11010519491231002X")
    assert party["name"] == "张**"
    assert party["resident_id_masked"] == "**************002X"


def test_an_organisation_is_published_by_name_with_its_representative_masked() -> None:
    party = public_party(kind="organisation", credit_code="91110000600037341L", name="华泰商贸有限公司",
                         legal_representative="李四", resident_id=None)
    assert party["name"] == "华泰商贸有限公司" and party["legal_representative"] == "李*"


def test_the_feed_publishes_only_the_fields_the_rules_list_in_their_order() -> None:
    fields = BOOK.disclosure.penalty_fields
    row = {"decision_no": "咸市监罚〔2024〕1号", "party_name": "华泰", "fine_amount": Decimal("50000.00"),
           "penalty_types": ["fine", "warning"], "internal_note": "never published"}
    published = project(row, fields)
    assert list(published) == [f.key for f in fields]
    assert "internal_note" not in published
    text = to_csv([published], fields)
    header, line = text.splitlines()
    assert header.split(",")[0] == "decision_no"
    assert "50000.00" in line and "fine;warning" in line
    assert to_csv([], fields, labels=True).startswith("行政处罚决定书文号,")
